"""The attempt loop, written once: `drive()` and `adrive()` run one logical request.

An adapter describes one logical request (one hop) as a `Call`: the facts the
policy needs (method, URL, whether the body can be sent again, whether it carries
an idempotency key) and three operations on its stack:

    attempt(number, timeout) -> the stack's response (a success), an `ErrorResponse`
                                (a response with its `ErrorInfo`) or a `Failed`
                                (the stack's exception and its `TransportFailure`)
    discard(response)        -> release a response that will not be returned
    finish(final)            -> the caller's answer once retries end on an error:
                                the final response, or the exception to raise
    stop_resends(response, header) -> set an SDK's stop header on a final response

Once a first attempt failed, the drivers ask `errorkit._resends.LEDGER` which
logical request the hop belongs to: an SDK's re-send of a call continues that
call's attempts, deadline and budget, and a final error response gets the SDK's
stop header when the logical request has nothing left (see `errorkit._resends`).

The drivers call `attempt` until it succeeds or `step()` says stop. `step()` is
the loop's one step (decide, spend from the budget, log, call ``on_retry``), and
urllib3's `Retry.increment`, which lives inside urllib3's own loop, calls it too.
`drive()` and `adrive()` are twins that differ by ``await``; the clock and the
sleeps go through `CLOCK`, so the testing helpers can make waits instant.

A success is returned as the stack gave it: no loop state is built before a
failure.

With an observer installed (`errorkit._observe`; `errorkit.otel` installs one),
each attempt is sent through it and each decision, gate wait and refusal is
reported to it; without one, the drivers read one module attribute per call.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from errorkit import _observe
from errorkit._clock import CLOCK
from errorkit._gate import RateLimitGate, closing_wait, refusal
from errorkit._info import ErrorInfo
from errorkit._observe import Observer, Refuser, wait_source
from errorkit._policy import Decision, Reason, RetryEvent, RetryPolicy, TransportFailure
from errorkit._redact import redact_url
from errorkit._resends import LEDGER, Headers, Logical, stop_header
from errorkit._text import escape_control
from errorkit._throttle import AdaptiveThrottle, ThrottleEvent, rejection

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

logger = logging.getLogger("errorkit")

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ErrorResponse(Generic[R]):
    """An attempt that got an error response: the stack's response and its `ErrorInfo`."""

    response: R
    info: ErrorInfo

    @property
    def outcome(self) -> ErrorInfo:
        """What the policy decides on."""
        return self.info


@dataclass(frozen=True, slots=True)
class Failed:
    """An attempt that got no response: the stack's exception, as the core sees it."""

    error: BaseException
    failure: TransportFailure

    @property
    def outcome(self) -> TransportFailure:
        """What the policy decides on."""
        return self.failure


@dataclass(frozen=True, slots=True)
class Final(Generic[R]):
    """How a logical request ended on an error: its last result, the attempts, and why.

    `elapsed`: seconds since its first attempt began.
    """

    result: ErrorResponse[R] | Failed
    attempts: int
    decision: Decision
    elapsed: float


class Request(Protocol):
    """The facts of one logical request that the policy decides on."""

    @property
    def headers(self) -> object:
        """The request's headers, for a `RateLimitGate` key."""

    @property
    def method(self) -> str:
        """The method, upper-case."""

    @property
    def url(self) -> object:
        """The URL, in any form ``str()`` accepts: turned into text only to log a retry."""

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again, whole."""

    @property
    def has_idempotency_key(self) -> bool:
        """Whether the request carries an idempotency key."""


class Hop(Request, Protocol[R]):
    """What both drivers read of a hop besides its `Request` facts."""

    @property
    def headers(self) -> Headers:
        """The request's headers: a gate's key reads them, and, after a failure, the
        ledger of SDK re-sends (case-insensitive ``get``)."""

    def stop_resends(self, response: R, header: str) -> None:
        """Set `header` to ``false`` on `response`, which is returned to an SDK."""

    def refuse(self, info: ErrorInfo) -> BaseException:
        """The exception for a request not sent (`info` says why): also the stack's."""

    def answer_locally(self, info: ErrorInfo, stop_header: str) -> R | None:
        """A local 429 for an SDK's request not sent, with `stop_header`; None if unable."""

    def used_up(self, response: R) -> Mapping[str, str] | None:
        """The response's headers if one of its rate limits may be used up
        (`errorkit._gate.used_up`, on the stack's cheapest view of them); else None."""


