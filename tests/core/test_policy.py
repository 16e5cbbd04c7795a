"""RetryPolicy: validation, every check of decide() in order, backoff, hints, deadline."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errorkit._budget import RetryBudget
from errorkit._gate import RateLimitGate
from errorkit._info import Category, ErrorInfo
from errorkit._policy import (
    Decision,
    Outcome,
    Reason,
    RetryPolicy,
    TransportFailure,
    _check_attempts,
    _check_replayable,
    _check_retryable,
    _check_server_said_no,
    _not_acted_on,
    is_idempotent,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CATEGORY_OF = {
    400: Category.BAD_REQUEST,
    404: Category.NOT_FOUND,
    408: Category.CLIENT,
    409: Category.CONFLICT,
    429: Category.RATE_LIMITED,
    500: Category.SERVER,
    502: Category.UNAVAILABLE,
    503: Category.UNAVAILABLE,
    504: Category.UNAVAILABLE,
    529: Category.UNAVAILABLE,
}
RETRY_REASONS = {Reason.RETRYABLE, Reason.SERVER_HINT, Reason.NOT_SENT}


def err(
    status: int | None,
    *,
    retryable: bool = True,
    retry_after: float | None = None,
    source: str | None = None,
    should_retry: bool | None = None,
    category: Category | None = None,
) -> ErrorInfo:
    return ErrorInfo(
        status=status,
        category=category or CATEGORY_OF.get(status or 0, Category.SERVER),
        message="error",
        retryable=retryable,
        retry_after=retry_after,
        retry_after_source=source,
        should_retry=should_retry,
    )


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


#: A policy without jitter or budget, so every delay is the formula's value.
EXACT = RetryPolicy(jitter=0.0, budget=None, random=fixed(0.0))


@dataclasses.dataclass
class Recorder:
    """A callable that records its calls: mutable, hence unhashable, as hooks often are."""

    calls: list[object] = dataclasses.field(default_factory=list)

    def __call__(self, event: object = None) -> float:
        self.calls.append(event)
        return 0.5


def decide(policy: RetryPolicy, outcome: Outcome, **kwargs: object) -> Decision:
    args: dict[str, object] = {"attempt": 1, "elapsed": 0.0, "method": "GET"}
    args.update(kwargs)
    return policy.decide(outcome=outcome, **args)  # type: ignore[arg-type]


NOT_SENT = TransportFailure(sent=False, description="connection refused")
SENT = TransportFailure(sent=True, description="connection reset")
READ_TIMEOUT = TransportFailure(sent=True, timeout=True, description="read timeout")
CONNECT_TIMEOUT = TransportFailure(sent=False, timeout=True, description="connect timeout")
BAD_CERTIFICATE = TransportFailure(sent=False, retryable=False, description="bad certificate")

# --- construction ---------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    """The defaults are 3 attempts, 0.1 s / 1 s bases, x2, 20 s cap, full jitter, 60 s."""
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.initial_delay, policy.throttle_delay) == (3, 0.1, 1.0)
    assert (policy.multiplier, policy.max_delay, policy.jitter) == (2.0, 20.0, 1.0)
    assert (policy.max_retry_after, policy.deadline) == (60.0, None)
    assert isinstance(policy.budget, RetryBudget)
    assert (policy.idempotency_key, policy.idempotency_header) == (False, "Idempotency-Key")
    assert policy.on_retry is None


def test_each_policy_gets_its_own_default_budget() -> None:
    """Two policies built separately do not share a budget."""
    assert RetryPolicy().budget is not RetryPolicy().budget


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_attempts", 0),
        ("max_attempts", -1),
        ("max_attempts", 2.0),
        ("max_attempts", True),
        ("max_attempts", "3"),
        ("initial_delay", -0.1),
        ("initial_delay", math.nan),
        ("initial_delay", math.inf),
        ("initial_delay", "0.1"),
        ("throttle_delay", -1.0),
        ("max_delay", math.inf),
        ("max_delay", None),
        ("multiplier", 0.5),
        ("multiplier", math.inf),
        ("jitter", -0.01),
        ("jitter", 1.01),
        ("max_retry_after", -1.0),
        ("max_retry_after", math.inf),
        ("deadline", 0.0),
        ("deadline", -5.0),
        ("deadline", math.inf),
        ("deadline", math.nan),
        ("budget", object()),
        ("budget", 0.1),
        ("on_retry", 42),
        ("random", None),
        ("idempotency_key", "yes"),
        ("idempotency_header", ""),
        ("idempotency_header", "Idempotency Key"),
        ("idempotency_header", "Key:"),
        ("idempotency_header", b"Idempotency-Key"),
    ],
)
def test_a_bad_argument_raises_a_value_error_naming_it(name: str, value: object) -> None:
    """Every invalid argument is refused at construction with its name in the message."""
    with pytest.raises(ValueError, match=f"^{name} must be"):
        RetryPolicy(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_attempts", 1),
        ("initial_delay", 0),
        ("throttle_delay", 0.0),
        ("max_delay", 0.0),
        ("multiplier", 1),
        ("jitter", 0),
        ("jitter", 1),
        ("max_retry_after", 0.0),
        ("deadline", 0.001),
        ("deadline", None),
        ("budget", None),
        ("on_retry", print),
        ("idempotency_header", "X-Request-Key"),
    ],
)
def test_edge_values_are_accepted(name: str, value: object) -> None:
    """The documented edge of each knob (0, 1, None) is a valid setting."""
    assert getattr(RetryPolicy(**{name: value}), name) == value  # type: ignore[arg-type]


def test_replace_derives_a_validated_copy_sharing_the_budget() -> None:
    """dataclasses.replace() gives a new policy with the change and the same budget object."""
    policy = RetryPolicy()
    copy = dataclasses.replace(policy, max_attempts=5)
    assert (copy.max_attempts, policy.max_attempts) == (5, 3)
    assert copy.budget is policy.budget
    assert copy == dataclasses.replace(policy, max_attempts=5)


def test_replace_validates() -> None:
    """A derived copy is validated like a new policy."""
    with pytest.raises(ValueError, match=r"^jitter must be"):
        dataclasses.replace(RetryPolicy(), jitter=2.0)


def test_replace_can_drop_the_budget() -> None:
    """dataclasses.replace(policy, budget=None) gives a policy without a budget."""
    assert dataclasses.replace(RetryPolicy(), budget=None).budget is None


# --- equality and hashing ----------------------------------------------------------


def test_separately_built_policies_are_not_equal() -> None:
    """RetryPolicy() != RetryPolicy(): each builds its own budget, and budgets differ."""
    assert RetryPolicy() != RetryPolicy()


def test_a_budget_compares_by_identity() -> None:
    """Two budgets with the same settings still make the policies holding them unequal."""
    assert RetryPolicy(budget=RetryBudget(ratio=0.5)) != RetryPolicy(budget=RetryBudget(ratio=0.5))


def test_equal_settings_and_the_same_budget_are_equal() -> None:
    """Policies built alike around one budget and one gate are equal and hash alike."""
    budget, gate = RetryBudget(), RateLimitGate()
    one = RetryPolicy(max_attempts=5, deadline=30.0, budget=budget, gate=gate, on_retry=print)
    two = RetryPolicy(max_attempts=5, deadline=30.0, budget=budget, gate=gate, on_retry=print)
    assert one == two
    assert hash(one) == hash(two)


def test_a_copy_without_changes_equals_its_source() -> None:
    """dataclasses.replace(policy) is a distinct object equal to policy, with the same hash."""
    policy = RetryPolicy()
    copy = dataclasses.replace(policy)
    assert copy is not policy
    assert copy == policy
    assert hash(copy) == hash(policy)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_attempts", 5),
        ("initial_delay", 0.5),
        ("throttle_delay", 2.0),
        ("max_delay", 10.0),
        ("multiplier", 3.0),
        ("jitter", 0.5),
        ("max_retry_after", 30.0),
        ("deadline", 30.0),
        ("budget", None),
        ("idempotency_key", True),
        ("idempotency_header", "X-Request-Key"),
        ("on_retry", print),
    ],
)
def test_every_setting_takes_part_in_equality(name: str, value: object) -> None:
    """A copy that changes any one setting no longer equals its source."""
    policy = RetryPolicy()
    assert dataclasses.replace(policy, **{name: value}) != policy  # type: ignore[arg-type]


def test_random_is_left_out_of_repr_and_equality() -> None:
    """Two policies differing only in their random source are equal; neither repr shows it."""
    budget, gate = RetryBudget(), RateLimitGate()
    one = RetryPolicy(budget=budget, gate=gate, random=fixed(0.1))
    two = RetryPolicy(budget=budget, gate=gate, random=fixed(0.9))
    assert one == two
    assert hash(one) == hash(two)
    assert "random" not in repr(one)


def test_a_policy_is_hashable_when_its_callables_are() -> None:
    """An unhashable on_retry makes hash() raise TypeError; an unhashable random does not."""
    assert isinstance(hash(RetryPolicy(random=Recorder())), int)
    with pytest.raises(TypeError, match="unhashable"):
        hash(RetryPolicy(on_retry=Recorder()))


# --- is_idempotent -----------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        *["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "QUERY"],
        *["get", "head", "options", "trace", "put", "delete", "query"],
        *["Get", "Put", "dElEtE"],
    ],
)
def test_rfc_9110_idempotent_methods_are_idempotent(method: str) -> None:
    """GET HEAD OPTIONS TRACE PUT DELETE and QUERY are idempotent, in any letter case."""
    assert is_idempotent(method)


@pytest.mark.parametrize(
    "method", ["POST", "PATCH", "CONNECT", "PROPFIND", "MKCOL", "post", "patch", "", "GETS"]
)
def test_other_methods_are_not_idempotent(method: str) -> None:
    """POST, PATCH, CONNECT and unknown methods are not idempotent."""
    assert not is_idempotent(method)


# --- the checks, one by one --------------------------------------------------------


@pytest.mark.parametrize(("replayable", "stops"), [(True, False), (False, True)])
def test_check_replayable(replayable: bool, stops: bool) -> None:
    """A request whose body cannot be replayed stops with NOT_REPLAYABLE."""
    result = _check_replayable(replayable, err(503))
    assert (result is not None) is stops
    assert result is None or result.reason is Reason.NOT_REPLAYABLE


@pytest.mark.parametrize(
    ("outcome", "stops"),
    [
        (err(503, should_retry=False), True),
        (err(503, should_retry=None), False),
        (err(503, should_retry=True), False),
        (SENT, False),
    ],
)
def test_check_server_said_no(outcome: Outcome, stops: bool) -> None:
    """Only an explicit should_retry=False (x-should-retry: false) stops, with SERVER_SAID_NO."""
    result = _check_server_said_no(outcome)
    assert (result is not None) is stops
    assert result is None or result.reason is Reason.SERVER_SAID_NO


@pytest.mark.parametrize(
    ("outcome", "stops"),
    [
        (err(404, retryable=False), True),
        (err(503), False),
        (TransportFailure(sent=False, retryable=False, description="bad certificate"), True),
        (NOT_SENT, False),
    ],
)
def test_check_retryable(outcome: Outcome, stops: bool) -> None:
    """A non-retryable error or transport failure stops with NOT_RETRYABLE."""
    result = _check_retryable(outcome)
    assert (result is not None) is stops
    assert result is None or result.reason is Reason.NOT_RETRYABLE


@pytest.mark.parametrize(
    ("attempt", "max_attempts", "stops"),
    [(1, 1, True), (1, 3, False), (2, 3, False), (3, 3, True), (7, 3, True)],
)
def test_check_attempts(attempt: int, max_attempts: int, stops: bool) -> None:
    """The attempt numbered max_attempts is the last: then ATTEMPTS_EXHAUSTED."""
    result = _check_attempts(attempt, max_attempts, err(503))
    assert (result is not None) is stops
    assert result is None or result.reason is Reason.ATTEMPTS_EXHAUSTED


# --- decide(): order and outcomes ----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"replayable": False}, Reason.NOT_REPLAYABLE),
        ({}, Reason.SERVER_SAID_NO),
    ],
)
def test_checks_run_in_the_documented_order(kwargs: dict[str, object], reason: Reason) -> None:
    """With every check failing, the earliest in the documented order decides."""
    outcome = err(500, retryable=False, should_retry=False, retry_after=999.0)
    assert decide(EXACT, outcome, method="POST", attempt=9, **kwargs).reason is reason


@pytest.mark.parametrize(
    ("outcome", "method", "attempt", "elapsed", "reason"),
    [
        (err(500, retryable=False, retry_after=999.0), "POST", 9, 99.0, Reason.NOT_RETRYABLE),
        (err(500, retry_after=999.0), "POST", 9, 99.0, Reason.UNSAFE_METHOD),
        (err(500, retry_after=999.0), "GET", 9, 99.0, Reason.ATTEMPTS_EXHAUSTED),
        (err(500, retry_after=999.0), "GET", 1, 99.0, Reason.HINT_TOO_LONG),
        (err(500, retry_after=1.0), "GET", 1, 99.0, Reason.DEADLINE),
        (err(500, retry_after=1.0), "GET", 1, 0.0, Reason.SERVER_HINT),
    ],
)
def test_each_later_check_applies_once_the_earlier_ones_pass(
    outcome: Outcome, method: str, attempt: int, elapsed: float, reason: Reason
) -> None:
    """Fixing one failing check at a time exposes the next one in order."""
    policy = dataclasses.replace(EXACT, deadline=10.0)
    result = decide(policy, outcome, method=method, attempt=attempt, elapsed=elapsed)
    assert result.reason is reason


def test_max_attempts_counts_attempts_not_retries() -> None:
    """max_attempts=3 means the first attempt and two retries."""
    assert [decide(EXACT, err(503), attempt=n).retry for n in (1, 2, 3)] == [True, True, False]


def test_max_attempts_one_never_retries() -> None:
    """max_attempts=1 stops after the first attempt, whatever the failure."""
    policy = dataclasses.replace(EXACT, max_attempts=1)
    assert decide(policy, NOT_SENT).reason is Reason.ATTEMPTS_EXHAUSTED


KEYED, UNKEYED = True, False  # has_idempotency_key
REPLAYABLE, ONE_SHOT = True, False  # replayable
RETRY, STOP = True, False  # the decision
SAID_RETRY_400 = err(400, retryable=False, should_retry=True)  # x-should-retry: true


@pytest.mark.parametrize(
    ("method", "outcome", "has_key", "replayable", "retry", "reason"),
    [
        # 1. a body that cannot be sent again stops first, even a GET, even keyed
        ("GET", err(503), UNKEYED, ONE_SHOT, STOP, Reason.NOT_REPLAYABLE),
        ("POST", NOT_SENT, KEYED, ONE_SHOT, STOP, Reason.NOT_REPLAYABLE),
        # 2. x-should-retry: false stops, even where the method check would pass
        ("GET", err(503, should_retry=False), UNKEYED, REPLAYABLE, STOP, Reason.SERVER_SAID_NO),
        ("POST", err(429, should_retry=False), KEYED, REPLAYABLE, STOP, Reason.SERVER_SAID_NO),
        # 3. a non-retryable outcome stops; neither a key nor "should retry" revives it
        ("GET", err(404, retryable=False), UNKEYED, REPLAYABLE, STOP, Reason.NOT_RETRYABLE),
        ("GET", BAD_CERTIFICATE, UNKEYED, REPLAYABLE, STOP, Reason.NOT_RETRYABLE),
        ("POST", SAID_RETRY_400, KEYED, REPLAYABLE, STOP, Reason.NOT_RETRYABLE),
        # 4. an idempotent method passes whatever the failure, in any letter case
        ("GET", SENT, UNKEYED, REPLAYABLE, RETRY, Reason.RETRYABLE),
        ("HEAD", NOT_SENT, UNKEYED, REPLAYABLE, RETRY, Reason.NOT_SENT),
        ("put", READ_TIMEOUT, UNKEYED, REPLAYABLE, RETRY, Reason.RETRYABLE),
        ("DELETE", err(503, retry_after=0.0), UNKEYED, REPLAYABLE, RETRY, Reason.SERVER_HINT),
        # 4. another method passes with an idempotency key...
        ("POST", SENT, KEYED, REPLAYABLE, RETRY, Reason.RETRYABLE),
        ("PROPFIND", err(500), KEYED, REPLAYABLE, RETRY, Reason.RETRYABLE),
        # ...or when the server cannot have acted: not sent, 429, 503 with a hint or "retry"
        ("POST", NOT_SENT, UNKEYED, REPLAYABLE, RETRY, Reason.NOT_SENT),
        ("patch", CONNECT_TIMEOUT, UNKEYED, REPLAYABLE, RETRY, Reason.NOT_SENT),
        ("POST", err(429), UNKEYED, REPLAYABLE, RETRY, Reason.RETRYABLE),
        ("CONNECT", err(429, retry_after=1.0), UNKEYED, REPLAYABLE, RETRY, Reason.SERVER_HINT),
        ("POST", err(503, retry_after=1.0), UNKEYED, REPLAYABLE, RETRY, Reason.SERVER_HINT),
        ("PATCH", err(503, should_retry=True), UNKEYED, REPLAYABLE, RETRY, Reason.RETRYABLE),
        ("POST", err(500, should_retry=True), UNKEYED, REPLAYABLE, RETRY, Reason.RETRYABLE),
        # ...else it stops: the server may have acted on it
        ("POST", SENT, UNKEYED, REPLAYABLE, STOP, Reason.UNSAFE_METHOD),
        ("post", READ_TIMEOUT, UNKEYED, REPLAYABLE, STOP, Reason.UNSAFE_METHOD),
        ("PATCH", err(503), UNKEYED, REPLAYABLE, STOP, Reason.UNSAFE_METHOD),
        ("POST", err(500, retry_after=1.0), UNKEYED, REPLAYABLE, STOP, Reason.UNSAFE_METHOD),
        ("MKCOL", err(529, retry_after=1.0), UNKEYED, REPLAYABLE, STOP, Reason.UNSAFE_METHOD),
    ],
)
def test_method_key_and_body_truth_table(
    method: str, outcome: Outcome, has_key: bool, replayable: bool, retry: bool, reason: Reason
) -> None:
    """Checks 1-4 turn each method, outcome, key and body into the tabled retry and reason."""
    result = decide(
        EXACT, outcome, method=method, has_idempotency_key=has_key, replayable=replayable
    )
    assert (result.retry, result.reason) == (retry, reason)


@pytest.mark.parametrize(
    ("outcome", "safe"),
    [
        # x-should-retry / Stripe-Should-Retry: true vouches for a re-send at any status
        *((err(status, should_retry=True), True) for status in (400, 409, 500, 503, 529)),
        (err(429), True),
        (err(503, retry_after=1.0), True),
        (NOT_SENT, True),
        # without the server's word, a failure it may have acted on
        *((err(status), False) for status in (409, 500, 503, 529)),
        (err(500, retry_after=1.0), False),
        (err(503, should_retry=False), False),
        (SENT, False),
    ],
)
def test_not_acted_on(outcome: Outcome, safe: bool) -> None:
    """When a non-idempotent request may be re-sent without a key (README "The retry policy")."""
    assert _not_acted_on(outcome) is safe


def test_unsafe_method_detail_names_the_configured_header() -> None:
    """The UNSAFE_METHOD detail tells which header would allow the retry."""
    policy = dataclasses.replace(EXACT, idempotency_header="X-Idem")
    assert decide(policy, SENT, method="POST").detail == (
        "connection reset (sent): POST is not idempotent and the server may have acted on "
        "it (send an X-Idem to allow retries)"
    )


def test_unsafe_failed_retry_is_not_retried_again() -> None:
    """A POST retried after a refused connection is not retried once it may have been sent."""
    policy = dataclasses.replace(EXACT, max_attempts=5)
    assert decide(policy, NOT_SENT, method="POST", attempt=1).retry
    assert decide(policy, NOT_SENT, method="POST", attempt=2).retry
    assert decide(policy, SENT, method="POST", attempt=3).reason is Reason.UNSAFE_METHOD


def test_non_retryable_404_detail() -> None:
    """A non-retryable error stops with a short detail naming its status and category."""
    assert decide(EXACT, err(404, retryable=False)).detail == "404 not_found: not retryable"


# --- backoff -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "transient", "throttled"),
    [(1, 0.1, 1.0), (2, 0.2, 2.0), (3, 0.4, 4.0), (4, 0.8, 8.0), (5, 1.6, 16.0), (6, 3.2, 20.0)],
)
def test_backoff_without_jitter_is_the_capped_exponential(
    attempt: int, transient: float, throttled: float
) -> None:
    """jitter=0 gives min(max_delay, base x 2^(n-1)) from 0.1 s or, throttled, 1 s."""
    assert EXACT.backoff(attempt, throttled=False) == pytest.approx(transient)
    assert EXACT.backoff(attempt, throttled=True) == pytest.approx(throttled)


@pytest.mark.parametrize(
    ("jitter", "draw", "expected"),
    [(1.0, 0.0, 0.4), (1.0, 0.5, 0.2), (1.0, 0.75, 0.1), (0.5, 0.5, 0.3), (0.0, 0.9, 0.4)],
)
def test_jitter_removes_a_random_fraction(jitter: float, draw: float, expected: float) -> None:
    """delay = (1 - jitter x U) x computed: full jitter spans (0, computed]."""
    policy = RetryPolicy(jitter=jitter, random=fixed(draw), budget=None)
    assert policy.backoff(3, throttled=False) == pytest.approx(expected)


def test_backoff_survives_huge_attempt_numbers() -> None:
    """An attempt number whose power overflows gives max_delay, or 0 from a 0 base."""
    assert EXACT.backoff(100_000, throttled=False) == 20.0
    assert dataclasses.replace(EXACT, initial_delay=0.0).backoff(100_000, throttled=False) == 0.0


def test_multiplier_one_gives_a_constant_delay() -> None:
    """multiplier=1 waits the base every time."""
    policy = dataclasses.replace(EXACT, multiplier=1.0, initial_delay=0.5)
    assert {policy.backoff(n, throttled=False) for n in range(1, 10)} == {0.5}


def test_max_delay_zero_makes_every_backoff_zero() -> None:
    """max_delay=0 retries at once (server hints aside)."""
    assert dataclasses.replace(EXACT, max_delay=0.0).backoff(3, throttled=True) == 0.0


@pytest.mark.parametrize(
    ("outcome", "delay"),
    [
        (err(503), 0.1),
        (err(500), 0.1),
        (SENT, 0.1),
        (err(429), 1.0),
        (err(400, category=Category.RATE_LIMITED), 1.0),
        (err(503, retry_after=0.0), 1.0),
        (err(429, retry_after=0.0), 1.0),
        (err(500, retry_after=0.0), 0.1),
        (err(504, retry_after=0.0), 0.1),
    ],
)
def test_throttling_uses_the_throttle_base(outcome: Outcome, delay: float) -> None:
    """Rate limiting and 429/503 with a hint back off from 1 s; other failures from 0.1 s."""
    assert decide(EXACT, outcome).delay == pytest.approx(delay)


def test_the_injected_random_makes_decisions_repeatable() -> None:
    """The same injected draw gives the same delay, and random is called once per retry."""
    calls: list[int] = []

    def draw() -> float:
        calls.append(1)
        return 0.25

    policy = RetryPolicy(random=draw, budget=None)
    first = decide(policy, err(429, retry_after=2.0))
    second = decide(policy, err(429, retry_after=2.0))
    assert first == second
    assert len(calls) == 2
    decide(policy, err(404, retryable=False))
    assert len(calls) == 2


# --- server hints ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "draw", "delay"),
    [
        (2.0, 0.0, 2.0),  # the hint wins over the 1 s throttle backoff
        (2.0, 0.5, 2.1),  # + U x 10 % of the hint
        (30.0, 0.5, 30.5),  # + U x at most 1 s
        (60.0, 0.9, 60.0),  # never above max_retry_after
        (0.5, 0.0, 1.0),  # the hint is a floor: the backoff may be longer
    ],
)
def test_a_server_hint_is_a_floor_with_small_jitter(hint: float, draw: float, delay: float) -> None:
    """delay = max(backoff, min(max_retry_after, hint + U x min(0.1 hint, 1 s)))."""
    policy = RetryPolicy(jitter=0.0, random=fixed(draw), budget=None)
    result = decide(policy, err(429, retry_after=hint))
    assert (result.retry, result.reason) == (True, Reason.SERVER_HINT)
    assert result.delay == pytest.approx(delay)


def test_hint_detail_says_what_the_server_asked() -> None:
    """The detail reads '429 rate_limited: waiting 2.05 s (server asked 2 s via ...)'."""
    policy = RetryPolicy(random=fixed(0.25), budget=None)
    result = decide(policy, err(429, retry_after=2.0, source="header:retry-after"))
    assert result.detail == (
        "429 rate_limited: waiting 2.05 s (server asked 2 s via header:retry-after)"
    )


def test_the_seed_retry_after_of_60_is_honoured_by_default() -> None:
    """The agents seed's 'retryAfter: 60' waits 60 s with the default policy."""
    result = decide(RetryPolicy(random=fixed(0.0)), err(429, retry_after=60.0))
    assert (result.retry, result.delay) == (True, 60.0)


