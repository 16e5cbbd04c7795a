"""errorkit for httpx: `RetryTransport` and `AsyncRetryTransport`, wrapping any transport.

    client = httpx.Client(transport=RetryTransport(RetryPolicy(max_attempts=4)))
    client = httpx.AsyncClient(transport=AsyncRetryTransport(RetryPolicy(max_attempts=4)))

A transport call is one hop of the client: one logical request, with its own
attempts. What reaches the inner transport, proxies, per-request policies,
request and response bodies, the deadline, and which exceptions are raised are
described in docs/quickstart_httpx.md ("What to know: how the transport works").

The deadline. Each attempt's httpx timeouts are clipped to the time left; on
top of that, what errorkit itself reads, its peek at an error body, is cut at
the deadline: the sync transport arms `cut_at` on the connection's socket, the
async one awaits the peek within an asyncio timeout. An attempt ended that way,
or by a timeout once the deadline has come, is `CUT_SHORT`: the caller gets an
`APITimeoutError` (also an `httpx.TimeoutException`) saying so. Nothing is
armed without a deadline, nor for a success (its body is the caller's to read).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import time
import urllib.request
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._formats import MAX_BODY
from errorkit._loop import ErrorResponse, Failed, Final, adrive, drive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy, TransportFailure
from errorkit._stacks.deadline import CUT_SHORT, DeadlineReached, within
from errorkit._stacks.exceptions import most_specific, status_error, transport_error
from errorkit._stacks.httpx_bodies import (
    PeekCut,
    Replay,
    apeek,
    decoded,
    keep_read,
    peek,
    socket_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine


__all__ = ["AsyncRetryTransport", "RetryTransport", "async_mounts_from_env", "mounts_from_env"]

_T = TypeVar("_T")

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
            default the final response is returned. The exception's
            ``.response`` is closed; its ``.content`` is the body when the body
            fit in `max_body` (raw and decoded), else it raises
            `httpx.ResponseNotRead`: errorkit never reads more to raise.
        max_body: raw bytes of an error body read for classification (and at
            most as many decoded bytes); an int >= 0, default 64 KiB.
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
        self.policy = check_policy(policy)
        self.transport = _inner(httpx.HTTPTransport, transport, transport_kwargs)
        self.raise_for_status = raise_for_status
        self.max_body = check_max_body(max_body)

    def __repr__(self) -> str:
        return f"RetryTransport(policy={self.policy!r}, raise_for_status={self.raise_for_status})"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying by the policy; see `httpx.BaseTransport`."""
        call = _Call(self, request)
        return drive(call.policy, call)

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
        self.policy = check_policy(policy)
        self.transport = _inner(httpx.AsyncHTTPTransport, transport, transport_kwargs)
        self.raise_for_status = raise_for_status
        self.max_body = check_max_body(max_body)

    def __repr__(self) -> str:
        return (
            f"AsyncRetryTransport(policy={self.policy!r}, raise_for_status={self.raise_for_status})"
        )

    def handle_async_request(self, request: httpx.Request) -> Coroutine[Any, Any, httpx.Response]:
        """Send `request`, retrying by the policy; see `httpx.AsyncBaseTransport`.

        A plain method that returns the loop's coroutine for the client to await:
        the request's every suspension then crosses one frame fewer.
        """
        call = _AsyncCall(self, request)
        return adrive(call.policy, call)

    async def aclose(self) -> None:
        """Close the inner transport and its connections."""
        await self.transport.aclose()


def _inner(default: Callable[..., _T], transport: _T | None, kwargs: dict[str, Any]) -> _T:
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


