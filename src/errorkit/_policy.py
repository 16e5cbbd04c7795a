"""The retry policy and its pure decision function.

`RetryPolicy.decide()` answers one question, without a clock, a sleep or a side
effect: after this failed attempt, retry after how long, or stop, and why. The
adapters' single attempt loop acts on the answer: it spends the budget, calls
``on_retry``, sleeps through ``errorkit._clock.CLOCK`` and re-sends.
"""

from __future__ import annotations

import enum
import math
import random
import re
from collections.abc import Callable  # noqa: TC003 - at runtime for get_type_hints()
from dataclasses import dataclass, field

from errorkit._budget import RetryBudget, shown
from errorkit._gate import RateLimitGate
from errorkit._info import Category, ErrorInfo
from errorkit._throttle import AdaptiveThrottle

#: RFC 9110 §9.2.2 idempotent methods, plus QUERY (safe, hence idempotent, by its draft).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "QUERY"})
#: A throttled status carrying a server hint waits from the throttle base.
_THROTTLE_STATUSES = frozenset({429, 503})
#: RFC 9110 §5.6.2 token: the valid characters of a header field name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: A server hint is a floor plus at most this fraction of itself, and at most...
_HINT_JITTER_FRACTION = 0.1
#: ...this many seconds: enough to spread clients sent the same reset time apart.
_HINT_JITTER_MAX = 1.0
#: Longest delay setting (`initial_delay`, `throttle_delay`, `max_delay`,
#: `max_retry_after`), in seconds: one day. See "Bounds" in `RetryPolicy`.
MAX_WAIT = 24 * 3600.0
#: Longest `deadline`, in seconds: one week.
MAX_DEADLINE = 7 * 24 * 3600.0


class Reason(str, enum.Enum):
    """Why a `Decision` retries or stops."""

    # retry
    RETRYABLE = "retryable"  # a retryable error, backoff delay
    SERVER_HINT = "server_hint"  # a retryable error whose wait the server set
    NOT_SENT = "not_sent"  # a transport failure before the request left
    # stop
    NOT_RETRYABLE = "not_retryable"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    DEADLINE = "deadline"
    HINT_TOO_LONG = "hint_too_long"
    SERVER_SAID_NO = "server_said_no"
    UNSAFE_METHOD = "unsafe_method"
    NOT_REPLAYABLE = "not_replayable"
    BUDGET_EXHAUSTED = "budget_exhausted"

    def __str__(self) -> str:
        return self.value


def hint_spread(hint: float) -> float:
    """How far above a server's hint of `hint` s a wait may be drawn, to spread clients."""
    return min(_HINT_JITTER_MAX, _HINT_JITTER_FRACTION * hint)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFailure:
    """A request that got no response: the adapter's view of its stack's exception.

    Attributes:
        sent: False when the server cannot have acted on the request (refused,
            DNS, connect timeout, pool timeout); True when it may have.
        timeout: True for timeouts (then `info()` has category ``timeout``).
        retryable: False for failures that repeat identically (TLS certificate).
        description: short text for messages and logs ("connection refused"); it
            must hold no credentials.
    """

    sent: bool
    timeout: bool = False
    retryable: bool = True
    description: str = "connection failed"

    def info(self) -> ErrorInfo:
        """This failure as an `ErrorInfo` (category ``connection`` or ``timeout``)."""
        category = Category.TIMEOUT if self.timeout else Category.CONNECTION
        return ErrorInfo(
            status=None,
            category=category,
            message=self.description or ("timed out" if self.timeout else "connection failed"),
            retryable=self.retryable,
            format="transport",
            retryable_reason=self._reason(),
        )

    def _reason(self) -> str:
        kind = "timeout" if self.timeout else "connection failure"
        if not self.retryable:
            return f"this {kind} would repeat identically, so it is not retryable"
        if not self.sent:
            return f"a {kind} before the request was sent is retryable for every method"
        return f"a {kind} after the request was sent is retryable for idempotent requests"


