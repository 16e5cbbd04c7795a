"""Median cost of one `RetryPolicy.decide()` call for typical outcomes.

Usage: ``python benchmarks/bench_decide.py [--json out.json] [--calls N] [--repeats R]``.
Each case runs `repeats` bounded loops of `calls` decisions and reports the median and
the best per-call time in microseconds, next to a calibration loop (an empty keyword
call) that shows how fast the machine was. The target is < 5 µs per call; the exit
status checks the best loop, the estimate least disturbed by other processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from errorkit._info import Category, ErrorInfo
from errorkit._policy import RetryPolicy, TransportFailure

if TYPE_CHECKING:
    from errorkit._policy import Outcome

TARGET_US = 5.0


class Sample(NamedTuple):
    """Per-call microseconds of one case."""

    median: float
    best: float


CASES: dict[str, tuple[str, Outcome]] = {
    "retryable 503 (GET)": (
        "GET",
        ErrorInfo(status=503, category=Category.UNAVAILABLE, message="down", retryable=True),
    ),
    "429 with hint (POST)": (
        "POST",
        ErrorInfo(
            status=429,
            category=Category.RATE_LIMITED,
            message="slow down",
            retryable=True,
            retry_after=2.0,
            retry_after_source="header:retry-after",
        ),
    ),
    "POST sent failure": ("POST", TransportFailure(sent=True, description="connection reset")),
    "GET not-sent failure": ("GET", TransportFailure(sent=False, description="refused")),
    "non-retryable 404 (GET)": (
        "GET",
        ErrorInfo(status=404, category=Category.NOT_FOUND, message="no such thing"),
    ),
}


def measure(policy: RetryPolicy, method: str, outcome: Outcome, calls: int, repeats: int) -> Sample:
    """Median and best microseconds per `decide()` over `repeats` loops of `calls` calls."""
    decide = policy.decide
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            decide(attempt=1, elapsed=0.5, method=method, outcome=outcome)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return Sample(round(statistics.median(samples), 3), round(min(samples), 3))


def calibrate(calls: int, repeats: int) -> float:
    """Best microseconds per call of an empty keyword-only function: the machine's pace."""

    def empty(*, attempt: int, elapsed: float) -> None:
        del attempt, elapsed

    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            empty(attempt=1, elapsed=0.5)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return round(min(samples), 3)


def main(argv: list[str] | None = None) -> int:
    """Run every case, print a table, optionally write JSON; 1 if a case misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--calls", type=int, default=20_000, help="decisions per loop")
    parser.add_argument("--repeats", type=int, default=9, help="loops per case")
    args = parser.parse_args(argv)
    policy = RetryPolicy(deadline=30.0)
    results = {
        name: measure(policy, method, outcome, args.calls, args.repeats)
        for name, (method, outcome) in CASES.items()
    }
    baseline = calibrate(args.calls, args.repeats)
    width = max(map(len, results))
    print(f"{'case':<{width}}  median µs  best µs")
    for name, sample in results.items():
        print(f"{name:<{width}}  {sample.median:9.3f}  {sample.best:7.3f}")
    print(f"{'(empty keyword call)':<{width}}  {'':9}  {baseline:7.3f}")
    if args.json:
        report = {
            "python": sys.version.split()[0],
            "calls": args.calls,
            "repeats": args.repeats,
            "target_us": TARGET_US,
            "empty_call_us": baseline,
            "median_us": {name: sample.median for name, sample in results.items()},
            "best_us": {name: sample.best for name, sample in results.items()},
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if max(sample.best for sample in results.values()) < TARGET_US else 1


if __name__ == "__main__":
    raise SystemExit(main())