class _Hop:
    """One transport call (a hop), as the loop runs it: what its attempts share.

    `replay` is None for an `httpx.ByteStream` body (bytes, text, JSON, forms, no
    body), which is sent again as it is. `extensions` are the request's own: each
    attempt gets a copy with its timeouts clipped to the deadline, and the
    transport puts the originals back when the call ends (a redirect reuses them).
    """

    __slots__ = ("extensions", "has_idempotency_key", "owner", "policy", "replay", "request")

    def __init__(self, owner: RetryTransport | AsyncRetryTransport, request: httpx.Request) -> None:
        self.owner = owner
        self.request = request
        self.extensions = extensions = request.extensions
        self.policy = owner.policy if EXTENSION not in extensions else _policy_for(request, owner)
        # Keys are added before the first attempt; an idempotent method needs none.
        self.has_idempotency_key = request.method not in IDEMPOTENT_METHODS and (
            add_idempotency_key(self.policy, request.method.upper(), request.headers)
        )
        stream = request.stream
        self.replay = None if type(stream) is httpx.ByteStream else _replay(stream)

    @property
    def method(self) -> str:
        return self.request.method.upper()

    @property
    def url(self) -> httpx.URL:
        return self.request.url

    @property
    def replayable(self) -> bool:
        return self.replay is None or self.replay.replayable

    def _prepare(self, number: int, timeout: float | None) -> None:
        """Before an attempt: rewind a re-sent body, fit the timeouts to the time left.

        The inner transport reads the clipped timeouts when it sends; the attempt
        puts the request's own extensions back once it returned (a redirect
        reuses them).
        """
        if number > 1 and self.replay is not None:
            self.replay.rewind()
        if timeout is not None:
            self.request.extensions = _with_timeouts(self.extensions, timeout)

    def _inspect(self, response: httpx.Response, raw: bytes) -> ErrorResponse[httpx.Response]:
        bound = self.owner.max_body
        body = decoded(response.headers, raw, bound)
        info = parse(response.status_code, response.headers.multi_items(), body, max_body=bound)
        if info is None:  # pragma: no cover - parse() answers for every status >= 400
            raise AssertionError(response.status_code)
        response._errorkit_info = info  # type: ignore[attr-defined]  # noqa: SLF001 - for error_of
        return ErrorResponse(response, info)

    def _end(self, result: ErrorResponse[httpx.Response] | Failed, attempts: int) -> httpx.Response:
        """The final response, or raise the transport error for a final failure."""
        if isinstance(result, Failed):
            error = transport_error(result, attempts, foreign_kwargs={"request": self.request})
            raise error from result.error
        return result.response

    def _status_error(
        self, result: ErrorResponse[httpx.Response], final: Final[httpx.Response]
    ) -> BaseException:
        """The errorkit status error, also an `httpx.HTTPStatusError` on the final response."""
        response = result.response
        # The client never sees a response raised from its transport: complete it here.
        response.request = self.request
        response.elapsed = dt.timedelta(seconds=final.elapsed)
        return status_error(
            result.info,
            httpx.HTTPStatusError,
            response=response,
            attempts=final.attempts,
            foreign_kwargs={"request": self.request, "response": response},
        )


class _Call(_Hop):
    """A `_Hop` over a sync transport (see `errorkit._loop.Call`)."""

    __slots__ = ()
    owner: RetryTransport

    def attempt(
        self, number: int, timeout: float | None
    ) -> httpx.Response | ErrorResponse[httpx.Response] | Failed:
        """Send once; `timeout` (the time left before the deadline) also cuts the peek."""
        if number > 1 or timeout is not None:
            self._prepare(number, timeout)
        ends = None if timeout is None else time.monotonic() + timeout
        try:
            response = self.owner.transport.handle_request(self.request)
            if response.status_code < 400:
                return response
            if ends is None:
                raw = peek(response, self.owner.max_body)
            else:
                # httpx's read timeout bounds each read, not the body: a server
                # dripping a byte per read would hold the peek as long as it likes.
                sock, seconds = socket_of(response), ends - time.monotonic()
                raw = peek(response, self.owner.max_body, sock=sock, seconds=seconds)
        except PeekCut as cut:
            return Failed(_cut_short(self.request, cut.__cause__), CUT_SHORT)
        except httpx.TransportError as exc:
            return Failed(exc, _failure(exc) if ends is None else _failure_by(exc, ends))
        finally:
            self.request.extensions = self.extensions
        return self._inspect(response, raw)

    def discard(self, response: httpx.Response) -> None:
        # An error body that fit the bound was read to its end by the peek, so closing
        # returns the connection to the pool; a longer one is closed with its connection.
        response.close()

    def finish(self, final: Final[httpx.Response]) -> httpx.Response:
        result = final.result
        if isinstance(result, ErrorResponse) and self.owner.raise_for_status:
            # The exception crosses the client, which closes nothing: close it here.
            keep_read(result.response, self.owner.max_body)
            result.response.close()
            raise self._status_error(result, final)
        return self._end(result, final.attempts)


