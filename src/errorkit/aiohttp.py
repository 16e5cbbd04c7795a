"""errorkit for aiohttp: `RetryMiddleware`, a client middleware (aiohttp >= 3.12.2).

    retry = RetryMiddleware(RetryPolicy(max_attempts=4))
    async with aiohttp.ClientSession(middlewares=(retry,)) as session:
        async with session.get(url) as resp:
            info = errorkit.error_of(resp)  # None for a success

aiohttp runs its middleware chain once per hop, so each redirect hop is one
logical request with its own attempts. Per-request middlewares, aiohttp's own
retry, request and error bodies, timeouts and the exceptions raised are
described in docs/quickstart_aiohttp.md ("What to know: how the
middleware works").
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from aiohttp.payload import AsyncIterablePayload, BytesPayload, IOBasePayload, Payload

from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._formats import MAX_BODY
from errorkit._loop import ErrorResponse, Failed, Final, adrive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy, TransportFailure
from errorkit._stacks.exceptions import most_specific, status_error, transport_error
from errorkit._stacks.responses import INFO_ATTRIBUTE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Coroutine

    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
    from yarl import URL

    from errorkit._info import ErrorInfo

__all__ = ["RetryMiddleware"]

_T = TypeVar("_T")

#: Longest time spent reading a discarded body of unknown length before closing it.
DRAIN_SECONDS = 1.0

# aiohttp re-runs the chain once for these methods (aiohttp.client.IDEMPOTENT_METHODS).
_AIOHTTP_AUTO_RETRIED = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class RetryMiddleware:
    """An aiohttp client middleware that classifies errors and retries by `policy`.

    Args:
        policy: the `RetryPolicy` (default: `RetryPolicy()`).
        raise_for_status: raise the errorkit exception for an error response
            after the last attempt (it is also an `aiohttp.ClientResponseError`);
            by default the final response is returned unchanged.
        max_body: bytes of an error body read for classification; an int >= 0,
            default 64 KiB.

    Instances hash and compare by identity (aiohttp may cache the chain) and keep
    no per-request state: one instance serves any number of sessions and tasks.
    """

    __slots__ = ("max_body", "policy", "raise_for_status")

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        raise_for_status: bool = False,
        max_body: int = MAX_BODY,
    ) -> None:
        self.policy = check_policy(policy)
        self.raise_for_status = raise_for_status
        self.max_body = check_max_body(max_body)

    def __repr__(self) -> str:
        return f"RetryMiddleware(policy={self.policy!r}, raise_for_status={self.raise_for_status})"

    def __call__(
        self, req: ClientRequest, handler: ClientHandlerType
    ) -> Coroutine[Any, Any, ClientResponse]:
        """Send `req` through `handler`, retrying by the policy (docs/quickstart_aiohttp.md).

        A plain method that returns the loop's coroutine for aiohttp to await: the
        request's every suspension then crosses one frame fewer.
        """
        if _FINAL_ERROR.get() is not None:
            _repeat_final_error(req)
        return adrive(self.policy, _Call(self, req, handler))


class _Call:
    """One hop of a `session.request()`, as `adrive()` runs it (see `errorkit._loop.AsyncCall`)."""

    __slots__ = ("handler", "has_idempotency_key", "middleware", "replayable", "req")

    def __init__(
        self, middleware: RetryMiddleware, req: ClientRequest, handler: ClientHandlerType
    ) -> None:
        self.middleware = middleware
        self.req = req
        self.handler = handler
        # Keys are added before the first attempt; an idempotent method needs none.
        self.has_idempotency_key = req.method not in IDEMPOTENT_METHODS and add_idempotency_key(
            middleware.policy, req.method.upper(), req.headers
        )
        body: object = req.body  # b"" for no body, the common case
        self.replayable = True if type(body) is bytes else _sendable_replayable(body)

    @property
    def method(self) -> str:
        return self.req.method.upper()

    @property
    def url(self) -> URL:
        return self.req.url

    async def attempt(
        self, number: int, timeout: float | None
    ) -> ClientResponse | ErrorResponse[ClientResponse] | Failed:
        """Send once, cut at `timeout` (the time left before the deadline) if not None."""
        if number > 1:
            _refuse_spent(self.req.body)
        try:
            if timeout is None:
                response = await self.handler(self.req)
            else:
                response = await _within(self.handler(self.req), max(timeout, 0.001))
        except _DeadlineReached as reached:
            return Failed(reached.error, _DEADLINE_FAILURE)
        except (aiohttp.ClientConnectionError, OSError) as exc:
            failure = _failure(exc)
            if failure is None:
                raise  # the total timeout fired: never retried
            return Failed(exc, failure)
        if response.status < 400:
            return response
        return ErrorResponse(response, await self._inspect(response))

    async def _inspect(self, response: ClientResponse) -> ErrorInfo:
        bound = self.middleware.max_body
        body = await _read_small(response, bound)
        info = parse(response.status, response.headers, body, max_body=bound)
        if info is None:  # pragma: no cover - parse() answers for every status >= 400
            raise AssertionError(response.status)
        if body is not None:  # else error_of() parses the body once the caller read it
            setattr(response, INFO_ATTRIBUTE, info)
        return info

    async def discard(self, response: ClientResponse) -> None:
        """Release a response that will not be returned, before any wait."""
        try:
            if not response.content.at_eof() and response.content_length is None:
                await _within(_drain(response, self.middleware.max_body), DRAIN_SECONDS)
        except (_DeadlineReached, aiohttp.ClientError):
            pass  # closed below: the connection is not reused
        finally:
            if response.content.at_eof():
                response.release()
            else:
                response.close()

    async def finish(self, final: Final[ClientResponse]) -> ClientResponse:
        result = final.result
        if isinstance(result, Failed):
            error = _transport_error(result, final.attempts)
            if _auto_retried(self.req, result.error):
                _FINAL_ERROR.set((_request_identity(self.req), error))
            raise error from result.error
        if not self.middleware.raise_for_status:
            return result.response
        raise await self._status_error(result, final.attempts)

    async def _status_error(
        self, result: ErrorResponse[ClientResponse], attempts: int
    ) -> BaseException:
        response, info = result.response, result.info
        if getattr(response, INFO_ATTRIBUTE, None) is None:
            info = await _parse_if_fits(response, self.middleware.max_body) or info
        return status_error(
            info,
            aiohttp.ClientResponseError,
            response=response,
            attempts=attempts,
            foreign_args=(response.request_info, response.history),
            foreign_kwargs={
                "status": response.status,
                "message": response.reason or "",
                "headers": response.headers,
            },
        )


async def _parse_if_fits(response: ClientResponse, bound: int) -> ErrorInfo | None:
    """The response's `ErrorInfo` from its whole body, if it ends within `bound` bytes."""
    body = await _read_if_fits(response, bound)
    if body is None:
        return None
    info = parse(response.status, response.headers, body, max_body=bound)
    if info is not None:
        setattr(response, INFO_ATTRIBUTE, info)
    return info


