"""A fleet of 4 processes x 4 threads against one server that admits 40 requests/s.

    python benchmarks/bench_fleet.py                 # every row and scenario, ~8 min
    python benchmarks/bench_fleet.py --seconds 0.5   # phases halved: a quick look
    python benchmarks/bench_fleet.py --rows 4,5 --scenarios quota

The server (`_fleet_server`, its own process) is a token bucket of 40/s with a burst
of 10, answering 429 ``Retry-After: 1`` beyond it. Scenarios:

- ``bare``: 30 s against the path that says only ``Retry-After``;
- ``quota``: 30 s against the path that also states its quota
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
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
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
# 30 s: a fleet's first instant (16 threads sending before any 429 is known) is a
# fixed cost of about 16 429s and a 1 s closing; over 10 s it was most of the figures.
SCENARIOS = {"bare": ("/bare", 30.0), "quota": ("/quota", 30.0), "outage": ("/quota", 14.0)}


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

    closing: list[Any] = []  # closed after the client (the Redis row's backend)
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
            closing.append(backend.close)
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

    def close() -> None:
        client.close()
        for more in closing:
            more()

    return (lambda url: client.get(url).status_code), close


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
    calls: list[tuple[float, float, object]]  # (started, ended, status or exception name)
    seconds: float
    scale: float = 1.0

    @property
    def outage(self) -> tuple[float, float] | None:
        """The outage window, in seconds from the start, or None."""
        if self.scenario != "outage":
            return None
        return OUTAGE_AT * self.scale, (OUTAGE_AT + OUTAGE_FOR) * self.scale

    def hits(self) -> list[list[Any]]:
        """The requests that arrived during the phase (not the in-flight calls' tail)."""
        return [e for e in self.log if 0.0 <= e[0] < self.seconds]

    def figures(self) -> dict[str, Any]:
        hits = self.hits()
        sent = len(hits)
        n429 = sum(1 for e in hits if e[2] == 429)
        in_wait = sum(1 for e in hits if e[3])
        failed = sum(1 for c in self.calls if not _ok(c[2]))
        up = self.seconds
        window = self.outage
        if window is not None:
            up -= window[1] - window[0]
        ok = sum(1 for e in hits if e[2] == 200 and not _inside(e[0], window))
        figures: dict[str, Any] = {
            "sent": sent,
            "calls": len(self.calls),
            "429 share": n429 / sent if sent else 0.0,
            "in-wait": in_wait,
            "in-wait share": in_wait / sent if sent else 0.0,
            "429s in 1st s": sum(1 for e in hits if e[2] == 429 and e[0] < 1.0),
            "in-wait after 1st s": sum(1 for e in hits if e[3] and e[0] >= 1.0),
            "goodput": ok / up / RATE,
            "failures": failed,
            "failure share": failed / len(self.calls) if self.calls else 0.0,
        }
        if window is not None:
            during = sum(1 for e in hits if _inside(e[0], window))
            started = sum(1 for c in self.calls if _inside(c[0], window))
            figures["outage hits per call"] = during / started if started else None
            figures["recovery s"] = self._recovery(window[1])
        return figures

    def failure_kinds(self) -> dict[str, int]:
        """How the failed calls ended: a final status, or an exception's class name."""
        kinds: dict[str, int] = {}
        for _, _, outcome in self.calls:
            if not _ok(outcome):
                name = f"final {outcome}" if isinstance(outcome, int) else str(outcome)
                kinds[name] = kinds.get(name, 0) + 1
        return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))

    def _recovery(self, end: float) -> float | None:
        """Seconds from the outage's end to the start of the first 0.5 s bin with 90 %
        of the limit's 200s (bins count from the phase's start), or None: never."""
        series = self.series()[200]
        for index, count in enumerate(series):
            start = index * BIN
            if start >= end - 1e-9 and count >= 0.9 * RATE * BIN:
                return start - end
        return None

    def series(self) -> dict[int, list[int]]:
        bins = round(self.seconds / BIN)
        out = {200: [0] * bins, 429: [0] * bins, 503: [0] * bins}
        for t, _, status, _ in self.hits():
            if status in out:
                out[status][min(bins - 1, int(t / BIN))] += 1
        return out


