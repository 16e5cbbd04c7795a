"""errorkit for requests: `RetryAdapter`, an `HTTPAdapter` to mount on a session.

    session = requests.Session()
    adapter = RetryAdapter(RetryPolicy(max_attempts=4))
    session.mount("https://", adapter)
    session.mount("http://", adapter)

Each hop of `Session.send` (a redirect calls it again) is one logical request
with its own attempts. With ``stream=False`` (requests' default) the body of a
2xx is received inside the loop, as it came over the wire, so a body cut short
is retried like any other transport failure; it is put back undecoded, and
requests decodes it where it would have (in `Session.send`, after the response
hooks ran and the cookies were stored), so a body that does not decode raises
requests' own `ContentDecodingError` exactly as without errorkit. A redirect's
body (3xx) is not touched: `Session.resolve_redirects` drains it, and tolerates
one that does not decode. ``r.elapsed`` (requests times `adapter.send`) spans
every attempt and wait of the hop, and with ``stream=False`` the 2xx body's
download too.

**What errorkit reads.** Of an error response, at most ``max_body + 1`` bytes as
they came over the wire, taken from below urllib3 (the http.client response it
reads from) and put back in front of the rest, so that urllib3 later reads and
decodes the body for the caller exactly as it would have without errorkit. The
classification decodes a throwaway copy of those bytes with
`errorkit._stacks.decoding.bounded_decode`, which never inflates more than
``max_body`` bytes. A response that is discarded for a retry is never decoded:
its connection is reused when the peek read the whole body, else closed. Only the
response returned to the caller is received whole, and only with ``stream=False``,
where requests itself would read it; errorkit never decodes it.

**The deadline.** Each attempt's timeouts are clipped to the time left; around
each of errorkit's own body reads (the peek of an error body, the body read for
the caller with ``stream=False``) `errorkit._stacks.deadline.cut_at` shuts the
socket down if the deadline passes, and the attempt ends as cut short
(`CUT_SHORT`): an `APITimeoutError` whose message names the deadline.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import sys
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    IncompleteRead,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.retry import Retry as _Urllib3Retry
from urllib3.util.timeout import Timeout

from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._exceptions import class_for
from errorkit._formats import MAX_BODY
from errorkit._gate import local_answer, used_up
from errorkit._hints import REMAINING_NAMES
from errorkit._loop import ErrorResponse, Failed, Final, drive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy, TransportFailure
from errorkit._stacks.deadline import CUT_SHORT, cut_at
from errorkit._stacks.decoding import bounded_decode
from errorkit._stacks.exceptions import build, most_specific, status_error, transport_error

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from errorkit._exceptions import APIConnectionError
    from errorkit._info import ErrorInfo

__all__ = ["RetryAdapter"]

T = TypeVar("T")

_NOT_REPLAYABLE = object()
#: Largest single read of a body from the http.client response.
_PIECE = 64 * 1024
# urllib3 must not retry on its own underneath: attempts would multiply.
_NO_URLLIB3_RETRIES = _Urllib3Retry(0, read=False)


class RetryAdapter(HTTPAdapter):
    """A requests transport adapter that classifies errors and retries by `policy`.

    With ``RetryPolicy(deadline=D)`` the call returns within about D seconds,
    whatever the server does: every timeout of an attempt is clipped to the time
    left, and errorkit's own body reads (an error body it classifies, a body it
    reads for the caller with ``stream=False``) are cut at the deadline. What the
    caller reads by itself from a ``stream=True`` response after errorkit returned
    it is the caller's business: each of those reads is bounded by the read
    timeout of the attempt (the caller's, clipped to the time that was left), the
    whole body by nothing errorkit sets.

    Args:
        policy: the `RetryPolicy` (default: `RetryPolicy()`).
        raise_for_status: raise the errorkit exception for an error response
            after the last attempt (it is also a `requests.HTTPError`); by
            default the final response is returned unchanged.
        max_body: an int >= 0, default 64 KiB: errorkit reads at most
            ``max_body + 1`` bytes of an error body as sent (compressed or not)
            and classifies it from at most `max_body` decoded bytes. Those bytes
            are put back, so the caller reads the whole body as requests gives
            it. A discarded response whose body fit is released for reuse, a
            longer one is closed.
        **kwargs: `HTTPAdapter`'s own (`pool_connections`, `pool_maxsize`,
            `pool_block`); `max_retries` is refused: the policy owns retries.
    """

    # requests pickles only __attrs__: errorkit's settings must be listed to survive.
    __attrs__ = [  # noqa: RUF012 - requests' own convention, typed as an instance variable
        *HTTPAdapter.__attrs__,
        "policy",
        "raise_for_status",
        "max_body",
    ]

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        raise_for_status: bool = False,
        max_body: int = MAX_BODY,
        **kwargs: Any,
    ) -> None:
        if "max_retries" in kwargs:
            raise TypeError("RetryAdapter takes no max_retries: set RetryPolicy(max_attempts=...)")
        super().__init__(max_retries=_NO_URLLIB3_RETRIES, **kwargs)
        self.policy = check_policy(policy)
        self.raise_for_status = raise_for_status
        self.max_body = check_max_body(max_body)

    def __repr__(self) -> str:
        return f"RetryAdapter(policy={self.policy!r}, raise_for_status={self.raise_for_status})"

    def send(  # noqa: PLR0913, PLR0917 - requests' own signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send `request`, retrying by the policy; see `HTTPAdapter.send`."""
        call = _Call(self, request, (stream, timeout, verify, cert, proxies))
        return drive(self.policy, call)


