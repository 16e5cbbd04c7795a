"""errorkit for requests: `RetryAdapter`, an `HTTPAdapter` to mount on a session.

    session = requests.Session()
    adapter = RetryAdapter(RetryPolicy(max_attempts=4))
    session.mount("https://", adapter)
    session.mount("http://", adapter)

Each hop of `Session.send` (a redirect calls it again) is one logical request
with its own attempts. With ``stream=False`` (requests' default) the body is read
inside the loop, so a body cut short is retried like any other transport failure.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.retry import Retry as _Urllib3Retry

from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._formats import MAX_BODY
from errorkit._loop import ErrorResponse, Failed, Final, drive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy, TransportFailure
from errorkit._stacks.exceptions import most_specific, status_error, transport_error

if TYPE_CHECKING:
    from collections.abc import Mapping

    from errorkit._info import ErrorInfo

__all__ = ["RetryAdapter"]

_NOT_REPLAYABLE = object()
# urllib3 must not retry on its own underneath: attempts would multiply.
_NO_URLLIB3_RETRIES = _Urllib3Retry(0, read=False)


class RetryAdapter(HTTPAdapter):
    """A requests transport adapter that classifies errors and retries by `policy`.

    Args:
        policy: the `RetryPolicy` (default: `RetryPolicy()`).
        raise_for_status: raise the errorkit exception for an error response
            after the last attempt (it is also a `requests.HTTPError`); by
            default the final response is returned unchanged.
        max_body: bytes of an error body read for classification, and the
            largest unread body drained (rather than closed) when a response is
            discarded; an int >= 0, default 64 KiB.
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

    __slots__ = ("adapter", "has_idempotency_key", "request", "send_args", "start")

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

    @property
    def method(self) -> str:
        return (self.request.method or "GET").upper()

    @property
    def url(self) -> str:
        return self.request.url or ""

    @property
    def replayable(self) -> bool:
        return self.start is not _NOT_REPLAYABLE

    def attempt(
        self, number: int, timeout: float | None
    ) -> requests.Response | ErrorResponse[requests.Response] | Failed:
        """Send once; with ``stream=False`` the body is read here, so its errors are failures."""
        request, start = self.request, self.start
        if number > 1 and isinstance(start, int):
            request.body.seek(start)  # type: ignore[union-attr]
        stream, user_timeout, verify, cert, proxies = self.send_args
        if timeout is not None:
            user_timeout = _clip(user_timeout, timeout)
        try:
            response = HTTPAdapter.send(
                self.adapter, request, stream, user_timeout, verify, cert, proxies
            )
            if response.status_code < 400:
                if not stream:
                    _ = response.content
                return response
            return ErrorResponse(response, self._inspect(response, stream))
        except _TRANSPORT_ERRORS as exc:
            return Failed(exc, _failure(exc))

    def _inspect(self, response: requests.Response, stream: bool) -> ErrorInfo:
        bound = self.adapter.max_body
        body = _peek(response, bound) if stream else response.content
        info = parse(response.status_code, response.headers, body, max_body=bound)
        if info is None:  # pragma: no cover - parse() answers for every status >= 400
            raise AssertionError(response.status_code)
        response._errorkit_info = info  # type: ignore[attr-defined]  # noqa: SLF001
        return info

    def discard(self, response: requests.Response) -> None:
        _discard(response, self.adapter.max_body)

    def finish(self, final: Final[requests.Response]) -> requests.Response:
        result = final.result
        if isinstance(result, Failed):
            error = result.error
            request = getattr(error, "request", None)
            raise transport_error(
                result, final.attempts, foreign_kwargs={"request": request}
            ) from error
        response = result.response
        if not self.adapter.raise_for_status:
            return response
        raise status_error(
            result.info,
            requests.HTTPError,
            response=response,
            attempts=final.attempts,
            foreign_kwargs={"response": response, "request": response.request},
        )


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
    """None/int offset when `body` can be sent again; `_NOT_REPLAYABLE` otherwise."""
    if body is None or isinstance(body, (bytes, str, bytearray)):
        return None
    seek, tell = getattr(body, "seek", None), getattr(body, "tell", None)
    if callable(seek) and callable(tell):
        try:
            return int(tell())
        except (OSError, ValueError):
            return _NOT_REPLAYABLE
    return _NOT_REPLAYABLE


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
    return timeout  # a urllib3 Timeout object: left as the caller built it


def _min(value: float | None, remaining: float) -> float:
    return remaining if value is None else min(value, remaining)


def _peek(response: requests.Response, bound: int) -> bytes:
    """Read at most `bound` decoded bytes of a streamed body, leaving it whole for the caller."""
    raw = response.raw
    data: bytes = raw.read(bound + 1, decode_content=True) or b""
    if len(data) <= bound:
        response._content = data  # noqa: SLF001 - the state `.content` itself leaves
        response._content_consumed = True  # type: ignore[attr-defined]  # noqa: SLF001
    else:
        response.raw = _PrefixedRaw(raw, data)
    return data[:bound]


class _PrefixedRaw:
    """A urllib3 response whose first bytes were already pulled: they come first again."""

    def __init__(self, raw: Any, prefix: bytes) -> None:
        self._raw = raw
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        head, self._prefix = self._prefix, b""
        if amt is None:
            return head + (self._raw.read(None, *args, **kwargs) or b"")
        if head:
            self._prefix = head[amt:]
            return head[:amt]
        data: bytes = self._raw.read(amt, *args, **kwargs) or b""
        return data

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Any:
        if self._prefix:
            head, self._prefix = self._prefix, b""
            yield head
        # read(), not stream(): urllib3's stream() parses chunked framing itself and
        # would start mid-chunk after the peek's read().
        while data := self._raw.read(amt, decode_content=decode_content):
            yield data


def _discard(response: requests.Response, bound: int) -> None:
    """Release a response that will not be returned, so its connection is reused."""
    if not response._content_consumed:  # type: ignore[attr-defined]  # noqa: SLF001
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) <= bound:
            with contextlib.suppress(requests.RequestException):
                _ = response.content  # small: read to EOF, the connection goes back to the pool
    response.close()