class Call(Hop[R], Protocol[R]):
    """One logical request as a synchronous adapter sends it."""

    def attempt(self, number: int, timeout: float | None) -> R | ErrorResponse[R] | Failed:
        """Send attempt `number` (1-based); `timeout` is the time left before the deadline."""

    def discard(self, response: R) -> None:
        """Release a response that will not be returned, so its connection is reused."""

    def finish(self, final: Final[R]) -> R:
        """The final response for the caller, or raise the exception that ends the request."""


class AsyncCall(Hop[R], Protocol[R]):
    """One logical request as an asyncio adapter sends it: `Call` with coroutines."""

    def attempt(
        self, number: int, timeout: float | None
    ) -> Awaitable[R | ErrorResponse[R] | Failed]:
        """Send attempt `number` (1-based); `timeout` is the time left before the deadline."""

    def discard(self, response: R) -> Awaitable[None]:
        """Release a response that will not be returned, so its connection is reused."""

    def finish(self, final: Final[R]) -> Awaitable[R]:
        """The final response for the caller, or raise the exception that ends the request."""


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """A `Request` as plain values, for an adapter that holds no call object (urllib3)."""

    method: str
    url: object
    replayable: bool
    has_idempotency_key: bool
    headers: object = None


def drive(policy: RetryPolicy, call: Call[R]) -> R:
    """Run `call` synchronously until it succeeds or the policy stops it."""
    record_request(policy)
    observer = _observe.OBSERVER
    started = CLOCK.monotonic()
    first = _first(policy, call)
    if first.wait:
        first = first._replace(answer=_sleep(policy, call, first.wait))
    if first.answer is not None:
        return first.answer
    # The wait at the gate counts against the deadline.
    timeout = policy.remaining(CLOCK.monotonic() - started) if first.wait else policy.deadline
    scope = first.scope
    result = _send(observer, policy, call, 1, timeout)
    if scope is not None:
        _tally(policy, scope, result, retry=False)
    if not isinstance(result, (ErrorResponse, Failed)):
        return _succeeded(policy, call, result)
    logical = _logical(policy, call, started)
    hop = 1  # this hop's attempts; `logical.attempts` counts the SDK's re-sends too
    while True:
        decision = _decide(policy, call, result, logical, first=hop == 1)
        if not decision.retry:
            return call.finish(
                Final(result, logical.attempts, decision, CLOCK.monotonic() - started)
            )
        answered = _pause(policy, call, result, decision, logical.started)
        if answered is not None:
            return answered
        hop += 1
        logical.attempts += 1
        timeout = policy.remaining(CLOCK.monotonic() - logical.started)
        result = _send(observer, policy, call, hop, timeout, logical=logical)
        if scope is not None:
            _tally(policy, scope, result, retry=True)
        if not isinstance(result, (ErrorResponse, Failed)):
            return _succeeded(policy, call, result)


async def adrive(policy: RetryPolicy, call: AsyncCall[R]) -> R:
    """Run `call` in asyncio: the twin of `drive()`."""
    record_request(policy)
    observer = _observe.OBSERVER
    started = CLOCK.monotonic()
    first = _first(policy, call)
    if first.wait:
        held = await _asleep(policy, call, first.wait)
        first = first._replace(answer=held)
    if first.answer is not None:
        return first.answer
    # The wait at the gate counts against the deadline.
    timeout = policy.remaining(CLOCK.monotonic() - started) if first.wait else policy.deadline
    scope = first.scope
    result = await _asend(observer, policy, call, 1, timeout)
    if scope is not None:
        _tally(policy, scope, result, retry=False)
    if not isinstance(result, (ErrorResponse, Failed)):
        return _succeeded(policy, call, result)
    logical = _logical(policy, call, started)
    hop = 1
    while True:
        decision = _decide(policy, call, result, logical, first=hop == 1)
        if not decision.retry:
            return await call.finish(
                Final(result, logical.attempts, decision, CLOCK.monotonic() - started)
            )
        answered = await _apause(policy, call, result, decision, logical.started)
        if answered is not None:
            return answered
        hop += 1
        logical.attempts += 1
        timeout = policy.remaining(CLOCK.monotonic() - logical.started)
        result = await _asend(observer, policy, call, hop, timeout, logical=logical)
        if scope is not None:
            _tally(policy, scope, result, retry=True)
        if not isinstance(result, (ErrorResponse, Failed)):
            return _succeeded(policy, call, result)