class _AsyncCall(_Hop):
    """A `_Hop` over an async transport: the twin of `_Call`."""

    __slots__ = ()
    owner: AsyncRetryTransport

    async def attempt(
        self, number: int, timeout: float | None
    ) -> httpx.Response | ErrorResponse[httpx.Response] | Failed:
        """Send once; `timeout` (the time left before the deadline) also bounds the peek."""
        if number > 1 or timeout is not None:
            self._prepare(number, timeout)
        ends = None if timeout is None else time.monotonic() + timeout
        try:
            response = await self.owner.transport.handle_async_request(self.request)
            if response.status_code < 400:
                return response
            if ends is None:
                raw = await apeek(response, self.owner.max_body)
            else:
                peeking = apeek(response, self.owner.max_body)
                raw = await within(peeking, ends - time.monotonic())
        except DeadlineReached as reached:
            return Failed(_cut_short(self.request, reached.error), CUT_SHORT)
        except httpx.TransportError as exc:
            return Failed(exc, _failure(exc) if ends is None else _failure_by(exc, ends))
        finally:
            self.request.extensions = self.extensions
        return self._inspect(response, raw)

    async def discard(self, response: httpx.Response) -> None:
        await response.aclose()

    async def finish(self, final: Final[httpx.Response]) -> httpx.Response:
        result = final.result
        if isinstance(result, ErrorResponse) and self.owner.raise_for_status:
            keep_read(result.response, self.owner.max_body)
            await result.response.aclose()
            raise self._status_error(result, final)
        return self._end(result, final.attempts)


def _replay(stream: object) -> Replay:
    """The replay state of a body other than bytes, taken before the first send."""
    replay = Replay(stream)
    if replay.spent:
        raise httpx.StreamConsumed  # httpx's own error, before a partial request leaves
    return replay


def _with_timeouts(extensions: dict[str, Any], remaining: float) -> dict[str, Any]:
    """A copy of `extensions` whose timeouts are clipped to `remaining` seconds."""
    return {**extensions, "timeout": _clip(extensions.get("timeout"), remaining)}


def _policy_for(request: httpx.Request, owner: RetryTransport | AsyncRetryTransport) -> RetryPolicy:
    policy = request.extensions.get(EXTENSION)
    if policy is None:
        return owner.policy
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


# -- the deadline ---------------------------------------------------------------------


def _cut_short(request: httpx.Request, cause: BaseException | None) -> httpx.ReadTimeout:
    """httpx's exception for an attempt errorkit cut at the deadline (`cause`: what it ended)."""
    error = httpx.ReadTimeout(CUT_SHORT.description, request=request)
    error.__cause__ = cause
    return error


def _failure_by(exc: httpx.TransportError, ends: float) -> TransportFailure:
    """`_failure`, except that a timeout once the deadline (`ends`) has come is the deadline's.

    The attempt's timeouts were clipped to the time left, so such a timeout is
    the deadline firing through httpx: its outcome names the deadline.
    """
    if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= ends:
        return CUT_SHORT
    return _failure(exc)


# -- httpx's exceptions --------------------------------------------------------------

#: httpx's exceptions -> whether the server may have acted on the request. A TLS
#: failure is a ConnectError: `_failure` looks at its cause first.
_FAILURES: dict[type[BaseException], TransportFailure] = {
    httpx.ConnectTimeout: TransportFailure(sent=False, timeout=True, description="connect timeout"),
    httpx.PoolTimeout: TransportFailure(sent=False, timeout=True, description="pool timeout"),
    httpx.ConnectError: TransportFailure(sent=False, description="connection refused"),
    httpx.ProxyError: TransportFailure(sent=False, description="proxy connection failed"),
    httpx.UnsupportedProtocol: TransportFailure(sent=False, retryable=False, description="bad URL"),
    httpx.LocalProtocolError: TransportFailure(
        sent=True, retryable=False, description="bad request"
    ),
    httpx.ReadTimeout: TransportFailure(sent=True, timeout=True, description="read timeout"),
    httpx.WriteTimeout: TransportFailure(sent=True, timeout=True, description="write timeout"),
    httpx.WriteError: TransportFailure(sent=True, description="connection lost while sending"),
    httpx.ReadError: TransportFailure(sent=True, description="connection lost while reading"),
    httpx.RemoteProtocolError: TransportFailure(sent=True, description="connection closed early"),
}
_TLS = TransportFailure(sent=False, retryable=False, description="TLS handshake failed")
_OTHER = TransportFailure(sent=True, description="transport error")


def _failure(exc: httpx.TransportError) -> TransportFailure:
    """The core's view of an httpx transport exception."""
    if isinstance(exc, httpx.ConnectError) and _caused_by_tls(exc):
        return _TLS
    return most_specific(_FAILURES, exc) or _OTHER


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
        for pattern, url in _environment_proxies().items()
    }


def async_mounts_from_env(
    policy: RetryPolicy | None = None, **kwargs: Any
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The async twin of `mounts_from_env`, for `httpx.AsyncClient`."""
    return {
        pattern: None if url is None else AsyncRetryTransport(policy, proxy=url, **kwargs)
        for pattern, url in _environment_proxies().items()
    }


def _environment_proxies() -> dict[str, str | None]:
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