Outcome = ErrorInfo | TransportFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What to do after a failed attempt: retry after `delay` seconds, or stop.

    Attributes:
        retry: True to retry, False to stop.
        delay: seconds to wait before the retry, a float in [0, max(max_delay,
            max_retry_after)] whatever the inputs; 0 when stopping.
        reason: why, as a stable name.
        detail: one line for logs and messages, naming the failure and the wait.
    """

    retry: bool
    delay: float
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryEvent:
    """Handed to `RetryPolicy.on_retry` before each wait (frozen)."""

    attempt: int
    delay: float
    reason: Reason
    info: ErrorInfo
    method: str
    url: str  # credentials redacted


def is_idempotent(method: str) -> bool:
    """True for RFC 9110 §9.2.2 idempotent methods (and QUERY), in any letter case."""
    return method.upper() in IDEMPOTENT_METHODS


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When to retry a failed HTTP request, and how long to wait: one frozen value.

    ``max_attempts`` counts ATTEMPTS, NOT RETRIES: the default 3 is one request and
    at most two retries (urllib3's ``total`` and openai's ``max_retries`` count
    retries; aiohttp-retry, stamina and AWS count attempts, as errorkit does).

    Backoff, for the attempt numbered ``n`` (1-based) that just failed, with ``U``
    drawn uniformly from [0, 1)::

        delay = (1 - jitter * U) * min(max_delay, base * multiplier ** (n - 1))

    where ``base`` is `throttle_delay` when the failure is throttling (category
    ``rate_limited``, or a 429/503 carrying a server hint) and `initial_delay`
    otherwise. A server hint ``h`` (Retry-After, ``retry-after-ms``, the body's
    ``retryAfter``...) is a floor with a little jitter, never above
    `max_retry_after`::

        delay = max(backoff, min(max_retry_after, h + U * min(0.1 * h, 1 s)))

    A hint above `max_retry_after` stops at once (`Reason.HINT_TOO_LONG`), with the
    error that carries it, so a server can make the client wait at most
    `max_retry_after`, and every delay stays within ``max(max_delay,
    max_retry_after)``.

    Bounds: the four delay settings are at most `MAX_WAIT` (one day) and `deadline`
    at most `MAX_DEADLINE` (one week); a larger value is refused with a
    `ValueError` naming it. So every wait is a number each way of sleeping accepts
    and ends: ``time.sleep`` and socket timeouts overflow past about 292 years
    (int64 nanoseconds), threading waits past ``threading.TIMEOUT_MAX`` (49.7 days
    on Windows), and ``asyncio.sleep(1e300)`` simply never returns. One wait longer
    than a day inside one HTTP call would hold a thread or a task far beyond any
    wait a service asks for (hours at most); work that must wait longer belongs to
    a scheduler. A week bounds a whole call of several day-long waits; None is
    there for no deadline. `multiplier` has no upper bound: a power that overflows
    is the cap, ``max_delay``. The parser clamps a server's hints to
    ``errorkit._hints.MAX_HINT`` (about 31 years), above `MAX_WAIT`, so an absurd
    hint (400 digits, a date in year 9999) is always too long, never slept.

    Defaults, with the libraries, services and studies they follow:

    - ``max_attempts=3``: AWS, Resilience4j, aiohttp-retry and the SRE book's
      per-request cap; 10 (urllib3, stamina) turns every layer into a 10x amplifier.
    - ``initial_delay=0.1``: gRPC's example, GAPIC, stamina and aiohttp-retry; AWS
      2026 uses 50 ms for transient errors, Stainless 0.5 s. Two retries sleep at
      most 0.3 s (0.15 s expected; AWS 2026: 150 ms): a transient blip costs little.
    - ``throttle_delay=1.0``: the AWS 2026 throttle base (two retries: at most 3 s,
      1.5 s expected). A server that is shedding load needs seconds, not
      milliseconds; the MongoDB driver study shows short retry windows barely help
      under overload.
    - ``multiplier=2.0``: every source here but GAPIC (1.3).
    - ``max_delay=20.0``: the AWS ceiling; between Stainless' 8 s and api-core's 60 s.
    - ``jitter=1.0`` (full jitter): Envoy, gRPC, AWS and api-core; in AWS's jitter
      study ("Exponential Backoff And Jitter") it does the least work and avoids
      the synchronised waves of un-jittered backoff (57 % fewer calls at 100
      clients).
    - ``max_retry_after=60.0``: Stripe's and Anthropic's limit; the seed's
      ``retryAfter: 60`` is honoured, and a worker is never parked for the hours a
      server may ask (urllib3 allows 6 h).
    - ``deadline=None``: no overall limit by default, as in every HTTP library; the
      attempt count and the caps bound the waiting: at most 3 s from the formula,
      120 s when a server asks for 60 s twice.
    - ``budget``: a fresh `RetryBudget` per policy (25 % of requests + 1/s),
      shared by every copy made with `dataclasses.replace`.
    - ``gate``: a fresh `RateLimitGate` per policy, shared the same way, scoped by
      endpoint (origin and path): when a server says "wait" it means every
      request of that limit, and real limits are mostly per endpoint (see
      `errorkit._gate`); an open gate costs one clock reading per request.

    Derive a changed copy with ``dataclasses.replace(policy, max_attempts=5)``: it is
    validated like a new policy, and the budget stays shared (unless replaced).

    Equality: two policies are equal (``==``) when every setting is equal and they
    hold the same budget, gate and throttle objects; those are shared mutable
    state, so they compare by identity. `random` is not compared. Hence
    ``RetryPolicy() != RetryPolicy()`` (each builds its own budget), while a
    ``dataclasses.replace`` copy with no change equals its source. A policy is
    hashable when its callables are (``on_retry``; `random` is not hashed).

    Attributes:
        max_attempts: total attempts, the first included; >= 1. 1: never retry.
            Default 3.
        initial_delay: backoff base in seconds for transient failures (5xx,
            timeouts, connection errors), in [0, one day]. 0: retry those at once.
            Default 0.1.
        throttle_delay: backoff base in seconds for throttling, in [0, one day]. 0:
            no extra wait beyond the server's hint. Default 1.0.
        max_delay: cap in seconds on a computed backoff (before jitter), in [0, one
            day]. 0: every backoff is 0 (server hints still apply). Default 20.
        multiplier: growth factor per attempt, finite and >= 1. 1: constant delay.
            Default 2.
        jitter: the randomized fraction of each backoff, in [0, 1]. 0: exact
            delays; 1: full jitter, uniform in (0, computed]. Default 1.
        max_retry_after: the longest server-requested wait honoured, in seconds, in
            [0, one day]. A longer hint ends the retries at once. 0: only
            ``Retry-After: 0`` is honoured. Default 60.
        deadline: seconds for all attempts and waits together, in (0, one week]. A
            retry whose wait would reach it is not made. None: no deadline. Default
            None. Adapters also clip each attempt's timeout to ``remaining(elapsed)``.
        budget: the `RetryBudget` the adapters spend from after each retry
            decision. None: no budget. Default: a new one per policy.
        gate: the `RateLimitGate` that holds back every request of an endpoint
            while its server asked to wait (shared state, compared by identity, as
            the budget). None: each request waits only for its own hints.
            Default: a new one per policy, scoped by endpoint.
        throttle: an `AdaptiveThrottle` that rejects requests locally while their
            server keeps failing (Google SRE client-side throttling). None
            (default): opt-in, since it counts every attempt.
        idempotency_key: True: adapters add one key in `idempotency_header` to each
            non-idempotent request lacking one, the same on every attempt, so these
            can be retried. False (default): only keys the caller set count.
        idempotency_header: the header name for that key; default
            ``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header).
        on_retry: called with a `RetryEvent` before each wait. None (default): no
            callback (the ``errorkit`` logger still records each retry).
        random: returns floats in [0, 1), called once per decision; injectable for
            deterministic tests. Default `random.random`. A draw outside is clamped
            into [0, 1], and NaN or a value that is no int or float counts as 0 (the
            whole computed delay): a broken source can make a delay neither
            negative, NaN nor unbounded, nor make `decide` raise.

    Raises:
        ValueError: at construction, naming the first invalid argument.
    """

    max_attempts: int = 3
    initial_delay: float = 0.1
    throttle_delay: float = 1.0
    max_delay: float = 20.0
    multiplier: float = 2.0
    jitter: float = 1.0
    max_retry_after: float = 60.0
    deadline: float | None = None
    budget: RetryBudget | None = field(default_factory=RetryBudget)
    gate: RateLimitGate | None = field(default_factory=RateLimitGate)
    throttle: AdaptiveThrottle | None = None
    idempotency_key: bool = False
    idempotency_header: str = "Idempotency-Key"
    on_retry: Callable[[RetryEvent], object] | None = None
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        attempts: object = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise _invalid("max_attempts", "an int >= 1 (total attempts)", attempts)
        for name in ("initial_delay", "throttle_delay", "max_delay", "max_retry_after"):
            _check_number(name, getattr(self, name), low=0.0, high=MAX_WAIT)
        _check_number("multiplier", self.multiplier, low=1.0)
        _check_number("jitter", self.jitter, low=0.0, high=1.0)
        if self.deadline is not None:
            _check_number("deadline", self.deadline, low=0.0, high=MAX_DEADLINE, strict=True)
        self._check_objects()

    def _check_objects(self) -> None:
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise _invalid("budget", "a RetryBudget or None", self.budget)
        if self.gate is not None and not isinstance(self.gate, RateLimitGate):
            raise _invalid("gate", "a RateLimitGate or None", self.gate)
        if self.throttle is not None and not isinstance(self.throttle, AdaptiveThrottle):
            raise _invalid("throttle", "an AdaptiveThrottle or None", self.throttle)
        if self.on_retry is not None and not callable(self.on_retry):
            raise _invalid("on_retry", "callable or None", self.on_retry)
        if not callable(self.random):
            raise _invalid("random", "callable", self.random)
        if not isinstance(self.idempotency_key, bool):
            raise _invalid("idempotency_key", "a bool", self.idempotency_key)
        header: object = self.idempotency_header
        if not isinstance(header, str) or _TOKEN.fullmatch(header) is None:
            raise _invalid("idempotency_header", "an HTTP field name", header)

    def remaining(self, elapsed: float) -> float | None:
        """Seconds left before the deadline (never negative), or None without one.

        Adapters clip each attempt's timeout to this value, so no attempt runs past it.
        """
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - elapsed)

    def backoff(self, attempt: int, *, throttled: bool) -> float:
        """The jittered backoff after attempt `attempt` (1-based) failed; see the formula."""
        return self._backoff(attempt, throttled, _unit(self.random()))

    def _backoff(self, attempt: int, throttled: bool, draw: float) -> float:
        """``(1 - jitter * U) * min(max_delay, base * multiplier ** (n - 1))``, U = `draw`."""
        base = self.throttle_delay if throttled else self.initial_delay
        return (1.0 - self.jitter * draw) * _ceiling(
            base, self.multiplier, attempt - 1, self.max_delay
        )

    def decide(  # noqa: PLR0913 - the contract: each input is one named fact
        self,
        *,
        attempt: int,
        elapsed: float,
        method: str,
        outcome: Outcome,
        replayable: bool = True,
        has_idempotency_key: bool = False,
    ) -> Decision:
        """Decide, purely, whether attempt `attempt` (1-based) is followed by another.

        Args:
            attempt: number of the attempt that just failed, 1 for the first.
            elapsed: seconds since the first attempt started.
            method: the request method.
            outcome: the error response's `ErrorInfo`, or a `TransportFailure`.
            replayable: False when the request body cannot be sent again.
            has_idempotency_key: True when the request carries an idempotency key.

        The checks run in this order; the first that stops wins:

        1. the body cannot be replayed: `Reason.NOT_REPLAYABLE`;
        2. the server said not to retry (``x-should-retry: false``):
           `Reason.SERVER_SAID_NO`;
        3. the outcome is not retryable: `Reason.NOT_RETRYABLE`;
        4. method safety: idempotent methods pass; others (POST, PATCH, CONNECT,
           unknown) pass only with an idempotency key or when the server cannot
           have acted (a failure before sending, ``x-should-retry: true`` at any
           status, a 429, a 503 with a hint), else `Reason.UNSAFE_METHOD`;
        5. ``attempt >= max_attempts``: `Reason.ATTEMPTS_EXHAUSTED`;
        6. a server hint above `max_retry_after`: `Reason.HINT_TOO_LONG`; else the
           delay is computed (see the class docstring);
        7. ``elapsed + delay >= deadline``: `Reason.DEADLINE` (never sleep past it;
           adapters also clip each attempt's timeout to ``remaining(elapsed)``).

        RFC 9110 §9.2.2 says a client should not retry a failed automatic retry of
        a non-idempotent request. Check 4 is evaluated afresh at every attempt, so a
        POST is retried again only while each failure is one the server cannot have
        acted on (it never received it, or rejected it before processing); a POST
        that may have been applied is never retried without a key.

        A retry has reason `Reason.NOT_SENT` (failure before sending),
        `Reason.SERVER_HINT` (the server set the floor) or `Reason.RETRYABLE`.
        Nothing is spent here: after a retry decision the attempt loop calls
        ``budget.try_spend()`` and, if refused, stops with `Reason.BUDGET_EXHAUSTED`.

        Raises:
            ValueError: if `attempt` < 1 or `elapsed` is negative or NaN.
        """
        if not (attempt >= 1 and elapsed >= 0.0):
            raise ValueError(f"attempt must be >= 1 and elapsed >= 0, not {attempt}, {elapsed}")
        stop = (
            _check_replayable(replayable, outcome)
            or _check_server_said_no(outcome)
            or _check_retryable(outcome)
            or _check_method(method, outcome, has_idempotency_key, self.idempotency_header)
            or _check_attempts(attempt, self.max_attempts, outcome)
            or _check_hint(outcome, self.max_retry_after)
        )
        if stop is not None:
            return stop
        delay = self._delay(attempt, outcome)
        late = _check_deadline(outcome, delay, elapsed, self.deadline)
        if late is not None:
            return late
        return self._retry(attempt, outcome, delay)

    def _delay(self, attempt: int, outcome: Outcome) -> float:
        """The backoff, or for a server hint the larger of it and the jittered hint.

        One random draw serves both terms, so `random` is called once per decision.
        """
        draw = _unit(self.random())
        backoff = self._backoff(attempt, _throttled(outcome), draw)
        hint = _hint(outcome)
        if hint is None:
            return backoff
        hint = max(hint, 0.0)  # a negative hint (parse() never gives one) means "now"
        floor = min(hint + draw * hint_spread(hint), float(self.max_retry_after))
        return max(floor, backoff)

    def _retry(self, attempt: int, outcome: Outcome, delay: float) -> Decision:
        """The retry decision, its detail naming what set the wait."""
        if isinstance(outcome, ErrorInfo) and outcome.retry_after is not None:
            reason = Reason.SERVER_HINT
            why = f"server asked {outcome.retry_after:g} s via {_source(outcome)}"
        else:
            not_sent = isinstance(outcome, TransportFailure) and not outcome.sent
            reason = Reason.NOT_SENT if not_sent else Reason.RETRYABLE
            kind = "throttled" if _throttled(outcome) else "backoff"
            why = f"{kind}, attempt {attempt} of {self.max_attempts}"
        detail = f"{_label(outcome)}: waiting {delay:.2f} s ({why})"
        return Decision(retry=True, delay=delay, reason=reason, detail=detail)