def _send(  # noqa: PLR0913 - the attempt, and what its observer is told
    observer: Observer | None,
    policy: RetryPolicy,
    call: Call[R],
    hop: int,
    timeout: float | None,
    *,
    logical: Logical | None = None,
) -> R | ErrorResponse[R] | Failed:
    """Attempt `hop` of `call`, inside its span when an observer is installed."""
    if observer is None:
        return call.attempt(hop, timeout)
    number = _number(policy, call, logical)
    return observer.attempt(call, number, partial(call.attempt, hop, timeout))


def _asend(  # noqa: PLR0913 - `_send`'s
    observer: Observer | None,
    policy: RetryPolicy,
    call: AsyncCall[R],
    hop: int,
    timeout: float | None,
    *,
    logical: Logical | None = None,
) -> Awaitable[R | ErrorResponse[R] | Failed]:
    """`_send` on an event loop: the attempt's awaitable itself, with no frame around
    it when no observer is installed."""
    if observer is None:
        return call.attempt(hop, timeout)
    number = _number(policy, call, logical)
    return observer.aattempt(call, number, partial(call.attempt, hop, timeout))


def _number(policy: RetryPolicy, call: Hop[R], logical: Logical | None) -> int:
    """The attempt's number in its logical request, an SDK's earlier re-sends counted."""
    if logical is not None:
        return logical.attempts  # this attempt counted already
    prior = LEDGER.prior_attempts(call.method, call.url, call.headers, policy.idempotency_header)
    return prior + 1


def _succeeded(policy: RetryPolicy, call: Hop[R], response: R) -> R:
    """A success, returned; its used-up rate limit, if it reports one, closes the gate."""
    if policy.gate is not None and (headers := call.used_up(response)) is not None:
        policy.gate.observe_used_up(call.method, call.url, call.headers, headers)
    return response


def _pause(
    policy: RetryPolicy,
    call: Call[R],
    result: R | ErrorResponse[R] | Failed,
    decision: Decision,
    started: float,
) -> R | None:
    """Release the failed attempt's response, then wait for the retry (what is left
    of the decided delay after the release)."""
    if isinstance(result, ErrorResponse):
        call.discard(result.response)
    return _sleep(policy, call, _wait(policy, decision, started))


async def _apause(
    policy: RetryPolicy,
    call: AsyncCall[R],
    result: R | ErrorResponse[R] | Failed,
    decision: Decision,
    started: float,
) -> R | None:
    """`_pause` on an event loop."""
    if isinstance(result, ErrorResponse):
        await call.discard(result.response)
    return await _asleep(policy, call, _wait(policy, decision, started))


#: Times a request asks the gate again after a wait during which its scope closed
#: (each one a new closing: a server answering 429 all along); then it goes.
REWAITS = 8


def _sleep(policy: RetryPolicy, call: Hop[R], seconds: float) -> R | None:
    """Sleep `seconds`, then for as long as a closing that came meanwhile holds the
    request's scope (another caller's 429, here or in the fleet): a request that
    took its slot before a closing is not sent inside it. The local answer that
    replaces sending, if the gate gives one (or raise its refusal)."""
    for _ in range(REWAITS):
        mark = _closings(policy)
        CLOCK.sleep(seconds)
        again = _held_again(policy, call, mark)
        if again.answer is not None or not again.wait:
            return again.answer
        seconds = again.wait
    CLOCK.sleep(seconds)
    return None


async def _asleep(policy: RetryPolicy, call: Hop[R], seconds: float) -> R | None:
    """`_sleep` on an event loop."""
    for _ in range(REWAITS):
        mark = _closings(policy)
        await CLOCK.asleep(seconds)
        again = _held_again(policy, call, mark)
        if again.answer is not None or not again.wait:
            return again.answer
        seconds = again.wait
    await CLOCK.asleep(seconds)
    return None


def _closings(policy: RetryPolicy) -> int:
    return -1 if policy.gate is None else policy.gate.closings


def _held_again(policy: RetryPolicy, call: Hop[R], mark: int) -> First[R]:
    """After a wait: the gate's wait (or answer) again if the request's scope closed
    since `mark` was read; else nothing, and the request goes."""
    gate = policy.gate
    if gate is None or gate.closings == mark:
        return _OPEN
    if not gate.closed_for(call.method, call.url, call.headers):
        return _OPEN
    return _held(policy, gate, call)


