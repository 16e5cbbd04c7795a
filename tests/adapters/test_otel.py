"""errorkit.otel over real sockets, for every client of every stack.

Each test instruments errorkit (and, where asked, the stack's official OpenTelemetry
instrumentation) with the SDK's in-memory span exporter and metric reader, runs one
logical request against the loopback `FaultServer` under a caller's span, and
asserts on what was exported and what the server received.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from errorkit import RetryBudget, RetryPolicy
from errorkit.otel import ErrorkitInstrumentor
from errorkit.testing import FaultServer, respond

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry import trace
    from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
        BaseInstrumentor,
    )

    from .conftest import MakeClient

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
SECRET = "sk-live-4f9Qa7TOPSECRET"
KEY = "k3yV4lueSECRET"


def _official(stack: str) -> BaseInstrumentor:
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


def _telemetry(officials: list[BaseInstrumentor]) -> Iterator[Telemetry]:
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


@pytest.fixture(params=["errorkit", "with-official"])
def telemetry(request: pytest.FixtureRequest, stack: str) -> Iterator[Telemetry]:
    """errorkit instrumented alone, or beside the stack's official instrumentation."""
    officials = [] if request.param == "errorkit" else [_official(stack)]
    if stack == "requests" and officials:
        officials.append(_official("urllib3"))  # requests sends through urllib3
    yield from _telemetry(officials)


def _sum(points: list[Any]) -> float:
    return sum(getattr(p, "value", 0) for p in points)


def test_each_attempt_is_one_client_span_under_the_callers(
    fault_server: FaultServer, make_client: MakeClient, telemetry: Telemetry, stack: str
) -> None:
    """503, 503, 200: three CLIENT spans, resend counts absent/1/2, siblings under the
    caller's span, each attempt's traceparent naming its own span; two retries counted,
    one duration point per attempt, and no credential anywhere in what was exported."""
    fault_server.script("/otel", [respond(503), respond(503), respond(200, body=b"ok")])
    client = make_client(policy=FAST)
    url = fault_server.url(f"/otel?api_key={KEY}&page=2")
    with telemetry.tracer.start_as_current_span("caller") as caller:
        result = client.request("GET", url, headers={"Authorization": f"Bearer {SECRET}"})
    assert result.status == 200, result.exception
    assert fault_server.hits("/otel") == 3

    spans = telemetry.client_spans()
    assert len(spans) == 3, [(s.name, s.instrumentation_scope) for s in spans]
    assert {s.instrumentation_scope.name for s in spans} == {"errorkit"}  # type: ignore[union-attr]
    context = caller.get_span_context()
    for span in spans:
        assert span.parent is not None
        assert span.parent.span_id == context.span_id
        assert span.context is not None
        assert span.context.trace_id == context.trace_id
        assert span.name == "GET"
    attributes = [dict(s.attributes or {}) for s in spans]
    assert [a.get("http.response.status_code") for a in attributes] == [503, 503, 200]
    assert [a.get("http.request.resend_count") for a in attributes] == [None, 1, 2]
    assert [a.get("error.type") for a in attributes] == ["503", "503", None]
    first = attributes[0]
    assert first["http.request.method"] == "GET"
    assert first["server.address"] == "127.0.0.1"
    assert first["server.port"] == fault_server.port
    assert first["url.full"] == fault_server.url("/otel?api_key=REDACTED&page=2")

    # Each attempt carried its own span's context: the server's span hangs under it.
    sent = [str(r.header("traceparent")).rsplit("-", 1)[0] for r in fault_server.requests("/otel")]
    expected = [f"00-{context.trace_id:032x}-{s.context.span_id:016x}" for s in spans]
    assert sent == expected

    # The two retry decisions, as events on the attempts they followed.
    events = [[e.name for e in s.events] for s in spans]
    assert events == [["errorkit.retry"], ["errorkit.retry"], []]
    retry = dict(spans[0].events[0].attributes or {})
    assert retry["errorkit.retry.reason"] == "retryable"
    assert retry["errorkit.wait.source"] == "backoff"
    assert 0 < float(retry["errorkit.wait.duration"]) <= 0.05  # type: ignore[arg-type]

    metrics = telemetry.metrics()
    assert _sum(metrics["errorkit.retries"]) == 2
    (attempts,) = metrics["errorkit.attempts"]
    assert (attempts.count, attempts.sum) == (1, 3)
    durations = metrics.get("http.client.request.duration", []) + metrics.get(
        "http.client.duration", []
    )
    assert sum(p.count for p in durations) == 3  # one per attempt, none twice
    waits = metrics["errorkit.wait.duration"]
    assert sum(p.count for p in waits) == 2

    dumped = telemetry.dump()
    assert SECRET not in dumped
    assert KEY not in dumped


