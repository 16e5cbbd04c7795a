"""OpenTelemetry's SDK around a test: in-memory spans and metrics, instrumentors on and off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from errorkit.otel import ErrorkitInstrumentor

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry import trace
    from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
        BaseInstrumentor,
    )


def official(stack: str) -> BaseInstrumentor:
    """The official instrumentation a user of `stack` turns on."""
    if stack == "requests":
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        return RequestsInstrumentor()
    if stack == "urllib3":
        from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

        return URLLib3Instrumentor()
    if stack.startswith("httpx2"):
        from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

        return HTTPX2ClientInstrumentor()
    if stack.startswith("httpx"):
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        return HTTPXClientInstrumentor()
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    return AioHttpClientInstrumentor()


@dataclass
class Telemetry:
    """What one test exported: spans, and metrics read on demand."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer: trace.Tracer

    def client_spans(self) -> list[ReadableSpan]:
        found = [s for s in self.spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
        return sorted(found, key=lambda s: s.start_time or 0)

    def metrics(self) -> dict[str, list[Any]]:
        data: MetricsData | None = self.reader.get_metrics_data()
        points: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points

    def dump(self) -> str:
        """Everything exported, as text: spans, events, metric points and attributes."""
        spans = [s.to_json() for s in self.spans.get_finished_spans()]
        data = self.reader.get_metrics_data()
        return "\n".join(spans) + (data.to_json() if data else "")


def telemetry_for(officials: list[BaseInstrumentor]) -> Iterator[Telemetry]:
    """errorkit's instrumentor and `officials` on, with one SDK, for one test (a
    one-item generator: ``for telemetry in telemetry_for([...])``)."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    providers = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    ErrorkitInstrumentor().instrument(**providers)
    for official in officials:
        official.instrument(**providers)
    try:
        yield Telemetry(exporter, reader, tracer_provider.get_tracer("test"))
    finally:
        for official in officials:
            official.uninstrument()
        ErrorkitInstrumentor().uninstrument()