class First(NamedTuple, Generic[R]):
    """What comes before a first attempt: a wait at the gate, or an answer in its place;
    the request's throttle scope once the throttle admitted it."""

    wait: float = 0.0
    answer: R | None = None
    scope: str | None = None


#: Nothing before the first attempt: the common case, built once.
_OPEN: First[Any] = First()


def _first(policy: RetryPolicy, call: Hop[R]) -> First[R]:
    """The gate's wait (or answer) and the throttle's admission, for a first attempt.

    With an open gate and no throttle (the default), one clock reading.
    """
    wait = 0.0
    if policy.gate is not None and policy.gate.holding():
        held = _held(policy, policy.gate, call)
        if held.answer is not None:
            return held
        wait = held.wait
    if policy.throttle is not None:
        return _admit(policy.throttle, call, wait)
    return First(wait) if wait else _OPEN


def _held(policy: RetryPolicy, gate: RateLimitGate, call: Hop[R]) -> First[R]:
    """How long a first attempt waits at the gate, or the answer it gets unsent.

    A wait above `max_retry_after`, or one that reaches the deadline, is not
    waited: the request fails at once, unsent, with the stack's `RateLimitError`.
    Under an SDK that obeys a stop header (openai, anthropic, stripe), the adapter
    answers instead with a local 429 carrying ``Retry-After`` and that header, so
    the SDK raises its own rate-limit error at once rather than retrying a
    connection error.
    """
    seconds = gate.wait(call.method, call.url, call.headers)
    if not seconds or not (seconds > policy.max_retry_after or _past_deadline(policy, seconds)):
        if seconds and _observe.OBSERVER is not None:
            _observe.OBSERVER.gate_wait(call, seconds)
        return First(seconds)
    info = refusal(seconds)
    _tell_refused("gate", call, info.message)
    return _unsent(call, info)


def _unsent(call: Hop[R], info: ErrorInfo) -> First[R]:
    """A request errorkit does not send (`info` says why): under an SDK that obeys a
    stop header, a local answer in its place (the SDK raises its own error at once);
    else raise the refusal, also the stack's own error."""
    header = stop_header(call.headers)
    answer = None if header is None else call.answer_locally(info, header)
    if answer is None:
        raise call.refuse(info)
    return First(0.0, answer)  # in place of sending: nothing to wait for


def _admit(throttle: AdaptiveThrottle, call: Hop[R], wait: float) -> First[R]:
    """The request's wait and throttle scope, once admitted; else its refusal, unsent
    (`_unsent`)."""
    scope = throttle.scope(call.method, call.url, call.headers)
    rejected = throttle.admit(scope)
    if rejected is None:
        return First(wait, None, scope)
    url = _shown_url(call)
    logger.info(
        "Throttled %s %s: rejected locally with p=%.2f (%d of the last %d requests accepted)",
        call.method,
        url,
        rejected.probability,
        rejected.accepts,
        rejected.requests,
        extra={"errorkit_reason": "throttled"},
    )
    if throttle.on_reject is not None:
        throttle.on_reject(
            ThrottleEvent(
                scope=scope,
                probability=rejected.probability,
                requests=rejected.requests,
                accepts=rejected.accepts,
                method=call.method,
                url=url,
            )
        )
    info = rejection(*rejected)
    _tell_refused("throttle", call, info.message)
    return _unsent(call, info)


def _tell_refused(refuser: Refuser, call: Hop[R], detail: str) -> None:
    if _observe.OBSERVER is not None:
        _observe.OBSERVER.refused(refuser, call, detail)


def _tally(policy: RetryPolicy, scope: str, result: object, *, retry: bool) -> None:
    """Count an attempt's outcome in the policy's throttle, which admitted the request."""
    throttle = policy.throttle
    if throttle is None:  # pragma: no cover - a scope comes from the throttle
        return
    outcome = result.outcome if isinstance(result, (ErrorResponse, Failed)) else None
    info = outcome.info() if isinstance(outcome, TransportFailure) else outcome
    throttle.count(scope, info, new_request=retry)


def _past_deadline(policy: RetryPolicy, elapsed: float) -> bool:
    return policy.deadline is not None and elapsed >= policy.deadline


