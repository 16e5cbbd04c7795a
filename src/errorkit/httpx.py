"""errorkit for httpx: `RetryTransport` and `AsyncRetryTransport`, wrapping any transport.

    client = httpx.Client(transport=RetryTransport(RetryPolicy(max_attempts=4)))
    client = httpx.AsyncClient(transport=AsyncRetryTransport(RetryPolicy(max_attempts=4)))

The module targets ``httpx`` (0.27 and 0.28); the ``httpx2`` fork is not adapted.

**What reaches the inner transport.** By default the wrapper builds httpx's own
`HTTPTransport` (or `AsyncHTTPTransport`) from its keyword arguments: `verify`,
`cert`, `http1`, `http2`, `limits`, `proxy`, `uds`, `local_address`,
`socket_options`. ``httpx.Client(transport=X)`` uses X as it is and ignores the
client's own `verify`, `cert`, `http2`, `limits`: pass them here instead.
`retries` is refused: httpcore would retry connection failures under each of
errorkit's attempts (and TLS failures with them). Any other transport can be
wrapped with ``transport=`` (then no keyword argument is accepted).

**Proxies.** ``Client(transport=X, proxy=P)`` sends everything through a plain
transport for P that bypasses X, and ``Client(transport=X)`` ignores the
``HTTP(S)_PROXY`` environment variables. So give the proxy to the wrapper,
``RetryTransport(policy, proxy=P)``, and for environment proxies mount one
wrapper per proxy: ``Client(transport=RetryTransport(policy),
mounts=mounts_from_env(policy))`` (async: `async_mounts_from_env`).

**Per request.** ``client.get(url, extensions={"errorkit": policy})`` uses that
`RetryPolicy` for this request instead of the transport's.

**Units.** A transport call is one hop: a redirect is a new logical request with
its own attempts, and event hooks and cookies see only the final response of
each hop. The `deadline` applies per hop; each attempt's timeouts
(`extensions["timeout"]`) are shrunk to the time left.

**Request bodies.** Bytes, text, JSON, forms and ``files=`` uploads (whose
files can seek) are re-sent as they are; a seekable file passed as ``content=``
is rewound to where it started. A generator, an iterator, an async iterable or a
non-seekable file is sent once: the caller gets the first outcome. A one-shot or
file body already read by an earlier hop (a 307 re-sends the same stream) raises
`httpx.StreamConsumed` before anything is sent.

**Response bodies.** A success (status < 400) is returned untouched: nothing
is read. Of an error response, at most `max_body` + 1 raw bytes are read inside
the transport to classify it; the response then yields those bytes again and the
rest, so ``.content`` (decoded once), ``iter_raw()`` and ``.elapsed`` all work. A
body that fits the bound is read to its end, so the connection goes back to the
pool even when the response is discarded; a longer one is closed when discarded.
``errorkit.error_of(response)`` gives the `ErrorInfo`.

**Body-phase errors.** httpx reads a success body after the transport has
returned, so a 2xx body cut short or stalled raises httpx's own
`RemoteProtocolError` or `ReadTimeout` from the client, once, without a retry.
A failure while peeking at an error body is a failed attempt, retried by the
policy like a failure before the headers.

**Errors.** Connection failures after the last attempt raise
`errorkit.APIConnectionError` or `errorkit.APITimeoutError`, which are also
instances of the httpx exception that ended the last attempt (its `__cause__`).
With ``raise_for_status=True`` an error response raises the errorkit status
error, also an `httpx.HTTPStatusError` whose `.response` has its body read.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import urllib.request
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from errorkit._adapter import add_idempotency_key
from errorkit._clock import CLOCK
from errorkit._compat import build
from errorkit._exceptions import APIConnectionError, APITimeoutError, class_for
from errorkit._formats import MAX_BODY
from errorkit._httpx_body import Replay, apeek, decoded, peek
from errorkit._loop import Failed, Send, Sent, adrive, attempts, drive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy, TransportFailure

if TYPE_CHECKING:
    from collections.abc import Callable

    from errorkit._info import ErrorInfo
    from errorkit._loop import Loop

__all__ = ["AsyncRetryTransport", "RetryTransport", "async_mounts_from_env", "mounts_from_env"]

T = TypeVar("T")

#: The key of `request.extensions` that may hold a per-request `RetryPolicy`.
EXTENSION = "errorkit"


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that classifies errors and retries by `policy`.

    Args:
        policy: the `RetryPolicy` (default: `RetryPolicy()`); a request's
            ``extensions["errorkit"]`` overrides it for that request.
        transport: the transport that sends each attempt (default:
            ``httpx.HTTPTransport(**transport_kwargs)``).
        raise_for_status: raise the errorkit exception for an error response
            after the last attempt (it is also an `httpx.HTTPStatusError`); by
            default the final response is returned.
        max_body: raw bytes of an error body read for classification (64 KiB).
        **transport_kwargs: `httpx.HTTPTransport`'s own, except `retries`.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        raise_for_status: bool = False,
        max_body: int = MAX_BODY,
        **transport_kwargs: Any,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self.transport = _inner(httpx.HTTPTransport, transport, transport_kwargs)
        self.raise_for_status = raise_for_status
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"RetryTransport(policy={self.policy!r}, raise_for_status={self.raise_for_status})"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying by the policy; see `httpx.BaseTransport`.

        The first attempt is made here: a success is counted in the budget and
        returned at once; the retry state is built only after a failure.
        """
        extensions = request.extensions
        policy = self.policy if EXTENSION not in extensions else _policy_for(request, self.policy)
        has_key = request.method not in IDEMPOTENT_METHODS and add_idempotency_key(
            policy, request.method.upper(), request.headers
        )
        stream = request.stream
        replay = None if type(stream) is httpx.ByteStream else _replay(stream)
        started = CLOCK.monotonic()
        deadline = policy.deadline
        if deadline is not None:
            request.extensions = _with_timeouts(extensions, deadline)
        first: Sent[httpx.Response] | Failed
        try:
            try:
                response = self.transport.handle_request(request)
                if response.status_code < 400:
                    budget = policy.budget
                    if budget is not None:
                        budget.record_request()
                    return response
                raw = peek(response, self.max_body)
            except httpx.TransportError as exc:
                first = Failed(exc, failure_of(exc))
            else:
                first = Sent(response, _inspect(response, raw, self.max_body))
            call = _Call(request, extensions, replay, policy, has_key, started)
            call.loop.succeeded(first)  # counts the request in the budget: it is not a success
            final = drive(call.loop, lambda command: self._send(call, command), _close, first)
        finally:
            request.extensions = extensions
        result = final.result
        if isinstance(result, Failed):
            raise call.transport_error(result, final.attempts) from result.error
        if result.info is not None and self.raise_for_status:
            try:
                result.response.read()
            except httpx.TransportError as exc:
                raise call.transport_error(_failed(exc), final.attempts) from exc
            raise call.status_error(result.response, result.info, final.attempts)
        return result.response

    def _send(self, call: _Call, command: Send) -> Sent[httpx.Response] | Failed:
        """A re-send: attempt 2 and later."""
        call.before(command)
        try:
            response = self.transport.handle_request(call.request)
            if response.status_code < 400:
                return Sent(response, None)
            raw = peek(response, self.max_body)
        except httpx.TransportError as exc:
            return Failed(exc, failure_of(exc))
        return Sent(response, _inspect(response, raw, self.max_body))

    def close(self) -> None:
        """Close the inner transport and its connections."""
        self.transport.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of `RetryTransport`, for `httpx.AsyncClient` (asyncio).

    Args: as `RetryTransport`; the default inner transport is
    ``httpx.AsyncHTTPTransport(**transport_kwargs)``.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        raise_for_status: bool = False,
        max_body: int = MAX_BODY,
        **transport_kwargs: Any,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self.transport = _inner(httpx.AsyncHTTPTransport, transport, transport_kwargs)
        self.raise_for_status = raise_for_status
        self.max_body = max_body

    def __repr__(self) -> str:
        return (
            f"AsyncRetryTransport(policy={self.policy!r}, raise_for_status={self.raise_for_status})"
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying by the policy; see `httpx.AsyncBaseTransport`."""
        extensions = request.extensions
        policy = self.policy if EXTENSION not in extensions else _policy_for(request, self.policy)
        has_key = request.method not in IDEMPOTENT_METHODS and add_idempotency_key(
            policy, request.method.upper(), request.headers
        )
        stream = request.stream
        replay = None if type(stream) is httpx.ByteStream else _replay(stream)
        started = CLOCK.monotonic()
        deadline = policy.deadline
        if deadline is not None:
            request.extensions = _with_timeouts(extensions, deadline)
        first: Sent[httpx.Response] | Failed
        try:
            try:
                response = await self.transport.handle_async_request(request)
                if response.status_code < 400:
                    budget = policy.budget
                    if budget is not None:
                        budget.record_request()
                    return response
                raw = await apeek(response, self.max_body)
            except httpx.TransportError as exc:
                first = Failed(exc, failure_of(exc))
            else:
                first = Sent(response, _inspect(response, raw, self.max_body))
            call = _Call(request, extensions, replay, policy, has_key, started)
            call.loop.succeeded(first)  # counts the request in the budget: it is not a success
            final = await adrive(
                call.loop, lambda command: self._send(call, command), _aclose, first
            )
        finally:
            request.extensions = extensions
        result = final.result
        if isinstance(result, Failed):
            raise call.transport_error(result, final.attempts) from result.error
        if result.info is not None and self.raise_for_status:
            try:
                await result.response.aread()
            except httpx.TransportError as exc:
                raise call.transport_error(_failed(exc), final.attempts) from exc
            raise call.status_error(result.response, result.info, final.attempts)
        return result.response

    async def _send(self, call: _Call, command: Send) -> Sent[httpx.Response] | Failed:
        """A re-send: attempt 2 and later."""
        call.before(command)
        try:
            response = await self.transport.handle_async_request(call.request)
            if response.status_code < 400:
                return Sent(response, None)
            raw = await apeek(response, self.max_body)
        except httpx.TransportError as exc:
            return Failed(exc, failure_of(exc))
        return Sent(response, _inspect(response, raw, self.max_body))

    async def aclose(self) -> None:
        """Close the inner transport and its connections."""
        await self.transport.aclose()


def _inner(default: Callable[..., T], transport: T | None, kwargs: dict[str, Any]) -> T:
    if "retries" in kwargs:
        raise TypeError(
            "errorkit's transports take no retries: httpcore would retry under every "
            "errorkit attempt; set RetryPolicy(max_attempts=...)"
        )
    if transport is None:
        return default(**kwargs)
    if kwargs:
        raise TypeError(
            f"{sorted(kwargs)} would be ignored: configure the transport you pass instead"
        )
    return transport


def _replay(stream: object) -> Replay:
    """The replay state of a body other than bytes, taken before the first send."""
    replay = Replay(stream)
    if replay.spent:
        raise httpx.StreamConsumed  # httpx's own error, before a partial request leaves
    return replay


def _with_timeouts(extensions: dict[str, Any], remaining: float) -> dict[str, Any]:
    """A copy of `extensions` whose timeouts are clipped to `remaining` seconds.

    A new dict: a redirect reuses the request's own extensions.
    """
    return {**extensions, "timeout": _clip(extensions.get("timeout"), remaining)}


class _Call:
    """A logical request (one hop) whose first attempt failed: the state its retries share.

    Built only after a failure: a success never pays for it. `replay` is None for
    an `httpx.ByteStream` body (bytes, text, JSON, forms, no body), which is sent
    again as it is.
    """

    __slots__ = ("extensions", "loop", "replay", "request")

    def __init__(  # noqa: PLR0913, PLR0917 - private: the transport passes what it holds
        self,
        request: httpx.Request,
        extensions: dict[str, Any],
        replay: Replay | None,
        policy: RetryPolicy,
        has_key: bool,
        started: float,
    ) -> None:
        self.request = request
        self.extensions = extensions
        self.replay = replay
        self.loop: Loop[httpx.Response] = attempts(
            policy,
            method=request.method.upper(),
            url=request.url,
            replayable=replay is None or replay.replayable,
            has_idempotency_key=has_key,
            started=started,
        )

    def before(self, command: Send) -> None:
        """Before a re-send: rewind the body, and fit the timeouts to the time left."""
        if self.replay is not None:
            self.replay.rewind()
        if command.timeout is not None:
            self.request.extensions = _with_timeouts(self.extensions, command.timeout)

    def transport_error(self, result: Failed, attempts: int) -> BaseException:
        """The errorkit exception for a final transport failure, also of the httpx class."""
        cls = APITimeoutError if result.failure.timeout else APIConnectionError
        original = result.error
        return build(
            cls,
            type(original),
            result.failure.info(),
            response=None,
            attempts=attempts,
            foreign_args=original.args,
            foreign_kwargs={"request": self.request},
        )

    def status_error(
        self, response: httpx.Response, info: ErrorInfo, attempts: int
    ) -> BaseException:
        """The errorkit status error, also an `httpx.HTTPStatusError` on `response`."""
        # The client never sees a response raised from its transport: complete it here.
        response.request = self.request
        response.elapsed = dt.timedelta(seconds=CLOCK.monotonic() - self.loop.started)
        return build(
            class_for(info.category, info.status),
            httpx.HTTPStatusError,
            info,
            response=response,
            attempts=attempts,
            foreign_kwargs={"request": self.request, "response": response},
        )


def _policy_for(request: httpx.Request, default: RetryPolicy) -> RetryPolicy:
    policy = request.extensions.get(EXTENSION)
    if policy is None:
        return default
    if not isinstance(policy, RetryPolicy):
        raise TypeError(f'extensions["{EXTENSION}"] must be a RetryPolicy, not {policy!r}')
    return policy


def _clip(timeouts: object, remaining: float) -> dict[str, float | None]:
    """httpx's per-phase timeouts, none longer than the time left before the deadline."""
    remaining = max(remaining, 0.001)
    if not isinstance(timeouts, dict):
        return dict.fromkeys(("connect", "read", "write", "pool"), remaining)
    return {
        phase: remaining if value is None else min(float(value), remaining)
        for phase, value in timeouts.items()
    }


def _inspect(response: httpx.Response, raw: bytes, bound: int) -> ErrorInfo | None:
    body = decoded(response.headers, raw, bound)
    info = parse(response.status_code, response.headers.multi_items(), body, max_body=bound)
    response._errorkit_info = info  # type: ignore[attr-defined]  # noqa: SLF001 - read by error_of
    return info


def _close(response: httpx.Response) -> None:
    # An error body that fit the bound was read to its end by the peek, so closing
    # returns the connection to the pool; a longer one is closed with its connection.
    response.close()


async def _aclose(response: httpx.Response) -> None:
    await response.aclose()


# httpx's exception -> whether the server may have acted on the request (stack-mechanics
# E), most specific first. A TLS failure is a ConnectError: `failure_of` looks deeper.
_FAILURES: tuple[tuple[type[httpx.TransportError], TransportFailure], ...] = (
    (
        httpx.ConnectTimeout,
        TransportFailure(sent=False, timeout=True, description="connect timeout"),
    ),
    (httpx.PoolTimeout, TransportFailure(sent=False, timeout=True, description="pool timeout")),
    (httpx.ConnectError, TransportFailure(sent=False, description="connection refused")),
    (httpx.ProxyError, TransportFailure(sent=False, description="proxy connection failed")),
    (
        httpx.UnsupportedProtocol,
        TransportFailure(sent=False, retryable=False, description="bad URL"),
    ),
    (
        httpx.LocalProtocolError,
        TransportFailure(sent=True, retryable=False, description="bad request"),
    ),
    (httpx.ReadTimeout, TransportFailure(sent=True, timeout=True, description="read timeout")),
    (httpx.WriteTimeout, TransportFailure(sent=True, timeout=True, description="write timeout")),
    (httpx.WriteError, TransportFailure(sent=True, description="connection lost while sending")),
    (httpx.ReadError, TransportFailure(sent=True, description="connection lost while reading")),
    (httpx.RemoteProtocolError, TransportFailure(sent=True, description="connection closed early")),
)
_TLS = TransportFailure(sent=False, retryable=False, description="TLS handshake failed")
_OTHER = TransportFailure(sent=True, description="transport error")


def failure_of(exc: httpx.TransportError) -> TransportFailure:
    """The core's view of an httpx transport exception."""
    if isinstance(exc, httpx.ConnectError) and _caused_by_tls(exc):
        return _TLS
    for cls, failure in _FAILURES:
        if isinstance(exc, cls):
            return failure
    return _OTHER


def _failed(exc: httpx.TransportError) -> Failed:
    return Failed(exc, failure_of(exc))


def _caused_by_tls(exc: BaseException) -> bool:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, ssl.SSLError):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False


