"""errorkit for aiohttp: `RetryMiddleware`, a client middleware (aiohttp >= 3.12.1).

    retry = RetryMiddleware(RetryPolicy(max_attempts=4))
    async with aiohttp.ClientSession(middlewares=(retry,)) as session:
        async with session.get(url) as resp:
            info = errorkit.error_of(resp)  # None for a success

What one call is. aiohttp runs its middleware chain once per hop: a redirect is a
new hop with a new `ClientRequest`, so each hop is one logical request with its
own attempts (a 307 chain of two hops can reach the server up to
``2 * max_attempts`` times). Within a hop, ``max_attempts`` bounds every request
that reaches the server, aiohttp's own retry included (see below).

Per request. ``session.get(url, middlewares=(RetryMiddleware(other_policy),))``
uses another policy for one request. aiohttp *replaces* the session's
middlewares with the per-request ones, it does not add to them: list every
middleware the request needs, and ``middlewares=()`` turns retries off.

aiohttp's own retry. For GET, HEAD, OPTIONS, TRACE, PUT and DELETE, aiohttp
re-runs the whole chain once after a `ServerDisconnectedError` or `ClientOSError`
(a stale keep-alive connection). errorkit already retries those by its policy,
so when its final error is one of them and aiohttp calls the middleware again
for the same ``session.request()``, the middleware raises that same error again
without sending: the total number of requests that reach the server stays at
most ``max_attempts``, on aiohttp as on every other stack.

Request bodies. Bytes, strings, forms and JSON are re-sent whole; file objects
(``BytesIO``, open files) are rewound by aiohttp to where they started. An async
generator (`AsyncIterablePayload`) is sent once and never again: the first error
is returned (or raised) as it is, rather than silently re-sending an empty body
or buffering unbounded data. Pass bytes, or a file, to make such a request
retryable.

Error bodies (status >= 400) are read inside the middleware only when it is
cheap and safe: with a Content-Length of at most ``max_body`` (64 KiB), the body
is read with ``await resp.read()``, so the caller's ``read()``, ``text()`` and
``json()`` return it from aiohttp's cache, but ``resp.content`` (the stream) is
then at its end. A larger body, or one of unknown length (chunked), is
classified on its status and headers alone and left untouched for the caller:
aiohttp has no supported way to push bytes back into the stream.
`errorkit.error_of` parses it in full once the caller has read it. Errors while
reading a body the caller reads itself (a body cut short, a stall) are raised
at the caller's ``read()``, outside the retry loop.

Discarded responses are released before the backoff wait: a body already read
(or a body of unknown length that ends within ``max_body`` bytes and a second)
gives the connection back to the pool; anything larger closes it.

Timeouts. ``ClientTimeout.total`` is the hard cap on the whole request, waits
included: when it fires, its `TimeoutError` propagates at once and nothing is
retried after it. ``sock_connect`` and ``sock_read`` apply to each attempt. With
a policy ``deadline``, each attempt (connect, send, response headers) is also
cut at the time left; a body the caller reads later is bounded only by aiohttp's
own timeouts.

Transport failures after the last attempt raise `errorkit.APIConnectionError` or
`errorkit.APITimeoutError` that is also an instance of aiohttp's own exception
class (``except aiohttp.ClientConnectorError`` keeps working), with the original
as ``__cause__``. With ``raise_for_status=True`` a final error response raises the
errorkit exception that is also an `aiohttp.ClientResponseError`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
from typing import TYPE_CHECKING, TypeVar

import aiohttp
from aiohttp.payload import AsyncIterablePayload, BytesPayload, IOBasePayload, Payload

from errorkit._adapter import add_idempotency_key
from errorkit._clock import CLOCK
from errorkit._compat import build
from errorkit._exceptions import APIConnectionError, APIError, APITimeoutError, class_for
from errorkit._formats import MAX_BODY
from errorkit._loop import Failed, Final, Loop, Send, Sent, adrive, attempts
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy, TransportFailure
from errorkit._response import INFO_ATTRIBUTE

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

    from errorkit._info import ErrorInfo

__all__ = ["RetryMiddleware"]

T = TypeVar("T")

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
        max_body: bytes of an error body read for classification (64 KiB).

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
        if max_body < 0:
            raise ValueError("max_body must not be negative")
        self.policy = policy if policy is not None else RetryPolicy()
        self.raise_for_status = raise_for_status
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"RetryMiddleware(policy={self.policy!r}, raise_for_status={self.raise_for_status})"

    async def __call__(self, req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send `req` through `handler`, retrying by the policy; see the module docstring.

        The first attempt is awaited here, in this one frame (every suspension of
        the request crosses each frame above it): a success is counted in the
        budget and returned at once; the retry loop is planned only after a failure.
        """
        if _FINAL_ERROR.get() is not None:
            _repeat_final_error(req)
        policy = self.policy
        has_key = req.method not in IDEMPOTENT_METHODS and add_idempotency_key(
            policy, req.method.upper(), req.headers
        )
        body: object = req.body  # b"" (no body, the common case): decided without a call
        replayable = True if type(body) is bytes else _sendable_replayable(body)
        started = CLOCK.monotonic()
        deadline = policy.deadline
        first: Sent[ClientResponse] | Failed
        try:
            if deadline is None:
                response = await handler(req)
            else:
                response = await _within(handler(req), max(deadline, 0.001))
        except _DeadlineReached as reached:
            first = Failed(reached.error, _DEADLINE_FAILURE)
        except (aiohttp.ClientConnectionError, OSError) as exc:
            failure = _failure(exc)
            if failure is None:
                raise  # the total timeout fired: never retried
            first = Failed(exc, failure)
        else:
            if response.status < 400:  # the success path reads and parses nothing
                budget = policy.budget
                if budget is not None:
                    budget.record_request()
                return response
            first = Sent(response, await self._inspect(response))
        loop: Loop[ClientResponse] = attempts(
            policy,
            method=req.method.upper(),
            url=req.url,
            replayable=replayable,
            has_idempotency_key=has_key,
            started=started,
        )
        loop.succeeded(first)  # counts the request in the budget: it is not a success

        async def send_again(command: Send) -> Sent[ClientResponse] | Failed:
            return await self._attempt(req, handler, command.timeout)

        final: Final[ClientResponse] = await adrive(loop, send_again, self._discard, first)
        return await self._finish(final, req)

    async def _attempt(
        self, req: ClientRequest, handler: ClientHandlerType, timeout: float | None
    ) -> Sent[ClientResponse] | Failed:
        """A re-send: attempt 2 and later, cut at `timeout` (the time left) if not None."""
        _refuse_spent(req.body)
        try:
            if timeout is None:
                response = await handler(req)
            else:
                response = await _within(handler(req), max(timeout, 0.001))
        except _DeadlineReached as reached:
            return Failed(reached.error, _DEADLINE_FAILURE)
        except (aiohttp.ClientConnectionError, OSError) as exc:
            failure = _failure(exc)
            if failure is None:
                raise  # the total timeout fired: never retried
            return Failed(exc, failure)
        return Sent(response, await self._inspect(response))

    async def _inspect(self, response: ClientResponse) -> ErrorInfo | None:
        if response.status < 400:
            return None  # a success reads nothing
        body = await _read_small(response, self.max_body)
        info = parse(response.status, response.headers, body, max_body=self.max_body)
        if body is not None:  # else error_of() parses the body once the caller read it
            setattr(response, INFO_ATTRIBUTE, info)
        return info

    async def _discard(self, response: ClientResponse) -> None:
        """Release a response that will not be returned, before any wait."""
        try:
            if not response.content.at_eof() and response.content_length is None:
                await _within(_drain(response, self.max_body), DRAIN_SECONDS)
        except (_DeadlineReached, aiohttp.ClientError):
            pass  # closed below: the connection is not reused
        finally:
            if response.content.at_eof():
                response.release()
            else:
                response.close()

    async def _finish(self, final: Final[ClientResponse], req: ClientRequest) -> ClientResponse:
        result = final.result
        if isinstance(result, Failed):
            error = _transport_error(result, final.attempts)
            if _auto_retried(req, result.error):
                _FINAL_ERROR.set((_request_identity(req), error))
            raise error from result.error
        info = result.info
        if info is None or not self.raise_for_status:
            return result.response
        raise await self._status_error(result.response, info, final.attempts)

    async def _status_error(
        self, response: ClientResponse, info: ErrorInfo, attempts: int
    ) -> APIError:
        if getattr(response, INFO_ATTRIBUTE, None) is None:
            body = await _read_if_fits(response, self.max_body)
            parsed = (
                None
                if body is None
                else parse(response.status, response.headers, body, max_body=self.max_body)
            )
            if parsed is not None:
                info = parsed
                setattr(response, INFO_ATTRIBUTE, info)
        return build(
            class_for(info.category, info.status),
            aiohttp.ClientResponseError,
            info,
            response=response,
            attempts=attempts,
            foreign_args=(response.request_info, response.history),
            foreign_kwargs={
                "status": response.status,
                "message": response.reason or "",
                "headers": response.headers,
            },
        )


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

    async def _within(awaitable: Awaitable[T], seconds: float) -> T:
        """Await `awaitable` for at most `seconds`; `_DeadlineReached` when that limit fired."""
        try:
            async with asyncio.timeout(seconds) as scope:
                return await awaitable
        except TimeoutError as exc:
            if scope.expired():
                raise _DeadlineReached(exc) from exc
            raise