@pytest.mark.parametrize(
    ("max_retry_after", "hint", "reason"),
    [
        (60.0, 60.5, Reason.HINT_TOO_LONG),
        (60.0, 3600.0, Reason.HINT_TOO_LONG),
        (60.0, 60.0, Reason.SERVER_HINT),
        (0.0, 0.001, Reason.HINT_TOO_LONG),
        (0.0, 0.0, Reason.SERVER_HINT),
    ],
)
def test_a_hint_above_max_retry_after_stops_at_once(
    max_retry_after: float, hint: float, reason: Reason
) -> None:
    """A requested wait longer than max_retry_after ends the retries on the first attempt."""
    policy = dataclasses.replace(EXACT, max_retry_after=max_retry_after, max_delay=0.0)
    assert decide(policy, err(503, retry_after=hint)).reason is reason


def test_hint_too_long_detail_names_the_source_and_the_limit() -> None:
    """The HINT_TOO_LONG detail gives the asked wait, its source and the limit."""
    result = decide(EXACT, err(429, retry_after=3600.0, source="body:retryAfter"))
    assert result.detail == (
        "429 rate_limited: server asked 3600 s via body:retryAfter, more than max_retry_after=60 s"
    )


# --- deadline -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "retry"),
    [(0.0, True), (9.89, True), (9.9, False), (9.95, False), (12.0, False)],
)
def test_a_retry_that_would_reach_the_deadline_is_not_made(elapsed: float, retry: bool) -> None:
    """elapsed + delay >= deadline stops with DEADLINE instead of sleeping past it."""
    result = decide(dataclasses.replace(EXACT, deadline=10.0), err(503), elapsed=elapsed)
    assert result.retry is retry
    assert retry or result.reason is Reason.DEADLINE