# -- attempts and their time limit ---------------------------------------------------


class _DeadlineReached(Exception):  # noqa: N818 - an event, raised and caught here
    """errorkit's own time limit on an attempt (or a drain) fired; `error` is its TimeoutError."""

    def __init__(self, error: BaseException) -> None:
        super().__init__("errorkit time limit reached")
        self.error = error


_DEADLINE_FAILURE = TransportFailure(
    sent=True, timeout=True, description="attempt cut short at the policy deadline"
)


if sys.version_info >= (3, 11):

    async def _within(awaitable: Awaitable[_T], seconds: float) -> _T:
        """Await `awaitable` for at most `seconds`; `_DeadlineReached` when that limit fired."""
        try:
            async with asyncio.timeout(seconds) as scope:
                return await awaitable
        except TimeoutError as exc:
            if scope.expired():
                raise _DeadlineReached(exc) from exc
            raise

else:  # pragma: no cover - Python 3.10: no asyncio.timeout()

    async def _within(awaitable: Awaitable[_T], seconds: float) -> _T:
        """Await `awaitable` for at most `seconds`; `_DeadlineReached` when that limit fired.

        Runs in the current task, as asyncio.timeout() does: aiohttp's responses
        must not be read from another task (asyncio.wait_for would make one).
        """
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("errorkit.aiohttp needs a running asyncio task")
        fired = False

        def expire() -> None:
            nonlocal fired
            fired = True
            task.cancel()

        handle = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            return await awaitable
        except asyncio.CancelledError as exc:
            if fired:
                raise _DeadlineReached(asyncio.TimeoutError()) from exc
            raise
        finally:
            handle.cancel()