def _stop(reason: Reason, detail: str) -> Decision:
    return Decision(retry=False, delay=0.0, reason=reason, detail=detail)


# Each check below is a pure function of its arguments: None to go on, or the stop.


def _check_replayable(replayable: bool, outcome: Outcome) -> Decision | None:
    if replayable:
        return None
    return _stop(
        Reason.NOT_REPLAYABLE,
        f"{_label(outcome)}: the request body cannot be sent again",
    )


def _check_server_said_no(outcome: Outcome) -> Decision | None:
    if isinstance(outcome, TransportFailure) or outcome.should_retry is not False:
        return None
    return _stop(Reason.SERVER_SAID_NO, f"{_label(outcome)}: the server said not to retry")


def _check_retryable(outcome: Outcome) -> Decision | None:
    if outcome.retryable:
        return None
    return _stop(Reason.NOT_RETRYABLE, f"{_label(outcome)}: not retryable")


def _check_method(
    method: str, outcome: Outcome, has_idempotency_key: bool, header: str
) -> Decision | None:
    if has_idempotency_key or is_idempotent(method) or _not_acted_on(outcome):
        return None
    return _stop(
        Reason.UNSAFE_METHOD,
        f"{_label(outcome)}: {method} is not idempotent and the server may have acted on it "
        f"(send an {header} to allow retries)",
    )