class _Call:
    """One hop of `Session.send`, as `drive()` runs it (see `errorkit._loop.Call`)."""

    __slots__ = (
        "adapter",
        "deadline_at",
        "has_idempotency_key",
        "request",
        "send_args",
        "start",
    )

    def __init__(
        self,
        adapter: RetryAdapter,
        request: requests.PreparedRequest,
        send_args: tuple[bool, Any, bool | str, Any, Mapping[str, str] | None],
    ) -> None:
        self.adapter = adapter
        self.request = request
        self.send_args = send_args
        method = request.method or "GET"
        # Keys are added before the first attempt; an idempotent method needs none.
        self.has_idempotency_key = method not in IDEMPOTENT_METHODS and add_idempotency_key(
            adapter.policy, method.upper(), request.headers
        )
        body = request.body
        # Where a file body starts, taken before it is first read.
        self.start = None if body is None or type(body) is bytes else _body_start(body)
        #: `time.monotonic()` at the policy's deadline, set by each attempt (None: no deadline).
        self.deadline_at: float | None = None

    @property
    def method(self) -> str:
        return (self.request.method or "GET").upper()

    @property
    def url(self) -> str:
        return self.request.url or ""

    @property
    def replayable(self) -> bool:
        return self.start is not _NOT_REPLAYABLE

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    def stop_resends(self, response: requests.Response, header: str) -> None:
        response.headers[header] = "false"

    def answer_locally(self, info: ErrorInfo, stop_header: str) -> requests.Response:
        status, headers, body = local_answer(info, stop_header)
        response = requests.Response()
        response.status_code = status
        response.reason = HTTPStatus(status).phrase
        response.headers = CaseInsensitiveDict(headers)
        response._content = body  # noqa: SLF001 - a response no socket carried
        response.encoding = "utf-8"
        response.url = self.url
        response.request = self.request
        return response

    def used_up(self, response: requests.Response) -> Mapping[str, str] | None:
        headers = response.headers
        # requests keys its headers' ``_store`` by the lower-case name: one set
        # operation tells that no remaining count is there (ten gets cost 3.5 us).
        store = getattr(headers, "_store", None)
        if isinstance(store, dict) and REMAINING_NAMES.isdisjoint(store):
            return None
        return headers if used_up(headers) else None

    def refuse(self, info: ErrorInfo) -> BaseException:
        return build(
            class_for(info.category, info.status),
            requests.ConnectionError,
            info,
            foreign_kwargs={"request": self.request},
        )

    def attempt(
        self,
        number: int,  # noqa: ARG002 - the Call protocol's: a failed attempt rewinds the body
        timeout: float | None,
    ) -> requests.Response | ErrorResponse[requests.Response] | Failed:
        """Send once; with ``stream=False`` a 2xx body is received here, so its errors are failures.

        A redirect (3xx) is returned at its headers. An error response's body is
        peeked (bounded, cut at the deadline) and classified; a peek that fails is
        the attempt's failure.
        """
        stream, user_timeout, verify, cert, proxies = self.send_args
        if timeout is not None:
            self.deadline_at = time.monotonic() + timeout
            user_timeout = _clip(user_timeout, timeout)
        try:
            response = HTTPAdapter.send(
                self.adapter, self.request, stream, user_timeout, verify, cert, proxies
            )
        except _TRANSPORT_ERRORS as exc:
            return self._rewound(Failed(exc, self._failure(exc)))
        if response.status_code < 400:
            if stream or response.status_code >= 300:
                return response
            read = self._read(response, _receive)
            return self._rewound(read) if isinstance(read, Failed) else response
        bound = self.adapter.max_body
        prefix = self._read(response, lambda r: _peek(r, bound))
        if isinstance(prefix, Failed):
            return self._rewound(prefix)
        body = bounded_decode(response.headers.get("content-encoding"), prefix, bound)
        info = parse(response.status_code, response.headers, body, max_body=bound)
        if info is None:  # pragma: no cover - parse() answers for every status >= 400
            raise AssertionError(response.status_code)
        response._errorkit_info = info  # type: ignore[attr-defined]  # noqa: SLF001
        return self._rewound(ErrorResponse(response, info))

    def discard(self, response: requests.Response) -> None:
        _discard(response)

    def finish(self, final: Final[requests.Response]) -> requests.Response:
        result = final.result
        if isinstance(result, Failed):
            raise _transport_error(result, final.attempts) from result.error
        response = result.response
        if not self.send_args[0]:
            # stream=False: requests reads the whole body for the caller; receive
            # it here, within the deadline (requests decodes it from memory).
            read = self._read(response, _receive)
            if isinstance(read, Failed):
                raise _transport_error(read, final.attempts) from read.error
        if not self.adapter.raise_for_status:
            return response
        raise status_error(
            result.info,
            requests.HTTPError,
            response=response,
            attempts=final.attempts,
            foreign_kwargs={"response": response, "request": response.request},
        )

    def _read(
        self, response: requests.Response, read: Callable[[requests.Response], T]
    ) -> T | Failed:
        """errorkit's own `read` of `response`'s body, cut at the deadline; `Failed` if it fails.

        A failed read closes the response: its connection is in an unknown state.
        Any other requests error (a body that does not decode) is raised as
        requests itself would raise it.
        """
        deadline_at = self.deadline_at
        if deadline_at is None:
            try:
                return read(response)
            except _TRANSPORT_ERRORS as exc:
                response.close()
                return Failed(exc, _failure(exc))
        error: requests.RequestException | None = None
        with cut_at(_socket_of(response.raw), deadline_at - time.monotonic()) as cut:
            try:
                value = read(response)
            except requests.RequestException as exc:
                error = exc
        if cut.fired:
            # Even without an error: a body delimited by the connection's close
            # ends early, and silently, when the socket is shut down.
            response.close()
            return Failed(self._cut_short(response, error), CUT_SHORT)
        if error is None:
            return value
        if not isinstance(error, _TRANSPORT_ERRORS):
            raise error
        response.close()
        return Failed(error, _failure(error))

    def _failure(self, exc: BaseException) -> TransportFailure:
        """`_failure(exc)`, except that a timeout that ended at the deadline is `CUT_SHORT`.

        The deadline is then what ended the attempt (its timeouts were clipped to
        it), and the message says so.
        """
        failure = _failure(exc)
        deadline_at = self.deadline_at
        if failure.timeout and deadline_at is not None and time.monotonic() >= deadline_at:
            return CUT_SHORT
        return failure

    def _cut_short(
        self, response: requests.Response, cause: BaseException | None
    ) -> requests.exceptions.ReadTimeout:
        """The stack's error for a body read the deadline ended (`cause`: what the read raised)."""
        exc = requests.exceptions.ReadTimeout(
            f"body read cut short at the policy deadline ({self.adapter.policy.deadline} s)",
            request=response.request,
        )
        exc.__cause__ = cause
        return exc

    def _rewound(self, result: T) -> T:
        """`result` of an attempt that did not succeed, once a file body is back at its start.

        Rewinding now, before the policy decides, means a body that cannot be
        rewound makes the request not replayable, so the caller gets this outcome
        rather than an error from the re-send.
        """
        start = self.start
        if isinstance(start, int) and not _rewind(self.request.body, start):
            self.start = _NOT_REPLAYABLE
        return result


