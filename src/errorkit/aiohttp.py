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

**What one attempt is.** Sending the request, getting the head, and the reads
errorkit makes of an error body (to classify it, and with
``raise_for_status=True`` to keep it for the exception) are one attempt. With a
policy `deadline` the whole attempt runs in one time limit, the time left
before the deadline (`asyncio.timeout`, or its stand-in on Python 3.10), and
the drain of a discarded body stops there too. A limit that fires makes the
attempt a transport failure, `CUT_SHORT`, which ends as `APITimeoutError`.
What the caller reads after the middleware returned is the caller's own.

**Decoded bytes.** aiohttp decodes a compressed body (gzip, deflate, br, zstd)
inside its stream, as the bytes arrive. errorkit reads that stream in pieces of
at most `_PIECE` bytes and stops after ``max_body + 1`` decoded bytes: it never
calls ``read()`` without a size, which lifts aiohttp's limit on what one network
chunk may inflate to (`StreamReader.set_read_chunk_size`). From aiohttp 3.13.3
(GHSA-6mq8-rvhq-8wgg) the stream inflates at most about its read buffer
(``read_bufsize``, 256 KiB) per step and pauses the socket when twice that is
buffered, so a bomb costs errorkit a few MB. Earlier releases inflate each
network chunk whole as it arrives, the bare client too; errorkit cannot bound
that.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import warnings
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import MultipartWriter
from aiohttp.payload import AsyncIterablePayload, BytesPayload, IOBasePayload, Payload
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._exceptions import class_for
from errorkit._formats import MAX_BODY
from errorkit._gate import used_up
from errorkit._hints import REMAINING_NAMES
from errorkit._loop import ErrorResponse, Failed, Final, adrive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, Reason, RetryPolicy, TransportFailure
from errorkit._redact import redact_headers, redact_url
from errorkit._stacks.deadline import CUT_SHORT, DeadlineReached, within
from errorkit._stacks.exceptions import build, most_specific, status_error, transport_error
from errorkit._stacks.responses import INFO_ATTRIBUTE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Coroutine, Mapping

    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
    from aiohttp.client_reqrep import RequestInfo
    from aiohttp.streams import StreamReader

    from errorkit._info import ErrorInfo

__all__ = ["RetryMiddleware"]

#: Longest time spent reading a discarded body of unknown length before closing it
#: (less when the policy deadline is nearer).
DRAIN_SECONDS = 1.0

#: Most bytes errorkit asks of a response stream in one read: aiohttp raises the
#: decoded bytes it may inflate per step to the largest read asked (256 KiB by default).
_PIECE = 64 * 1024

