"""RetryBudget: the floor, the ratio, window expiry, counters, threads and tasks."""

from __future__ import annotations

import asyncio
import math
import pickle
import random
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errorkit._budget import MAX_RATE, MAX_WINDOW, MIN_WINDOW, BudgetStats, RetryBudget
from errorkit._clock import CLOCK


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def spend_all(budget: RetryBudget, limit: int = 10_000) -> int:
    granted = 0
    while granted < limit and budget.try_spend():
        granted += 1
    return granted


def test_defaults_are_the_documented_ones() -> None:
    """The defaults are 25 % of requests plus 1 retry/s over a 10 s window."""
    budget = RetryBudget()
    assert (budget.ratio, budget.min_per_second, budget.window) == (0.25, 1.0, 10.0)


def test_floor_allows_retries_at_idle() -> None:
    """With no traffic at all, min_per_second x window retries are still granted."""
    budget = RetryBudget(ratio=0.1, clock=FakeClock())
    assert spend_all(budget) == 10
    assert budget.try_spend() is False


def test_ratio_adds_to_the_floor() -> None:
    """100 recorded requests add 10 % of 100 retries on top of the floor."""
    budget = RetryBudget(ratio=0.1, clock=FakeClock())
    for _ in range(100):
        budget.record_request()
    assert spend_all(budget) == 20


def test_float_rounding_does_not_cost_a_retry() -> None:
    """0.1 x 30 requests grants exactly 3 retries above the floor, not 2."""
    budget = RetryBudget(ratio=0.1, min_per_second=0.0, clock=FakeClock())
    for _ in range(30):
        budget.record_request()
    assert spend_all(budget) == 3


def test_zero_ratio_and_zero_floor_never_allow_a_retry() -> None:
    """ratio=0 and min_per_second=0 make a budget that refuses every retry."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.0, clock=FakeClock())
    for _ in range(1000):
        budget.record_request()
    assert budget.try_spend() is False
    assert budget.retries_refused == 1


@pytest.mark.parametrize("rate", [1, 2, 5, 20, 100, 1000])
def test_outage_retries_stay_within_ratio_and_floor(rate: int) -> None:
    """In a full outage every trailing window keeps retries <= ratio x requests + floor."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.1, clock=clock)
    requests: list[int] = []
    retries: list[int] = []
    for _second in range(60):
        sent = granted = 0
        for _ in range(rate):
            budget.record_request()
            sent += 1
            for _retry in range(2):  # max_attempts=3: two retries wanted, all fail
                if not budget.try_spend():
                    break
                granted += 1
        requests.append(sent)
        retries.append(granted)
        clock.advance(1.0)
    for end in range(len(requests)):
        start = max(0, end - 9)
        assert sum(retries[start : end + 1]) <= 0.1 * sum(requests[start : end + 1]) + 10 + 1e-9
    amplification = (sum(requests) + sum(retries)) / sum(requests)
    assert amplification <= min(3.0, 1.1 + 60 / sum(requests)) + 1e-9


def test_outage_amplification_meets_the_target_from_twenty_requests_per_second() -> None:
    """With the defaults, 20 requests/s in a full outage cost <= 1.3 attempts per request."""
    clock = FakeClock()
    budget = RetryBudget(clock=clock)
    attempts = 0
    for _second in range(600):
        for _ in range(20):
            budget.record_request()
            attempts += 1 + sum(1 for _ in range(2) if budget.try_spend())
        clock.advance(1.0)
    assert attempts / (600 * 20) <= 1.3


def test_a_one_in_six_failure_rate_gets_nearly_every_retry_it_needs() -> None:
    """With the defaults, 3 attempts against 1/6 failures lose < 1 % of requests to
    refusals (each failed first attempt taken back, as the loop does)."""
    clock = FakeClock()
    budget = RetryBudget(clock=clock)
    rng = random.Random(5)
    for _second in range(300):
        for _ in range(50):
            budget.record_request()
            for retry in range(2):
                if rng.random() >= 1 / 6:
                    break  # this attempt succeeded
                if retry == 0:
                    budget.record_failure()
                if not budget.try_spend():
                    break  # its retry was refused
        clock.advance(1.0)
    stats = budget.stats()
    assert stats.retries_refused < 0.01 * stats.requests


def test_failed_requests_earn_no_retries() -> None:
    budget = RetryBudget(ratio=0.5, min_per_second=0.0, clock=FakeClock())
    for _ in range(8):
        budget.record_request()
    for _ in range(4):
        budget.record_failure()
    assert spend_all(budget) == 2  # half of the 4 that did not fail
    assert budget.stats().requests == 8  # the lifetime count is of requests, all of them


