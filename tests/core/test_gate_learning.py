"""The gate's learned pace: a 429 that states no quota releases its scope slowly.

Virtual time (`instant_waits`): each test plays callers by hand, taking the gate's
slots and sleeping what `wait` returns, and checks the slots they were given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import errorkit
from errorkit import Category, ErrorInfo, RateLimitGate
from errorkit._gate import (
    CUBIC_BETA,
    CUBIC_C,
    MAX_RATE,
    MIN_RATE,
    PACE_SHARE,
    START_RATE,
    by_endpoint,
    learned_rate,
)
from errorkit._shared import Curve, GateView
from errorkit.testing import InstantWaits, instant_waits

from .test_shared import Recorder

if TYPE_CHECKING:
    from collections.abc import Iterator

URL = "http://api.test/v1/things"
SCOPE = by_endpoint("GET", URL, None)


@pytest.fixture
def waits() -> Iterator[InstantWaits]:
    with instant_waits() as recorded:
        yield recorded


def bare_429(retry_after: float | None = 1.0) -> ErrorInfo:
    """A 429 that states no quota: a wait at most."""
    return ErrorInfo(
        status=429,
        category=Category.RATE_LIMITED,
        message="too many requests",
        retryable=True,
        retry_after=retry_after,
        retry_after_source=None if retry_after is None else "header:retry-after",
    )


def slots(gate: RateLimitGate, count: int) -> list[float]:
    """The waits of `count` requests arriving together, now."""
    return [gate.wait("GET", URL, None) for _ in range(count)]


def send_for(gate: RateLimitGate, waits: InstantWaits, seconds: float, every: float) -> int:
    """One caller sending a request every `every` s (or as its slot allows) for `seconds`."""
    end, sent = waits.monotonic() + seconds, 0
    while waits.monotonic() < end and sent < 100_000:
        waits.sleep(max(gate.wait("GET", URL, None), every))
        sent += 1
    return sent


# -- the curve ----------------------------------------------------------------------


K_40 = (40 * (1 - CUBIC_BETA) / CUBIC_C) ** (1 / 3)  # s from a cut of 40/s back to 40/s


@pytest.mark.parametrize(
    ("peak", "age", "members", "rate"),
    [
        (0.0, 0.0, 1, START_RATE),  # slow start: 2/s at the opening
        (0.0, 0.5, 1, 2 * START_RATE),  # doubling every half second
        (0.0, 1.0, 4, 4 * 4 * START_RATE),  # ... from 2/s per process sharing the gate
        (0.0, -3.0, 1, START_RATE),  # before the opening: the opening's rate
        (0.0, 1e6, 1, MAX_RATE),
        (40.0, 0.0, 1, CUBIC_BETA * 40),  # a cut keeps 70 %
        (40.0, K_40, 1, 40.0),  # back at the refused rate K s later, flat there
        (40.0, 2 * K_40, 1, 40.0 + CUBIC_C * K_40**3),  # then probing above it
        (40.0, 40.0, 9, 40.0 + CUBIC_C * (40.0 - K_40) ** 3),  # members: fleet-wide already
        (0.6, 0.0, 1, MIN_RATE),  # never slower than 0.5/s
        (1e9, 1e6, 1, MAX_RATE),
    ],
)
def test_the_learned_rate(peak: float, age: float, members: int, rate: float) -> None:
    assert learned_rate(peak, age, members) == pytest.approx(rate, rel=1e-9)


# -- one process ----------------------------------------------------------------------


def test_a_bare_429_releases_its_scope_paced(waits: InstantWaits) -> None:
    """Retry-After: 1: the first request goes at the opening, the next 1/2 s later
    (2/s), the next 1/4 s after that (the rate doubled by then)."""
    gate = RateLimitGate()
    assert gate.observe("GET", URL, None, bare_429(1.0)) == 1.0
    first, second, third = slots(gate, 3)
    assert first == pytest.approx(1.0, abs=0.01)
    assert second - first == pytest.approx(1 / START_RATE, abs=0.01)
    assert third - second == pytest.approx(1 / (2 * START_RATE), abs=0.01)
    assert gate.wait("GET", "http://api.test/v1/other", None) == 0.0


def test_a_429_without_any_wait_paces_from_now(waits: InstantWaits) -> None:
    gate = RateLimitGate()
    assert gate.observe("GET", URL, None, bare_429(None)) == 0.0
    first, second = slots(gate, 2)
    assert first == pytest.approx(0.0, abs=0.01)
    assert second == pytest.approx(1 / START_RATE, abs=0.01)


def test_the_429s_of_one_closing_cut_once(waits: InstantWaits) -> None:
    """Five requests already on their way when the first 429 came: their 429s
    extend nothing and cut nothing; the release is the same as after one."""
    gate = RateLimitGate()
    gate.observe("GET", URL, None, bare_429(1.0))
    for _ in range(5):
        waits.sleep(0.002)
        gate.observe("GET", URL, None, bare_429(1.0))
    first, second = slots(gate, 2)
    assert first == pytest.approx(1.0, abs=0.02)
    assert second - first == pytest.approx(1 / START_RATE, abs=0.01)


def test_a_later_429_cuts_to_70_percent_of_what_was_sent(waits: InstantWaits) -> None:
    """A caller sending 5/s after the slow start (far below the curve by then): the
    next 429 takes 5/s as the rate refused, and releases at 70 % of it."""
    gate = RateLimitGate()
    gate.observe("GET", URL, None, bare_429(None))
    send_for(gate, waits, 6.0, every=0.2)
    gate.observe("GET", URL, None, bare_429(1.0))
    first, second = slots(gate, 2)
    assert first == pytest.approx(1.0, abs=0.01)
    assert second - first == pytest.approx(1 / (CUBIC_BETA * 5.0), rel=0.05)


def test_a_burst_after_a_quiet_spell_is_not_queued_behind_it(waits: InstantWaits) -> None:
    """One request a second, then 20 at once: the curve has climbed far above both,
    so the burst goes out at once rather than at twice the quiet rate."""
    gate = RateLimitGate()
    gate.observe("GET", URL, None, bare_429(None))
    send_for(gate, waits, 6.0, every=1.0)
    assert max(slots(gate, 20)) < 0.01


def test_a_gate_that_does_not_learn_only_closes(waits: InstantWaits) -> None:
    gate = RateLimitGate(learn=False)
    gate.observe("GET", URL, None, bare_429(1.0))
    assert slots(gate, 3) == [pytest.approx(1.0, abs=0.01)] * 3
    waits.sleep(1.0)
    gate.observe("GET", URL, None, bare_429(None))
    assert not gate.holding()


def test_a_stated_quota_replaces_what_was_learned_and_is_kept(waits: InstantWaits) -> None:
    gate = RateLimitGate()
    gate.observe("GET", URL, None, bare_429(None))
    stated = errorkit.parse(429, {"RateLimit-Policy": '"default";q=40;w=1'}, b"")
    assert stated is not None
    gate.observe("GET", URL, None, stated)
    gate.observe("GET", URL, None, bare_429(None))  # learning never overrides a quota
    first, second = slots(gate, 2)
    assert second - first == pytest.approx(1 / 40 / PACE_SHARE, abs=0.002)


# -- a fleet ----------------------------------------------------------------------------


def test_a_cut_goes_out_as_its_curve_and_once(waits: InstantWaits) -> None:
    gate = RateLimitGate(backend=Recorder())
    gate.observe("GET", URL, None, bare_429(2.0))
    [(scope, curve)] = gate.outgoing().learned.items()
    assert scope == SCOPE
    assert curve.peak == 0.0
    assert curve.age == pytest.approx(-2.0, abs=0.01)  # the cut lies at the opening
    assert gate.outgoing().learned == {}
    gate.observe("GET", URL, None, bare_429(2.0))  # inside the same closing: no new cut
    assert gate.outgoing().learned == {}


def test_a_gate_that_cannot_send_its_cut_sends_it_again(waits: InstantWaits) -> None:
    gate = RateLimitGate(backend=Recorder())
    gate.observe("GET", URL, None, bare_429(2.0))
    gate.unsent(gate.outgoing())
    assert list(gate.outgoing().learned) == [SCOPE]
    gate.incoming(None, stale_after=1.0)  # the backend is down: all of it again
    assert list(gate.outgoing().learned) == [SCOPE]


def test_the_fleets_later_cut_is_followed_an_earlier_one_is_not(waits: InstantWaits) -> None:
    """Another process cut the scope 1 s ago at 20/s, for 4 processes: this one takes
    its share of the curve; a cut older than its own changes nothing."""
    gate = RateLimitGate(backend=Recorder())
    view = GateView(closed={}, quotas={}, members=4, learned={SCOPE: Curve(20.0, 1.0)})
    gate.incoming(view, stale_after=60.0)
    first, second = slots(gate, 2)
    assert first == pytest.approx(0.0, abs=0.01)
    assert second == pytest.approx(4 / learned_rate(20.0, 1.0), rel=0.02)

    own = RateLimitGate(backend=Recorder())
    own.observe("GET", URL, None, bare_429(None))  # cut here, now, from 2/s
    older = GateView(closed={}, quotas={}, members=1, learned={SCOPE: Curve(500.0, 30.0)})
    own.incoming(older, stale_after=60.0)
    assert slots(own, 2)[1] == pytest.approx(1 / START_RATE, abs=0.01)


def test_a_pace_remembers_only_its_last_second_of_slots(waits: InstantWaits) -> None:
    """A minute at 5/s leaves the last second's slots, not 300, per paced scope."""
    gate = RateLimitGate()
    gate.observe("GET", URL, None, bare_429(None))
    assert send_for(gate, waits, 60.0, every=0.2) >= 290
    assert len(gate._paces[SCOPE].recent) <= 6