#: Whether multidict's key views compare names without case in set operations
#: (probed once here: multidict 7 does); if not, `used_up` looks each name up.
_CASELESS_KEYS = not CIMultiDict({"A": ""}).keys().isdisjoint({"a"})

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

    __slots__ = (
        "_replayable",
        "ends_at",
        "handler",
        "has_idempotency_key",
        "middleware",
        "req",
    )

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
        self._replayable = True if type(body) is bytes else _sendable_replayable(body)
        #: When the policy deadline passes, in the event loop's time; None without one.
        self.ends_at: float | None = None

    @property
    def method(self) -> str:
        return self.req.method.upper()

    @property
    def url(self) -> URL:
        return self.req.url

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again, whole: by its kind, and still so once sent.

        Read by the policy after a failed attempt only. aiohttp marks a payload
        consumed when it could not note where a file starts (a pipe, in a
        multipart form too) or once an iterator ran: such a body is never re-sent.
        """
        return self._replayable and not _consumed(self.req.body)

    @property
    def headers(self) -> CIMultiDict[str]:
        return self.req.headers

    def stop_resends(self, response: ClientResponse, header: str) -> None:
        # A response's headers are a read-only proxy: give it a copy with the header.
        headers = CIMultiDict(response.headers)
        headers[header] = "false"
        response._headers = CIMultiDictProxy(headers)  # noqa: SLF001

    def answer_locally(self, info: ErrorInfo, stop_header: str) -> None:  # noqa: ARG002
        return None  # an aiohttp response needs a connection: the refusal is raised

    def used_up(self, response: ClientResponse) -> Mapping[str, str] | None:
        headers = response.headers
        # One set operation tells that no remaining count is there (ten gets: 0.2 us).
        if _CASELESS_KEYS and headers.keys().isdisjoint(REMAINING_NAMES):
            return None
        return headers if used_up(headers) else None

    def refuse(self, info: ErrorInfo) -> BaseException:
        return build(class_for(info.category, info.status), aiohttp.ClientConnectionError, info)

    def attempt(
        self, number: int, timeout: float | None
    ) -> Awaitable[ClientResponse | ErrorResponse[ClientResponse] | Failed]:
        """Send once, with its error-body reads, all cut at `timeout` if not None.

        `timeout` is the time left before the deadline. A plain method: without a
        deadline the attempt is `_send` itself, with no frame or scope around it.
        """
        if number > 1:
            _refuse_spent(self.req.body)  # never reached: `replayable` said no first
        if timeout is None:
            return self._send()
        return self._send_within(max(timeout, 0.001))

    async def _send_within(
        self, seconds: float
    ) -> ClientResponse | ErrorResponse[ClientResponse] | Failed:
        self.ends_at = asyncio.get_running_loop().time() + seconds
        try:
            return await within(self._send(), seconds)
        except DeadlineReached as reached:
            return Failed(reached.error, CUT_SHORT)

    async def _send(self) -> ClientResponse | ErrorResponse[ClientResponse] | Failed:
        try:
            response = await self.handler(self.req)
        except (aiohttp.ClientConnectionError, aiohttp.ClientResponseError, OSError) as exc:
            failure = _failure(exc)
            if failure is None:
                raise  # the total timeout fired, or a response error of another middleware
            return Failed(exc, failure)
        if response.status < 400:
            return response
        try:
            info = await self._inspect(response)
        except BaseException:
            response.close()  # cut at the deadline, cancelled, or the total timeout fired
            raise
        return ErrorResponse(response, info)

    async def _inspect(self, response: ClientResponse) -> ErrorInfo:
        bound = self.middleware.max_body
        if self.middleware.raise_for_status:
            body = await _read_if_fits(response, bound)
        else:
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
                seconds = DRAIN_SECONDS
                if self.ends_at is not None:
                    seconds = min(seconds, self.ends_at - asyncio.get_running_loop().time())
                if seconds > 0:
                    await within(_drain(response, self.middleware.max_body), seconds)
        except (DeadlineReached, aiohttp.ClientError):
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
            if _auto_retried(self.req, result.error) and not _left_to_aiohttp(final):
                _FINAL_ERROR.set((_request_identity(self.req), error))
            raise error from result.error
        if not self.middleware.raise_for_status:
            return result.response
        raise _status_error(result, final.attempts)


def _status_error(result: ErrorResponse[ClientResponse], attempts: int) -> BaseException:
    """The status error for `result`, also an `aiohttp.ClientResponseError`.

    Its body was read (or closed) by the attempt. Its request info is a redacted
    copy of the request's; its history is empty, as aiohttp sets a response's
    history only once the middleware chain has returned.
    """
    response = result.response
    return status_error(
        result.info,
        aiohttp.ClientResponseError,
        response=response,
        attempts=attempts,
        foreign_args=(_redacted_request_info(response.request_info), ()),
        foreign_kwargs={
            "status": response.status,
            "message": response.reason or "",
            "headers": response.headers,
        },
    )


def _redacted_request_info(info: RequestInfo) -> RequestInfo:
    """A copy of aiohttp's `RequestInfo` without credentials in its URLs or headers.

    Every header goes through `redact_headers` (Authorization, cookies and API
    keys become ``***``, the scheme kept), both URLs through `redact_url`.
    """
    headers = CIMultiDictProxy(CIMultiDict(redact_headers(info.headers)))
    return type(info)(_redacted_url(info.url), info.method, headers, _redacted_url(info.real_url))


def _redacted_url(url: URL) -> URL:
    text = str(url)
    redacted = redact_url(text)
    return url if redacted == text else URL(redacted)


# -- attempts and their time limit ---------------------------------------------------


# -- aiohttp exceptions -> TransportFailure: the one table ---------------------------

#: aiohttp's exceptions -> whether the server may have acted on the request; the most
#: specific class of an exception wins. None: the `ClientTimeout.total` TimeoutError,
#: raised as it is and never retried. A bare OSError (a reset in the middle of a
#: send) is what aiohttp turns into a ClientOSError after the chain. A
#: ClientResponseError is a failure only when aiohttp's parser refused the head
#: (see `_failure`).
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

#: A response head aiohttp's parser refused (too many or too long header lines, a
#: NUL, a bad status line): what the other stacks report as a protocol error.
_MALFORMED = TransportFailure(sent=True, description="malformed response")


def _failure(exc: BaseException) -> TransportFailure | None:
    """The failure for `exc`; None for what is raised as it is, never retried.

    That is the `ClientTimeout.total` TimeoutError, and a `ClientResponseError`
    that is not aiohttp's "bad response head" (which it raises, with status 400,
    from the parser's `HttpProcessingError`, before any response exists): one an
    inner middleware raised for a real response.
    """
    if isinstance(exc, aiohttp.ClientResponseError):
        return _MALFORMED if isinstance(exc.__cause__, HttpProcessingError) else None
    return most_specific(_FAILURES, exc)


def _transport_error(result: Failed, attempts: int) -> BaseException:
    original = result.error
    if isinstance(original, aiohttp.ClientResponseError):
        return _malformed_error(result, original, attempts)
    aiohttp_own = isinstance(original, (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError))
    # A bare OSError is raised as what aiohttp would have raised for it.
    foreign = type(original) if aiohttp_own else aiohttp.ClientOSError
    return transport_error(result, attempts, foreign_cls=foreign)


def _malformed_error(
    result: Failed, original: aiohttp.ClientResponseError, attempts: int
) -> BaseException:
    """`APIConnectionError` that is also the `ClientResponseError` aiohttp raised.

    aiohttp's error holds the request's `RequestInfo`, every header included: the
    raised error gets a redacted copy, and so does the original, its cause.
    """
    request_info = _redacted_request_info(original.request_info)
    original.request_info = request_info
    original.args = (request_info, ())
    return transport_error(
        result,
        attempts,
        foreign_cls=aiohttp.ClientResponseError,
        foreign_args=(request_info, ()),
        foreign_kwargs={
            "status": original.status,
            "message": original.message,
            "headers": original.headers,
        },
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


def _left_to_aiohttp(final: Final[ClientResponse]) -> bool:
    """Whether aiohttp's own re-send after `final` goes out: errorkit did not retry.

    aiohttp alone re-sends a request whose kept-alive connection the server had
    closed, once, on a new connection. errorkit lets that re-send through when it
    made one attempt and stopped for a limit of its own (``max_attempts=1``, the
    budget), so errorkit never sends fewer requests than aiohttp alone would; once
    errorkit retried, `max_attempts` caps the total and the re-send is absorbed.
    """
    return final.attempts == 1 and final.decision.reason in _OWN_LIMITS


_OWN_LIMITS = frozenset({Reason.ATTEMPTS_EXHAUSTED, Reason.BUDGET_EXHAUSTED})


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

    A multipart body (`aiohttp.FormData` with a file, `MultipartWriter`) can be
    when every part can. A file can when it tells where it is and seeks: aiohttp
    notes that position (a partly read file goes out from there) and rewinds to it.
    """
    if type(body) is BytesPayload:
        return not body.consumed
    if isinstance(body, AsyncIterablePayload):
        return False  # an async iterator runs once; errorkit does not buffer it
    if isinstance(body, IOBasePayload):
        file = getattr(body, "_value", None)
        # Both calls may raise: a streaming tarfile member's seekable() asks a
        # tarfile._Stream, which has no such method.
        try:
            file.tell()  # type: ignore[union-attr]
            return bool(getattr(file, "seekable", lambda: True)())
        except (AttributeError, OSError, ValueError):
            return False
    if isinstance(body, MultipartWriter):
        return not body.consumed and all(_replayable(part) for part, _, _ in body)
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
    """The whole body when its Content-Length is at most `bound`, cached for the caller.

    At most ``bound + 1`` decoded bytes are read. A compressed body can decode to
    more than its length: then what was read is put back in the stream, so the
    caller still reads the whole body, and None is returned (the response is
    classified by its status and headers, as a long body is).
    """
    length = response.content_length
    if length is None or length > bound:
        return None
    try:
        body = await _read_upto(response.content, bound)
    except aiohttp.ClientError:
        response.close()
        return None  # the caller's own read() raises the same error
    if len(body) > bound:
        _put_back(response, body)
        return None
    # The state `await response.read()` leaves: later reads return the cache.
    response._body = body  # noqa: SLF001
    return body


