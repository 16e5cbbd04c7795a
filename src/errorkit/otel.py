"""OpenTelemetry for errorkit: a CLIENT span per physical attempt, retry events, metrics.

    from errorkit.otel import ErrorkitInstrumentor
    ErrorkitInstrumentor().instrument()      # or: opentelemetry-instrument python app.py

Every attempt an errorkit adapter sends (requests, urllib3 through errorkit's
`PoolManager`, httpx and httpx2 sync and async, aiohttp) is one CLIENT span by the
HTTP semantic conventions: named by the method, with ``http.request.method``,
``server.address``, ``server.port``, ``url.full`` (userinfo and the values of
sensitive query parameters replaced by ``REDACTED``), ``http.response.status_code``,
``error.type``, and ``http.request.resend_count`` on every resend. The attempts of
one call are siblings under the caller's span, and each carries its own
``traceparent``, so the server's span hangs under the attempt that reached it.

Each decision after a failed attempt is an event on that attempt's span:
``errorkit.retry`` (reason, error category, the wait and where it came from:
``backoff``, ``retry_after``, ``body_hint`` or ``gate``) or ``errorkit.stop`` (why
errorkit stopped: the budget refusing a retry is one). A wait at the rate-limit
gate before a first attempt (``errorkit.gate.wait``), a request the gate refused
(``errorkit.gate.refused``) and one the throttle rejected
(``errorkit.throttle.rejected``) are events on the caller's span.

Metrics (see docs/observability.md): ``errorkit.retries``, ``errorkit.attempts``,
``errorkit.wait.duration``, ``errorkit.budget.refusals``,
``errorkit.throttle.rejections``, and ``http.client.request.duration`` per attempt.

With the official instrumentations (requests, httpx, aiohttp-client, urllib3) on
too, each attempt is still recorded once: inside an attempt's span errorkit
suppresses HTTP instrumentation (as the official instrumentations do between
themselves), so the httpx and urllib3 spans under it are not made; above it, the
instrumentor routes a requests ``Session.request`` or an aiohttp request through a
session that mounts errorkit with HTTP instrumentation suppressed, so the logical
call gets no second CLIENT span. Where an official span above cannot be avoided
(``Session.send`` called directly, ``HTTPXClientInstrumentor.instrument_client``
on a client whose transport is errorkit's), the attempt spans are its children and
errorkit records no ``http.client.request.duration`` (the official span already
did, once for the call). docs/observability.md draws the tree per stack.

Nothing runs unless `ErrorkitInstrumentor.instrument` was called: the attempt loop
reads one module attribute (`errorkit._observe.OBSERVER`) per call.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit

import wrapt
from opentelemetry import context, propagate, trace
from opentelemetry.context import (
    _SUPPRESS_HTTP_INSTRUMENTATION_KEY,
    _SUPPRESS_INSTRUMENTATION_KEY,
)
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import get_meter
from opentelemetry.trace import SpanKind, Status, StatusCode

from errorkit import _observe
from errorkit._info import ErrorInfo
from errorkit._loop import ErrorResponse, Failed
from errorkit._policy import Decision, Reason, TransportFailure
from errorkit._redact import is_sensitive_param
from errorkit._text import escape_control

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection
    from contextvars import Token

    from opentelemetry.metrics import Counter, Histogram, Meter
    from opentelemetry.trace import Span, Tracer

    from errorkit._observe import Refuser, WaitSource

__all__ = ["ErrorkitInstrumentor"]

T = TypeVar("T")

_SCOPE = "errorkit"
_SCHEMA = "https://opentelemetry.io/schemas/1.26.0"
#: The methods the conventions know; any other is ``_OTHER``, its text kept aside.
_KNOWN_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE")
)
#: The conventions' list of query parameters whose values ``url.full`` hides; errorkit
#: hides every parameter its redaction rules call sensitive too (api_key, token...).
_SEMCONV_SECRETS = frozenset(("awsaccesskeyid", "signature", "sig", "x-goog-signature"))
_REDACTED = "REDACTED"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_MAX_URL = 2048
#: The conventions' advisory buckets for ``http.client.request.duration``, also used
#: for ``errorkit.wait.duration``.
_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)

#: Set (with HTTP instrumentation suppressed) around a call the instrumentor routed
#: through an errorkit adapter: the suppression is errorkit's own, no span is above.
_OWNED = context.create_key("errorkit-owned")
#: Set inside an attempt's span: the flow of the call the attempt belongs to.
_FLOW = context.create_key("errorkit-flow")


@dataclass(slots=True)
class _Flow:
    """One call's tracing: the context its attempt spans hang under, and whether
    errorkit records ``http.client.request.duration`` (no official span above)."""

    parent: context.Context
    metered: bool


@dataclass(slots=True)
class _Attempt:
    """An attempt's span, open from its send until its outcome is decided."""

    span: Span
    flow: _Flow
    started: float
    attributes: dict[str, Any]  # for http.client.request.duration
    method: str
    server: str | None
    number: int
    ended: bool = False
    failure: str | None = field(default=None)