def _receive(response: requests.Response) -> None:
    """Take the rest of `response`'s body off the wire, so that a body cut short is
    the attempt's failure; a read that fails raises what requests' ``.content`` raises.

    A body with no content coding cannot fail to decode: requests reads it here,
    as ``.content``, exactly as it would have later. A coded one is taken off
    undecoded and put back (`_peek`), so that requests decodes it where it would
    have, in `Session.send` after the hooks ran and the cookies were stored.
    """
    coding = response.headers.get("content-encoding")
    if coding is None or coding.strip().lower() in _UNCODED:
        response.content  # noqa: B018 - read and kept by requests for the caller
    else:
        _peek(response, sys.maxsize)


#: Content-Encoding values that mean no coding.
_UNCODED = frozenset({"", "identity"})


def _transport_error(failed: Failed, attempts: int) -> APIConnectionError:
    request = getattr(failed.error, "request", None)
    return transport_error(failed, attempts, foreign_kwargs={"request": request})


_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

#: requests' and urllib3's exceptions -> what the failure means. The urllib3 error a
#: requests exception wraps is looked up first: it says more (NewConnectionError is a
#: ConnectTimeoutError in urllib3 2, but a refusal, not a timeout).
_REFUSED = TransportFailure(sent=False, description="connection refused or unresolvable")
_FAILURES: dict[type[BaseException], TransportFailure] = {
    requests.exceptions.SSLError: TransportFailure(
        sent=False, retryable=False, description="TLS handshake failed"
    ),
    SSLError: TransportFailure(sent=False, retryable=False, description="TLS handshake failed"),
    requests.ConnectTimeout: TransportFailure(
        sent=False, timeout=True, description="connect timeout"
    ),
    ConnectTimeoutError: TransportFailure(sent=False, timeout=True, description="connect timeout"),
    NewConnectionError: _REFUSED,
    NameResolutionError: _REFUSED,
    ClosedPoolError: _REFUSED,
    requests.exceptions.ProxyError: TransportFailure(
        sent=False, description="proxy connection failed"
    ),
    ProxyError: TransportFailure(sent=False, description="proxy connection failed"),
    requests.ReadTimeout: TransportFailure(sent=True, timeout=True, description="read timeout"),
    ReadTimeoutError: TransportFailure(sent=True, timeout=True, description="read timeout"),
    requests.exceptions.ChunkedEncodingError: TransportFailure(
        sent=True, description="response body cut short"
    ),
}
_LOST = TransportFailure(sent=True, description="connection lost before a response")