def test_a_hint_longer_than_the_time_left_stops() -> None:
    """A server hint that would outlast the deadline stops with DEADLINE."""
    result = decide(
        dataclasses.replace(EXACT, deadline=30.0), err(429, retry_after=20.0), elapsed=15.0
    )
    assert result.reason is Reason.DEADLINE
    assert result.detail == (
        "429 rate_limited: waiting 20.00 s would reach the 30 s deadline (15.00 s left)"
    )


@pytest.mark.parametrize(
    ("deadline", "elapsed", "left"),
    [(None, 5.0, None), (10.0, 0.0, 10.0), (10.0, 4.5, 5.5), (10.0, 12.0, 0.0)],
)
def test_remaining_is_the_time_left_before_the_deadline(
    deadline: float | None, elapsed: float, left: float | None
) -> None:
    """remaining() is deadline - elapsed, never negative, or None without a deadline."""
    assert dataclasses.replace(EXACT, deadline=deadline).remaining(elapsed) == left


# --- purity and plumbing -----------------------------------------------------------


def test_decide_leaves_the_budget_alone() -> None:
    """decide() never records or spends: the adapters' loop does."""
    budget = RetryBudget()
    policy = RetryPolicy(budget=budget)
    for attempt in (1, 2, 3):
        decide(policy, err(503), attempt=attempt)
    assert budget.stats() == (0, 0, 0)