#: Stops for a limit of errorkit's, not for the error: the SDK must not re-send.
_LIMITS = frozenset(
    {Reason.ATTEMPTS_EXHAUSTED, Reason.DEADLINE, Reason.HINT_TOO_LONG, Reason.BUDGET_EXHAUSTED}
)


def _logical(policy: RetryPolicy, call: Hop[R], started: float) -> Logical:
    """The logical request of a hop whose first attempt failed, that attempt counted."""
    logical = LEDGER.logical(
        call.method, call.url, call.headers, policy.idempotency_header, started
    )
    logical.attempts += 1
    return logical


def _decide(
    policy: RetryPolicy,
    call: Hop[R],
    result: ErrorResponse[R] | Failed,
    logical: Logical,
    *,
    first: bool,
) -> Decision:
    """`step()` after a failed attempt of `logical`; a stop tells the SDK, if it must know.

    `first`: the attempt was the hop's first, which for an SDK's re-send is a retry
    the budget pays for.
    """
    elapsed = CLOCK.monotonic() - logical.started
    decision = step(
        policy, call, result.outcome, logical.attempts, elapsed, resent=logical.resent and first
    )
    if not decision.retry and isinstance(result, ErrorResponse):
        header = _sdk_stop(policy, logical, decision, elapsed)
        if header is not None:
            call.stop_resends(result.response, header)
    return decision


def _sdk_stop(
    policy: RetryPolicy, logical: Logical, decision: Decision, elapsed: float
) -> str | None:
    """The header that tells the SDK to stop, when the logical request has nothing left."""
    left = policy.remaining(elapsed)
    if logical.stop_header is not None and (
        decision.reason in _LIMITS
        or logical.attempts >= policy.max_attempts
        or (left is not None and left <= 0.0)
    ):
        return logical.stop_header
    return None


def _wait(policy: RetryPolicy, decision: Decision, started: float) -> float:
    """The decided delay, cut to the time left: a discard may have used some of it."""
    if policy.deadline is None:
        return decision.delay
    left = policy.remaining(CLOCK.monotonic() - started)
    return decision.delay if left is None else min(decision.delay, left)


def record_request(policy: RetryPolicy) -> None:
    """Count one logical request in the policy's budget (first attempts only)."""
    if policy.budget is not None:
        policy.budget.record_request()


def step(  # noqa: PLR0913 - decide()'s facts, and whether the attempt was a re-send
    policy: RetryPolicy,
    request: Request,
    outcome: ErrorInfo | TransportFailure,
    attempt: int,
    elapsed: float,
    *,
    resent: bool = False,
) -> Decision:
    """After attempt `attempt` failed with `outcome`: retry after how long, or stop.

    The policy decides; a retry is then spent from the budget (a refusal turns it
    into a stop, `Reason.BUDGET_EXHAUSTED`); a retry is logged at INFO and handed
    to ``on_retry``, a stop after a retry or for another reason than the error
    itself is logged at DEBUG. `elapsed`: seconds since the first attempt began.
    `resent`: the attempt was an SDK's re-send, a retry that spends from the
    budget too; when the budget refuses it, errorkit retries no further.
    """
    decision = policy.decide(
        attempt=attempt,
        elapsed=elapsed,
        method=request.method,
        outcome=outcome,
        replayable=request.replayable,
        has_idempotency_key=request.has_idempotency_key,
    )
    planned = decision.delay
    if policy.gate is not None:
        decision = _at_gate(
            policy, policy.gate, request, outcome=outcome, decision=decision, elapsed=elapsed
        )
    budget = policy.budget
    free = decision.retry and _metered(outcome)
    if budget is not None and attempt == 1 and decision.retry and not free:
        budget.record_failure()  # a request that failed so earns no retries
    # A re-send was a retry, sent: it is paid for whatever comes next.
    paid = budget is None or not resent or budget.try_spend()
    if decision.retry and not free and budget is not None and not (paid and budget.try_spend()):
        decision = Decision(
            retry=False,
            delay=0.0,
            reason=Reason.BUDGET_EXHAUSTED,
            detail=f"retry budget exhausted: {decision.detail}",
        )
    if decision.retry and policy.gate is not None:
        decision = _slot(policy, policy.gate, request, decision, elapsed)
    if decision.retry:
        _announce(policy, decision, outcome, request, attempt)
    elif attempt > 1 or decision.reason is not Reason.NOT_RETRYABLE:
        logger.debug(
            "Not retrying %s %s after attempt %d: %s",
            request.method,
            _shown_url(request),
            attempt,
            decision.detail,
        )
    if _observe.OBSERVER is not None:
        source = wait_source(outcome, decision.delay, planned)
        _observe.OBSERVER.decided(request, outcome, decision, attempt, source)
    return decision


