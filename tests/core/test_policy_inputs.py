"""RetryPolicy against absurd inputs: bounds at construction, a broken random(), wild hints.

No setting a constructor accepts, no value `random` returns and no hint an
`ErrorInfo` carries makes `decide()` raise, overflow, or return a delay that is
negative, NaN or beyond the policy's bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import errorkit
from errorkit._hints import MAX_HINT
from errorkit._info import Category, ErrorInfo
from errorkit._policy import (
    MAX_DEADLINE,
    MAX_WAIT,
    Decision,
    Outcome,
    Reason,
    RetryPolicy,
    TransportFailure,
)

if TYPE_CHECKING:
    from collections.abc import Callable

DELAYS = ("initial_delay", "throttle_delay", "max_delay", "max_retry_after")
NUMBERS = (*DELAYS, "multiplier", "jitter", "deadline")
RETRY_REASONS = {Reason.RETRYABLE, Reason.SERVER_HINT, Reason.NOT_SENT}
#: threading.TIMEOUT_MAX on Windows (about 2**32 ms, 49.7 days), the smallest anywhere.
WINDOWS_TIMEOUT_MAX = 4294967.0


def fixed(value: object) -> Callable[[], float]:
    return lambda: value  # type: ignore[return-value]


def unavailable(retry_after: float | None = None) -> ErrorInfo:
    return ErrorInfo(
        status=503,
        category=Category.UNAVAILABLE,
        message="error",
        retryable=True,
        retry_after=retry_after,
        retry_after_source=None if retry_after is None else "header:retry-after",
    )


def decide(policy: RetryPolicy, outcome: Outcome, attempt: int = 1) -> Decision:
    return policy.decide(attempt=attempt, elapsed=0.0, method="GET", outcome=outcome)


# --- bounds at construction ------------------------------------------------------------


@pytest.mark.parametrize("name", DELAYS)
@pytest.mark.parametrize(
    "value",
    [1e300, MAX_WAIT * 1.000001, 10**400, 10**5000],
    ids=["1e300", "just above a day", "400 digits", "5000 digits"],
)
def test_an_absurd_delay_is_refused_naming_it(name: str, value: float) -> None:
    """A delay setting above one day, however large, is a ValueError naming it."""
    with pytest.raises(ValueError, match=rf"^{name} must be a finite number >= 0 and <= 86400, "):
        RetryPolicy(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1e300, MAX_DEADLINE + 1, 10**400])
def test_an_absurd_deadline_is_refused_naming_it(value: float) -> None:
    """A deadline above one week is a ValueError naming it."""
    with pytest.raises(ValueError, match=r"^deadline must be a finite number > 0 and <= 604800, "):
        RetryPolicy(deadline=value)


def test_the_reported_case_is_refused_not_overflowed() -> None:
    """initial_delay=max_delay=1e300 (an OverflowError, or a sleep forever, before) is refused."""
    with pytest.raises(ValueError, match=r"^initial_delay must be .*, not 1e\+300$"):
        RetryPolicy(initial_delay=1e300, max_delay=1e300)


def test_an_int_too_long_to_write_out_is_still_named() -> None:
    """An int of 5000 digits (whose repr itself raises) gets the usual message."""
    with pytest.raises(ValueError, match=r"^multiplier must be .*, not an int too long"):
        RetryPolicy(multiplier=10**5000)


def test_the_bounds_themselves_are_accepted() -> None:
    """One day for every delay and one week for the deadline are valid settings."""
    policy = RetryPolicy(
        initial_delay=MAX_WAIT,
        throttle_delay=MAX_WAIT,
        max_delay=MAX_WAIT,
        max_retry_after=MAX_WAIT,
        deadline=MAX_DEADLINE,
    )
    assert (policy.initial_delay, policy.max_retry_after) == (MAX_WAIT, MAX_WAIT)
    assert (policy.max_delay, policy.deadline) == (MAX_WAIT, MAX_DEADLINE)


def test_every_bound_is_a_wait_each_way_of_sleeping_accepts() -> None:
    """The longest wait or deadline is accepted by socket timeouts, locks and asyncio timers."""
    assert MAX_WAIT <= MAX_DEADLINE < WINDOWS_TIMEOUT_MAX <= threading.TIMEOUT_MAX
    with socket.socket() as sock:
        sock.settimeout(MAX_DEADLINE)  # time.sleep's conversion: OverflowError past ~292 years
    lock = threading.Lock()
    assert lock.acquire(timeout=MAX_DEADLINE)  # a free lock: no wait, but the bound is checked
    lock.release()
    loop = asyncio.new_event_loop()
    try:
        loop.call_later(MAX_DEADLINE, lambda: None).cancel()
    finally:
        loop.close()


def test_a_clamped_server_hint_is_always_too_long() -> None:
    """MAX_HINT, the parser's clamp, exceeds every max_retry_after: such a hint stops."""
    policy = RetryPolicy(max_retry_after=MAX_WAIT, budget=None)
    assert MAX_HINT > MAX_WAIT
    assert decide(policy, unavailable(MAX_HINT)).reason is Reason.HINT_TOO_LONG