@pytest.mark.parametrize(("attempt", "elapsed"), [(0, 0.0), (-1, 0.0), (1, -0.1), (1, math.nan)])
def test_decide_rejects_impossible_inputs(attempt: int, elapsed: float) -> None:
    """An attempt number below 1 or a negative or NaN elapsed time is a ValueError."""
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        decide(EXACT, err(503), attempt=attempt, elapsed=elapsed)


@pytest.mark.parametrize(
    ("failure", "category", "reason"),
    [
        (TransportFailure(sent=False), Category.CONNECTION, "before the request was sent"),
        (TransportFailure(sent=True, timeout=True), Category.TIMEOUT, "after the request"),
        (TransportFailure(sent=True, retryable=False), Category.CONNECTION, "not retryable"),
    ],
)
def test_transport_failure_info(failure: TransportFailure, category: Category, reason: str) -> None:
    """info() is a status-less ErrorInfo of category connection or timeout."""
    info = failure.info()
    assert (info.status, info.category, info.format) == (None, category, "transport")
    assert info.message == failure.description
    assert info.retryable is failure.retryable
    assert reason in info.retryable_reason


def test_transport_failure_info_never_has_an_empty_message() -> None:
    """An empty description still gives a message."""
    assert TransportFailure(sent=True, timeout=True, description="").info().message == "timed out"