def _metered(outcome: ErrorInfo | TransportFailure) -> bool:
    """Whether a retry is the server's own metering, not charged to the budget: a 429
    that says when to come back.

    The budget caps retries into failures nobody metered (an outage, a crash). A
    429 with a wait is the server saying when it takes the request again: the retry
    waits that long (and with a gate, every caller of the scope does), so it adds no
    load the server did not ask for. Charging it would end calls on a 429 that the
    stack's own retry (urllib3's ``Retry``, httpx-retries) would have waited out.
    """
    return isinstance(outcome, ErrorInfo) and outcome.status == 429 and bool(closing_wait(outcome))


def _at_gate(  # noqa: PLR0913 - step()'s facts, and the gate
    policy: RetryPolicy,
    gate: RateLimitGate,
    request: Request,
    *,
    outcome: ErrorInfo | TransportFailure,
    decision: Decision,
    elapsed: float,
) -> Decision:
    """An error response's wait closes the gate; a retry waits for the gate to open.

    The scope may be held longer than this response asked (another request's 429):
    the retry then waits that long, or stops as for a hint that is too long or a
    wait past the deadline. No slot of a paced scope is taken here: `_slot` takes it
    once the budget granted the retry.
    """
    args = (request.method, request.url, request.headers)
    if isinstance(outcome, ErrorInfo):
        gate.observe(*args, outcome)
    if not decision.retry:
        return decision
    return _held_for(policy, decision, gate.closed_for(*args), elapsed, "holds")


def _slot(
    policy: RetryPolicy, gate: RateLimitGate, request: Request, decision: Decision, elapsed: float
) -> Decision:
    """A granted retry takes its scope's next slot, from the end of its delay on."""
    args = (request.method, request.url, request.headers)
    return _held_for(policy, decision, gate.wait(*args, after=decision.delay), elapsed, "paces")


def _held_for(
    policy: RetryPolicy, decision: Decision, held: float, elapsed: float, how: str
) -> Decision:
    """`decision`, its delay raised to `held` s at the gate; a stop if that is too long."""
    if held <= decision.delay:
        return decision
    if held > policy.max_retry_after:
        reason, detail = Reason.HINT_TOO_LONG, f"above max_retry_after={policy.max_retry_after:g}"
    elif _past_deadline(policy, elapsed + held):
        reason, detail = Reason.DEADLINE, "past the deadline"
    else:
        return Decision(
            retry=True,
            delay=held,
            reason=Reason.SERVER_HINT,
            detail=f"{decision.detail}; the rate-limit gate {how} {held:.2f} s",
        )
    return Decision(
        retry=False,
        delay=0.0,
        reason=reason,
        detail=f"{decision.detail}; the rate-limit gate {how} {held:.2f} s, {detail}",
    )


def _announce(
    policy: RetryPolicy,
    decision: Decision,
    outcome: ErrorInfo | TransportFailure,
    request: Request,
    attempt: int,
) -> None:
    url = _shown_url(request)
    logger.info(
        "Retrying %s %s in %.2f s (attempt %d of %d failed): %s",
        request.method,
        url,
        decision.delay,
        attempt,
        policy.max_attempts,
        decision.detail,
        extra={"errorkit_attempt": attempt, "errorkit_reason": decision.reason.value},
    )
    if policy.on_retry is not None:
        info = outcome if isinstance(outcome, ErrorInfo) else outcome.info()
        event = RetryEvent(
            attempt=attempt,
            delay=decision.delay,
            reason=decision.reason,
            info=info,
            method=request.method,
            url=url,
        )
        policy.on_retry(event)


def _shown_url(request: Request) -> str:
    """The request's URL for a log line and `RetryEvent.url`: redacted, one printable line.

    (The ``errorkit`` logger's filter makes every log argument safe too; the
    event is handed to user code, which may print it.)
    """
    return escape_control(redact_url(request.url))


def new_idempotency_key() -> str:
    """A fresh key for one logical request, reused by every attempt of it."""
    return str(uuid.uuid4())
