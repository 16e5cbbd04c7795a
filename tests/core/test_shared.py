"""The shared-state side of RetryBudget, RateLimitGate and AdaptiveThrottle.

A backend is a translation: these tests hand the objects the fleet's view by hand
(the real Redis backend is tested in tests/redis), and check what each object then
decides and what it hands back.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import errorkit
from errorkit import Quota, RateLimitGate, RetryBudget
from errorkit._gate import PACE_SHARE
from errorkit._hints import read_hints
from errorkit._shared import BudgetDelta, BudgetView, GateDelta, GateView

SCOPE = "https://api.example.com/v1/chat"
URL = SCOPE + "?key=secret"


class Recorder:
    """A backend that only records: the test plays its part by hand."""

    def __init__(self) -> None:
        self.attached: list[Any] = []
        self.wakes = 0

    def attach(self, shared: Any) -> None:
        self.attached.append(shared)

    def wake(self) -> None:
        self.wakes += 1


def grants(budget: RetryBudget, most: int = 100) -> int:
    return sum(budget.try_spend() for _ in range(most))


# --- the budget ----------------------------------------------------------------


def test_a_budget_attaches_itself_under_its_name() -> None:
    backend = Recorder()
    budget = RetryBudget(backend=backend, name="payments")
    assert backend.attached == [budget]
    assert (budget.kind, budget.name) == ("budget", "payments")


def test_a_fresh_view_shares_what_the_fleet_has_left_evenly() -> None:
    budget = RetryBudget(ratio=0.25, min_per_second=1.0, window=10.0, backend=Recorder())
    # The fleet: 40 requests, 5 retries spent, 3 processes: (0.25*40 + 10 - 5) / 3 = 5.
    budget.incoming(BudgetView(requests=40, retries=5, members=3), stale_after=60.0)
    assert grants(budget) == 5


def test_own_requests_since_the_exchange_add_their_ratio() -> None:
    budget = RetryBudget(ratio=0.5, min_per_second=0.0, window=10.0, backend=Recorder())
    budget.incoming(BudgetView(requests=0, retries=0, members=4), stale_after=60.0)
    assert grants(budget) == 0
    for _ in range(6):
        budget.record_request()
    assert grants(budget) == 3


def test_a_stale_or_missing_view_falls_back_to_the_local_counts() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=0.3, window=10.0, backend=Recorder())
    budget.incoming(BudgetView(requests=0, retries=1000, members=1), stale_after=0.0)
    assert grants(budget) == 3  # the view is stale at once: the local floor, 3
    other = RetryBudget(ratio=0.0, min_per_second=0.3, window=10.0, backend=Recorder())
    other.incoming(None, stale_after=60.0)
    assert grants(other) == 3


def test_outgoing_takes_the_counts_since_the_last_exchange_once() -> None:
    budget = RetryBudget(backend=Recorder())
    for _ in range(7):
        budget.record_request()
    budget.try_spend()
    budget.try_spend()
    assert budget.outgoing() == BudgetDelta(requests=7, retries=2)
    assert budget.outgoing() == BudgetDelta(requests=0, retries=0)
    assert budget.stats().requests == 7  # the local lifetime counts are untouched


def test_a_refused_retry_is_not_sent_as_spent() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=0.0, backend=Recorder())
    assert not budget.try_spend()
    assert budget.outgoing() == BudgetDelta(requests=0, retries=0)


# --- the gate -------------------------------------------------------------------


def test_a_scope_closed_elsewhere_holds_here_and_is_not_sent_back() -> None:
    gate = RateLimitGate(backend=Recorder())
    gate.incoming(GateView(closed={SCOPE: 30.0}, quotas={}, members=2), stale_after=1.0)
    assert 29.0 < gate.wait("GET", URL, {}) <= 30.0
    assert gate.wait("GET", "https://api.example.com/v1/other", {}) == 0.0
    assert gate.outgoing() == GateDelta(closed={}, quotas={})


def test_a_scope_closed_here_goes_out_at_once_as_seconds_left() -> None:
    backend = Recorder()
    gate = RateLimitGate(backend=backend)
    gate.close(SCOPE, 12.0)
    assert backend.wakes == 1
    delta = gate.outgoing()
    assert list(delta.closed) == [SCOPE]
    assert 11.0 < delta.closed[SCOPE] <= 12.0
    assert gate.outgoing().closed == {}
    gate.close(SCOPE, 5.0)  # shorter than the wait held: nothing new
    assert backend.wakes == 1


def test_what_could_not_be_sent_goes_with_the_next_exchange() -> None:
    gate = RateLimitGate(backend=Recorder())
    gate.close(SCOPE, 12.0)
    gate.pace(SCOPE, Quota(40, 1.0))
    delta = gate.outgoing()
    gate.unsent(delta)
    again = gate.outgoing()
    assert list(again.closed) == [SCOPE]
    assert again.quotas == {SCOPE: Quota(40, 1.0)}


def test_a_gate_without_a_backend_keeps_nothing_to_send() -> None:
    gate = RateLimitGate()
    gate.close(SCOPE, 12.0)
    assert gate.outgoing() == GateDelta(closed={}, quotas={})


def quota_429(policy: str = '"default";q=40;w=1', status: int = 429) -> errorkit.ErrorInfo:
    info = errorkit.parse(status, {"RateLimit-Policy": policy}, b"")
    assert info is not None
    return info


def test_a_429_stating_its_quota_paces_the_scope() -> None:
    gate = RateLimitGate()
    gate.observe("GET", URL, {}, quota_429())
    waits = [gate.wait("GET", URL, {}) for _ in range(4)]
    for n, got in enumerate(waits):
        want = n * 0.025 / PACE_SHARE  # 40 per second, at 95 %
        assert want - 0.005 <= got <= want + 0.001
    assert gate.wait("GET", "https://api.example.com/v1/other", {}) == 0.0


def test_the_fleet_paces_each_process_to_its_share() -> None:
    gate = RateLimitGate(backend=Recorder())
    view = GateView(closed={}, quotas={SCOPE: Quota(40, 1.0)}, members=4)
    gate.incoming(view, stale_after=60.0)
    waits = [gate.wait("GET", URL, {}) for _ in range(3)]
    for n, got in enumerate(waits):
        want = n * 0.1 / PACE_SHARE  # a quarter of 40 per second each
        assert want - 0.005 <= got <= want + 0.001


def test_only_a_429_starts_pacing() -> None:
    gate = RateLimitGate()
    gate.observe("GET", URL, {}, quota_429(status=503))
    assert [gate.wait("GET", URL, {}) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_a_paced_scope_behind_a_closed_one_starts_when_it_opens() -> None:
    gate = RateLimitGate()
    gate.close(SCOPE, 1.0)
    gate.pace(SCOPE, Quota(10, 1.0))
    first, second = gate.wait("GET", URL, {}), gate.wait("GET", URL, {})
    assert 0.99 < first <= 1.0
    assert 0.99 + 0.1 / PACE_SHARE < second <= 1.0 + 0.1 / PACE_SHARE


def test_open_all_stops_pacing() -> None:
    gate = RateLimitGate()
    gate.pace(SCOPE, Quota(1, 60.0))
    gate.wait("GET", URL, {})
    gate.open_all()
    assert not gate.holding()
    assert gate.wait("GET", URL, {}) == 0.0


# --- the throttle ---------------------------------------------------------------


def test_the_throttle_decides_by_the_fleets_counts_while_fresh() -> None:
    throttle = errorkit.AdaptiveThrottle(backend=Recorder(), random=lambda: 0.0)
    assert throttle.admit(SCOPE) is None  # no history here
    throttle.incoming({SCOPE: (100, 0)}, stale_after=60.0)
    rejected = throttle.admit(SCOPE)
    assert rejected is not None
    assert (rejected.requests, rejected.accepts) == (101, 0)  # the fleet's + one here
    throttle.incoming(None, stale_after=60.0)
    assert throttle.stats(SCOPE) == (2, 0)  # this process's own two


def test_the_throttle_sends_its_counts_per_scope_once() -> None:
    throttle = errorkit.AdaptiveThrottle(backend=Recorder())
    throttle.admit(SCOPE)
    throttle.count(SCOPE, None, new_request=False)
    throttle.admit(SCOPE)
    assert throttle.outgoing() == {SCOPE: (2, 1)}
    assert throttle.outgoing() == {}


# --- the contract ---------------------------------------------------------------


@pytest.mark.parametrize("make", [RetryBudget, RateLimitGate, errorkit.AdaptiveThrottle])
def test_an_object_with_a_backend_is_not_pickled(make: Any) -> None:
    with pytest.raises(TypeError, match="credentials"):
        pickle.dumps(make(backend=Recorder()))
    assert pickle.loads(pickle.dumps(make())) is not None


@pytest.mark.parametrize("make", [RetryBudget, RateLimitGate, errorkit.AdaptiveThrottle])
@pytest.mark.parametrize("name", ["", "a{b}", "x" * 65, "with space", 7])
def test_a_name_that_cannot_name_a_key_is_refused(make: Any, name: object) -> None:
    with pytest.raises(ValueError, match="name must be"):
        make(name=name)


@pytest.mark.parametrize("make", [RetryBudget, RateLimitGate, errorkit.AdaptiveThrottle])
def test_a_backend_must_be_one(make: Any) -> None:
    with pytest.raises(TypeError, match="StateBackend"):
        make(backend="redis://localhost")


# --- the quota a server states --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quota"),
    [
        ('"default";q=40;w=1', Quota(40, 1.0)),  # draft-11
        ("10;w=1, 50;w=60", Quota(50, 60.0)),  # older drafts: the fewest per second
        ('"burst";q=100;w=60, "second";q=5;w=1', Quota(100, 60.0)),
        ('"q=5;w=1";q=40;w=1', Quota(40, 1.0)),  # a quoted name is no parameter
        ("q=40", None),  # no window
        ('"x";q=3;w=0', None),
        ("0;w=1", None),
        ("garbage", None),
        ("", None),
    ],
)
def test_the_stated_quota(value: str, quota: Quota | None) -> None:
    assert read_hints({"ratelimit-policy": value}).quota == quota


def test_parse_keeps_the_stated_quota() -> None:
    assert quota_429().quota == Quota(40, 1.0)
    assert Quota(40, 1.0).interval == 0.025