# -- aiohttp exceptions -> TransportFailure: the one table ---------------------------

#: aiohttp's exceptions -> whether the server may have acted on the request; the most
#: specific class of an exception wins. None: the `ClientTimeout.total` TimeoutError,
#: raised as it is and never retried. A bare OSError (a reset in the middle of a
#: send) is what aiohttp turns into a ClientOSError after the chain.
_FAILURES: dict[type[BaseException], TransportFailure | None] = {
    aiohttp.ClientSSLError: TransportFailure(
        sent=False, retryable=False, description="TLS handshake failed"
    ),
    aiohttp.ServerFingerprintMismatch: TransportFailure(
        sent=False, retryable=False, description="TLS certificate fingerprint mismatch"
    ),
    aiohttp.ClientProxyConnectionError: TransportFailure(
        sent=False, description="proxy connection failed"
    ),
    aiohttp.ClientConnectorDNSError: TransportFailure(
        sent=False, description="host name not resolved"
    ),
    aiohttp.ClientConnectorError: TransportFailure(sent=False, description="connection refused"),
    aiohttp.ConnectionTimeoutError: TransportFailure(
        sent=False, timeout=True, description="connect timeout"
    ),
    aiohttp.ServerTimeoutError: TransportFailure(
        sent=True, timeout=True, description="read timeout"
    ),
    aiohttp.ServerDisconnectedError: TransportFailure(
        sent=True, description="server closed the connection without a response"
    ),
    aiohttp.ClientConnectionError: TransportFailure(sent=True, description="connection lost"),
    TimeoutError: None,
    asyncio.TimeoutError: None,  # not TimeoutError itself before Python 3.11
    OSError: TransportFailure(sent=True, description="connection lost while sending"),
}


def _failure(exc: BaseException) -> TransportFailure | None:
    """The failure for `exc`; None for the `ClientTimeout.total` TimeoutError (never retried)."""
    return most_specific(_FAILURES, exc)


def _transport_error(result: Failed, attempts: int) -> BaseException:
    original = result.error
    aiohttp_own = isinstance(original, (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError))
    # A bare OSError is raised as what aiohttp would have raised for it.
    foreign = type(original) if aiohttp_own else aiohttp.ClientOSError
    return transport_error(result, attempts, foreign_cls=foreign)


# -- aiohttp's automatic retry --------------------------------------------------------

# The final error of the last logical request in this task whose error aiohttp
# retries on its own, with the identity of its `session.request()` call. Set
# just before raising; read (and cleared) by the next middleware call in the task.
_FINAL_ERROR: contextvars.ContextVar[tuple[object, BaseException] | None] = contextvars.ContextVar(
    "errorkit_aiohttp_final_error", default=None
)


def _request_identity(req: ClientRequest) -> object:
    """An object unique to one `session.request()` call, shared by its hops and re-runs.

    aiohttp hands every `ClientRequest` of one call the same list of traces
    (``ClientRequest._traces``, the same from 3.12.1 to 3.14), and creates a new
    list per call. None if a future aiohttp drops it (then re-runs are not matched).
    """
    return getattr(req, "_traces", None)


