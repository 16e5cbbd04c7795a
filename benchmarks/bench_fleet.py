"""A fleet of 4 processes x 4 threads against one server that admits 40 requests/s.

    python benchmarks/bench_fleet.py                 # every row and scenario, ~4 min
    python benchmarks/bench_fleet.py --seconds 0.5   # phases halved: a quick look
    python benchmarks/bench_fleet.py --rows 4,5 --scenarios quota

The server (`_fleet_server`, its own process) is a token bucket of 40/s with a burst
of 10, answering 429 ``Retry-After: 1`` beyond it. Scenarios:

- ``bare``: 10 s against the path that says only ``Retry-After``;
- ``quota``: 10 s against the path that also states its quota
  (``RateLimit-Policy: "fleet";q=40;w=1``);
- ``outage``: 14 s against ``quota``, every request answered 503 from 4 s to 10 s.

Rows: urllib3 ``Retry`` (429 and 503, Retry-After respected), httpx-retries, and
errorkit's httpx transport without a gate, with its default per-process gate, and
with gate and budget on one `errorkit.redis.RedisBackend` (a real redis-server,
started here). Each thread loops GET calls, one after the other, for the phase.

Figures, from the server's log (what it received) and the workers' reports:
429 share (of requests received), in-wait share (received while a wait a 429
announced was running), goodput (200s per second / 40), client-visible failures
(calls ending in an exception or a final non-2xx), and for the outage: server hits
per call started during it and the time from recovery until a 0.5 s bin reaches
90 % of the limit. Targets for the Redis row, from issue 13 and DESIGN.md: on
``quota`` 429 <= 2 % and goodput >= 90 %; on ``bare`` in-wait <= 1 %; outage hits
per call <= 1.3 and recovery <= 2 s. Writes benchmarks/results/fleet.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import sys
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _fleet_server import RATE, control, fleet_server

PROCESSES = 4
THREADS = 4
BIN = 0.5
RESULTS = Path(__file__).parent / "results"
OUTAGE_AT, OUTAGE_FOR = 4.0, 6.0
MAX_CALLS = 5000  # per thread: every loop is bounded

ROWS = {
    1: "urllib3 Retry",
    2: "httpx-retries",
    3: "errorkit, no gate",
    4: "errorkit, per-process gate",
    5: "errorkit, gate + budget on Redis",
}
SCENARIOS = {"bare": ("/bare", 10.0), "quota": ("/quota", 10.0), "outage": ("/quota", 14.0)}


def _client(row: int, redis_url: str | None) -> tuple[Any, Any]:
    """(get(url) -> status, close()) for `row`, built in the worker process."""
    if row == 1:
        import urllib3

        retry = urllib3.Retry(
            total=3,
            backoff_factor=0.5,
            status_forcelist=[429, 503],
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        pool = urllib3.PoolManager(retries=retry, maxsize=THREADS)
        return (lambda url: pool.request("GET", url, timeout=10).status), pool.clear
    import httpx

    if row == 2:
        import httpx_retries

        transport: Any = httpx_retries.RetryTransport(
            retry=httpx_retries.Retry(total=3, backoff_factor=0.5)
        )
    else:
        import errorkit
        import errorkit.httpx

        if row == 3:
            policy = errorkit.RetryPolicy(gate=None)
        elif row == 4:
            policy = errorkit.RetryPolicy()
        else:
            from errorkit.redis import RedisBackend

            backend = RedisBackend.from_url(str(redis_url))
            gate = errorkit.RateLimitGate(backend=backend)
            policy = errorkit.RetryPolicy(gate=gate, budget=errorkit.RetryBudget(backend=backend))
            deadline = time.monotonic() + 20  # until the whole fleet shows in Redis
            while gate._fleet < PROCESSES and time.monotonic() < deadline:  # noqa: SLF001
                backend.sync()
                time.sleep(0.02)
        transport = errorkit.httpx.RetryTransport(policy)
    client = httpx.Client(
        transport=transport, timeout=10, limits=httpx.Limits(max_connections=THREADS)
    )
    return (lambda url: client.get(url).status_code), client.close


@dataclass(frozen=True)
class Task:
    """What every worker process of one run does."""

    row: int
    redis_url: str | None
    url: str
    seconds: float


def _worker(task: Task, epoch_box: Any, ready: Any, go: Any, out: Any) -> None:
    row, redis_url, url, seconds = task.row, task.redis_url, task.url, task.seconds
    get, close = _client(row, redis_url)
    ready.put(obj=True)
    go.wait(60)
    epoch = epoch_box.value
    calls: list[tuple[float, float, object]] = []
    lock = threading.Lock()

    def loop() -> None:
        mine: list[tuple[float, float, object]] = []
        for _ in range(MAX_CALLS):
            started = time.time() - epoch
            if started >= seconds:
                break
            try:
                outcome: object = get(url)
            except Exception as exc:  # a client-visible failure, counted
                outcome = type(exc).__name__
            mine.append((round(started, 4), round(time.time() - epoch, 4), outcome))
        with lock:
            calls.extend(mine)

    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    close()
    out.put(calls)


@dataclass
class Run:
    row: int
    scenario: str
    log: list[list[Any]]  # [t, path, status, in_wait] as the server received them
    calls: list[tuple[float, float, object]]
    seconds: float
    scale: float = 1.0

    def figures(self) -> dict[str, Any]:
        hits = [entry for entry in self.log if entry[1] != "control"]
        sent = len(hits)
        n429 = sum(1 for e in hits if e[2] == 429)
        in_wait = sum(1 for e in hits if e[3])
        failed = sum(1 for c in self.calls if c[2] != 200)
        up = self.seconds
        outage = self.scenario == "outage"
        at, lasting = OUTAGE_AT * self.scale, OUTAGE_FOR * self.scale
        if outage:
            up -= lasting
        ok = sum(1 for e in hits if e[2] == 200)
        figures: dict[str, Any] = {
            "sent": sent,
            "calls": len(self.calls),
            "429 share": n429 / sent if sent else 0.0,
            "in-wait share": in_wait / sent if sent else 0.0,
            "goodput": ok / up / RATE,
            "failures": failed,
            "failure share": failed / len(self.calls) if self.calls else 0.0,
        }
        if outage:
            end = at + lasting
            during = sum(1 for e in hits if at <= e[0] < end)
            started = sum(1 for c in self.calls if at <= c[0] < end)
            figures["outage hits per call"] = during / started if started else None
            figures["recovery s"] = self._recovery(end)
        return figures

    def _recovery(self, end: float) -> float | None:
        series = self.series()[200]
        for index, count in enumerate(series):
            start = index * BIN
            if start >= end and count >= 0.9 * RATE * BIN:
                return start - end
        return None

    def series(self) -> dict[int, list[int]]:
        bins = int(self.seconds / BIN) + 1
        out = {200: [0] * bins, 429: [0] * bins, 503: [0] * bins}
        for t, _, status, _ in self.log:
            if status in out and 0 <= t < self.seconds:
                out[status][int(t / BIN)] += 1
        return out


def run_one(base: str, redis_url: str | None, row: int, scenario: str, scale: float) -> Run:
    path, seconds = SCENARIOS[scenario]
    seconds *= scale
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    epoch_box = ctx.Value("d", 0.0)
    args = (Task(row, redis_url, base + path, seconds), epoch_box, ready, go, out)
    procs = [ctx.Process(target=_worker, args=args) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=60)
    epoch = time.time() + 0.2
    epoch_box.value = epoch
    control(base, f"reset?epoch={epoch}")
    time.sleep(max(0.0, epoch - time.time()))
    go.set()
    if scenario == "outage":
        time.sleep(max(0.0, epoch + OUTAGE_AT * scale - time.time()))
        control(base, f"outage?seconds={OUTAGE_FOR * scale}")
    calls = [call for _ in procs for call in out.get(timeout=seconds + 180)]
    for proc in procs:
        proc.join(timeout=30)
    log = json.loads(control(base, "log"))
    return Run(row, scenario, log, calls, seconds, scale)


TARGETS = {
    "quota": {"429 share": ("<=", 0.02), "goodput": (">=", 0.90)},
    "bare": {"in-wait share": ("<=", 0.01)},
    "outage": {"outage hits per call": ("<=", 1.3), "recovery s": ("<=", 2.0)},
}


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "never" if name == "recovery s" else "-"
    if name in ("sent", "calls", "failures"):
        return str(value)
    if "share" in name or name == "goodput":
        return f"{value:.1%}"
    return f"{value:.2f}"


def table(scenario: str, runs: list[Run]) -> str:
    rows = [(run, run.figures()) for run in runs if run.scenario == scenario]
    if not rows:
        return ""
    names = list(rows[0][1])
    lines = [f"### {scenario}", "", "| row | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]  # fmt: skip
    for run, figures in rows:
        cells = [_cell(name, figures[name]) for name in names]
        lines.append(f"| {ROWS[run.row]} | " + " | ".join(cells) + " |")
    targets = TARGETS.get(scenario, {})
    if targets:
        shown = ", ".join(
            f"{name} {op} {_cell(name, bound)}" for name, (op, bound) in targets.items()
        )
        lines += ["", f"Targets for the Redis row: {shown}."]
    return "\n".join(lines) + "\n"


def plot(runs: list[Run], path: Path) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in ("bare", "quota", "outage") if any(r.scenario == s for r in runs)]
    fig, axes = plt.subplots(len(scenarios), 2, figsize=(13, 3.4 * len(scenarios)), squeeze=False)
    for line, scenario in zip(axes, scenarios, strict=True):
        for run in (r for r in runs if r.scenario == scenario):
            series = run.series()
            xs = [i * BIN for i in range(len(series[200]))]
            line[0].plot(xs, [c / BIN for c in series[200]], label=ROWS[run.row])
            line[1].plot(xs, [c / BIN for c in series[429]], label=ROWS[run.row])
        for ax, what in zip(line, ("200s per second", "429s per second"), strict=True):
            ax.set_title(f"{scenario}: {what}")
            ax.set_xlabel("seconds")
            if scenario == "outage":
                ax.axvspan(OUTAGE_AT * run.scale, (OUTAGE_AT + OUTAGE_FOR) * run.scale, color="0.9")
        line[0].axhline(RATE, color="0.5", linestyle=":", linewidth=1)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1,2,3,4,5")
    parser.add_argument("--scenarios", default="bare,quota,outage")
    parser.add_argument("--seconds", type=float, default=1.0, help="scale of every phase")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows = [int(r) for r in args.rows.split(",")]
    scenarios = args.scenarios.split(",")
    runs: list[Run] = []
    from errorkit.testing.redis_server import RedisServer

    redis = RedisServer().start() if 5 in rows else None
    try:
        with fleet_server() as base:
            for scenario in scenarios:
                for row in rows:
                    run = run_one(base, redis.url if redis else None, row, scenario, args.seconds)
                    runs.append(run)
                    print(f"{scenario:7} {ROWS[row]:34} {run.figures()}", flush=True)
                    time.sleep(1.5)  # the bucket refills, every gate opens
    finally:
        if redis is not None:
            redis.stop()
    command = "python benchmarks/bench_fleet.py " + " ".join(sys.argv[1:])
    versions = ", ".join(
        f"{n} {version(n)}" for n in ("urllib3", "httpx", "httpx-retries", "redis")
    )
    header = (
        f"# Fleet bench\n\n`{command.strip()}` on {time.strftime('%Y-%m-%d')}, Python "
        f"{platform.python_version()}, {versions}; {PROCESSES} processes x {THREADS} threads, "
        f"server: {RATE:g} requests/s, burst 10.\n\n"
    )
    report = header + "\n".join(table(s, runs) for s in scenarios)
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "fleet.md").write_text(report)
        data = [
            {
                "row": ROWS[r.row],
                "scenario": r.scenario,
                "figures": r.figures(),
                "series": r.series(),
            }
            for r in runs
        ]
        (RESULTS / "fleet.json").write_text(json.dumps(data, indent=1))
        plot(runs, RESULTS / "fleet.png")


if __name__ == "__main__":
    main()