# --- the backoff formula -------------------------------------------------------------


@pytest.mark.parametrize(
    ("multiplier", "attempt"),
    [(1e308, 2), (10**300, 2), (1e308, 10**100), (2, 10_000), (2, 10**9), (2, 10**100)],
)
def test_a_huge_multiplier_or_attempt_gives_the_cap(multiplier: float, attempt: int) -> None:
    """However large multiplier ** attempt is (an int multiplier included), it is max_delay."""
    policy = RetryPolicy(
        multiplier=multiplier, initial_delay=1.0, max_delay=5.0, jitter=0.0, budget=None
    )
    started = time.perf_counter()
    assert policy.backoff(attempt, throttled=False) == 5.0
    assert time.perf_counter() - started < 0.1  # 2 ** 10**9 is never computed exactly


def test_a_zero_base_stays_zero_whatever_the_power() -> None:
    """initial_delay=0 retries at once however large multiplier ** attempt is."""
    policy = RetryPolicy(multiplier=1e308, initial_delay=0.0, jitter=0.0, budget=None)
    assert policy.backoff(10**100, throttled=False) == 0.0


# --- a random() outside [0, 1) -----------------------------------------------------


@pytest.mark.parametrize(
    ("draw", "delay"),
    [
        (0.0, 0.4),
        (0.5, 0.2),
        (-1.0, 0.4),  # clamped to 0: the whole delay, never more
        (-math.inf, 0.4),
        (1.0, 0.0),  # clamped to 1: full jitter removes all of it, never below 0
        (5, 0.0),
        (math.inf, 0.0),
        (10**400, 0.0),
        (math.nan, 0.4),  # NaN counts as 0
        (None, 0.4),  # so does what is no number at all
        ("0.5", 0.4),
    ],
)
def test_a_draw_outside_the_unit_interval_is_clamped(draw: object, delay: float) -> None:
    """random() is clamped into [0, 1] (NaN and non-numbers as 0): delays stay in [0, computed]."""
    policy = RetryPolicy(initial_delay=0.4, budget=None, random=fixed(draw))
    assert decide(policy, unavailable()).delay == pytest.approx(delay)
    assert policy.backoff(1, throttled=False) == pytest.approx(delay)


@pytest.mark.parametrize(("draw", "delay"), [(-3.0, 10.0), (math.nan, 10.0), (7.0, 11.0)])
def test_a_broken_draw_keeps_a_hint_within_its_jitter(draw: float, delay: float) -> None:
    """A hint of 10 s waits within [10, 11] s whatever random() returns."""
    policy = RetryPolicy(budget=None, random=fixed(draw))
    assert decide(policy, unavailable(10.0)).delay == pytest.approx(delay)


# --- hints an ErrorInfo built by hand may carry ------------------------------------------


@pytest.mark.parametrize("hint", [math.inf, math.nan, 1e308])
def test_an_infinite_or_nan_hint_stops_at_once(hint: float) -> None:
    """A hint that is no finite wait within max_retry_after is too long, never slept."""
    result = decide(RetryPolicy(budget=None), unavailable(hint))
    assert (result.retry, result.delay, result.reason) == (False, 0.0, Reason.HINT_TOO_LONG)


@pytest.mark.parametrize("hint", [-5.0, -math.inf])
def test_a_negative_hint_means_now(hint: float) -> None:
    """A negative hint (parse() never makes one) waits only the backoff."""
    policy = RetryPolicy(budget=None, jitter=0.0)
    assert decide(policy, unavailable(hint)).delay == pytest.approx(1.0)  # the throttle base


# --- hints too large to represent, through parse() ---------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "9" * 400},
        {"Retry-After": "9" * 20_000},  # cut at MAX_HEADER_VALUE, still 8192 digits
        {"Retry-After": "1" + "0" * 308},  # 1e308 written out
        {"Retry-After": str(2**64)},
        {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
        {"retry-after-ms": "9" * 400},
        {"x-ms-retry-after-ms": "9" * 400},
        {"RateLimit": '"default";r=0;t=' + "9" * 400},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9" * 400},
    ],
    ids=[
        "400 digits",
        "20000 digits",
        "1e308",
        "2**64",
        "year 9999",
        "retry-after-ms",
        "x-ms-retry-after-ms",
        "ratelimit t",
        "x-ratelimit-reset",
    ],
)
def test_a_hint_too_large_to_represent_is_too_long(headers: dict[str, str]) -> None:
    """A 429 whose wait has too many digits for a float stops at once: "too long", not "absent"."""
    info = errorkit.parse(429, headers, b"")
    assert info is not None
    assert info.retry_after == MAX_HINT
    result = decide(RetryPolicy(budget=None), info)
    assert (result.retry, result.reason) == (False, Reason.HINT_TOO_LONG)
    assert "max_retry_after=60 s" in result.detail