def _check_attempts(attempt: int, max_attempts: int, outcome: Outcome) -> Decision | None:
    if attempt < max_attempts:
        return None
    return _stop(
        Reason.ATTEMPTS_EXHAUSTED,
        f"{_label(outcome)}: all {max_attempts} attempts used",
    )


def _check_hint(outcome: Outcome, max_retry_after: float) -> Decision | None:
    if not isinstance(outcome, ErrorInfo) or outcome.retry_after is None:
        return None
    if not outcome.retry_after <= max_retry_after:  # a NaN hint is no wait to honour either
        return _stop(
            Reason.HINT_TOO_LONG,
            f"{_label(outcome)}: server asked {outcome.retry_after:g} s via {_source(outcome)}, "
            f"more than max_retry_after={max_retry_after:g} s",
        )
    return None


def _check_deadline(
    outcome: Outcome, delay: float, elapsed: float, deadline: float | None
) -> Decision | None:
    if deadline is not None and elapsed + delay >= deadline:
        left = max(0.0, deadline - elapsed)
        return _stop(
            Reason.DEADLINE,
            f"{_label(outcome)}: waiting {delay:.2f} s would reach the {deadline:g} s deadline "
            f"({left:.2f} s left)",
        )
    return None


def _not_acted_on(outcome: Outcome) -> bool:
    """True when re-sending the request that got `outcome` cannot apply it twice.

    A failure before sending; ``x-should-retry: true`` / ``Stripe-Should-Retry:
    true`` at any status (the server vouches that a re-send is safe, as the OpenAI,
    Anthropic and Stripe SDKs read it); a 429 (a rejection before processing); a
    503 that says when to come back (a refusal, not a failure half-way through).
    """
    if isinstance(outcome, TransportFailure):
        return not outcome.sent
    if outcome.should_retry is True or outcome.status == 429:
        return True
    return outcome.status == 503 and outcome.retry_after is not None


