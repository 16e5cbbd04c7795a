"""errorkit for urllib3: `Retry`, which follows a `RetryPolicy`, and `PoolManager`.

    http = PoolManager(RetryPolicy(max_attempts=4, deadline=30))
    r = http.request("GET", url)            # the final response, as urllib3 returns it
    info = errorkit.error_of(r)             # None for a success

`PoolManager` is a ``urllib3.PoolManager`` whose retries are a `Retry` for the
policy and whose pools hold the policy's ``deadline`` from the first send: each
attempt's connect and read timeouts are clipped to the time left, and the reads
urllib3 makes for the response (its head, and the body it preloads with
``preload_content=True``) are cut when the deadline passes (see
`errorkit._stacks.deadline`). The outcome past the deadline is an
`APITimeoutError` naming it.

`Retry` alone works wherever urllib3 takes a ``Retry``: ``urllib3.PoolManager(
retries=...)``, a pool's or a call's ``urlopen(..., retries=...)``, and
requests' ``HTTPAdapter(max_retries=...)``; its deadline then counts from the
first callback (see `Retry`). urllib3 keeps its own loop (``urlopen`` asks the
``Retry``, sleeps through it and recurses); every decision in it is made by
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
response is released at once: a preloaded body is dropped before the next
attempt preloads its own (so a retried decompression bomb costs what one costs
bare urllib3), and an unread body that may exceed 64 KiB, or any unread body
under a deadline, is closed rather than drained.

Edges, all documented on `Retry`: the deadline of `Retry` alone starts at the
first callback, bodies are inspected through urlopen's frame, idempotency keys
come from the caller (`request_headers`), and under requests the body is never
read.
"""

from __future__ import annotations

import copy
import socket
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from urllib3._collections import HTTPHeaderDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
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
from urllib3.poolmanager import PoolManager as _Urllib3PoolManager
from urllib3.response import HTTPResponse
from urllib3.util.retry import RequestHistory
from urllib3.util.retry import Retry as _Urllib3Retry
from urllib3.util.timeout import Timeout

from errorkit import _observe
from errorkit._adapter import add_idempotency_key, check_max_body, check_policy
from errorkit._clock import CLOCK
from errorkit._exceptions import RateLimitError
from errorkit._formats import MAX_BODY
from errorkit._gate import refusal, used_up
from errorkit._hints import REMAINING_NAMES
from errorkit._loop import REWAITS, Failed, RequestFacts, record_request, step
from errorkit._parse import parse
from errorkit._policy import Decision, Reason, RetryPolicy, TransportFailure
from errorkit._redact import scrub_exception
from errorkit._stacks.deadline import CUT_SHORT, cut_at
from errorkit._stacks.exceptions import build, most_specific, status_error, transport_error
from errorkit._stacks.responses import body_of
from errorkit._stacks.urllib3_urlopen import UNKNOWN, request_facts

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from typing_extensions import Self
    from urllib3._base_connection import _TYPE_BODY, BaseHTTPConnection
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse
    from urllib3.util.request import _TYPE_BODY_POSITION
    from urllib3.util.timeout import _TYPE_TIMEOUT

    from errorkit._info import ErrorInfo

__all__ = ["PoolManager", "Retry", "request_headers"]

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


class _CutAtDeadline(ReadTimeoutError):  # noqa: N818 - named like the urllib3 error it is
    """An attempt that errorkit's `PoolManager` ended at the policy deadline.

    A ``ReadTimeoutError``, so urllib3 handles it as one and ``except`` clauses
    written for urllib3 catch it; errorkit classifies it as ``CUT_SHORT``.
    """