def _failure(exc: BaseException) -> TransportFailure:
    """The core's view of a requests exception: its urllib3 cause first, then itself."""
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)  # MaxRetryError.reason, or the error itself
    if isinstance(reason, BaseException):
        found = most_specific(_FAILURES, reason)
        if found is not None:
            return found
    return most_specific(_FAILURES, exc) or _LOST


def _body_start(body: object) -> object:
    """None/int offset when `body` can be sent again; `_NOT_REPLAYABLE` otherwise.

    A file can be sent again when it can tell where it is and seek back there; one
    that says it is not `seekable()` (a pipe, a socket, an urllib3 response) cannot,
    even though it has a ``tell()``.
    """
    if body is None or isinstance(body, (bytes, str, bytearray)):
        return None
    seek, tell = getattr(body, "seek", None), getattr(body, "tell", None)
    if not (callable(seek) and callable(tell)):
        return _NOT_REPLAYABLE
    seekable = getattr(body, "seekable", None)
    try:
        if callable(seekable) and not seekable():
            return _NOT_REPLAYABLE
        return int(tell())
    except (OSError, ValueError, TypeError):
        return _NOT_REPLAYABLE


def _rewind(body: object, start: int) -> bool:
    """Seek `body` back to `start`; False when it cannot."""
    try:
        body.seek(start)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - whatever a file-like raises, it cannot be re-sent
        return False
    return True


