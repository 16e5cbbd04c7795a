"""`errorkit demo --trace`: the span tree of a retried call, as a tracing backend shows it.

For each installed stack, one call meets 500, 500, 200 on the embedded `FaultServer`
under a caller's span, with `errorkit.otel.ErrorkitInstrumentor` on and the SDK's
in-memory exporter; then the same call with the stack's official OpenTelemetry
instrumentation on too, when it is installed. Each tree is printed indented: the
span's name, kind and scope, status code, resend count and duration, its
``errorkit.*`` events (the retry's reason, wait and where the wait came from), and
the gap before each attempt (the wait).
"""

from __future__ import annotations

import functools
import importlib
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from errorkit._demo import CALLS, STACKS, installed
from errorkit._policy import RetryPolicy
from errorkit._text import escape_control
from errorkit.testing import FaultServer, respond

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from opentelemetry.sdk.trace import ReadableSpan

#: The official instrumentation of each stack: (module, class).
OFFICIAL = {
    "requests": ("opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
    "urllib3": ("opentelemetry.instrumentation.urllib3", "URLLib3Instrumentor"),
    "httpx": ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    "httpx-async": ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    "httpx2": ("opentelemetry.instrumentation.httpx", "HTTPX2ClientInstrumentor"),
    "httpx2-async": ("opentelemetry.instrumentation.httpx", "HTTPX2ClientInstrumentor"),
    "aiohttp": ("opentelemetry.instrumentation.aiohttp_client", "AioHttpClientInstrumentor"),
}
_POLICY = RetryPolicy(budget=None, initial_delay=0.1, max_delay=0.2)
_NEEDS = (
    "errorkit demo --trace needs the OpenTelemetry SDK and errorkit's instrumentor: "
    "pip install 'errorkit[otel,cli]'"
)


def run_trace_demo(stacks: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Print the span tree of one retried call per installed stack; 2 if the SDK is absent."""
    out = out or sys.stdout
    try:
        from opentelemetry.sdk.trace import TracerProvider  # noqa: F401
    except ImportError:
        print(_NEEDS, file=sys.stderr)
        return 2
    chosen = list(stacks or STACKS)
    unknown = [s for s in chosen if s not in CALLS]
    if unknown:
        print(
            f"errorkit: unknown stack {unknown[0]!r}; choose from {', '.join(STACKS)}",
            file=sys.stderr,
        )
        return 2
    with FaultServer() as server:
        for stack in chosen:
            if not installed(stack):
                print(f"{stack}: not installed\n", file=out)
                continue
            for official in (None, OFFICIAL[stack]):
                if official is not None and importlib.util.find_spec(official[0]) is None:
                    continue
                spans = trace_one(server, stack, official)
                title = stack if official is None else f"{stack}, with {official[1]}"
                print(title, file=out)
                for line in render(spans):
                    print(f"  {line}", file=out)
                print(file=out)
    return 0


def trace_one(
    server: FaultServer, stack: str, official: tuple[str, str] | None
) -> list[ReadableSpan]:
    """One call of `stack` meeting 500, 500, 200, traced; the spans it exported."""
    server.reset()
    server.script("/v1/secrets", [respond(500), respond(500), respond(200, body={"data": []})])
    call = functools.partial(CALLS[stack], "GET", server.url("/v1/secrets"), b"", _POLICY)
    with _instrumented(official) as (tracer, exporter):
        with tracer.start_as_current_span(f"caller ({stack})"):
            call()
        return list(exporter.get_finished_spans())


@contextmanager
def _instrumented(official: tuple[str, str] | None) -> Iterator[tuple[Any, Any]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from errorkit.otel import ErrorkitInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentors = [ErrorkitInstrumentor()]
    if official is not None:
        instrumentors.append(getattr(importlib.import_module(official[0]), official[1])())
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider.get_tracer("errorkit.demo"), exporter
    finally:
        for instrumentor in reversed(instrumentors):
            instrumentor.uninstrument()
        provider.shutdown()


def render(spans: Sequence[ReadableSpan]) -> list[str]:
    """`spans` as an indented tree, children in the order they started."""
    ids = {s.context.span_id for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or 0)
    lines: list[str] = []

    def walk(span: ReadableSpan, prefix: str, last: bool, previous_end: int | None) -> None:
        branch = "`- " if last else "|- "
        gap = ""
        if previous_end is not None and span.start_time is not None:
            gap = f"  (after {(span.start_time - previous_end) / 1e9:.2f} s)"
        lines.append(f"{prefix}{branch}{_describe(span)}{gap}")
        inner = prefix + ("   " if last else "|  ")
        lines.extend(
            f"{inner}  * {_event(event.name, dict(event.attributes or {}))}"
            for event in span.events
        )
        kids = children.get(span.context.span_id if span.context else None, [])
        end: int | None = None
        for index, child in enumerate(kids):
            walk(child, inner, index == len(kids) - 1, end)
            end = child.end_time

    roots = children.get(None, [])
    for index, root in enumerate(roots):
        walk(root, "", index == len(roots) - 1, None)
    return lines


def _describe(span: ReadableSpan) -> str:
    attributes = dict(span.attributes or {})
    scope = span.instrumentation_scope.name if span.instrumentation_scope else "?"
    parts = [escape_control(span.name), span.kind.name, f"[{escape_control(scope)}]"]
    status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
    if status is not None:
        parts.append(str(status))
    if "error.type" in attributes:
        parts.append(f"error.type={escape_control(str(attributes['error.type']))}")
    if "http.request.resend_count" in attributes:
        parts.append(f"resend_count={attributes['http.request.resend_count']}")
    if span.start_time is not None and span.end_time is not None:
        parts.append(f"{(span.end_time - span.start_time) / 1e6:.1f} ms")
    return "  ".join(parts)


def _event(name: str, attributes: dict[str, Any]) -> str:
    shown = [escape_control(name)]
    if "errorkit.retry.reason" in attributes:
        shown.append(str(attributes["errorkit.retry.reason"]))
    if "errorkit.wait.duration" in attributes:
        wait = float(attributes["errorkit.wait.duration"])
        source = attributes.get("errorkit.wait.source")
        shown.append(f"wait {wait:.2f} s" + (f" ({source})" if source else ""))
    if "errorkit.detail" in attributes:
        shown.append(escape_control(str(attributes["errorkit.detail"]), 120))
    return "  ".join(shown)