def test_an_outage_after_healthy_traffic_spends_only_what_that_traffic_earned() -> None:
    """40 requests/s for 4 s, then 6 s in which every attempt fails (two retries
    wanted each, as the loop asks): the outage's retries are the healthy seconds'
    quarter plus the floor, at most 1.3 attempts per request during it."""
    clock = FakeClock()
    budget = RetryBudget(clock=clock)
    for _tick in range(40):  # 4 s in tenths
        for _ in range(4):
            budget.record_request()
        clock.advance(0.1)
    requests = attempts = 0
    for _tick in range(60):
        for _ in range(4):
            budget.record_request()
            budget.record_failure()
            requests += 1
            attempts += 1 + sum(1 for _ in range(2) if budget.try_spend())
        clock.advance(0.1)
    retries = attempts - requests
    assert retries <= 0.25 * 160 + 1.0 * 10 + 1e-9
    assert attempts / requests <= 1.3


def test_retries_come_back_one_window_later() -> None:
    """Spent retries expire after `window` seconds, not before."""
    clock = FakeClock(0.0)
    budget = RetryBudget(clock=clock)
    assert spend_all(budget) == 10
    clock.advance(5.0)
    assert budget.try_spend() is False
    clock.advance(5.0)
    assert spend_all(budget) == 10


def test_requests_expire_bucket_by_bucket() -> None:
    """Only requests inside the trailing window raise the allowance."""
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0.1, min_per_second=0.0, clock=clock)
    for _ in range(100):
        budget.record_request()
    clock.advance(5.0)
    for _ in range(50):
        budget.record_request()
    clock.advance(5.5)  # t = 10.5: the t = 0 bucket has expired, the t = 5 one has not
    assert budget.available() == 5


def test_a_recorded_request_counts_at_once() -> None:
    """Right after record_request() returns, the counters and the allowance include it."""
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, clock=FakeClock())
    assert budget.available() == 0
    for recorded in range(1, 6):
        budget.record_request()
        assert budget.requests == recorded
        assert budget.stats().requests == recorded
        assert budget.available() == recorded
    assert budget.try_spend() is True
    assert budget.available() == 4


def test_a_budget_never_read_keeps_its_memory_bounded() -> None:
    """A client that never fails never reads its budget: its noted requests stay few."""
    budget = RetryBudget(clock=FakeClock())
    for _ in range(10_000):
        budget.record_request()
    assert len(budget._notes) < 1_000
    assert budget.stats().requests == 10_000


def test_a_long_idle_period_clears_every_bucket() -> None:
    """After more than a window of silence, the window holds nothing but the floor."""
    clock = FakeClock()
    budget = RetryBudget(clock=clock)
    for _ in range(1000):
        budget.record_request()
    spend_all(budget)
    clock.advance(3600.0)
    assert budget.available() == 10


def test_a_clock_stepping_back_keeps_counting() -> None:
    """A clock that goes backwards neither raises nor loses counts."""
    clock = FakeClock(100.0)
    budget = RetryBudget(clock=clock)
    budget.record_request()
    clock.advance(-50.0)
    budget.record_request()
    assert budget.requests == 2
    assert budget.try_spend() is True