else:  # pragma: no cover - Python 3.10: no asyncio.timeout()

    async def _within(awaitable: Awaitable[T], seconds: float) -> T:
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

# Most specific first: ClientConnectorError is a ClientOSError, the SSL errors are
# ClientConnectorErrors, and ConnectionTimeoutError is a ServerTimeoutError.
_FAILURES: tuple[tuple[type[BaseException], TransportFailure], ...] = (
    (
        aiohttp.ClientSSLError,
        TransportFailure(sent=False, retryable=False, description="TLS handshake failed"),
    ),
    (
        aiohttp.ServerFingerprintMismatch,
        TransportFailure(
            sent=False, retryable=False, description="TLS certificate fingerprint mismatch"
        ),
    ),
    (
        aiohttp.ClientProxyConnectionError,
        TransportFailure(sent=False, description="proxy connection failed"),
    ),
    (
        aiohttp.ClientConnectorDNSError,
        TransportFailure(sent=False, description="host name not resolved"),
    ),
    (aiohttp.ClientConnectorError, TransportFailure(sent=False, description="connection refused")),
    (
        aiohttp.ConnectionTimeoutError,
        TransportFailure(sent=False, timeout=True, description="connect timeout"),
    ),
    (
        aiohttp.ServerTimeoutError,
        TransportFailure(sent=True, timeout=True, description="read timeout"),
    ),
    (
        aiohttp.ServerDisconnectedError,
        TransportFailure(sent=True, description="server closed the connection without a response"),
    ),
    (aiohttp.ClientConnectionError, TransportFailure(sent=True, description="connection lost")),
)
# A bare OSError (a reset in the middle of a send): aiohttp turns it into a
# ClientOSError after the chain; errorkit treats it the same way, inside.
_OS_ERROR = TransportFailure(sent=True, description="connection lost while sending")


def _failure(exc: BaseException) -> TransportFailure | None:
    """The failure for `exc`; None for the `ClientTimeout.total` TimeoutError (never retried)."""
    for cls, failure in _FAILURES:
        if isinstance(exc, cls):
            return failure
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return None
    return _OS_ERROR


def _transport_error(result: Failed, attempts: int) -> APIConnectionError:
    original = result.error
    foreign: type[BaseException] = type(original)
    if not isinstance(original, (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError)):
        foreign = aiohttp.ClientOSError  # what aiohttp would have raised for it
    cls = APITimeoutError if result.failure.timeout else APIConnectionError
    return build(
        cls,
        foreign,
        result.failure.info(),
        attempts=attempts,
        foreign_args=original.args,
    )


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
    """Whether aiohttp can send `body` (a `Payload`, or b"" for none) again, whole.

    The middleware decides no body (b"") by exact type before calling this, and
    bytes are decided by exact type first here: the `Payload` checks below go
    through slow ABC machinery.
    """
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
        return False  # no body at all: the common case, decided without ABC checks
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
