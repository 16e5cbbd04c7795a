"""The httpx-family transports, written once for httpx and httpx2.

`SyncTransport` and `AsyncTransport` are generic over the library's inner
transport, request and response classes; `errorkit.httpx` and `errorkit.httpx2`
subclass them together with their library's `BaseTransport` (or
`AsyncBaseTransport`) and set `flavor`, the library's classes
(`errorkit._stacks.httpx_flavor.Flavor`)::

    class RetryTransport(SyncTransport[httpx.BaseTransport, httpx.Request, httpx.Response],
                         httpx.BaseTransport):
        flavor = Flavor(httpx, "errorkit.httpx")

so each public class is its library's transport, with its library's types. The
rest (a hop, its attempts, the deadline, the proxies of the environment) is
written, and type checked, against httpx's API, which httpx2 shares.

The deadline. Each attempt's timeouts are clipped to the time left; on top of
that, what errorkit itself reads, its peek at an error body, is cut at the
deadline: the sync transport arms `cut_at` on the connection's socket, the
async one awaits the peek within an asyncio timeout. An attempt ended that way,
or by a timeout once the deadline has come, is `CUT_SHORT`: the caller gets an
`APITimeoutError` (also the library's `TimeoutException`) saying so. Nothing is
armed without a deadline, nor for a success (its body is the caller's to read).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast

from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._exceptions import class_for
from errorkit._formats import MAX_BODY
from errorkit._gate import local_answer, used_up
from errorkit._hints import REMAINING_HEADERS
from errorkit._loop import ErrorResponse, Failed, Final, adrive, drive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy
from errorkit._stacks.deadline import CUT_SHORT, DeadlineReached, within
from errorkit._stacks.exceptions import build, status_error, transport_error
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
    from collections.abc import Callable, Coroutine, Mapping
    from types import TracebackType

    import httpx
    from typing_extensions import Self

    from errorkit._info import ErrorInfo
    from errorkit._stacks.httpx_flavor import Flavor


#: The key of `request.extensions` that may hold a per-request `RetryPolicy`.
EXTENSION = "errorkit"


#: The remaining-count headers, as httpx keeps their lower-case names.
_REMAINING = frozenset(name.encode("latin-1") for name in REMAINING_HEADERS)


class _SyncInner(Protocol):
    """What the sync transport calls on its inner transport (a `BaseTransport`)."""

    def handle_request(self, request: Any, /) -> Any: ...
    def close(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None: ...


class _AsyncInner(Protocol):
    """What the async transport calls on its inner transport (an `AsyncBaseTransport`)."""

    async def handle_async_request(self, request: Any, /) -> Any: ...
    async def aclose(self) -> None: ...
    async def __aenter__(self) -> Any: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None: ...


SyncInnerT = TypeVar("SyncInnerT", bound=_SyncInner)
AsyncInnerT = TypeVar("AsyncInnerT", bound=_AsyncInner)
RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")
_T = TypeVar("_T")


class SyncTransport(Generic[SyncInnerT, RequestT, ResponseT]):
    """A transport that classifies errors and retries by `policy`.

    Args:
        policy: the `RetryPolicy` (default: `RetryPolicy()`); a request's
            ``extensions["errorkit"]`` overrides it for that request.
        transport: the transport that sends each attempt (default: the
            library's ``HTTPTransport(**transport_kwargs)``). It is entered and
            exited with this one (``with client:``) and closed with it.
        raise_for_status: raise the errorkit exception for an error response
            after the last attempt (it is also the library's `HTTPStatusError`);
            by default the final response is returned. The exception's
            ``.response`` is closed; its ``.content`` is the body when the body
            fit in `max_body` (raw and decoded), else it raises the library's
            `ResponseNotRead`: errorkit never reads more to raise.
        max_body: raw bytes of an error body read for classification (and at
            most as many decoded bytes); an int >= 0, default 64 KiB.
        **transport_kwargs: the library's ``HTTPTransport`` ones, except `retries`.
    """

    #: The library's classes; set by each library's subclass.
    flavor: ClassVar[Flavor]

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        transport: SyncInnerT | None = None,
        raise_for_status: bool = False,
        max_body: int = MAX_BODY,
        **transport_kwargs: Any,
    ) -> None:
        self.policy = check_policy(policy)
        self.transport: SyncInnerT = _inner(
            self.flavor, self.flavor.HTTPTransport, transport, transport_kwargs
        )
        self.raise_for_status = raise_for_status
        self.max_body = check_max_body(max_body)

    def __repr__(self) -> str:
        return _repr(self)

    def handle_request(self, request: RequestT) -> ResponseT:
        """Send `request`, retrying by the policy; see the library's `BaseTransport`."""
        if type(request) is not self.flavor.Request:
            self.flavor.check_request(request, "RetryTransport")
        call = _Call(self, cast("httpx.Request", request))
        return cast("ResponseT", drive(call.policy, call))

    def close(self) -> None:
        """Close the inner transport and its connections."""
        self.transport.close()

    def __enter__(self) -> Self:
        self.transport.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        # The inner transport's own __exit__ closes it (BaseTransport's calls close()).
        self.transport.__exit__(exc_type, exc_value, traceback)


class AsyncTransport(Generic[AsyncInnerT, RequestT, ResponseT]):
    """The async twin of `SyncTransport`, for the library's `AsyncClient`.

    Args: as `SyncTransport`; the default inner transport is the library's
    ``AsyncHTTPTransport(**transport_kwargs)``.
    """

    flavor: ClassVar[Flavor]

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        transport: AsyncInnerT | None = None,
        raise_for_status: bool = False,
        max_body: int = MAX_BODY,
        **transport_kwargs: Any,
    ) -> None:
        self.policy = check_policy(policy)
        self.transport: AsyncInnerT = _inner(
            self.flavor, self.flavor.AsyncHTTPTransport, transport, transport_kwargs
        )
        self.raise_for_status = raise_for_status
        self.max_body = check_max_body(max_body)

    def __repr__(self) -> str:
        return _repr(self)

    def handle_async_request(self, request: RequestT) -> Coroutine[Any, Any, ResponseT]:
        """Send `request`, retrying by the policy; see the library's `AsyncBaseTransport`.

        A plain method that returns the loop's coroutine for the client to await:
        the request's every suspension then crosses one frame fewer.
        """
        if type(request) is not self.flavor.Request:
            self.flavor.check_request(request, "AsyncRetryTransport")
        call = _AsyncCall(self, cast("httpx.Request", request))
        return cast("Coroutine[Any, Any, ResponseT]", adrive(call.policy, call))

    async def aclose(self) -> None:
        """Close the inner transport and its connections."""
        await self.transport.aclose()

    async def __aenter__(self) -> Self:
        await self.transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.transport.__aexit__(exc_type, exc_value, traceback)


def _repr(transport: SyncTransport[Any, Any, Any] | AsyncTransport[Any, Any, Any]) -> str:
    return (
        f"{type(transport).__name__}(policy={transport.policy!r}, "
        f"raise_for_status={transport.raise_for_status})"
    )


def _inner(
    flavor: Flavor, default: Callable[..., Any], transport: _T | None, kwargs: dict[str, Any]
) -> _T:
    if "retries" in kwargs:
        raise TypeError(
            "errorkit's transports take no retries: httpcore would retry under every "
            "errorkit attempt; set RetryPolicy(max_attempts=...)"
        )
    if transport is None:
        return cast("_T", default(**kwargs))
    if kwargs:
        raise TypeError(
            f"{sorted(kwargs)} would be ignored: configure the transport you pass instead"
        )
    flavor.check_inner(transport)
    return transport


_Owner = SyncTransport[Any, Any, Any] | AsyncTransport[Any, Any, Any]


class _Hop:
    """One transport call (a hop), as the loop runs it: what its attempts share.

    `replay` is None for a `ByteStream` body (bytes, text, JSON, forms, no body),
    which is sent again as it is. `extensions` are the request's own: each
    attempt gets a copy with its timeouts clipped to the deadline, and the
    transport puts the originals back when the call ends (a redirect reuses them).
    """

    __slots__ = (
        "extensions",
        "flavor",
        "has_idempotency_key",
        "owner",
        "policy",
        "replay",
        "request",
    )

    def __init__(self, owner: _Owner, request: httpx.Request) -> None:
        self.owner = owner
        self.flavor = flavor = owner.flavor
        self.request = request
        self.extensions = extensions = request.extensions
        self.policy = owner.policy if EXTENSION not in extensions else _policy_for(request, owner)
        # Keys are added before the first attempt; an idempotent method needs none.
        self.has_idempotency_key = request.method not in IDEMPOTENT_METHODS and (
            add_idempotency_key(self.policy, request.method.upper(), request.headers)
        )
        stream = request.stream
        self.replay = None if type(stream) is flavor.ByteStream else _replay(stream, flavor)

    @property
    def method(self) -> str:
        return self.request.method.upper()

    @property
    def url(self) -> httpx.URL:
        return self.request.url

    @property
    def replayable(self) -> bool:
        return self.replay is None or self.replay.replayable

    @property
    def headers(self) -> httpx.Headers:
        return self.request.headers

    def stop_resends(self, response: httpx.Response, header: str) -> None:
        response.headers[header] = "false"

    def used_up(self, response: httpx.Response) -> Mapping[str, str] | None:
        """httpx's ``Headers.get`` scans every header: one pass picks the remaining
        counts out of its list instead (``_list``: raw name, lower-case name, value)."""
        counts = {
            name.decode("latin-1"): value.decode("latin-1")
            for _, name, value in getattr(response.headers, "_list", ())
            if name in _REMAINING
        }
        return response.headers if counts and used_up(counts) else None

    def answer_locally(self, info: ErrorInfo, stop_header: str) -> httpx.Response:
        status, headers, body = local_answer(info, stop_header)
        return self.flavor.Response(status, headers=headers, content=body, request=self.request)

    def refuse(self, info: ErrorInfo) -> BaseException:
        return build(
            class_for(info.category, info.status),
            self.flavor.TransportError,
            info,
            foreign_args=(info.message,),
            foreign_kwargs={"request": self.request},
        )

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

    def _cut_short(self, cause: BaseException | None) -> Failed:
        """An attempt errorkit cut at the deadline (`cause`: what it ended), as a ReadTimeout."""
        error = self.flavor.ReadTimeout(CUT_SHORT.description, request=self.request)
        error.__cause__ = cause
        return Failed(error, CUT_SHORT)

    def _end(self, result: ErrorResponse[httpx.Response] | Failed, attempts: int) -> httpx.Response:
        """The final response, or raise the transport error for a final failure."""
        if isinstance(result, Failed):
            error = transport_error(result, attempts, foreign_kwargs={"request": self.request})
            raise error from result.error
        return result.response

    def _status_error(
        self, result: ErrorResponse[httpx.Response], final: Final[httpx.Response]
    ) -> BaseException:
        """The errorkit status error, also the library's `HTTPStatusError` on the final response."""
        response = result.response
        # The client never sees a response raised from its transport: complete it here.
        response.request = self.request
        response.elapsed = dt.timedelta(seconds=final.elapsed)
        return status_error(
            result.info,
            self.flavor.HTTPStatusError,
            response=response,
            attempts=final.attempts,
            foreign_kwargs={"request": self.request, "response": response},
        )


class _Call(_Hop):
    """A `_Hop` over a sync transport (see `errorkit._loop.Call`)."""

    __slots__ = ()
    owner: SyncTransport[Any, Any, Any]

    def attempt(
        self, number: int, timeout: float | None
    ) -> httpx.Response | ErrorResponse[httpx.Response] | Failed:
        """Send once; `timeout` (the time left before the deadline) also cuts the peek."""
        if number > 1 or timeout is not None:
            self._prepare(number, timeout)
        ends = None if timeout is None else time.monotonic() + timeout
        try:
            response: httpx.Response = self.owner.transport.handle_request(self.request)
            if response.status_code < 400:
                return response
            if ends is None:
                raw = peek(response, self.owner.max_body, self.flavor)
            else:
                # A read timeout bounds each read, not the body: a server dripping
                # a byte per read would hold the peek as long as it likes.
                sock, seconds = socket_of(response), ends - time.monotonic()
                raw = peek(response, self.owner.max_body, self.flavor, sock=sock, seconds=seconds)
        except PeekCut as cut:
            return self._cut_short(cut.__cause__)
        except self.flavor.TransportError as exc:
            return Failed(exc, self.flavor.failure_by(exc, ends))
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
    owner: AsyncTransport[Any, Any, Any]

    async def attempt(
        self, number: int, timeout: float | None
    ) -> httpx.Response | ErrorResponse[httpx.Response] | Failed:
        """Send once; `timeout` (the time left before the deadline) also bounds the peek."""
        if number > 1 or timeout is not None:
            self._prepare(number, timeout)
        ends = None if timeout is None else time.monotonic() + timeout
        try:
            response: httpx.Response = await self.owner.transport.handle_async_request(self.request)
            if response.status_code < 400:
                return response
            if ends is None:
                raw = await apeek(response, self.owner.max_body, self.flavor)
            else:
                peeking = apeek(response, self.owner.max_body, self.flavor)
                raw = await within(peeking, ends - time.monotonic())
        except DeadlineReached as reached:
            return self._cut_short(reached.error)
        except self.flavor.TransportError as exc:
            return Failed(exc, self.flavor.failure_by(exc, ends))
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


def _replay(stream: object, flavor: Flavor) -> Replay:
    """The replay state of a body other than bytes, taken before the first send."""
    replay = Replay(stream, flavor)
    if replay.spent:
        raise flavor.StreamConsumed  # the library's own error, before a partial request leaves
    return replay


def _with_timeouts(extensions: dict[str, Any], remaining: float) -> dict[str, Any]:
    """A copy of `extensions` whose timeouts are clipped to `remaining` seconds."""
    return {**extensions, "timeout": _clip(extensions.get("timeout"), remaining)}


def _policy_for(request: httpx.Request, owner: _Owner) -> RetryPolicy:
    policy = request.extensions.get(EXTENSION)
    if policy is None:
        return owner.policy
    if not isinstance(policy, RetryPolicy):
        raise TypeError(f'extensions["{EXTENSION}"] must be a RetryPolicy, not {policy!r}')
    return policy


def _clip(timeouts: object, remaining: float) -> dict[str, float | None]:
    """The per-phase timeouts, none longer than the time left before the deadline."""
    remaining = max(remaining, 0.001)
    if not isinstance(timeouts, dict):
        return dict.fromkeys(("connect", "read", "write", "pool"), remaining)
    return {
        phase: remaining if value is None else min(float(value), remaining)
        for phase, value in timeouts.items()
    }


# -- the environment's proxies ---------------------------------------------------------


def mounts_from_env(
    transport: Callable[..., _T], policy: RetryPolicy | None, kwargs: dict[str, Any]
) -> dict[str, _T | None]:
    """``mounts=`` of ``transport(policy, proxy=..., **kwargs)`` per proxy of the environment.

    One per ``HTTP_PROXY``, ``HTTPS_PROXY`` and ``ALL_PROXY`` entry, and None (the
    client's own transport) for each ``NO_PROXY`` host, as httpx itself reads them.
    """
    return {
        pattern: None if url is None else transport(policy, proxy=url, **kwargs)
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