def _ok(outcome: object) -> bool:
    return isinstance(outcome, int) and 200 <= outcome < 300


def _inside(t: float, window: tuple[float, float] | None) -> bool:
    return window is not None and window[0] <= t < window[1]


def run_one(base: str, redis_url: str | None, row: int, scenario: str, scale: float) -> Run:
    path, seconds = SCENARIOS[scenario]
    seconds *= scale
    if row == 5 and redis_url is not None:  # each scenario starts from an empty Redis
        import redis

        with redis.Redis.from_url(redis_url) as client:
            client.flushall()
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


TARGETS: dict[str, dict[str, tuple[str, float]]] = {
    "quota": {"429 share": ("<=", 0.02), "goodput": (">=", 0.90)},
    "bare": {"in-wait share": ("<=", 0.01)},
    "outage": {"outage hits per call": ("<=", 1.3), "recovery s": ("<=", 2.0)},
}
REDIS_ROW = 5


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "never" if name == "recovery s" else "-"
    if name in ("sent", "calls", "failures", "in-wait", "429s in 1st s", "in-wait after 1st s"):
        return str(value)
    if "share" in name or name == "goodput":
        return f"{value:.1%}"
    return f"{value:.2f}"


def _met(op: str, bound: float, value: Any) -> bool:
    if value is None:
        return False
    return bool(value <= bound if op == "<=" else value >= bound)