def test_default_clock_is_read_through_the_clock_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a clock argument the budget follows errorkit._clock.CLOCK.monotonic."""
    fake = FakeClock(0.0)
    monkeypatch.setattr(CLOCK, "monotonic", fake)
    budget = RetryBudget()
    spend_all(budget)
    fake.advance(10.0)
    assert budget.try_spend() is True


def test_counters_and_snapshot_agree() -> None:
    """stats() is a frozen (requests, allowed, refused) snapshot matching the properties."""
    budget = RetryBudget(min_per_second=0.1, clock=FakeClock())
    budget.record_request()
    budget.record_request()
    assert budget.try_spend() is True
    assert budget.try_spend() is False
    stats = budget.stats()
    assert stats == BudgetStats(requests=2, retries_allowed=1, retries_refused=1)
    assert (budget.requests, budget.retries_allowed, budget.retries_refused) == tuple(stats)
    with pytest.raises(AttributeError):
        stats.requests = 5  # type: ignore[misc]


def test_available_does_not_spend() -> None:
    """available() reports what try_spend would grant without granting it."""
    budget = RetryBudget(ratio=0.1, clock=FakeClock())
    assert budget.available() == 10
    assert budget.available() == 10
    assert budget.stats() == BudgetStats(0, 0, 0)


def test_repr_shows_settings_and_counters() -> None:
    """The repr names every setting and counter."""
    budget = RetryBudget(ratio=0.2, min_per_second=0.5, window=30.0, clock=FakeClock())
    budget.record_request()
    assert repr(budget) == (
        "RetryBudget(ratio=0.2, min_per_second=0.5, window=30.0, requests=1, "
        "retries_allowed=0, retries_refused=0)"
    )


def test_pickled_copy_keeps_settings_and_drops_history() -> None:
    """A budget sent to another process starts fresh with the same settings."""
    budget = RetryBudget(ratio=0.3, min_per_second=2.0, window=5.0)
    budget.record_request()
    copy = pickle.loads(pickle.dumps(budget))
    assert (copy.ratio, copy.min_per_second, copy.window) == (0.3, 2.0, 5.0)
    assert copy.stats() == BudgetStats(0, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ratio": -0.1}, "ratio"),
        ({"ratio": math.nan}, "ratio"),
        ({"ratio": math.inf}, "ratio"),
        ({"ratio": "0.1"}, "ratio"),
        ({"ratio": True}, "ratio"),
        ({"min_per_second": -1.0}, "min_per_second"),
        ({"min_per_second": math.inf}, "min_per_second"),
        ({"window": 0.0}, "window"),
        ({"window": -10.0}, "window"),
        ({"window": math.inf}, "window"),
        ({"window": None}, "window"),
        ({"window": 1e-320}, "window"),
        ({"window": 5e-324}, "window"),
        ({"window": MIN_WINDOW / 2}, "window"),
        ({"window": MAX_WINDOW * 2}, "window"),
        ({"window": 10**400}, "window"),
        ({"ratio": MAX_RATE * 2}, "ratio"),
        ({"ratio": 10**5000}, "ratio"),
        ({"min_per_second": 1e300}, "min_per_second"),
        ({"min_per_second": math.nan}, "min_per_second"),
        ({"clock": 12}, "clock"),
    ],
    ids=lambda value: "" if isinstance(value, dict) else str(value),
)
def test_bad_settings_raise_a_value_error_naming_them(kwargs: dict[str, object], name: str) -> None:
    """Each invalid argument raises ValueError whose message starts with its name."""
    with pytest.raises(ValueError, match=f"^{name} must be"):
        RetryBudget(**kwargs)  # type: ignore[arg-type]


def test_the_extreme_settings_accepted_never_overflow() -> None:
    """The largest ratio, floor and window grant exactly their (huge, finite) allowance."""
    budget = RetryBudget(ratio=MAX_RATE, min_per_second=MAX_RATE, window=MAX_WINDOW)
    for _ in range(1000):
        budget.record_request()
    assert budget.available() == math.floor(MAX_RATE * 1000 + MAX_RATE * MAX_WINDOW)
    assert budget.try_spend() is True


@pytest.mark.parametrize("now", [0.0, 1e9, 1e300, 1.7e308])
def test_the_shortest_window_counts_at_any_clock_reading(now: float) -> None:
    """window=1 ms works however large the monotonic reading (buckets may overflow to inf)."""
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, window=MIN_WINDOW, clock=FakeClock(now))
    budget.record_request()
    assert budget.available() == 1
    assert budget.try_spend() is True
    assert budget.try_spend() is False


@pytest.mark.parametrize("reading", [math.nan, math.inf, -math.inf, None, "soon"], ids=repr)
def test_a_clock_reading_that_is_no_finite_number_counts_as_now(reading: object) -> None:
    """NaN, inf or a non-number from the clock counts in the newest bucket, never raises."""
    clock = FakeClock()
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, clock=clock)
    budget.record_request()
    clock.now = reading  # type: ignore[assignment]
    budget.record_request()
    assert budget.available() == 2
    assert budget.try_spend() is True
    clock.now = 1000.0  # the clock recovers: the same window, nothing lost
    assert budget.stats() == BudgetStats(2, 1, 0)
    assert budget.available() == 1


@pytest.mark.parametrize("reading", [math.nan, math.inf, None], ids=repr)
def test_a_budget_built_on_a_broken_clock_still_works(reading: object) -> None:
    """Even a first reading that is no number gives a working budget: its one retry."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, clock=lambda: reading)  # type: ignore[arg-type,return-value]
    budget.record_request()
    assert budget.try_spend() is True
    assert budget.try_spend() is False


@given(
    readings=st.lists(
        st.floats(allow_nan=True, allow_infinity=True) | st.none(), min_size=1, max_size=30
    ),
    window=st.floats(MIN_WINDOW, MAX_WINDOW),
)
def test_any_clock_readings_never_make_it_raise(
    readings: list[float | None], window: float
) -> None:
    """Whatever the clock returns, record, spend and available answer; counts stay sound."""
    clock = FakeClock(0.0)
    budget = RetryBudget(window=window, clock=clock)
    for reading in readings:
        clock.now = reading  # type: ignore[assignment]
        budget.record_request()
        budget.try_spend()
        assert budget.available() >= 0
    requests, allowed, refused = budget.stats()
    assert (requests, allowed + refused) == (len(readings), len(readings))