def _clip(timeout: Any, remaining: float) -> Any:
    """Shrink requests' (connect, read) timeout to the time left before the deadline."""
    remaining = max(remaining, 0.001)
    if timeout is None:
        return (remaining, remaining)
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (_min(connect, remaining), _min(read, remaining))
    if isinstance(timeout, (int, float)):
        return min(timeout, remaining)
    if isinstance(timeout, Timeout):
        # Its `total` bounds connect and read together: a copy with a total that
        # ends at the deadline.
        clipped = timeout.clone()
        total = timeout.total
        clipped.total = min(total, remaining) if isinstance(total, (int, float)) else remaining
        return clipped
    return timeout  # not a timeout requests accepts: it raises its own error


def _min(value: float | None, remaining: float) -> float:
    return remaining if value is None else min(value, remaining)


# -- the bounded peek of an error body -------------------------------------------------


def _peek(response: requests.Response, bound: int) -> bytes:
    """Up to ``bound + 1`` bytes of the body as sent, put back for whoever reads it next.

    Read in pieces of at most `_PIECE` bytes (a huge `bound` allocates nothing),
    from what errorkit already put back first when it peeked before.

    They are read from the http.client response under urllib3 (``raw._fp``), so
    urllib3 has seen nothing: its byte count, decoder and errors are as if the
    body had not been touched. A failed read raises what requests raises for it
    from ``iter_content`` (`_read_error`). A response not read from a socket
    (another adapter's, a mock's) is classified by its status and headers alone.
    """
    raw = response.raw
    fp = getattr(raw, "_fp", None)
    if bound == 0 or fp is None or not callable(getattr(fp, "read", None)):
        return b""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= bound:
            piece = fp.read(min(_PIECE, bound + 1 - size))
            if not piece:
                _check_length(fp.inner if isinstance(fp, _Replayed) else fp, size)
                break
            chunks.append(piece)
            size += len(piece)
    except (http.client.HTTPException, OSError) as exc:
        raise _read_error(exc, response) from exc
    prefix = b"".join(chunks)
    replayed = _Replayed(fp, prefix)
    raw._fp = replayed  # noqa: SLF001 - urllib3 reads the body from there
    if replayed.received:
        # Nothing is left on the wire: the connection goes back to the pool now, as
        # urllib3 would release it on reading the end (it will not see that end).
        raw.release_conn()
    return prefix


def _check_length(fp: Any, got: int) -> None:
    """Raise, as urllib3 does, for a body that ended before its Content-Length.

    http.client's ``read(amt)`` returns what came, then b"", and leaves its
    ``length`` at the count still missing.
    """
    missing = getattr(fp, "length", None)
    if isinstance(missing, int) and missing > 0:
        raise IncompleteRead(got, missing)


def _read_error(exc: BaseException, response: requests.Response) -> requests.RequestException:
    """What requests raises for a body read that failed with `exc`.

    urllib3 turns a socket timeout into `ReadTimeoutError`, an SSL error into
    `SSLError` and any other into `ProtocolError`; requests' ``iter_content``
    turns those into `ConnectionError`, `requests.exceptions.SSLError` and
    `ChunkedEncodingError`. The same here, so a peek fails like ``.content``.
    """
    request = response.request
    pool: Any = getattr(response.raw, "_pool", None)  # named in the message, as urllib3 does
    if isinstance(exc, TimeoutError):
        return requests.ConnectionError(
            ReadTimeoutError(pool, None, "Read timed out."), request=request
        )
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(SSLError(exc), request=request)
    return requests.exceptions.ChunkedEncodingError(
        ProtocolError(f"Connection broken: {exc!r}", exc), request=request
    )