def table(scenario: str, runs: list[Run]) -> str:
    """One markdown table: a line per row, the targets on the line after the Redis row."""
    rows = [(run, run.figures()) for run in runs if run.scenario == scenario]
    if not rows:
        return ""
    names = list(rows[0][1])
    targets = TARGETS.get(scenario, {})
    lines = [f"### {scenario}", "", "| row | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]  # fmt: skip
    for run, figures in rows:
        cells = [_cell(name, figures[name]) for name in names]
        lines.append(f"| {ROWS[run.row]} | " + " | ".join(cells) + " |")
        if run.row == REDIS_ROW and targets:
            marks = []
            for name in names:
                if name in targets:
                    op, bound = targets[name]
                    met = "met" if _met(op, bound, figures[name]) else "MISSED"
                    marks.append(f"{op} {_cell(name, bound)} ({met})")
                else:
                    marks.append("")
            lines.append("| *target, Redis row* | " + " | ".join(marks) + " |")
    lines.append("")
    for run, _ in rows:
        kinds = run.failure_kinds()
        if kinds:
            shown = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
            lines.append(f"- {ROWS[run.row]}: failed calls ended in {shown}.")
    return "\n".join(lines) + "\n"


def plot(runs: list[Run], path: Path) -> None:
    """200s and 429s per 0.5 s bin over time, quota and outage, one line per row."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in ("quota", "outage") if any(r.scenario == s for r in runs)]
    if not scenarios:
        return
    fig, axes = plt.subplots(len(scenarios), 2, figsize=(13, 3.6 * len(scenarios)), squeeze=False)
    for line, scenario in zip(axes, scenarios, strict=True):
        chosen = [r for r in runs if r.scenario == scenario]
        for run in chosen:
            series = run.series()
            xs = [(i + 0.5) * BIN for i in range(len(series[200]))]
            line[0].plot(xs, series[200], label=ROWS[run.row], linewidth=1.2)
            line[1].plot(xs, series[429], label=ROWS[run.row], linewidth=1.2)
        for ax, what in zip(line, ("200s", "429s"), strict=True):
            ax.set_title(f"{scenario}: {what} per {BIN:g} s bin")
            ax.set_xlabel("seconds from the start")
            window = chosen[0].outage
            if window is not None:
                ax.axvspan(*window, color="0.88", label="outage (503)")
        line[0].axhline(RATE * BIN, color="0.5", linestyle=":", linewidth=1, label="the limit")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _redis_missing() -> str | None:
    """Why row 5 cannot run here, or None."""
    try:
        import errorkit.redis  # noqa: F401
        from errorkit.testing.redis_server import find_redis_server
    except ImportError as exc:
        return f"not importable yet: {exc}"
    if find_redis_server() is None:
        return "no redis-server binary found (see errorkit.testing.redis_server)"
    return None


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def _versions(redis_used: bool) -> dict[str, str]:
    names = ["errorkit", "urllib3", "httpx", "httpx-retries"]
    if redis_used:
        names.append("redis")
    found = {"python": platform.python_version()}
    found.update((name, _version(name)) for name in names)
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - the repository's own git
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        head = ""
    if head:
        found["errorkit"] += f" (git {head} + working tree)"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1,2,3,4,5", help="comma-separated, of 1-5")
    parser.add_argument("--scenarios", default="bare,quota,outage")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="scale of every phase (0.5: half as long)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows = [int(r) for r in args.rows.split(",")]
    scenarios = args.scenarios.split(",")
    if unknown := [r for r in rows if r not in ROWS] + [s for s in scenarios if s not in SCENARIOS]:
        parser.error(f"unknown rows or scenarios: {unknown}")
    if not 0.05 <= args.seconds <= 10:
        parser.error("--seconds must be in [0.05, 10]")
    skipped: dict[str, str] = {}
    if REDIS_ROW in rows and (why := _redis_missing()) is not None:
        print(f"skipping row {REDIS_ROW} ({ROWS[REDIS_ROW]}): {why}", flush=True)
        skipped[ROWS[REDIS_ROW]] = why
        rows.remove(REDIS_ROW)
    started = time.time()
    runs: list[Run] = []
    redis: Any = None
    if REDIS_ROW in rows:
        from errorkit.testing.redis_server import RedisServer

        redis = RedisServer().start()
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
    elapsed = time.time() - started
    command = " ".join(["python benchmarks/bench_fleet.py", *sys.argv[1:]])
    versions = _versions(redis is not None)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    header = (
        f"# Fleet bench\n\n`{command}`, {when}, {elapsed:.0f} s; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; {os.cpu_count()} CPUs.\n\n"
        f"{PROCESSES} spawned processes x {THREADS} threads per row, each thread calling GET"
        " back to back for the phase, against one token bucket of"
        f" {RATE:g} requests/s with a burst of 10 in its own process."
        " Figures count the requests that arrived during the phase (server log) and every"
        " call the threads started (their reports). in-wait: requests that arrived while a"
        " wait announced by any earlier 429 (`Retry-After: 1`) was open. 429s in 1st s: the"
        " cold start, before any process has heard of a 429 or a quota; in-wait after 1st s:"
        " the in-wait requests after it. goodput: 200s per"
        " second / 40 (outage: over the seconds outside it). failures: calls that ended in an"
        " exception or a final non-2xx. Outage: hits per call = hits arriving during it /"
        " calls started during it; recovery = from its end to the start of the first 0.5 s"
        " bin with >= 18 200s. The Redis row's redis-server is started once per run and"
        " flushed before each scenario, so none starts with what an earlier one learned.\n\n"
    )
    if skipped:
        header += "".join(f"Skipped: {row}: {why}.\n\n" for row, why in skipped.items())
    report = header + "\n".join(table(s, runs) for s in scenarios)
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "fleet.md").write_text(report)
        data = {
            "command": command,
            "date": when,
            "seconds": round(elapsed, 1),
            "versions": versions,
            "setup": {
                "processes": PROCESSES,
                "threads": THREADS,
                "rate": RATE,
                "burst": 10,
                "bin": BIN,
                "scale": args.seconds,
            },
            "skipped": skipped,
            "targets": {s: {k: list(v) for k, v in t.items()} for s, t in TARGETS.items()},
            "runs": [
                {
                    "row": ROWS[r.row],
                    "scenario": r.scenario,
                    "phase_s": r.seconds,
                    "outage_s": list(r.outage) if r.outage else None,
                    "figures": r.figures(),
                    "failure_kinds": r.failure_kinds(),
                    "series": {str(k): v for k, v in r.series().items()},
                }
                for r in runs
            ],
        }
        (RESULTS / "fleet.json").write_text(json.dumps(data, indent=1) + "\n")
        plot(runs, RESULTS / "fleet.png")


if __name__ == "__main__":
    main()