#: The attempt whose outcome the loop has not decided yet (per thread, per task).
_OPEN: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "errorkit_open_attempt", default=None
)


class _Instruments:
    """The tracer and the metric instruments an instrumented errorkit reports to."""

    def __init__(self, tracer: Tracer, meter: Meter) -> None:
        self.tracer = tracer
        self.duration: Histogram = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (one point per physical attempt).",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
        )
        self.retries: Counter = meter.create_counter(
            "errorkit.retries",
            unit="{retry}",
            description="Retries errorkit decided, by reason.",
        )
        self.attempts: Histogram = meter.create_histogram(
            "errorkit.attempts",
            unit="{attempt}",
            description="Physical attempts per call errorkit ran.",
            explicit_bucket_boundaries_advisory=_ATTEMPT_BUCKETS,
        )
        self.waits: Histogram = meter.create_histogram(
            "errorkit.wait.duration",
            unit="s",
            description="Time errorkit held a request before sending it, by source.",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
        )
        self.budget_refusals: Counter = meter.create_counter(
            "errorkit.budget.refusals",
            unit="{retry}",
            description="Retries the retry budget refused.",
        )
        self.throttle_rejections: Counter = meter.create_counter(
            "errorkit.throttle.rejections",
            unit="{request}",
            description="Requests the adaptive throttle rejected locally, unsent.",
        )