def _throttled(outcome: Outcome) -> bool:
    if isinstance(outcome, TransportFailure):
        return False
    return outcome.category is Category.RATE_LIMITED or (
        outcome.retry_after is not None and outcome.status in _THROTTLE_STATUSES
    )


def _ceiling(base: float, multiplier: float, steps: int, cap: float) -> float:
    """``min(cap, base * multiplier ** steps)``, which no attempt number makes overflow."""
    try:
        # float(): an int power of a huge attempt number would be computed exactly.
        return min(cap, base * float(multiplier) ** steps)
    except OverflowError:  # the power overflowed: the cap has long been reached
        return cap if base > 0 else 0.0


def _unit(draw: object) -> float:
    """A `random` draw as a number in [0, 1]: clamped, and 0 for NaN or a non-number."""
    if not isinstance(draw, (int, float)):
        return 0.0
    if draw >= 1:
        return 1.0
    return float(draw) if draw > 0 else 0.0  # NaN is neither: 0


def _hint(outcome: Outcome) -> float | None:
    """The wait the server asked for, in seconds, or None."""
    return None if isinstance(outcome, TransportFailure) else outcome.retry_after


def _source(info: ErrorInfo) -> str:
    """Where the server's hint came from, for details."""
    return info.retry_after_source or "a server hint"


def _label(outcome: Outcome) -> str:
    """The failure in a few words: ``503 unavailable``, ``connection reset (sent)``."""
    if isinstance(outcome, TransportFailure):
        return f"{outcome.description} ({'sent' if outcome.sent else 'not sent'})"
    if outcome.status is None:
        return outcome.category.value
    return f"{outcome.status} {outcome.category.value}"


def _check_number(
    name: str, value: object, *, low: float, high: float = math.inf, strict: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(name, "a number", value)
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    too_low = number <= low if strict else number < low
    if not math.isfinite(number) or too_low or number > high:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        upper = f" and <= {high:g}" if math.isfinite(high) else ""
        raise _invalid(name, f"a finite number {bound}{upper}", value)


def _invalid(name: str, expected: str, value: object) -> ValueError:
    # Every bad argument is a ValueError (the contract), whatever its kind of wrong.
    return ValueError(f"{name} must be {expected}, not {shown(value)}")