#: urllib3's exceptions -> what errorkit knows about the failure; the most specific
#: class of an exception wins (NameResolutionError is a NewConnectionError, which is
#: a ConnectTimeoutError in urllib3 2).
_FAILURES: dict[type[BaseException], TransportFailure] = {
    _CutAtDeadline: CUT_SHORT,
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

#: A timeout this close to the deadline (s) is the deadline's: the clipped timeout ran out.
_DEADLINE_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class _Hop:
    """One logical request's state, handed from `Retry` to `Retry` by ``new()``."""

    # CLOCK.monotonic() when the request began: its first send under errorkit's
    # PoolManager with a deadline (`bounded`), else the first callback.
    started: float
    attempts: int  # attempts made so far
    decision: Decision | None = None  # the last one: its delay is what sleep() waits
    bounded: bool = False  # every attempt is clipped and cut at the deadline (PoolManager)


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
        redirect: redirects urllib3 may follow in one ``urlopen`` (default 3, as
            urllib3's default ``Retry(3)`` allows; each hop starts its own
            attempts). ``raise_on_redirect``
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
    re-raised unwrapped, as urllib3 does for methods outside ``allowed_methods``
    (its credentials scrubbed, like every exception errorkit raises). An attempt
    cut at the deadline always ends in the ``APITimeoutError`` / ``MaxRetryError``.

    Edges:

    - **Deadline start.** urllib3 calls no hook before the first attempt, so a
      ``Retry`` used alone measures the policy's ``deadline`` from the first
      callback (the end of the first attempt), and ``urlopen``'s ``timeout`` is
      not clipped to it. Use errorkit's `PoolManager` for a deadline that bounds
      the whole call from the first send (timeouts clipped, reads cut at the
      deadline); alone, set a read timeout no longer than the deadline. Either
      way no wait runs past the deadline, and under a deadline a discarded
      response whose body urllib3 did not preload is closed, not drained.
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
    - **Redirects.** As with urllib3's default ``Retry(3)``, at most 3 are
      followed (``redirect=``). A ``Retry-After`` on a 3xx is waited where
      urllib3 waits it (a pool's ``urlopen``; a ``PoolManager`` follows
      redirects without waiting), unless it is longer than ``max_retry_after``
      (then the redirect is followed at once), and never past the deadline. Each hop
      starts its own attempts; under errorkit's `PoolManager` the deadline keeps
      counting from the first send, alone each hop starts its own deadline.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        raise_on_status: bool = False,
        redirect: bool | int | None = 3,
        max_body: int = MAX_BODY,
        _errorkit_hop: _Hop | None = None,
        **retry_kwargs: Any,
    ) -> None:
        _check_owned(retry_kwargs)
        settings = {name: pinned for name, (pinned, _) in _POLICY_OWNED.items()}
        settings.update(retry_kwargs)
        super().__init__(raise_on_status=raise_on_status, redirect=redirect, **settings)  # type: ignore[arg-type]
        self.policy = check_policy(policy)
        if self.policy.throttle is not None:
            raise TypeError(
                "errorkit.urllib3 does not run an AdaptiveThrottle yet: urllib3 calls its "
                "Retry for failures only, so successes could not be counted; use "
                "RetryPolicy(throttle=None) here"
            )
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
        outcome = self._failure(error) if error is not None else self._classified(response)
        if error is not None and _observe.OBSERVER is not None:
            _observe.OBSERVER.failed(error)
        if outcome is None:  # a success handed to increment by hand: nothing to retry
            reason = ResponseError("not an error response")
            raise _scrubbed(MaxRetryError(_pool, url or "", reason))  # type: ignore[arg-type]
        request = _request(self.policy, method, _pool, url)
        elapsed = max(0.0, CLOCK.monotonic() - hop.started)
        decision = step(self.policy, request, outcome, attempt, elapsed)
        if not decision.retry:
            raise self._give_up(decision, outcome, attempt, _pool, url, response, error)
        if response is not None:
            _discard(response, self.max_body, under_deadline=self.policy.deadline is not None)
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

        Unless it would re-send a spent body: urllib3 would send it empty (or from
        where a file was left). A file whose ``tell()`` failed is urllib3's to
        refuse: it raises its own ``UnrewindableBodyError``, as without errorkit.
        """
        if _observe.OBSERVER is not None:
            _observe.OBSERVER.redirected(response.status)
        facts = request_facts() or UNKNOWN
        if not facts.replayable and not facts.unrewindable_file:
            reason = ResponseError("redirect not followed: the body cannot be re-sent")
            raise _scrubbed(MaxRetryError(pool, url or "", reason))  # type: ignore[arg-type]
        try:
            following = super().increment(method, url, response, None, pool, stacktrace)
        except MaxRetryError as exc:  # redirects used up: urllib3's error, with the URL
            raise _scrubbed(exc) from exc.reason
        hop = self._hop
        if hop is None or not hop.bounded:
            return following.new(_errorkit_hop=None)
        # A request of its own (for the budget too), but the deadline still counts
        # from the first send.
        record_request(self.policy)
        return following.new(_errorkit_hop=_Hop(started=hop.started, attempts=0, bounded=True))

    def _first_hop(self, *, bounded: bool = False) -> _Hop:
        record_request(self.policy)
        return _Hop(started=CLOCK.monotonic(), attempts=0, bounded=bounded)

    def _failure(self, error: BaseException) -> TransportFailure:
        """What urllib3's `error` tells the policy (`_FAILURES`).

        Under errorkit's `PoolManager` a timeout that ran out at the deadline is
        the deadline's (the pool clipped it to the time left): ``CUT_SHORT``.
        """
        failure = _failure(error)
        if failure.timeout and self._hop is not None and self._hop.bounded:
            left = self._time_left()
            if left is not None and left <= _DEADLINE_TOLERANCE:
                return CUT_SHORT
        return failure

    def _give_up(  # noqa: PLR0913, PLR0917 - what urllib3 handed to increment
        self,
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
            if outcome is CUT_SHORT:
                outcome = _at_deadline(CUT_SHORT, self.policy.deadline)
            elif decision.reason in _UNWRAPPED and isinstance(
                error, (ReadTimeoutError, ProtocolError)
            ):
                return _scrubbed(error)
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

    # -- the deadline under errorkit's PoolManager ---------------------------------

    def _from_first_send(self) -> Self:
        """This ``Retry``, its request's start stamped now if it was not yet.

        errorkit's pools call it before each attempt's send: the first one starts
        the deadline (and counts the request for the budget). A shallow copy with
        only the request's state set, on every request: ``new()`` would check
        every setting again, which costs four times as much.
        """
        if self._hop is not None:
            return self
        stamped = copy.copy(self)
        stamped._hop = self._first_hop(bounded=True)  # noqa: SLF001 - a copy of self
        return stamped

    def _until(self) -> float | None:
        """The ``CLOCK.monotonic()`` time the deadline passes; None without one or a start."""
        deadline = self.policy.deadline
        if deadline is None or self._hop is None:
            return None
        return self._hop.started + deadline

    def _time_left(self) -> float | None:
        """Seconds left before the deadline (negative once past); None without one."""
        until = self._until()
        return None if until is None else until - CLOCK.monotonic()

    def _out_of_time(self, pool: ConnectionPool, url: str) -> BaseException:
        """What urlopen raises instead of sending an attempt when no time is left.

        The request is not sent (so this is no attempt); the error is the one an
        attempt cut at the deadline ends in: an `APITimeoutError` that is also a
        ``MaxRetryError`` whose ``reason`` is a ``ReadTimeoutError``.
        """
        unsent = TransportFailure(
            sent=False, timeout=True, description="no time left before the policy deadline"
        )
        failure = _at_deadline(unsent, self.policy.deadline)
        error = _CutAtDeadline(pool, url, failure.description)
        exc = transport_error(
            Failed(error, failure),
            max(1, self.attempts),
            foreign_cls=MaxRetryError,
            foreign_args=(pool, url, error),
        )
        exc.__cause__ = error
        return exc

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
        """Wait the decided delay through errorkit's clock, never past the deadline.

        The response is not consulted.
        """
        delay = self.get_backoff_time()
        left = self._time_left()
        if left is not None:
            delay = min(delay, left)
        if delay > 0:
            CLOCK.sleep(delay)

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        """Before following a redirect, wait its ``Retry-After``, as urllib3 does, within bounds.

        urllib3 calls this only for a redirect. The wait is read by errorkit's
        parser; one longer than the policy's ``max_retry_after`` is not waited
        (the redirect is followed at once: a server cannot make the client sleep
        past the policy's bounds), and none runs past the deadline. True when it
        waited.
        """
        value = response.headers.get("Retry-After")
        info = parse(503, {"Retry-After": value}) if value else None
        seconds = info.retry_after if info is not None else None
        if not seconds or seconds > self.policy.max_retry_after:
            return False
        left = self._time_left()
        if left is not None:
            seconds = min(seconds, left)
        if seconds <= 0:
            return False
        CLOCK.sleep(seconds)
        return True

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


class PoolManager(_Urllib3PoolManager):
    """A ``urllib3.PoolManager`` that retries by a `RetryPolicy` and holds its deadline.

    ::

        http = PoolManager(RetryPolicy(max_attempts=4, deadline=10.0))
        r = http.request("GET", url)    # within 10 s, whatever the server does

    Its retries are ``Retry(policy, raise_on_status=..., max_body=...)``, so
    responses and exceptions are exactly those of `Retry`. What it adds is the
    policy's ``deadline`` counted from the first send: before each attempt
    its pools clip the connect and read timeouts (and the wait for a pooled
    connection) to the time left, and while urllib3 reads the response (the
    status line and headers, and the whole body with ``preload_content=True``,
    the default of ``request()``) a watchdog shuts the socket down when the
    deadline passes (``errorkit._stacks.deadline.cut_at``). A silent server, a
    head then a stall or a body dripped byte by byte all end at the deadline,
    in an `APITimeoutError` naming it (also a ``MaxRetryError`` whose
    ``reason`` is a ``ReadTimeoutError``). Redirects followed by the manager
    count against the same deadline. Without a deadline it is a plain
    ``urllib3.PoolManager`` with ``retries=Retry(policy)``.

    Not bounded: the body of a response returned with ``preload_content=False``,
    which the caller reads after urlopen returns (the caller's own reads, under
    urllib3's read timeout); the time urllib3 spends decoding a compressed body
    it preloads (CPU, not the socket: a body that inflates to gigabytes takes
    seconds, as with bare urllib3).

    Args:
        policy: the `RetryPolicy` (default ``RetryPolicy()``).
        raise_on_status: as on `Retry`: False returns the final error response,
            True raises errorkit's status exception for it.
        max_body: the most bytes of a preloaded error body that are parsed, as
            on `Retry`.
        num_pools, headers, **connection_pool_kw: urllib3's ``PoolManager``
            arguments (``maxsize``, ``block``, ``timeout``, TLS options...).
            ``retries`` is made from the policy, so passing it is a TypeError;
            a call's ``request(..., retries=Retry(other_policy))`` is held to
            that policy's deadline, and ``retries=False`` or an int gets
            urllib3's own behaviour.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        raise_on_status: bool = False,
        max_body: int = MAX_BODY,
        num_pools: int = 10,
        headers: Mapping[str, str] | None = None,
        **connection_pool_kw: Any,
    ) -> None:
        if "retries" in connection_pool_kw:
            raise TypeError(
                "errorkit.urllib3.PoolManager takes no retries=: it makes them from the "
                "policy (pass policy=RetryPolicy(...)); a call may still pass retries=..."
            )
        retries = Retry(policy, raise_on_status=raise_on_status, max_body=max_body)
        super().__init__(num_pools, headers, retries=retries, **connection_pool_kw)
        self.pool_classes_by_scheme = {"http": _DeadlinePool, "https": _DeadlineHTTPSPool}
        self._errorkit_retries = retries

    @property
    def retries(self) -> Retry:
        """The `Retry` every request uses unless a call passes its own."""
        return self._errorkit_retries

    @property
    def policy(self) -> RetryPolicy:
        """The policy of `retries` (for `request_headers`)."""
        return self._errorkit_retries.policy


class _DeadlineConnection(HTTPConnection):
    """An ``HTTPConnection`` whose response is read within the attempt's deadline."""

    #: ``CLOCK.monotonic()`` time the pending attempt's deadline passes: set by the
    #: pool for one attempt, consumed by `getresponse`.
    errorkit_until: float | None = None

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # urllib3's own type
        """urllib3's response, read (head, and the body it preloads) before the deadline.

        When the watchdog shuts the socket down, the read fails (or a body
        without a length ends early) and `_Cut` is raised instead.
        """
        until, self.errorkit_until = self.errorkit_until, None
        if until is None:
            return super().getresponse()
        sock = self.sock if isinstance(self.sock, socket.socket) else None
        with cut_at(sock, until - CLOCK.monotonic()) as cut:
            try:
                response = super().getresponse()
            except Exception as exc:
                if cut.fired:
                    raise _Cut from exc
                raise
        if cut.fired:  # whatever was read ended at the cut: it is not the whole response
            raise _Cut
        return response


class _DeadlineHTTPSConnection(_DeadlineConnection, HTTPSConnection):
    """`_DeadlineConnection` over TLS."""


class _Cut(Exception):  # noqa: N818 - a signal between a connection and its pool
    """The watchdog ended a response read at the deadline (never leaves `_DeadlinePool`)."""


class _DeadlinePool(HTTPConnectionPool):
    """An ``HTTPConnectionPool`` that holds an errorkit `Retry` to its policy's deadline.

    `urlopen` runs once per attempt (urllib3 recurses through ``self.urlopen``):
    it stamps the request's start before the first send, refuses to send once
    no time is left, and clips the attempt's timeouts to the time left.
    `_make_request` hands the deadline to the connection, whose `getresponse`
    arms the one watchdog of the attempt. Any other ``retries`` (urllib3's own
    ``Retry``, an int, False) or a policy without a deadline passes through.
    """

    ConnectionCls = _DeadlineConnection

    def urlopen(  # type: ignore[override]  # noqa: PLR0913, PLR0917 - urllib3's signature
        self,
        method: str,
        url: str,
        body: _TYPE_BODY | None = None,
        headers: Mapping[str, str] | None = None,
        retries: _Urllib3Retry | bool | int | None = None,
        redirect: bool = True,
        assert_same_host: bool = True,
        timeout: _TYPE_TIMEOUT | Timeout = Timeout.DEFAULT_TIMEOUT,
        pool_timeout: int | None = None,
        release_conn: bool | None = None,
        chunked: bool = False,
        body_pos: _TYPE_BODY_POSITION | None = None,
        preload_content: bool = True,
        decode_content: bool = True,
        **response_kw: Any,
    ) -> BaseHTTPResponse:
        """urllib3's ``urlopen``, each attempt within the deadline of an errorkit `Retry`."""
        chosen = self.retries if retries is None else retries
        if isinstance(chosen, Retry) and chosen.policy.gate is not None and not chosen.history:
            _wait_at_gate(chosen.policy, self, method, url, headers)
        bounded = chosen if isinstance(chosen, Retry) and chosen.policy.deadline else None
        if bounded is not None:
            retries = bounded = bounded._from_first_send()  # noqa: SLF001 - errorkit's own
            left = bounded._time_left() or 0.0  # noqa: SLF001
            if not left > 0:
                raise bounded._out_of_time(self, url)  # noqa: SLF001
            timeout = _clipped(timeout, self.timeout, left)
            pool_timeout = left if pool_timeout is None else min(pool_timeout, left)  # type: ignore[assignment]
        # urllib3's order; by position, as `_make_request` says why
        args = (redirect, assert_same_host, timeout, pool_timeout, release_conn, chunked)
        flags = (body_pos, preload_content, decode_content)
        observer = _observe.OBSERVER
        try:
            if observer is None or not isinstance(chosen, Retry):
                response = super().urlopen(
                    method, url, body, headers, retries, *args, *flags, **response_kw
                )
            else:
                # The attempt's own headers: its span's traceparent goes in them.
                own = HTTPHeaderDict(self.headers if headers is None else headers)
                facts = _facts(method.upper(), _full_url(self, url), own)
                send = partial(
                    super().urlopen, method, url, body, own, retries, *args, *flags, **response_kw
                )
                response = observer.attempt(facts, chosen.attempts + 1, send)
        except EmptyPoolError as exc:
            # No pooled connection came free before the deadline (block=True).
            if bounded is None or (bounded._time_left() or 0.0) > _DEADLINE_TOLERANCE:  # noqa: SLF001
                raise
            raise bounded._out_of_time(self, url) from exc  # noqa: SLF001
        gate = chosen.policy.gate if isinstance(chosen, Retry) else None
        if gate is not None and response.status < 400 and _used_up(response.headers):
            gate.observe_used_up(method, _full_url(self, url), headers, response.headers)
        return response

    def _make_request(  # noqa: PLR0913, PLR0917 - urllib3's signature, passed on as it is
        self,
        conn: BaseHTTPConnection,
        method: str,
        url: str,
        body: _TYPE_BODY | None = None,
        headers: Mapping[str, str] | None = None,
        retries: _Urllib3Retry | None = None,
        timeout: _TYPE_TIMEOUT | Timeout = Timeout.DEFAULT_TIMEOUT,
        chunked: bool = False,
        response_conn: BaseHTTPConnection | None = None,
        preload_content: bool = True,
        decode_content: bool = True,
        enforce_content_length: bool = True,
    ) -> BaseHTTPResponse:
        """urllib3's ``_make_request``, its response read within the attempt's deadline.

        urllib3's parameters are named, not taken as ``**kwargs``: it calls this once
        per attempt with all of them, and a dict built and unpacked twice per call
        was a tenth of what errorkit costs a success.
        """
        args = (body, headers, retries, timeout, chunked, response_conn)
        flags = (preload_content, decode_content, enforce_content_length)
        until = retries._until() if isinstance(retries, Retry) else None  # noqa: SLF001
        if until is None or not isinstance(conn, _DeadlineConnection):
            return super()._make_request(conn, method, url, *args, *flags)
        conn.errorkit_until = until
        try:
            return super()._make_request(conn, method, url, *args, *flags)
        except _Cut as cut:
            failure = _at_deadline(CUT_SHORT, retries.policy.deadline)  # type: ignore[union-attr]
            raise _CutAtDeadline(self, url, failure.description) from cut.__cause__
        finally:
            conn.errorkit_until = None


class _DeadlineHTTPSPool(_DeadlinePool, HTTPSConnectionPool):
    """`_DeadlinePool` over TLS."""

    ConnectionCls = _DeadlineHTTPSConnection


def _clipped(timeout: _TYPE_TIMEOUT | Timeout, default: Timeout, left: float) -> Timeout:
    """`timeout` as urllib3 resolves it (`default` for the default), its total at most `left` s.

    urllib3 bounds an attempt's connect by ``min(connect, total)`` and its reads
    by what is left of ``total`` after the connect, so one total clips both.
    """
    if timeout is Timeout.DEFAULT_TIMEOUT:
        clipped = default.clone()
    elif isinstance(timeout, Timeout):
        clipped = timeout.clone()
    else:
        clipped = Timeout.from_float(timeout)
    total = clipped.total
    if not isinstance(total, (int, float)) or total > left:
        clipped.total = left
    return clipped


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


def _at_deadline(failure: TransportFailure, deadline: float | None) -> TransportFailure:
    """`failure` with its description naming the policy deadline, for the final error."""
    if deadline is None:
        return failure
    return replace(failure, description=f"{failure.description} ({deadline:g} s)")


def _scrubbed(exc: BaseException) -> BaseException:
    """`exc` with the credentials its args and attributes hold (urllib3's ``url``) hidden."""
    scrub_exception(exc)
    return exc


def _discard(response: BaseHTTPResponse, bound: int, *, under_deadline: bool) -> None:
    """Release a discarded response before the next attempt.

    A preloaded body is dropped: urlopen's frame keeps the response alive while
    it recurses, and the next attempt preloads its own, so a retried body that
    inflates to gigabytes would otherwise be held twice. An unread body is left
    for urlopen to drain (to reuse its connection) only when its Content-Length
    is within `bound` and no deadline is set (a drain has no time limit);
    otherwise the response is closed, and its (closed) connection goes back to
    the pool to be replaced.
    """
    if body_of(response) is not None:
        if isinstance(response, HTTPResponse):
            response._body = None  # noqa: SLF001 - urllib3 offers no public way to drop it
        return  # preloaded: already read, the connection is already back
    length = response.headers.get("content-length", "")
    if not under_deadline and length.isdigit() and int(length) <= bound:
        return
    response.close()
    response.release_conn()


def _failure(error: BaseException) -> TransportFailure:
    # Anything else urllib3 raised: assume the request may have left.
    return most_specific(_FAILURES, error) or _OTHER_FAILURE


def _wait_at_gate(
    policy: RetryPolicy,
    pool: HTTPConnectionPool,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
) -> None:
    """Before a request's first attempt: wait for its scope's gate, or refuse to send.

    The refusal is errorkit's `RateLimitError`, also urllib3's ``MaxRetryError``
    (its ``reason`` None: nothing was sent).
    """
    gate = policy.gate
    if gate is None or not gate.holding():
        return
    full = _full_url(pool, url)
    for _ in range(REWAITS):  # again while a closing that came meanwhile holds it
        seconds = gate.wait(method, full, headers)
        if not seconds:
            return
        if seconds > policy.max_retry_after or (
            policy.deadline is not None and seconds >= policy.deadline
        ):
            info = refusal(seconds)
            if _observe.OBSERVER is not None:
                _observe.OBSERVER.refused("gate", _facts(method, full), info.message)
            raise build(RateLimitError, MaxRetryError, info, foreign_args=(pool, url, None))
        if _observe.OBSERVER is not None:
            _observe.OBSERVER.gate_wait(_facts(method, full), seconds)
        mark = gate.closings
        CLOCK.sleep(seconds)
        if gate.closings == mark or not gate.closed_for(method, full, headers):
            return


def _facts(method: str, url: str, headers: HTTPHeaderDict | None = None) -> RequestFacts:
    """A request as an observer sees it (`errorkit._observe`): method, URL, headers."""
    return RequestFacts(method, url, replayable=True, has_idempotency_key=False, headers=headers)


def _used_up(headers: Mapping[str, str]) -> bool:
    """`errorkit._gate.used_up` on urllib3's headers: its ``HTTPHeaderDict`` keys its
    ``_container`` by the lower-case name, so one set operation tells that no
    remaining count is there (ten gets, each a caught KeyError, cost 5 us)."""
    container = getattr(headers, "_container", None)
    if isinstance(container, dict) and REMAINING_NAMES.isdisjoint(container):
        return False
    return used_up(headers)


def _full_url(pool: object, url: str | None) -> str:
    """An absolute URL for logs: urlopen passes only the path to its Retry."""
    target = url or ""
    if target.startswith("/") and pool is not None:
        scheme, host, port = (getattr(pool, name, None) for name in ("scheme", "host", "port"))
        if scheme and host:
            authority = f"[{host}]" if ":" in str(host) else str(host)
            return f"{scheme}://{authority}{f':{port}' if port else ''}{target}"
    return target
