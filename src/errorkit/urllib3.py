"""errorkit for urllib3: `Retry`, a ``urllib3.util.Retry`` that follows a `RetryPolicy`.

    http = urllib3.PoolManager(retries=Retry(RetryPolicy(max_attempts=4)))
    r = http.request("GET", url)            # the final response, as urllib3 returns it
    info = errorkit.error_of(r)             # None for a success

It works wherever urllib3 takes a ``Retry``: ``PoolManager(retries=...)``, a
pool's or a call's ``urlopen(..., retries=...)``, and requests'
``HTTPAdapter(max_retries=...)``. urllib3 keeps its own loop (``urlopen`` asks
the ``Retry``, sleeps through it and recurses); every decision in it is made by
`RetryPolicy.decide`, the budget and errorkit's parser, exactly as in the other
adapters. How each urllib3 hook maps onto the policy:

- ``is_retry(method, status)`` sees no header, so it answers True for every
  status >= 400 (and counts every other response for the `RetryBudget`);
- ``increment(response=...)`` classifies the response (status, headers, and the
  body only when urllib3 already preloaded it) and asks the policy; it declines
  by raising ``MaxRetryError``, so urllib3 returns the response or raises;
- ``increment(error=...)`` maps urllib3's exception to a `TransportFailure` by
  one table (`_FAILURES`) and asks the policy;
- ``sleep()`` waits exactly the delay the policy decided, through errorkit's
  clock; ``get_backoff_time()`` reports it; ``Retry-After`` is read by errorkit's
  parser (seconds, HTTP-date, ``retry-after-ms``...), never by urllib3's, so a
  server cannot make a request wait past ``max_retry_after`` or the deadline.

Per-request state (attempt number, start time, the last decision) lives in a
frozen value that ``new()`` carries from one ``Retry`` to the next; the instance
you configure is never mutated, so one instance can serve every thread. Whether
the body can be re-sent and whether the request carries an idempotency key are
read afresh at each failure from the pending ``urlopen`` call. A discarded error
response whose unread body may exceed 64 KiB is closed rather than drained.

Edges, all documented on `Retry`: the deadline starts at the first callback,
bodies are inspected through urlopen's frame, idempotency keys come from the
caller (`request_headers`), and under requests the body is never read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    EmptyPoolError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util.retry import RequestHistory
from urllib3.util.retry import Retry as _Urllib3Retry

from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._clock import CLOCK
from errorkit._formats import MAX_BODY
from errorkit._loop import Failed, RequestFacts, record_request, step
from errorkit._parse import parse
from errorkit._policy import Decision, Reason, RetryPolicy, TransportFailure
from errorkit._stacks.exceptions import most_specific, status_error, transport_error
from errorkit._stacks.responses import body_of
from errorkit._stacks.urllib3_urlopen import UNKNOWN, request_facts

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from typing_extensions import Self
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

    from errorkit._info import ErrorInfo

__all__ = ["Retry", "request_headers"]

#: urllib3's own counting and waiting knobs: the policy replaces them. Each is
#: pinned to the value below (``new()`` passes them back); another value is refused
#: with the explanation beside it.
_ATTEMPTS = "the RetryPolicy counts attempts: use RetryPolicy(max_attempts=...)"
_HINTS = "server hints are capped by RetryPolicy(max_retry_after=...)"
_POLICY_OWNED: dict[str, tuple[object, str]] = {
    "total": (None, _ATTEMPTS),
    "connect": (None, _ATTEMPTS),
    "read": (None, _ATTEMPTS),
    "status": (None, _ATTEMPTS),
    "other": (None, _ATTEMPTS),
    "allowed_methods": (None, "method safety is judged per failure (see idempotency_key)"),
    "status_forcelist": (None, "errorkit's classification decides which statuses are retried"),
    "backoff_factor": (0, "use RetryPolicy(initial_delay=..., multiplier=...)"),
    "backoff_max": (_Urllib3Retry.DEFAULT_BACKOFF_MAX, "use RetryPolicy(max_delay=...)"),
    "backoff_jitter": (0.0, "use RetryPolicy(jitter=...)"),
    "respect_retry_after_header": (True, _HINTS),
    "retry_after_max": (_Urllib3Retry.DEFAULT_RETRY_AFTER_MAX, _HINTS),
}

#: urllib3's exceptions -> what errorkit knows about the failure; the most specific
#: class of an exception wins (NameResolutionError is a NewConnectionError, which is
#: a ConnectTimeoutError in urllib3 2).
_FAILURES: dict[type[BaseException], TransportFailure] = {
    SSLError: TransportFailure(sent=False, retryable=False, description="TLS handshake failed"),
    ProxyError: TransportFailure(sent=False, description="proxy connection failed"),
    NameResolutionError: TransportFailure(sent=False, description="name resolution failed"),
    NewConnectionError: TransportFailure(sent=False, description="connection refused"),
    ConnectTimeoutError: TransportFailure(sent=False, timeout=True, description="connect timeout"),
    ClosedPoolError: TransportFailure(sent=False, description="connection pool closed"),
    EmptyPoolError: TransportFailure(sent=False, description="no free pooled connection"),
    ReadTimeoutError: TransportFailure(sent=True, timeout=True, description="read timeout"),
    ProtocolError: TransportFailure(sent=True, description="connection lost before a response"),
}
_OTHER_FAILURE = TransportFailure(sent=True, description="request failed")

#: Where urllib3's own Retry re-raises a read error unwrapped instead of MaxRetryError.
_UNWRAPPED = frozenset({Reason.UNSAFE_METHOD, Reason.NOT_REPLAYABLE})


@dataclass(frozen=True, slots=True)
class _Hop:
    """One logical request's state, handed from `Retry` to `Retry` by ``new()``."""

    started: float  # CLOCK.monotonic() at the first callback
    attempts: int  # attempts made so far
    decision: Decision | None = None  # the last one: its delay is what sleep() waits