async def _read_if_fits(response: ClientResponse, bound: int) -> bytes | None:
    """The body if it ends within `bound` decoded bytes, cached so that `read()` returns it.

    For ``raise_for_status=True``: a body that fits stays readable from the
    raised error's response; a longer one is closed (aiohttp's own
    ``raise_for_status()`` releases the response too), as is one that failed.
    """
    try:
        body = await _read_upto(response.content, bound)
    except aiohttp.ClientError:
        response.close()
        return None
    if len(body) > bound:
        response.close()
        return None
    response._body = body  # noqa: SLF001 - as in _read_small
    return body


async def _drain(response: ClientResponse, bound: int) -> None:
    """Read and drop at most `bound` + 1 decoded bytes of a body, or up to its end."""
    await _read_upto(response.content, bound)


async def _read_upto(content: StreamReader, bound: int) -> bytes:
    """The rest of `content` if it ends within `bound` decoded bytes, else its next `bound` + 1.

    Read in pieces of at most `_PIECE` bytes: ``read(n)`` lets aiohttp inflate
    up to n decoded bytes per step, and ``read()`` without a size lifts the limit.
    An empty piece is the end of the stream.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= bound:
        chunk = await content.read(min(_PIECE, bound + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _put_back(response: ClientResponse, data: bytes) -> None:
    """Return `data`, just read, to the head of the response's stream; else close it.

    `StreamReader.unread_data` is deprecated but kept through aiohttp 3.14; its
    warning is errorkit's business, not the caller's (the filter is process-wide,
    held for this one synchronous call). Should it go, the response is closed
    instead: its body is then lost to the caller, never half given. Only a
    compressed body that decodes past the bound comes here.
    """
    unread = getattr(response.content, "unread_data", None)
    if unread is None:  # pragma: no cover - every aiohttp errorkit supports has it
        response.close()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        unread(data)