# --- invariants over arbitrary inputs ----------------------------------------------


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    delay = st.floats(0.0, 30.0)
    return RetryPolicy(
        max_attempts=draw(st.sampled_from([3, 2, 5, 1])),
        initial_delay=draw(delay),
        throttle_delay=draw(delay),
        max_delay=draw(st.floats(0.0, 60.0)),
        multiplier=draw(st.floats(1.0, 5.0)),
        jitter=draw(st.floats(0.0, 1.0)),
        max_retry_after=draw(st.floats(0.0, 120.0)),
        deadline=draw(st.none() | st.floats(0.01, 300.0)),
        budget=None,
        random=fixed(draw(st.floats(0.0, 1.0, exclude_max=True))),
    )


# Most inputs should reach the later checks, so that retries are common.
MOSTLY_TRUE = st.sampled_from([True, True, True, False])
error_infos = st.builds(
    ErrorInfo,
    status=st.none() | st.sampled_from([400, 404, 408, 409, 413, 429, 500, 502, 503, 504, 529]),
    category=st.sampled_from(list(Category)),
    message=st.just("error"),
    retryable=MOSTLY_TRUE,
    retry_after=st.none() | st.floats(0.0, 10.0) | st.floats(0.0, 1000.0),
    should_retry=st.sampled_from([None, None, None, True, False]),
)
failures = st.builds(
    TransportFailure,
    sent=st.booleans(),
    timeout=st.booleans(),
    retryable=MOSTLY_TRUE,
)
scenarios = st.fixed_dictionaries(
    {
        "attempt": st.sampled_from([1, 1, 2, 3, 4, 9]),
        "elapsed": st.floats(0.0, 5.0) | st.floats(0.0, 400.0),
        "method": st.sampled_from(
            [
                *["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "QUERY", "get", "put"],
                *["POST", "PATCH", "CONNECT", "PROPFIND", "post"],
            ]
        ),
        "outcome": error_infos | failures,
        "replayable": MOSTLY_TRUE,
        "has_idempotency_key": st.booleans(),
    }
)


def _unsafe(scenario: dict[str, object]) -> bool:
    """The reference model of check 4, with RFC 9110's idempotent methods written out."""
    outcome = scenario["outcome"]
    idempotent = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "QUERY"}
    if scenario["has_idempotency_key"] or str(scenario["method"]).upper() in idempotent:
        return False
    if isinstance(outcome, TransportFailure):
        return outcome.sent
    assert isinstance(outcome, ErrorInfo)
    if outcome.should_retry is True:  # the server vouches for a re-send, at any status
        return False
    return not (
        outcome.status == 429 or (outcome.status == 503 and outcome.retry_after is not None)
    )


