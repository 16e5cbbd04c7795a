"""errorkit's metrics scraped by Prometheus' text format, plotted from a real run.

    python benchmarks/otel_dashboard.py [--seconds 20] [--out docs/img/observability.png]

Four threads call a FaultServer on 127.0.0.1 through httpx with errorkit's transport,
`ErrorkitInstrumentor` on and `opentelemetry-exporter-prometheus` serving the
metrics on 127.0.0.1. The server goes through four phases: healthy, a partial
outage (30 % of answers 503), a rate limit (429 with ``Retry-After: 1`` for a second
at a time), healthy again. Every half second the script scrapes the exporter as
Prometheus would, and from the samples plots what a dashboard shows: retries per
second by reason, seconds of wait per second by source, and attempts per call.
Also written: the last scrape, as text beside the picture. Every loop is bounded.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

PHASES = ((0.2, "healthy"), (0.4, "partial outage"), (0.55, "rate limited"), (1.0, "healthy"))


def _server_step(started: float, seconds: float) -> Any:
    from errorkit.testing import respond

    rng = random.Random(3)
    limited_until = [0.0]

    def choose(request: Any) -> Any:
        del request
        now = time.monotonic()
        phase = (now - started) / seconds
        if phase < PHASES[0][0] or phase >= PHASES[2][0]:
            return respond(200, body={"ok": True})
        if phase < PHASES[1][0]:
            failed = rng.random() < 0.3
            return respond(503, body={"error": "unavailable"}) if failed else respond(200)
        if now >= limited_until[0] + 1.0:  # a window opens: 1 s limited, then 1 s free
            limited_until[0] = now + 1.0
        if now < limited_until[0]:
            left = limited_until[0] - now
            return respond(429, {"Retry-After": f"{left:.2f}"}, body={"error": "slow down"})
        return respond(200, body={"ok": True})

    return choose


def run(seconds: float, out: Path) -> None:
    import httpx
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import start_http_server
    from prometheus_client.parser import text_string_to_metric_families

    from errorkit import RetryPolicy
    from errorkit.httpx import RetryTransport
    from errorkit.otel import ErrorkitInstrumentor
    from errorkit.testing import FaultServer, dynamic

    server_http, _ = start_http_server(0, addr="127.0.0.1")
    scrape_url = f"http://127.0.0.1:{server_http.server_port}/metrics"
    provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    ErrorkitInstrumentor().instrument(meter_provider=provider)
    scrapes: list[tuple[float, dict[tuple[str, tuple[tuple[str, str], ...]], float]]] = []
    last_text = ""
    with FaultServer() as fault:
        started = time.monotonic()
        fault.script("/api", dynamic(_server_step(started, seconds)))
        stop = threading.Event()

        def caller() -> None:
            policy = RetryPolicy(max_attempts=4, initial_delay=0.05, max_delay=0.5)
            with httpx.Client(transport=RetryTransport(policy), timeout=5) as client:
                for _ in range(100_000):  # bounded; the run ends at `seconds`
                    if stop.is_set():
                        return
                    client.get(fault.url("/api"))
                    time.sleep(0.02)

        threads = [threading.Thread(target=caller) for _ in range(4)]
        for thread in threads:
            thread.start()
        for _ in range(int(seconds / 0.5) + 1):
            with urllib.request.urlopen(scrape_url, timeout=5) as response:
                last_text = response.read().decode()
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(last_text)
                for s in family.samples
            }
            scrapes.append((time.monotonic() - started, samples))
            time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    ErrorkitInstrumentor().uninstrument()
    server_http.shutdown()
    _plot(scrapes, seconds, out)
    out.with_suffix(".prom.txt").write_text(_ours(last_text))


def _ours(text: str) -> str:
    """The scrape's errorkit and HTTP client lines, without the exporter's scope labels."""
    kept = []
    for line in text.splitlines():
        name = line.split(" ")[2] if line.startswith("#") else line
        if name.startswith(("errorkit_", "http_client_")):
            kept.append(re.sub(r'otel_scope_(schema_url|version)="[^"]*",?', "", line))
    return "\n".join(kept) + "\n"


def _series(
    scrapes: list[tuple[float, dict[tuple[str, tuple[tuple[str, str], ...]], float]]],
    name: str,
    label: str,
) -> dict[str, list[float]]:
    """Per-second rate of counter `name` between scrapes, by the value of `label`."""
    keys = sorted({dict(k[1]).get(label, "") for _, s in scrapes for k in s if k[0] == name})
    rates: dict[str, list[float]] = {key: [] for key in keys}
    for (t0, before), (t1, after) in itertools.pairwise(scrapes):
        for key in keys:
            total = [
                after.get(k, 0.0) - before.get(k, 0.0)
                for k in after
                if k[0] == name and dict(k[1]).get(label, "") == key
            ]
            rates[key].append(sum(total) / (t1 - t0))
    return rates


def _plot(
    scrapes: list[tuple[float, dict[tuple[str, tuple[tuple[str, str], ...]], float]]],
    seconds: float,
    out: Path,
) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    times = [t for t, _ in scrapes[1:]]
    retries = _series(scrapes, "errorkit_retries_total", "errorkit_retry_reason")
    waits = _series(scrapes, "errorkit_wait_duration_seconds_sum", "errorkit_wait_source")
    calls = _series(scrapes, "errorkit_attempts_count", "http_request_method")
    attempts = _series(scrapes, "errorkit_attempts_sum", "http_request_method")
    figure, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for reason, values in retries.items():
        axes[0].plot(times, values, label=reason)
    axes[0].set_ylabel("retries / s")
    axes[0].set_title("rate(errorkit_retries_total[0.5s]) by errorkit_retry_reason")
    for source, values in waits.items():
        axes[1].plot(times, values, label=source)
    axes[1].set_ylabel("wait s / s")
    axes[1].set_title("rate(errorkit_wait_duration_seconds_sum) by errorkit_wait_source")
    for method, values in attempts.items():
        counts = calls.get(method, [])
        ratio = [a / c if c else float("nan") for a, c in zip(values, counts, strict=False)]
        axes[2].plot(times, ratio, label=method)
    axes[2].set_ylabel("attempts / call")
    axes[2].set_title("rate(errorkit_attempts_sum) / rate(errorkit_attempts_count)")
    axes[2].set_xlabel("seconds into the run")
    start = 0.0
    for end, name in PHASES:
        for axis in axes:
            axis.axvspan(start * seconds, end * seconds, alpha=0.06 if name == "healthy" else 0.15)
        axes[0].text((start + end) / 2 * seconds, 0, name, ha="center", va="bottom", fontsize=8)
        start = end
    for axis in axes:
        axis.legend(loc="upper right", fontsize=8)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("docs/img/observability.png"))
    args = parser.parse_args()
    run(args.seconds, args.out)
    print(f"wrote {args.out} and {args.out.with_suffix('.prom.txt')}")


if __name__ == "__main__":
    main()