class _Observer:
    """`errorkit._observe.Observer` by OpenTelemetry: spans, events and metrics."""

    def __init__(self, instruments: _Instruments) -> None:
        self.instruments = instruments

    # -- attempts ---------------------------------------------------------------

    def attempt(self, request: object, number: int, send: Callable[[], T]) -> T:
        opened = self._open(request, number)
        if opened is None:
            return send()
        attempt, token = opened
        try:
            result = send()
        except BaseException as exc:
            self._close(attempt, None, exc)
            raise
        finally:
            context.detach(token)
        self._sent(attempt, result)
        return result

    async def aattempt(self, request: object, number: int, send: Callable[[], Awaitable[T]]) -> T:
        opened = self._open(request, number)
        if opened is None:
            return await send()
        attempt, token = opened
        try:
            result = await send()
        except BaseException as exc:
            self._close(attempt, None, exc)
            raise
        finally:
            context.detach(token)
        self._sent(attempt, result)
        return result

    def _open(self, request: object, number: int) -> tuple[_Attempt, Token[context.Context]] | None:
        """Start attempt `number`'s span and make it current (HTTP instrumentation
        suppressed under it), its ``traceparent`` in the request's headers."""
        current = context.get_current()
        if context.get_value(_SUPPRESS_INSTRUMENTATION_KEY, current):
            return None
        flow = context.get_value(_FLOW, current)
        if not isinstance(flow, _Flow):  # a call's first attempt (urllib3 recurses)
            above = bool(context.get_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, current))
            flow = _Flow(current, metered=not above or bool(context.get_value(_OWNED, current)))
        method = str(getattr(request, "method", "GET")).upper()
        target = _target(getattr(request, "url", ""))
        known = method if method in _KNOWN_METHODS else "_OTHER"
        attributes: dict[str, Any] = {"http.request.method": known}
        if known == "_OTHER":
            attributes["http.request.method_original"] = escape_control(method, 64)
        span_attributes = dict(attributes)
        if target is not None:
            parts, port = target
            if parts.hostname:
                attributes["server.address"] = parts.hostname
            if port is not None:
                attributes["server.port"] = port
            attributes["url.scheme"] = parts.scheme
            span_attributes.update(attributes)
            span_attributes["url.full"] = _full(parts)
        if number > 1:
            span_attributes["http.request.resend_count"] = number - 1
        span = self.instruments.tracer.start_span(
            known if known != "_OTHER" else "HTTP",
            context=flow.parent,
            kind=SpanKind.CLIENT,
            attributes=span_attributes,
        )
        attempt = _Attempt(
            span,
            flow,
            time.perf_counter(),
            attributes,
            known,
            attributes.get("server.address"),
            number,
        )
        headers = getattr(request, "headers", None)
        inside = trace.set_span_in_context(span, flow.parent)
        if headers is not None:
            # Read-only headers: the attempt goes without its traceparent.
            with contextlib.suppress(Exception):
                propagate.inject(headers, context=inside)
        inside = context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, value=True, context=inside)
        inside = context.set_value(_FLOW, flow, inside)
        _OPEN.set(attempt)
        return attempt, context.attach(inside)

    def _sent(self, attempt: _Attempt, result: object) -> None:
        """An attempt's send returned: a success ends its span; an error response or a
        failure keeps it open for the decision (urllib3 decided inside the send)."""
        if attempt.ended:
            return
        if isinstance(result, ErrorResponse):
            self._mark(attempt, result.info.status, None)
        elif isinstance(result, Failed):
            attempt.failure = type(result.error).__qualname__
            self._mark(attempt, None, attempt.failure)
        else:
            self._close(attempt, _status(result), None)
            self._finished(attempt, attempt.number)

    def _mark(self, attempt: _Attempt, status: int | None, failure: str | None) -> None:
        """Record the attempt's outcome on its span and in its duration attributes."""
        span = attempt.span
        if status is not None:
            attempt.attributes["http.response.status_code"] = status
            span.set_attribute("http.response.status_code", status)
        error = (
            failure if failure is not None else (str(status) if status and status >= 400 else None)
        )
        if error is not None:
            attempt.attributes["error.type"] = error
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR))

    def _close(self, attempt: _Attempt, status: int | None, error: BaseException | None) -> None:
        if attempt.ended:
            return
        attempt.ended = True
        if _OPEN.get() is attempt:
            _OPEN.set(None)
        if error is not None:
            self._mark(attempt, None, type(error).__qualname__)
        elif status is not None:
            self._mark(attempt, status, None)
        if attempt.flow.metered:
            self.instruments.duration.record(
                max(time.perf_counter() - attempt.started, 0.0), attempt.attributes
            )
        attempt.span.end()

    def _finished(self, attempt: _Attempt, attempts: int) -> None:
        where = {"http.request.method": attempt.method}
        if attempt.server is not None:
            where["server.address"] = attempt.server
        self.instruments.attempts.record(attempts, where)

    # -- decisions, waits, refusals ------------------------------------------------

    def decided(
        self,
        request: object,
        outcome: ErrorInfo | TransportFailure,
        decision: Decision,
        attempt: int,
        source: WaitSource,
    ) -> None:
        open_attempt = _OPEN.get()
        info = outcome if isinstance(outcome, ErrorInfo) else outcome.info()
        server = _server(request)
        error = _error_type(open_attempt, outcome)
        event: dict[str, Any] = {
            "errorkit.attempt": attempt,
            "errorkit.retry.reason": decision.reason.value,
            "errorkit.error.category": info.category.value,
            "error.type": error,
        }
        if decision.retry:
            event["errorkit.wait.duration"] = decision.delay
            event["errorkit.wait.source"] = source
            where = {"errorkit.retry.reason": decision.reason.value, "error.type": error}
            if server is not None:
                where["server.address"] = server
            self.instruments.retries.add(1, where)
            self.waited(decision.delay, source, server=server)
        elif decision.reason is Reason.BUDGET_EXHAUSTED:
            self.instruments.budget_refusals.add(1, _where(server))
        name = "errorkit.retry" if decision.retry else "errorkit.stop"
        if open_attempt is None:  # urllib3's Retry on a plain pool: no attempt span
            trace.get_current_span().add_event(name, event)
            return
        open_attempt.span.add_event(name, event)
        if isinstance(outcome, ErrorInfo) and outcome.status:
            self._close(open_attempt, outcome.status, None)
        else:
            self._mark(open_attempt, None, error)
            self._close(open_attempt, None, None)
        if not decision.retry:
            self._finished(open_attempt, attempt)

    def failed(self, error: BaseException) -> None:
        open_attempt = _OPEN.get()
        if open_attempt is not None:
            open_attempt.failure = type(error).__qualname__

    def redirected(self, status: int) -> None:
        open_attempt = _OPEN.get()
        if open_attempt is not None:
            self._close(open_attempt, status, None)

    def waited(self, seconds: float, source: WaitSource, *, server: str | None = None) -> None:
        if seconds > 0:
            where: dict[str, str] = {"errorkit.wait.source": source}
            if server is not None:
                where["server.address"] = server
            self.instruments.waits.record(seconds, where)

    def gate_wait(self, request: object, seconds: float) -> None:
        server = _server(request)
        self.waited(seconds, "gate", server=server)
        trace.get_current_span().add_event(
            "errorkit.gate.wait", {"errorkit.wait.duration": seconds, **_where(server)}
        )

    def refused(self, refuser: Refuser, request: object, detail: str) -> None:
        server = _server(request)
        if refuser == "throttle":
            self.instruments.throttle_rejections.add(1, _where(server))
        trace.get_current_span().add_event(
            f"errorkit.{refuser}.{'rejected' if refuser == 'throttle' else 'refused'}",
            {"errorkit.detail": escape_control(detail, 256), **_where(server)},
        )


def _where(server: str | None) -> dict[str, str]:
    return {} if server is None else {"server.address": server}