@settings(max_examples=400)
@given(policy=policies(), scenario=scenarios)
def test_delay_is_bounded(policy: RetryPolicy, scenario: dict[str, object]) -> None:
    """A delay is within [0, max(max_delay, max_retry_after)], and 0 when stopping."""
    result = policy.decide(**scenario)  # type: ignore[arg-type]
    assert 0.0 <= result.delay <= max(policy.max_delay, policy.max_retry_after)
    assert result.retry or result.delay == 0.0
    assert (result.reason in RETRY_REASONS) is result.retry


@settings(max_examples=400)
@given(policy=policies(), scenario=scenarios)
def test_never_sleeps_past_the_deadline(policy: RetryPolicy, scenario: dict[str, object]) -> None:
    """A retry always leaves time before the deadline: elapsed + delay < deadline."""
    result = policy.decide(**scenario)  # type: ignore[arg-type]
    if result.retry and policy.deadline is not None:
        assert float(scenario["elapsed"]) + result.delay < policy.deadline  # type: ignore[arg-type]


@settings(max_examples=400)
@given(policy=policies(), scenario=scenarios)
def test_never_retries_what_is_unsafe(policy: RetryPolicy, scenario: dict[str, object]) -> None:
    """Non-idempotent, possibly processed, unkeyed requests are never retried."""
    result = policy.decide(**scenario)  # type: ignore[arg-type]
    if _unsafe(scenario):
        assert not result.retry


@settings(max_examples=400)
@given(policy=policies(), scenario=scenarios)
def test_never_retries_the_unreplayable_or_the_exhausted(
    policy: RetryPolicy, scenario: dict[str, object]
) -> None:
    """A non-replayable request, a non-retryable outcome or the last attempt is never retried."""
    result = policy.decide(**scenario)  # type: ignore[arg-type]
    outcome = scenario["outcome"]
    assert isinstance(outcome, (ErrorInfo, TransportFailure))
    if not scenario["replayable"] or not outcome.retryable:
        assert not result.retry
    if int(scenario["attempt"]) >= policy.max_attempts:  # type: ignore[call-overload]
        assert not result.retry


def test_reasons_print_as_their_stable_names() -> None:
    """str() of a Reason is its lowercase value, as logs and JSON show it."""
    assert [str(reason) for reason in (Reason.NOT_SENT, Reason.DEADLINE)] == [
        "not_sent",
        "deadline",
    ]
