"""What tracing costs per attempt: errorkit's instrumentor against the official one alone.

    python benchmarks/bench_otel.py [--quick] [--json out.json] [--stacks requests,httpx,...]

For each stack, five variants on the same success path (a 200 over keep-alive from
a FaultServer in a child process on 127.0.0.1), with the OpenTelemetry SDK and an
in-memory span exporter (cleared after every block) wherever tracing is on:

* ``bare``: the bare client, nothing instrumented;
* ``official``: the bare client under the stack's official instrumentation;
* ``errorkit``: errorkit's adapter, nothing instrumented;
* ``errorkit + otel``: errorkit's adapter under `ErrorkitInstrumentor`;
* ``errorkit + otel + official``: both instrumentors on (errorkit's span is the one
  recorded; the official one below it is suppressed).

Instrumentation is global (it patches classes), so variants are not interleaved
request by request as in bench_stacks.py: each round runs every variant's block in a
shuffled order, instrumenting before the block's client is built and
uninstrumenting after. The figure per variant is the median over rounds of µs per
request; ``per_attempt_us`` is that minus the uninstrumented twin's (bare for
``official``, errorkit for the others), the cost of tracing one attempt. Every loop
is bounded by a request count.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import random
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import bench_stacks
from _serverproc import server_process

if TYPE_CHECKING:
    from collections.abc import Iterator

OFFICIAL = {
    "requests": ("opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
    "urllib3": ("opentelemetry.instrumentation.urllib3", "URLLib3Instrumentor"),
    "httpx": ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    "httpx-async": ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    "httpx2": ("opentelemetry.instrumentation.httpx", "HTTPX2ClientInstrumentor"),
    "httpx2-async": ("opentelemetry.instrumentation.httpx", "HTTPX2ClientInstrumentor"),
    "aiohttp": ("opentelemetry.instrumentation.aiohttp_client", "AioHttpClientInstrumentor"),
}


@dataclass
class Case:
    stack: str
    name: str
    client: bench_stacks.Variant  # the bare client's or errorkit's
    errorkit_otel: bool
    official: bool


def cases(stacks: set[str] | None) -> list[Case]:
    found: list[Case] = []
    for variant in bench_stacks.variants():
        if stacks is not None and variant.stack not in stacks:
            continue
        if variant.name == "bare":
            found += [
                Case(variant.stack, "bare", variant, errorkit_otel=False, official=False),
                Case(variant.stack, "official", variant, errorkit_otel=False, official=True),
            ]
        elif variant.name == "errorkit":
            found += [
                Case(variant.stack, "errorkit", variant, errorkit_otel=False, official=False),
                Case(variant.stack, "errorkit + otel", variant, errorkit_otel=True, official=False),
                Case(
                    variant.stack,
                    "errorkit + otel + official",
                    variant,
                    errorkit_otel=True,
                    official=True,
                ),
            ]
    return found


class _Tracing:
    """One SDK (tracer and meter providers, in-memory exporter and reader) for the run."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    @contextmanager
    def on(self, case: Case) -> Iterator[None]:
        from errorkit.otel import ErrorkitInstrumentor

        instrumentors: list[Any] = []
        if case.errorkit_otel:
            instrumentors.append(ErrorkitInstrumentor())
        if case.official:
            module, name = OFFICIAL[case.stack]
            instrumentors.append(getattr(importlib.import_module(module), name)())
        for instrumentor in instrumentors:
            instrumentor.instrument(
                tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
            )
        try:
            yield
        finally:
            for instrumentor in reversed(instrumentors):
                instrumentor.uninstrument()
            self.exporter.clear()
            self.reader.get_metrics_data()  # collect: the next block starts from nothing


WARM_UP = 10


def _block(case: Case, tracing: _Tracing, url: str, per_round: int, tracer: Any) -> float:
    """µs per request of one block of `case`, under a caller's span when tracing."""
    with tracing.on(case):
        send, close = case.client.make()
        try:
            for _ in range(WARM_UP):
                send(url)
            gc.collect()
            clock = time.perf_counter
            start = clock()
            with tracer.start_as_current_span("caller"):
                for _ in range(per_round):
                    send(url)
            return (clock() - start) / per_round * 1e6
        finally:
            close()


def measure(
    base: str, rounds: int, per_round: int, stacks: set[str] | None
) -> list[dict[str, Any]]:
    tracing = _Tracing()
    tracer = tracing.tracer_provider.get_tracer("bench")
    chosen = cases(stacks)
    samples: dict[int, list[float]] = {id(c): [] for c in chosen}
    rng = random.Random(7)
    url = f"{base}/fast"
    for case in chosen:  # warm up every code path once
        _block(case, tracing, url, 50, tracer)
    by_stack: dict[str, list[Case]] = {}
    for case in chosen:
        by_stack.setdefault(case.stack, []).append(case)
    for _ in range(rounds):
        for group in by_stack.values():
            order = list(group)
            rng.shuffle(order)
            for case in order:
                samples[id(case)].append(_block(case, tracing, url, per_round, tracer))
    medians = {(c.stack, c.name): statistics.median(samples[id(c)]) for c in chosen}
    rows = []
    for case in chosen:
        twin = "bare" if case.name in ("bare", "official") else "errorkit"
        untraced = medians[(case.stack, twin)]
        median = medians[(case.stack, case.name)]
        rows.append(
            {
                "stack": case.stack,
                "variant": case.name,
                "us_per_request": round(median, 1),
                "per_attempt_us": round(median - untraced, 1),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--stacks", help="comma-separated stacks (default: all)")
    args = parser.parse_args()
    stacks = set(args.stacks.split(",")) if args.stacks else None
    rounds, per_round = (3, 50) if args.quick else (20, 200)
    with server_process() as base:
        rows = measure(base, rounds, per_round, stacks)
    text = json.dumps(rows, indent=2)
    if args.json:
        with open(args.json, "w") as fh:  # noqa: PTH123
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