def test_threads_hammering_it_keep_counts_consistent() -> None:
    """16 threads recording and spending at once lose no count and never overspend."""
    budget = RetryBudget(ratio=0.1, clock=FakeClock())
    per_thread = 2000
    start = threading.Barrier(16)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            budget.record_request()
            budget.try_spend()

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    requests, allowed, refused = budget.stats()
    assert requests == 16 * per_thread
    assert allowed + refused == 16 * per_thread
    # Every thread ends with a try_spend, the last after every request: the window
    # holds all 32,000 requests, and its retries reached the allowance exactly.
    assert allowed == math.floor(0.1 * requests + 10)
    assert budget.available() == 0


def test_threads_racing_for_the_last_retries_get_exactly_the_allowance() -> None:
    """With 1000 requests recorded, 16 racing threads are granted exactly 110 retries."""
    budget = RetryBudget(ratio=0.1, clock=FakeClock())
    for _ in range(1000):
        budget.record_request()
    granted: list[int] = []
    start = threading.Barrier(16)

    def work() -> None:
        start.wait()
        granted.append(sum(1 for _ in range(50) if budget.try_spend()))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 110
    assert budget.stats() == BudgetStats(1000, 110, 16 * 50 - 110)


async def test_asyncio_tasks_share_one_budget() -> None:
    """100 tasks that record, yield and spend are granted exactly the allowance."""
    budget = RetryBudget(ratio=0.1, clock=FakeClock())

    async def task() -> bool:
        budget.record_request()
        await asyncio.sleep(0)
        return budget.try_spend()

    results = await asyncio.gather(*(task() for _ in range(100)))
    assert sum(results) == 20
    assert budget.stats() == BudgetStats(100, 20, 80)


# An operation for the reference-model test: ("request" | "retry", seconds to advance).
_OPS = st.lists(st.tuples(st.sampled_from(["request", "retry"]), st.floats(0.0, 4.0)), max_size=200)


def _in_window(events: list[tuple[int, str]], bucket: int) -> tuple[int, int]:
    """(requests, retries) among `events` in the ten 1 s buckets ending at `bucket`."""
    recent = [kind for when, kind in events if when > bucket - 10]
    return recent.count("request"), recent.count("retry")


@given(ops=_OPS, ratio=st.floats(0.0, 1.0), floor=st.floats(0.0, 3.0))
def test_matches_a_naive_sliding_window_model(
    ops: list[tuple[str, float]], ratio: float, floor: float
) -> None:
    """Every grant, refusal and available() matches a model that rescans the window."""
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=ratio, min_per_second=floor, window=10.0, clock=clock)
    events: list[tuple[int, str]] = []
    for kind, step in ops:
        clock.advance(step)
        bucket = math.floor(clock.now)
        if kind == "request":
            budget.record_request()
            events.append((bucket, "request"))
        else:
            requests, retries = _in_window(events, bucket)
            expected = retries + 1 <= ratio * requests + floor * 10.0 + 1e-9
            assert budget.try_spend() is expected
            if expected:
                events.append((bucket, "retry"))
        requests, retries = _in_window(events, bucket)
        allowance = ratio * requests + floor * 10.0 + 1e-9
        assert budget.available() == max(0, math.floor(allowance - retries))
    assert budget.requests == sum(1 for _, kind in events if kind == "request")


def test_the_loop_takes_back_the_credit_of_a_first_attempt_that_failed() -> None:
    """Ratio 1, no floor: requests whose first attempt got a 503 fund no retries,
    however many there are; requests answered 200 fund one each."""
    from errorkit import RetryPolicy
    from errorkit._loop import drive
    from errorkit.testing import instant_waits

    from .test_loop import Script, error

    budget = RetryBudget(ratio=1.0, min_per_second=0.0)
    policy = RetryPolicy(budget=budget, jitter=0.0)
    with instant_waits():
        outage = [Script(error("503"), "ok") for _ in range(5)]
        assert [drive(policy, script) for script in outage] == ["final:1"] * 5
        assert [drive(policy, Script("ok")) for _ in range(2)] == ["ok", "ok"]
        answered = [Script(error("503"), "ok") for _ in range(3)]
        assert [drive(policy, script) for script in answered] == ["ok", "ok", "final:1"]
    assert budget.stats() == BudgetStats(requests=10, retries_allowed=2, retries_refused=6)