def test_retry_after_and_budget_refusal_are_visible(
    fault_server: FaultServer, make_client: MakeClient, telemetry: Telemetry, instant_waits: Any
) -> None:
    """A 429 with Retry-After: 1 is a retry whose wait came from the header; a budget
    that grants no retry stops the next 503 (an `errorkit.stop` event, a refusal
    counted)."""
    fault_server.script(
        "/limited", [respond(429, headers={"Retry-After": "1"}), respond(503), respond(200)]
    )
    budget = RetryBudget(ratio=0.0, min_per_second=0.0)
    client = make_client(policy=dataclasses.replace(FAST, budget=budget))
    with telemetry.tracer.start_as_current_span("caller"):
        result = client.request("GET", fault_server.url("/limited"))
    assert result.status == 503
    assert fault_server.hits("/limited") == 2
    (waited,) = instant_waits.delays
    assert 1.0 <= waited < 1.25  # the hint, plus the policy's spread over callers

    spans = telemetry.client_spans()
    assert [dict(s.attributes or {}).get("http.response.status_code") for s in spans] == [429, 503]
    first, second = (list(s.events) for s in spans)
    assert [e.name for e in first] == ["errorkit.retry"]
    assert dict(first[0].attributes or {})["errorkit.wait.source"] == "retry_after"
    assert dict(first[0].attributes or {})["errorkit.wait.duration"] == waited
    assert [e.name for e in second] == ["errorkit.stop"]
    assert dict(second[0].attributes or {})["errorkit.retry.reason"] == "budget_exhausted"

    metrics = telemetry.metrics()
    assert _sum(metrics["errorkit.budget.refusals"]) == 1
    assert _sum(metrics["errorkit.retries"]) == 1
    (wait,) = metrics["errorkit.wait.duration"]
    assert dict(wait.attributes)["errorkit.wait.source"] == "retry_after"
    assert wait.sum == waited


def test_a_transport_failure_names_its_exception(
    fault_server: FaultServer, make_client: MakeClient, telemetry: Telemetry
) -> None:
    """A dropped connection, then a 200: the first span's error.type is the stack's
    exception type, it has no status code, and the retry is counted with that type."""
    from errorkit.testing import drop

    fault_server.script("/drop", [drop(), respond(200)])
    client = make_client(policy=FAST)
    with telemetry.tracer.start_as_current_span("caller"):
        result = client.request("GET", fault_server.url("/drop"))
    assert result.status == 200, result.exception
    spans = telemetry.client_spans()
    assert len(spans) == 2
    failed = dict(spans[0].attributes or {})
    assert "http.response.status_code" not in failed
    error_type = failed["error.type"]
    assert isinstance(error_type, str)
    assert error_type not in ("", "_OTHER")
    assert not error_type.isdigit()
    (retries,) = telemetry.metrics()["errorkit.retries"]
    assert dict(retries.attributes)["error.type"] == error_type


def test_nothing_is_recorded_once_uninstrumented(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """After uninstrument() the loop has no observer and no patch is left."""
    import errorkit._observe

    for _ in _telemetry([]):
        assert errorkit._observe.OBSERVER is not None
    assert errorkit._observe.OBSERVER is None
    fault_server.script("/off", [respond(503), respond(200)])
    result = make_client(policy=FAST).request("GET", fault_server.url("/off"))
    assert result.status == 200
    assert "traceparent" not in fault_server.requests("/off")[0].headers


def test_the_entry_point_names_the_instrumentor() -> None:
    """`opentelemetry-instrument` finds errorkit by its entry point."""
    from importlib.metadata import entry_points

    (found,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "errorkit"]
    assert found.load() is ErrorkitInstrumentor
