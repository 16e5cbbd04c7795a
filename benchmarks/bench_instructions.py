"""Instructions per successful request, counted by valgrind: the success path's cost
without the noise of a shared machine.

    python benchmarks/bench_instructions.py [--stacks requests,httpx,...] [--jobs 2]

Wall-clock ratios (`bench_stacks.py --only overhead`) move by a percent or two from
run to run on a small machine, which is the size of what they measure. This counts
instead: each variant (bare client, the stack's empty hook, errorkit with and
without its gate) sends `SHORT` and then `LONG` requests to the benchmark server
(a child process, not counted) under ``valgrind --tool=callgrind``, and the
difference of the two totals over ``LONG - SHORT`` is the client's instructions per
request, start-up and imports cancelled out. The count is of instructions, not
time: a cache miss costs nothing here, so it says which code runs, not how fast.
Needs valgrind on the PATH; each run takes 20-60 s, `--jobs` of them at once.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SHORT, LONG = 100, 600
HERE = Path(__file__).resolve().parent
NAMES = ("bare", "empty hook", "errorkit", "errorkit, no gate")


def _send(stack: str, name: str, count: int) -> None:
    """In the counted process: `count` requests by one variant (after 20 uncounted)."""
    sys.path.insert(0, str(HERE))
    import bench_stacks
    from _serverproc import server_process

    variant = next(v for v in bench_stacks.variants() if (v.stack, v.name) == (stack, name))
    with server_process() as base:
        send, close = variant.make()
        try:
            for _ in range(20 + count):
                send(f"{base}/fast")
        finally:
            close()


def _count(stack: str, name: str, count: int) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not on the PATH")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(  # noqa: S603 - our own script, under valgrind
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                __file__,
                "--send",
                stack,
                name,
                str(count),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no count for {stack}/{name}:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def per_request(stack: str, name: str) -> float:
    return (_count(stack, name, LONG) - _count(stack, name, SHORT)) / (LONG - SHORT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", default="requests,urllib3,httpx,httpx-async,aiohttp")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--send", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        _send(args.send[0], args.send[1], int(args.send[2]))
        return
    sys.path.insert(0, str(HERE))
    import bench_stacks

    pairs = [
        (v.stack, v.name)
        for v in bench_stacks.variants()
        if v.stack in args.stacks.split(",") and v.name in NAMES
    ]
    with ThreadPoolExecutor(args.jobs) as pool:
        counts = dict(zip(pairs, pool.map(lambda pair: per_request(*pair), pairs), strict=True))
    print("| stack | variant | instructions per request | over bare | ratio |")
    print("|---|---|---:|---:|---:|")
    for (stack, name), count in counts.items():
        bare = counts[(stack, "bare")]
        print(f"| {stack} | {name} | {count:,.0f} | {count - bare:+,.0f} | {count / bare:.4f} |")


if __name__ == "__main__":
    main()