class _Replayed:
    """The http.client response under a urllib3 one, with the bytes errorkit peeked put back.

    urllib3 reads a body through ``raw._fp``; this stands in for it and gives the
    peeked bytes first, then the rest from the real one, so urllib3 counts,
    decodes (or not) and raises for the caller exactly as it would have. It has
    no ``fp`` attribute on purpose: urllib3 then reads a chunked body through
    ``read()``, where http.client undoes the chunking, instead of parsing chunks
    itself from the middle of one. (So urllib3's ``read_chunked()``, which needs
    that attribute, is not available on a peeked response; ``read()``,
    ``stream()`` and requests' ``iter_content()`` are.)
    """

    __slots__ = ("_closed", "_offset", "_prefix", "inner")

    def __init__(self, inner: Any, prefix: bytes) -> None:
        self.inner = inner
        self._prefix = memoryview(prefix)
        self._offset = 0
        self._closed = False

    @property
    def received(self) -> bool:
        """Whether the whole body has come off the socket (into the prefix or already read)."""
        return self._closed or _is_closed(self.inner)

    def _left(self) -> int:
        return len(self._prefix) - self._offset

    def _take(self, amt: int | None) -> bytes:
        left = self._left()
        if left <= 0:
            return b""
        count = left if amt is None or amt < 0 else min(amt, left)
        head = bytes(self._prefix[self._offset : self._offset + count])
        self._offset += count
        if self._offset == len(self._prefix):  # all given back: free the copy
            self._prefix, self._offset = memoryview(b""), 0
        return head

    def read(self, amt: int | None = None) -> bytes:
        head = self._take(amt)
        if amt is None or amt < 0:
            rest: bytes = self.inner.read()
            return head + rest if head else rest
        if len(head) < amt:
            more: bytes = self.inner.read(amt - len(head))
            return head + more if head else more
        return head

    def read1(self, amt: int = -1) -> bytes:
        if self._left():
            return self._take(amt)
        data: bytes = self.inner.read1(amt)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def isclosed(self) -> bool:
        return not self._left() and self.received

    @property
    def closed(self) -> bool:
        return not self._left() and (self._closed or bool(getattr(self.inner, "closed", False)))

    def close(self) -> None:
        self._prefix = memoryview(b"")
        self._offset = 0
        self._closed = True
        self.inner.close()

    def fileno(self) -> int:
        number: int = self.inner.fileno()
        return number

    def flush(self) -> None:
        flush = getattr(self.inner, "flush", None)
        if callable(flush):
            flush()


def _is_closed(fp: Any) -> bool:
    """Whether http.client is done with `fp`: its body read to the end, or it was closed."""
    isclosed = getattr(fp, "isclosed", None)
    if callable(isclosed):
        return bool(isclosed())
    return bool(getattr(fp, "closed", False))


def _socket_of(raw: Any) -> socket.socket | None:
    """The socket a urllib3 response still reads from, for `cut_at`; None if none.

    The connection urllib3 holds while the body is unread is the first place
    (``raw._connection.sock``); then the socket file http.client reads from
    (``raw._fp.fp``: a buffered reader over a ``socket.SocketIO``). None when the
    peek already received the whole body, or for a response not read from a
    socket: nothing is then cut, and each read stays bounded by its timeout.
    """
    fp = getattr(raw, "_fp", None)
    if isinstance(fp, _Replayed):
        if fp.received:
            return None
        fp = fp.inner
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if not isinstance(sock, socket.socket):
        sock = getattr(getattr(getattr(fp, "fp", None), "raw", None), "_sock", None)
    if not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # urllib3's SSLTransport (TLS in TLS)
    return sock if isinstance(sock, socket.socket) else None


def _discard(response: requests.Response) -> None:
    """Release a response that will not be returned, without decoding a byte of it.

    When errorkit's peek received the whole body, its connection is already back
    in the pool (`_peek`) and stays there; otherwise closing the response closes
    the connection: reading on would cost time, and a compressed body is never
    worth inflating to throw away.
    """
    response.close()
