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
    ReadTimeoutError,
)
from urllib3.util.retry import Retry as _Urllib3Retry

from errorkit._adapter import add_idempotency_key
from errorkit._clock import CLOCK
from errorkit._compat import build
from errorkit._exceptions import APIConnectionError, APITimeoutError, class_for
from errorkit._formats import MAX_BODY
from errorkit._loop import Failed, Final, Loop, Send, Sent, attempts, drive
from errorkit._parse import parse
from errorkit._policy import IDEMPOTENT_METHODS, RetryPolicy, TransportFailure

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
        max_body: bytes of an error body read for classification (64 KiB).
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
        self.policy = policy if policy is not None else RetryPolicy()
        self.raise_for_status = raise_for_status
        self.max_body = max_body

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
        """Send `request`, retrying by the policy; see `HTTPAdapter.send`.

        The first attempt is made here: a success is counted in the budget and
        returned at once; the retry loop is planned only after a failure.
        """
        policy = self.policy
        method = request.method or "GET"
        has_key = False
        if method not in IDEMPOTENT_METHODS:  # else no key is needed: decided without a call
            method = method.upper()
            has_key = add_idempotency_key(policy, method, request.headers)
        body = request.body
        start = None if body is None or type(body) is bytes else _body_start(body)
        started = CLOCK.monotonic()
        deadline = policy.deadline
        first: Sent[requests.Response] | Failed
        try:
            response = HTTPAdapter.send(
                self,
                request,
                stream,
                timeout if deadline is None else _clip(timeout, deadline),
                verify,
                cert,
                proxies,
            )
            if response.status_code < 400:
                if not stream:
                    _ = response.content  # body-phase errors surface here, inside the loop
                budget = policy.budget
                if budget is not None:
                    budget.record_request()
                return response
            first = Sent(response, self._inspect(response, stream))
        except _TRANSPORT_ERRORS as exc:
            first = Failed(exc, _failure(exc))

        def send_once(command: Send) -> Sent[requests.Response] | Failed:
            if isinstance(start, int):
                request.body.seek(start)  # type: ignore[union-attr]
            try:
                response = HTTPAdapter.send(
                    self,
                    request,
                    stream=stream,
                    timeout=_clip(timeout, command.timeout),
                    verify=verify,
                    cert=cert,
                    proxies=proxies,
                )
                return Sent(response, self._inspect(response, stream))
            except _TRANSPORT_ERRORS as exc:
                return Failed(exc, _failure(exc))

        loop: Loop[requests.Response] = attempts(
            policy,
            method=method.upper(),
            url=request.url or "",
            replayable=start is not _NOT_REPLAYABLE,
            has_idempotency_key=has_key,
            started=started,
        )
        loop.succeeded(first)  # counts the request in the budget: it is not a success
        return self._finish(drive(loop, send_once, _discard, first))

    def _inspect(self, response: requests.Response, stream: bool) -> ErrorInfo | None:
        if response.status_code < 400:
            if not stream:
                _ = response.content  # body-phase errors surface here, inside the loop
            return None
        body = response.content if not stream else _peek(response, self.max_body)
        info = parse(response.status_code, response.headers, body, max_body=self.max_body)
        response._errorkit_info = info  # type: ignore[attr-defined]  # noqa: SLF001
        return info

    def _finish(self, final: Final[requests.Response]) -> requests.Response:
        result = final.result
        if isinstance(result, Failed):
            raise _transport_error(result, final.attempts) from result.error
        info = result.info
        if info is not None and self.raise_for_status:
            cls = class_for(info.category, info.status)
            exc = build(
                cls,
                requests.HTTPError,
                info,
                response=result.response,
                attempts=final.attempts,
                foreign_args=(),
                foreign_kwargs={"response": result.response, "request": result.response.request},
            )
            raise exc
        return result.response


_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _failure(exc: BaseException) -> TransportFailure:  # noqa: PLR0911 - one from->to table
    reason = _reason(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return TransportFailure(sent=False, retryable=False, description="TLS handshake failed")
    if isinstance(exc, requests.ConnectTimeout) or (
        isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError)
    ):
        return TransportFailure(sent=False, timeout=True, description="connect timeout")
    if isinstance(reason, (NewConnectionError, NameResolutionError, ClosedPoolError)):
        return TransportFailure(sent=False, description="connection refused or unresolvable")
    if isinstance(exc, requests.exceptions.ProxyError):
        return TransportFailure(sent=False, description="proxy connection failed")
    if isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        return TransportFailure(sent=True, timeout=True, description="read timeout")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return TransportFailure(sent=True, description="response body cut short")
    return TransportFailure(sent=True, description="connection lost before a response")


def _reason(exc: BaseException) -> object:
    """The urllib3 error inside a requests exception (MaxRetryError.reason, or itself)."""
    inner = exc.args[0] if exc.args else None
    return getattr(inner, "reason", inner)


def _transport_error(result: Failed, attempts: int) -> BaseException:
    info = result.failure.info()
    cls = APITimeoutError if result.failure.timeout else APIConnectionError
    original = result.error
    return build(
        cls,
        type(original),
        info,
        response=None,
        attempts=attempts,
        foreign_args=original.args,
        foreign_kwargs={"request": getattr(original, "request", None)},
    )


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


def _clip(timeout: Any, remaining: float | None) -> Any:
    """Shrink requests' (connect, read) timeout to the time left before the deadline."""
    if remaining is None:
        return timeout
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


def _discard(response: requests.Response) -> None:
    """Release a response that will not be returned, so its connection is reused."""
    if not response._content_consumed:  # type: ignore[attr-defined]  # noqa: SLF001
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) <= MAX_BODY:
            with contextlib.suppress(requests.RequestException):
                _ = response.content  # small: read to EOF, the connection goes back to the pool
    response.close()
