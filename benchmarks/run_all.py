"""Run every benchmark in one go; write results/results.json, results.md and a plot.

    python benchmarks/run_all.py [--quick]

Each benchmark runs as its own process (so none inherits another's warm caches or
threads), in this order: parse() per format family, decide(), the FaultServer's
fast endpoint, then the stacks (overhead, outage amplification, partial outage).
Everything is bounded in time and count and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def _run(script: str, *args: str) -> str:
    cmd = [sys.executable, str(HERE / script), *args]
    print(f"$ {' '.join(cmd[1:])}", flush=True)
    done = subprocess.run(  # noqa: S603 - our own scripts, run with this interpreter
        cmd, capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode not in (0, 1):  # bench_decide exits 1 when it misses its target
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{script} failed with exit code {done.returncode}")
    return done.stdout


def run(quick: bool) -> dict[str, Any]:
    RESULTS.mkdir(exist_ok=True)
    q = ["--quick"] if quick else []
    _run("bench_parse.py", "--json", str(RESULTS / "parse.json"), *q)
    _run(
        "bench_decide.py",
        "--json",
        str(RESULTS / "decide.json"),
        *(["--calls", "2000", "--repeats", "3"] if quick else []),
    )
    server_text = _run("bench_server.py", "--seconds", "0.5" if quick else "2")
    _run("bench_stacks.py", "--json", str(RESULTS / "stacks.json"), *q)
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        },
        "parse": json.loads((RESULTS / "parse.json").read_text()),
        "decide": json.loads((RESULTS / "decide.json").read_text()),
        "server": server_text.strip().splitlines(),
        "stacks": json.loads((RESULTS / "stacks.json").read_text()),
    }


def markdown(results: dict[str, Any]) -> str:
    stacks = results["stacks"]
    lines = [
        (
            f"Measured {results['machine']['when']} on {results['machine']['platform']}, "
            f"Python {results['machine']['python']}, with `python benchmarks/run_all.py`."
        ),
        "",
    ]
    lines += [
        (
            "**Success-path overhead** (median µs per request over keep-alive; the ratio is "
            "the median over 60 interleaved rounds of each round's time over the bare "
            "client's time in that same round):"
        ),
        "",
        "| stack | variant | µs/request | ratio to bare |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['stack']} | {r['variant']} | {r['us_per_request']} | {r['ratio_to_bare']:.3f} |"
        for r in stacks["overhead"]
    ]
    lines += [
        "",
        (
            "**Full outage** (every answer a 503): server attempts per logical "
            "request; the alternatives are configured for 3 attempts."
        ),
        "",
        "| stack | variant | attempts per request |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r['stack']} | {r['variant']} | {r['attempts_per_request']} |"
        for r in stacks["amplification"]
    ]
    lines += [
        "",
        "**Partial outage** (a seeded 20 % of 503s, real waits):",
        "",
        "| stack | variant | success | p50 ms | p99 ms | attempts per request |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['stack']} | {r['variant']} | {r['success_rate']:.1%} | {r['p50_ms']} | "
        f"{r['p99_ms']} | {r['attempts_per_request']} |"
        for r in stacks["partial_outage"]
    ]
    lines += [
        "",
        "**parse()** per format family (median µs; ratio to `json.loads` of the same body):",
        "",
    ]
    lines += _parse_table(results["parse"])
    lines += ["", "Where one `parse()` goes (µs), stage by stage:", ""]
    lines += _stage_table(results["parse"])
    decide = results["decide"]["median_us"]
    lines += [
        "",
        "**decide()**: " + ", ".join(f"{k} {v:.2f} µs" for k, v in decide.items()),
        "",
        "**FaultServer fast endpoint**:",
        "",
        "```",
        *results["server"],
        "```",
    ]
    return "\n".join(lines) + "\n"


def _parse_table(parse: dict[str, Any]) -> list[str]:
    out = ["| family | body bytes | json.loads µs | parse() µs | ratio |", "|---|---|---|---|---|"]
    for r in parse["rows"]:
        loads = r.get("json_us")
        ratio = f"{r['parse_ratio']:.1f}x" if r.get("parse_ratio") else "-"
        loads_text = f"{loads:.1f}" if loads else "-"
        out.append(
            f"| {r['family']} | {r['bytes']} | {loads_text} | {r['parse_us']:.1f} | {ratio} |"
        )
    return out


def _stage_table(parse: dict[str, Any]) -> list[str]:
    stages: dict[str, dict[str, float]] = parse.get("stages") or {}
    if not stages:
        return ["(not measured)"]
    names = list(stages)
    head = [f"| stage | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|"]
    return head + [
        f"| {key} | {' | '.join(f'{stages[n][key]:.2f}' for n in names)} |"
        for key in stages[names[0]]
    ]


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    stacks = results["stacks"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    over = [r for r in stacks["overhead"] if r["variant"] != "bare"]
    labels = [f"{r['stack']}\n{r['variant']}" for r in over]
    colors = ["tab:green" if r["variant"] == "errorkit" else "tab:gray" for r in over]
    left.bar(range(len(over)), [r["ratio_to_bare"] for r in over], color=colors)
    left.axhline(1.0, color="black", linewidth=0.8)
    ratios = [r["ratio_to_bare"] for r in over]
    left.set_ylim(min(0.9, min(ratios) - 0.02), max(1.15, max(ratios) + 0.02))  # a few %
    left.set_xticks(range(len(over)), labels, rotation=70, fontsize=7)
    left.set_ylabel("time per request / bare client")
    left.set_title("Success-path overhead (lower is better)")
    amp = stacks["amplification"]
    right.bar(
        range(len(amp)),
        [r["attempts_per_request"] for r in amp],
        color=["tab:green" if r["variant"] == "errorkit" else "tab:gray" for r in amp],
    )
    right.set_xticks(
        range(len(amp)), [f"{r['stack']}\n{r['variant']}" for r in amp], rotation=70, fontsize=7
    )
    right.set_ylabel("server attempts per logical request")
    right.set_title("Full outage: retry amplification (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    results = run(args.quick)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "results.md").write_text(markdown(results))
    plot(results, RESULTS / "benchmarks.png")
    print((RESULTS / "results.md").read_text())


if __name__ == "__main__":
    main()