def mounts_from_env(
    policy: RetryPolicy | None = None, **kwargs: Any
) -> dict[str, httpx.BaseTransport | None]:
    """``mounts=`` that send through the environment's proxies, with retries.

    One `RetryTransport(policy, proxy=..., **kwargs)` per ``HTTP_PROXY``,
    ``HTTPS_PROXY`` and ``ALL_PROXY`` entry, and None (the client's own
    transport) for each ``NO_PROXY`` host, as httpx itself reads them::

        client = httpx.Client(transport=RetryTransport(policy), mounts=mounts_from_env(policy))
    """
    return {
        pattern: None if url is None else RetryTransport(policy, proxy=url, **kwargs)
        for pattern, url in environment_proxies().items()
    }


def async_mounts_from_env(
    policy: RetryPolicy | None = None, **kwargs: Any
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The async twin of `mounts_from_env`, for `httpx.AsyncClient`."""
    return {
        pattern: None if url is None else AsyncRetryTransport(policy, proxy=url, **kwargs)
        for pattern, url in environment_proxies().items()
    }


def environment_proxies() -> dict[str, str | None]:
    """httpx's mount patterns for the environment's proxies (None: no proxy).

    The same reading as httpx's own (``httpx._utils.get_environment_proxies``).
    """
    found = urllib.request.getproxies()
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            mounts[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (name.strip() for name in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if host:
            mounts[_no_proxy_pattern(host)] = None
    return mounts


def _no_proxy_pattern(host: str) -> str:
    if "://" in host:
        return host
    try:
        address = ipaddress.ip_address(host.split("/", maxsplit=1)[0])
    except ValueError:
        return f"all://{host}" if host.lower() == "localhost" else f"all://*{host}"
    return f"all://[{host}]" if address.version == 6 else f"all://{host}"