class Retry(_Urllib3Retry):
    """A urllib3 ``Retry`` whose every decision is made by a `RetryPolicy`.

    Args:
        policy: the `RetryPolicy` (default ``RetryPolicy()``).
        raise_on_status: what happens after the last attempt got an error status.
            False (the default, unlike urllib3's ``Retry``): urlopen returns that
            final response, body intact, and ``errorkit.error_of(r)`` classifies
            it. True: urlopen raises the errorkit status exception for it
            (``RateLimitError``...), which is also a ``MaxRetryError`` whose
            ``reason`` is a ``ResponseError``; under requests that arrives as a
            ``requests.exceptions.RetryError`` wrapping it. With True, every
            final error status raises, not just the ones retried.
        redirect: redirects urllib3 may follow in one ``urlopen`` (default 10;
            each hop starts its own attempts and deadline). ``raise_on_redirect``
            and ``remove_headers_on_redirect`` keep their urllib3 meaning.
        **retry_kwargs: the rest of urllib3's ``Retry`` arguments. Its counting
            and waiting knobs (``total``, ``connect``, ``read``, ``status``,
            ``other``, ``allowed_methods``, ``status_forcelist``, ``backoff_*``,
            ``respect_retry_after_header``, ``retry_after_max``) are the policy's
            job: passing one raises TypeError naming the policy setting to use.

    Transport failures: when the policy stops after a connection error, urlopen
    raises what urllib3's own ``Retry`` raises, so existing ``except`` clauses keep
    working: a ``MaxRetryError`` whose ``reason`` is urllib3's exception (it is
    also an ``errorkit.APIConnectionError``, or ``APITimeoutError`` for timeouts,
    with ``__cause__`` set to that exception); a read error (``ReadTimeoutError``,
    ``ProtocolError``) on a request that must not be repeated (method or body) is
    re-raised unwrapped, as urllib3 does for methods outside ``allowed_methods``.

    Edges:

    - **Deadline start.** urllib3 calls no hook before the first attempt, so the
      policy's ``deadline`` is measured from the first callback (the end of the
      first attempt); ``urlopen``'s ``timeout`` is not clipped to the deadline, so
      set a read timeout no longer than the deadline.
    - **Bodies.** urllib3 rewinds files itself but re-sends a spent generator as
      an empty body. The ``Retry`` reads the pending ``urlopen`` call's ``body``
      from its frame (see ``errorkit._stacks.urllib3_urlopen``): a generator or iterator
      already (partly) sent is never re-sent; the final outcome is returned or
      raised instead.
    - **Body hints.** A response body is read for classification only when
      urllib3 already preloaded it (``preload_content=True``, the default of
      ``PoolManager.request``). Under requests (``preload_content=False``)
      reading it would empty the caller's final body, so only the status and
      headers are classified there: mount ``errorkit.requests.RetryAdapter``
      for body hints (the seed's ``retryAfter``...) under requests.
    - **Idempotency keys.** A ``Retry`` cannot add headers. Build the request's
      headers with `request_headers` (which adds the key when the policy asks for
      one) or set the policy's ``idempotency_header`` yourself: the ``Retry``
      sees it and then allows retrying a POST that may have been processed.
    - **Redirects.** A ``Retry-After`` on a 3xx is never slept on.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        raise_on_status: bool = False,
        redirect: bool | int | None = 10,
        max_body: int = MAX_BODY,
        _errorkit_hop: _Hop | None = None,
        **retry_kwargs: Any,
    ) -> None:
        _check_owned(retry_kwargs)
        settings = {name: pinned for name, (pinned, _) in _POLICY_OWNED.items()}
        settings.update(retry_kwargs)
        super().__init__(raise_on_status=raise_on_status, redirect=redirect, **settings)  # type: ignore[arg-type]
        self.policy = check_policy(policy)
        self.max_body = check_max_body(max_body)
        self._hop = _errorkit_hop

    def new(self, **kw: Any) -> Self:
        """A copy with `kw` changed; the policy, `max_body` and the request's state go along."""
        kw.setdefault("policy", self.policy)
        kw.setdefault("max_body", self.max_body)
        kw.setdefault("_errorkit_hop", self._hop)
        return super().new(**kw)

    @property
    def attempts(self) -> int:
        """Attempts made so far in the current request (0 before any callback)."""
        return self._hop.attempts if self._hop is not None else 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(policy={self.policy!r}, attempts={self.attempts}, "
            f"redirect={self.redirect}, raise_on_status={self.raise_on_status})"
        )

    # -- the decision ---------------------------------------------------------------

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """True for every error status: `increment` decides with the headers in hand."""
        del method, has_retry_after  # urllib3's signature; both are judged in increment
        if status_code >= 400:
            return True
        if self._hop is None:
            record_request(self.policy)  # a first attempt that ends here
        return False

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        """The next ``Retry`` if the policy retries, else raise (see the class docstring)."""
        if error is None and response is not None and response.get_redirect_location():
            return self._follow(method, url, response, _pool, _stacktrace)
        hop = self._hop if self._hop is not None else self._first_hop()
        attempt = hop.attempts + 1
        outcome = _failure(error) if error is not None else self._classified(response)
        if outcome is None:  # a success handed to increment by hand: nothing to retry
            raise MaxRetryError(_pool, url or "", ResponseError("not an error response"))  # type: ignore[arg-type]
        request = _request(self.policy, method, _pool, url)
        elapsed = max(0.0, CLOCK.monotonic() - hop.started)
        decision = step(self.policy, request, outcome, attempt, elapsed)
        if not decision.retry:
            raise _give_up(decision, outcome, attempt, _pool, url, response, error)
        if response is not None:
            _release_if_large(response, self.max_body)
        status = response.status if response is not None else None
        history = (*self.history, RequestHistory(method, url, error, status, None))
        following_hop = replace(hop, attempts=attempt, decision=decision)
        return self.new(history=history, _errorkit_hop=following_hop)

    def _follow(
        self,
        method: str | None,
        url: str | None,
        response: BaseHTTPResponse,
        pool: ConnectionPool | None,
        stacktrace: TracebackType | None,
    ) -> Self:
        """A redirect is urllib3's to count; the next hop is a request of its own.

        Unless it would re-send a spent body: urllib3 would send it empty.
        """
        if not (request_facts() or UNKNOWN).replayable:
            reason = ResponseError("redirect not followed: the body cannot be re-sent")
            raise MaxRetryError(pool, url or "", reason)  # type: ignore[arg-type]
        following = super().increment(method, url, response, None, pool, stacktrace)
        return following.new(_errorkit_hop=None)

    def _first_hop(self) -> _Hop:
        record_request(self.policy)
        return _Hop(started=CLOCK.monotonic(), attempts=0)

    def _classified(self, response: BaseHTTPResponse | None) -> ErrorInfo | None:
        """The response's `ErrorInfo`, from a body urllib3 already read, never from the socket.

        Reading ``response.data`` here would empty the body requests reads later;
        `body_of` returns only a body urllib3 preloaded.
        """
        if response is None:
            return None
        return parse(response.status, response.headers, body_of(response), max_body=self.max_body)

    # -- the waits --------------------------------------------------------------------

    def get_backoff_time(self) -> float:
        """The delay the policy decided before the next attempt (0 before any)."""
        decision = self._hop.decision if self._hop is not None else None
        return decision.delay if decision is not None and decision.retry else 0.0

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:  # noqa: ARG002
        """Wait the decided delay through errorkit's clock; the response is not consulted."""
        delay = self.get_backoff_time()
        if delay > 0:
            CLOCK.sleep(delay)

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:  # noqa: ARG002
        """urllib3 calls this only before following a redirect: errorkit never waits there."""
        return False

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds a ``Retry-After`` value asks for, read by errorkit's parser.

        Raises ``InvalidHeader`` for a value that is neither seconds nor an
        HTTP-date, as urllib3 does. errorkit itself never sleeps on this: the
        policy turns the hint into a delay, capped by ``max_retry_after``.
        """
        info = parse(503, {"Retry-After": retry_after})
        if info is None or info.retry_after is None:
            raise InvalidHeader(f"Invalid Retry-After header: {retry_after}")
        return info.retry_after


def request_headers(
    policy: RetryPolicy, method: str, headers: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`headers` plus an idempotency key when `policy` asks for one for `method`.

    urllib3 gives a ``Retry`` no way to add a header, so the caller adds the key
    to the request itself; the ``Retry`` then sees it and may retry the request::

        headers = request_headers(policy, "POST", {"Content-Type": "application/json"})
        http.request("POST", url, body=payload, headers=headers)

    A key already present is kept; idempotent methods get none. Call it once per
    logical request: each call makes a new key.
    """
    result = dict(headers or {})
    add_idempotency_key(policy, method.upper(), result)
    return result