# --- properties over every input -----------------------------------------------------------

WILD_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
WILD_NUMBERS = WILD_FLOATS | st.integers() | st.integers(min_value=10**300, max_value=10**400)
DRAWS = WILD_NUMBERS | st.none() | st.text(max_size=3) | st.booleans()


@st.composite
def accepted_policies(draw: st.DrawFn) -> RetryPolicy:
    """Policies at every accepted extreme: 0, subnormals, the bounds, huge multipliers."""
    delay = st.floats(0.0, MAX_WAIT) | st.sampled_from([0.0, 5e-324, MAX_WAIT])
    return RetryPolicy(
        max_attempts=draw(st.integers(1, 5) | st.just(10**30)),
        initial_delay=draw(delay),
        throttle_delay=draw(delay),
        max_delay=draw(delay),
        multiplier=draw(st.floats(1.0, 1e308) | st.integers(1, 10**300)),
        jitter=draw(st.floats(0.0, 1.0)),
        max_retry_after=draw(delay),
        deadline=draw(st.none() | st.floats(5e-324, MAX_DEADLINE)),
        budget=None,
        random=fixed(draw(DRAWS)),
    )


outcomes = st.builds(
    ErrorInfo,
    status=st.sampled_from([429, 500, 503]),
    category=st.sampled_from([Category.RATE_LIMITED, Category.UNAVAILABLE, Category.SERVER]),
    message=st.just("error"),
    retryable=st.sampled_from([True]),
    retry_after=st.none() | WILD_FLOATS | st.sampled_from([MAX_HINT, 0.0, -1.0]),
) | st.builds(TransportFailure, sent=st.booleans(), timeout=st.booleans())
scenarios = st.fixed_dictionaries(
    {
        "attempt": st.integers(1, 4) | st.sampled_from([10**6, 10**29, 10**100]),
        "elapsed": st.floats(min_value=0.0, allow_infinity=True),
        "method": st.sampled_from(["GET", "POST"]),
        "outcome": outcomes,
    }
)


def _assert_bounded(policy: RetryPolicy, scenario: dict[str, object], result: Decision) -> None:
    assert isinstance(result.delay, float)
    assert 0.0 <= result.delay <= max(policy.max_delay, policy.max_retry_after)
    assert result.retry or result.delay == 0.0
    assert (result.reason in RETRY_REASONS) is result.retry
    if result.retry and policy.deadline is not None:
        assert float(scenario["elapsed"]) + result.delay < policy.deadline  # type: ignore[arg-type]


@settings(max_examples=500)
@given(policy=accepted_policies(), scenario=scenarios)
def test_every_accepted_input_gives_a_bounded_delay(
    policy: RetryPolicy, scenario: dict[str, object]
) -> None:
    """For any accepted policy, random() value, hint and attempt, decide() never raises.

    The delay is a float in [0, max(max_delay, max_retry_after)], 0 when stopping,
    and a retry always leaves time before the deadline.
    """
    _assert_bounded(policy, scenario, policy.decide(**scenario))  # type: ignore[arg-type]


@settings(max_examples=500)
@given(
    settings_=st.fixed_dictionaries(
        {}, optional=dict.fromkeys(NUMBERS, st.floats(0.0, 2.0) | WILD_NUMBERS)
    ),
    draw=DRAWS,
    scenario=scenarios,
)
def test_any_number_is_refused_naming_it_or_gives_a_bounded_delay(
    settings_: dict[str, object], draw: object, scenario: dict[str, object]
) -> None:
    """Any int or float for any setting: a ValueError naming a setting, or a sound policy."""
    policy = _build(settings_, draw)
    if isinstance(policy, str):
        assert policy.partition(" ")[0] in settings_
        return
    _assert_bounded(policy, scenario, policy.decide(**scenario))  # type: ignore[arg-type]


def _build(settings_: dict[str, object], draw: object) -> RetryPolicy | str:
    """The policy of these settings, or the message of the ValueError refusing them."""
    try:
        return RetryPolicy(**settings_, budget=None, random=fixed(draw))  # type: ignore[arg-type]
    except ValueError as error:
        return str(error)


def test_a_copy_is_bounded_like_a_new_policy() -> None:
    """dataclasses.replace() refuses an absurd delay as the constructor does."""
    with pytest.raises(ValueError, match=r"^max_delay must be"):
        dataclasses.replace(RetryPolicy(), max_delay=1e300)