def _auto_retried(req: ClientRequest, error: BaseException) -> bool:
    """Whether aiohttp itself will call the chain again after `error`."""
    return (
        isinstance(error, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError))
        and not isinstance(error, aiohttp.ClientConnectorError)
        and req.method.upper() in _AIOHTTP_AUTO_RETRIED
        and _request_identity(req) is not None
    )


def _repeat_final_error(req: ClientRequest) -> None:
    """Raise the final error again if this call is aiohttp re-running a request errorkit ended."""
    pending = _FINAL_ERROR.get()
    if pending is None:
        return
    _FINAL_ERROR.set(None)
    identity, error = pending
    if identity is _request_identity(req):
        raise error


# -- request bodies and headers --------------------------------------------------------


def _replayable(body: object) -> bool:
    """Whether aiohttp can send `body` (a `Payload`, or b"" for none) again, whole."""
    if type(body) is BytesPayload:
        return not body.consumed
    if isinstance(body, AsyncIterablePayload):
        return False  # an async iterator runs once; errorkit does not buffer it
    if isinstance(body, IOBasePayload):
        file = getattr(body, "_value", None)  # aiohttp rewinds it to its start by tell/seek
        try:
            file.tell()  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            return False
        return bool(getattr(file, "seekable", lambda: True)())
    return not _consumed(body)


def _consumed(body: object) -> bool:
    return isinstance(body, Payload) and body.consumed


def _sendable_replayable(body: object) -> bool:
    """`_replayable(body)`, once `_refuse_spent` let the body be sent at all."""
    _refuse_spent(body)
    return _replayable(body)


def _refuse_spent(body: object) -> None:
    """Refuse to send `body` if it would go out empty (see `_spent`)."""
    if _spent(body):
        raise aiohttp.ClientPayloadError(
            "the request body was already consumed (a one-shot body after a "
            "redirect?): not sent again; use bytes or a seekable file"
        )


def _spent(body: object) -> bool:
    """Whether `body` would go out empty: consumed, or an async generator already finished.

    The second case is a redirect hop before aiohttp 3.14, which wraps the
    exhausted generator of the first hop in a fresh payload.
    """
    if type(body) is bytes:
        return False  # b"": no body at all
    if _consumed(body):
        return True
    generator = getattr(body, "_value", None) if isinstance(body, AsyncIterablePayload) else None
    return inspect.isasyncgen(generator) and generator.ag_frame is None


# -- error bodies ----------------------------------------------------------------------


async def _read_small(response: ClientResponse, bound: int) -> bytes | None:
    """The whole body when its Content-Length is at most `bound`, cached for the caller."""
    length = response.content_length
    if length is None or length > bound:
        return None
    try:
        return await response.read()
    except aiohttp.ClientError:
        return None  # read() closed it; the caller's own read() raises the same error


async def _drain(response: ClientResponse, bound: int) -> None:
    """Read and drop at most `bound` + 1 bytes of a body, or up to its end."""
    left = bound + 1
    while left > 0 and not response.content.at_eof():
        chunk = await response.content.read(left)
        if not chunk:
            return
        left -= len(chunk)


async def _read_if_fits(response: ClientResponse, bound: int) -> bytes | None:
    """The body if it ends within `bound` bytes, cached so that `read()` returns it.

    For a response raised with ``raise_for_status=True`` whose length was not
    known: a body that fits stays readable; a longer one is closed (aiohttp's own
    ``raise_for_status()`` releases the response too).
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= bound and not response.content.at_eof():
            chunk = await response.content.read(bound + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except aiohttp.ClientError:
        response.close()
        return None
    except BaseException:
        response.close()  # cancelled mid-read: nothing may hold the connection
        raise
    if size > bound or not response.content.at_eof():
        response.close()
        return None
    body = b"".join(chunks)
    # The state `await response.read()` leaves: later reads return the cache.
    response._body = body  # noqa: SLF001
    return body