def _check_owned(kwargs: Mapping[str, Any]) -> None:
    for name, value in kwargs.items():
        if name not in _POLICY_OWNED:
            continue
        pinned, explanation = _POLICY_OWNED[name]
        if value == pinned or (name == "status_forcelist" and not value):
            continue
        raise TypeError(f"errorkit.urllib3.Retry takes no {name}={value!r}: {explanation}")


def _request(
    policy: RetryPolicy, method: str | None, pool: ConnectionPool | None, url: str | None
) -> RequestFacts:
    """The facts of the pending request, read afresh at every failure.

    A generator still whole after a refused connect is spent once an attempt has
    sent it, so whether the body can be re-sent is never remembered.
    """
    pending = request_facts() or UNKNOWN
    return RequestFacts(
        method=(method or "GET").upper(),
        url=_full_url(pool, url),
        replayable=pending.replayable,
        has_idempotency_key=policy.idempotency_header.lower() in pending.header_names,
    )


def _give_up(  # noqa: PLR0913, PLR0917 - what urllib3 handed to increment
    decision: Decision,
    outcome: ErrorInfo | TransportFailure,
    attempt: int,
    pool: ConnectionPool | None,
    url: str | None,
    response: BaseHTTPResponse | None,
    error: Exception | None,
) -> BaseException:
    """What urlopen raises when the policy stops (see the class docstring)."""
    if isinstance(outcome, TransportFailure):
        assert error is not None  # noqa: S101 - a TransportFailure comes from an error
        if decision.reason in _UNWRAPPED and isinstance(error, (ReadTimeoutError, ProtocolError)):
            return error
        failed = transport_error(
            Failed(error, outcome),
            attempt,
            foreign_cls=MaxRetryError,
            foreign_args=(pool, url or "", error),
        )
        failed.__cause__ = error
        return failed
    reason = ResponseError(f"{outcome.status} error response: {decision.detail}")
    exc = status_error(
        outcome, MaxRetryError, response=response, attempts=attempt,
        foreign_args=(pool, url or "", reason),
    )  # fmt: skip
    exc.__cause__ = reason
    return exc


def _release_if_large(response: BaseHTTPResponse, bound: int) -> None:
    """Drop the connection of a discarded response whose unread body may be large.

    urlopen drains a discarded response to reuse its connection, reading the whole
    body, however long. A body urllib3 did not preload is drained only when its
    Content-Length is within the bound; otherwise the response is closed, and its
    (closed) connection goes back to the pool to be replaced.
    """
    if body_of(response) is not None:
        return  # preloaded: already read, the connection is already back
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= bound:
        return
    response.close()
    response.release_conn()


def _failure(error: BaseException) -> TransportFailure:
    # Anything else urllib3 raised: assume the request may have left.
    return most_specific(_FAILURES, error) or _OTHER_FAILURE


def _full_url(pool: object, url: str | None) -> str:
    """An absolute URL for logs: urlopen passes only the path to its Retry."""
    target = url or ""
    if target.startswith("/") and pool is not None:
        scheme, host, port = (getattr(pool, name, None) for name in ("scheme", "host", "port"))
        if scheme and host:
            authority = f"[{host}]" if ":" in str(host) else str(host)
            return f"{scheme}://{authority}{f':{port}' if port else ''}{target}"
    return target