def _error_type(attempt: _Attempt | None, outcome: ErrorInfo | TransportFailure) -> str:
    if isinstance(outcome, ErrorInfo):
        return str(outcome.status) if outcome.status else "_OTHER"
    if attempt is not None and attempt.failure is not None:
        return attempt.failure
    return "timeout" if outcome.timeout else "_OTHER"


def _status(response: object) -> int | None:
    """A stack's response status: requests and httpx say ``status_code``, aiohttp
    and urllib3 ``status``."""
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(response, "status", None)
    return status if isinstance(status, int) else None


def _target(url: object) -> tuple[SplitResult, int | None] | None:
    try:
        parts = urlsplit(str(url))
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    return parts, port


def _server(request: object) -> str | None:
    target = _target(getattr(request, "url", ""))
    return None if target is None else target[0].hostname


def _full(parts: SplitResult) -> str:
    """``url.full`` as the conventions redact it: userinfo ``REDACTED:REDACTED``, the
    values of sensitive query parameters ``REDACTED``, no fragment; one printable
    line of at most 2048 characters."""
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_REDACTED}:{_REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='')}={_REDACTED if _secret(name) else quote(value, safe='')}"
                for name, value in pairs
            )
    text = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    return escape_control(text, _MAX_URL)


def _secret(name: str) -> bool:
    return name.lower() in _SEMCONV_SECRETS or is_sensitive_param(name)


# -- routing the official instrumentations' logical spans away -----------------------


def _owned(run: Callable[[], T]) -> T:
    """Run `run` with HTTP instrumentation suppressed, as errorkit's own doing."""
    inside = context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, value=True)
    token = context.attach(context.set_value(_OWNED, value=True, context=inside))
    try:
        return run()
    finally:
        context.detach(token)


def _requests_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """``requests.Session.request`` through a mounted errorkit adapter: owned."""
    from errorkit.requests import RetryAdapter

    url = args[1] if len(args) > 1 else kwargs.get("url")
    try:
        ours = isinstance(instance.get_adapter(str(url)), RetryAdapter)
    except Exception:  # noqa: BLE001 - no adapter for the URL: requests says so itself
        ours = False
    if not ours or not _tracing(context.get_current()):
        return wrapped(*args, **kwargs)
    return _owned(lambda: wrapped(*args, **kwargs))


async def _aiohttp_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """``aiohttp.ClientSession._request`` under errorkit's middleware: owned."""
    from errorkit.aiohttp import RetryMiddleware

    middlewares = kwargs.get("middlewares")
    if middlewares is None:
        middlewares = getattr(instance, "_middlewares", ())
    ours = any(isinstance(m, RetryMiddleware) for m in middlewares or ())
    if not ours or not _tracing(context.get_current()):
        return await wrapped(*args, **kwargs)
    inside = context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, value=True)
    token = context.attach(context.set_value(_OWNED, value=True, context=inside))
    try:
        return await wrapped(*args, **kwargs)
    finally:
        context.detach(token)


def _tracing(current: context.Context) -> bool:
    """Whether a call starting in `current` is errorkit's to trace: not suppressed."""
    return not (
        context.get_value(_SUPPRESS_INSTRUMENTATION_KEY, current)
        or context.get_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, current)
    )


_PATCHES: tuple[tuple[str, str, str, Callable[..., Any]], ...] = (
    ("requests", "requests.sessions", "Session.request", _requests_request),
    ("aiohttp", "aiohttp.client", "ClientSession._request", _aiohttp_request),
)


class ErrorkitInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces and meters every attempt of every errorkit adapter (see the module).

    ``instrument(tracer_provider=..., meter_provider=...)`` turns it on (the global
    providers by default); ``uninstrument()`` turns it off. An instrumentor is a
    singleton, as every OpenTelemetry instrumentor is.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        from errorkit import __version__

        tracer = trace.get_tracer(
            _SCOPE, __version__, kwargs.get("tracer_provider"), schema_url=_SCHEMA
        )
        meter = get_meter(_SCOPE, __version__, kwargs.get("meter_provider"), schema_url=_SCHEMA)
        self._patched: list[tuple[str, str]] = []
        for package, module, name, wrapper in _PATCHES:
            try:
                __import__(package)
            except ImportError:
                continue
            wrapt.wrap_function_wrapper(module, name, wrapper)
            self._patched.append((module, name))
        _observe.install(_Observer(_Instruments(tracer, meter)))

    def _uninstrument(self, **kwargs: Any) -> None:
        del kwargs
        _observe.install(None)
        for module, name in getattr(self, "_patched", ()):
            owner, _, attribute = name.rpartition(".")
            unwrap(getattr(__import__(module, fromlist=[owner]), owner), attribute)
        self._patched = []
