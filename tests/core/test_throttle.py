"""Client-side adaptive throttling (Google SRE): the formula, the counts, the loop."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from typing import TYPE_CHECKING

import pytest

from errorkit import AdaptiveThrottle, Category, ErrorInfo, RetryPolicy, ThrottleEvent
from errorkit._loop import Failed
from errorkit._throttle import MAX_REJECT, MAX_SCOPES
from errorkit.testing import InstantWaits, instant_waits

from .test_loop import NO_JITTER, NOT_FOUND, REFUSED, RefusedError, Script, error

if TYPE_CHECKING:
    from collections.abc import Iterator

UNAVAILABLE = ErrorInfo(status=503, category=Category.UNAVAILABLE, message="down", retryable=True)


@pytest.fixture
def waits() -> Iterator[InstantWaits]:
    with instant_waits() as recorded:
        yield recorded


def always(value: float) -> itertools.repeat[float]:
    return itertools.repeat(value)


def throttle(draws: Iterator[float] | None = None, **kwargs: object) -> AdaptiveThrottle:
    source = draws if draws is not None else always(0.0)
    return AdaptiveThrottle(random=lambda: next(source), **kwargs)  # type: ignore[arg-type]


def test_a_server_that_accepts_half_is_never_throttled(waits: InstantWaits) -> None:
    """k=2: requests <= 2 * accepts gives p = 0, whatever the draw."""
    t = throttle()
    for n in range(20):  # accepted, refused, accepted...: never under half accepted
        assert t.admit("s") is None
        t.count("s", UNAVAILABLE if n % 2 else None, new_request=False)
    assert t.stats("s") == (20, 10)
    assert t.admit("s") is None


def test_the_rejection_probability_follows_the_formula(waits: InstantWaits) -> None:
    t = throttle(always(0.99))  # a draw above every p: nothing rejected, p still computed
    for _ in range(9):
        t.admit("s")
        t.count("s", UNAVAILABLE, new_request=False)
    t.admit("s")
    t.count("s", None, new_request=False)
    # 10 requests, 1 accept: p = (10 - 2) / 11
    assert throttle_p(t, "s") == pytest.approx(8 / 11)


def throttle_p(t: AdaptiveThrottle, scope: str) -> float:
    requests, accepts = t.stats(scope)
    return min(MAX_REJECT, max(0.0, (requests - 2 * accepts) / (requests + 1)))


def test_rejection_is_capped_so_probes_go_out(waits: InstantWaits) -> None:
    """After 100 failures p would be 0.99: it is capped at 0.9, so a 0.95 draw goes out."""
    t = throttle(itertools.chain(always_n(0.99, 100), always(0.95)))
    for _ in range(100):
        t.admit("s")
        t.count("s", UNAVAILABLE, new_request=False)
    assert t.admit("s") is None


def always_n(value: float, n: int) -> Iterator[float]:
    return itertools.repeat(value, n)


def test_what_counts_as_accepted(waits: InstantWaits) -> None:
    """Any response but an overload, any failure but connection or timeout, is accepted."""
    t = throttle()
    conflict = ErrorInfo(status=409, category=Category.CONFLICT, message="c")
    for outcome in (None, NOT_FOUND, conflict, UNAVAILABLE, REFUSED.info()):
        t.count("s", outcome, new_request=True)
    assert t.stats("s") == (5, 3)


def test_counts_leave_the_window(waits: InstantWaits) -> None:
    t = throttle(window=120.0)
    t.count("s", UNAVAILABLE, new_request=True)
    waits.sleep(60.0)
    assert t.stats("s") == (1, 0)
    waits.sleep(70.0)
    assert t.stats("s") == (0, 0)


def test_the_scopes_are_bounded(waits: InstantWaits) -> None:
    t = throttle()
    for n in range(MAX_SCOPES + 5):
        t.count(f"s{n}", None, new_request=True)
    assert len(t._scopes) == MAX_SCOPES


@pytest.mark.parametrize(("name", "value"), [("k", 1.0), ("k", float("nan")), ("window", 0.5)])
def test_settings_are_checked(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        AdaptiveThrottle(**{name: value})  # type: ignore[arg-type]


def test_the_loop_rejects_unsent_logs_and_tells_on_reject(
    waits: InstantWaits, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[ThrottleEvent] = []
    t = throttle(on_reject=events.append)
    policy = dataclasses.replace(NO_JITTER, max_attempts=1, throttle=t)
    assert drive_one(policy, Script(error("a"), url="http://api.test/x")) == "final:1"
    refused = Script("never sent", url="http://api.test/x?key=secret")
    with caplog.at_level(logging.INFO, logger="errorkit"), pytest.raises(RefusedError) as caught:
        drive_one(policy, refused)
    assert refused.attempts == []
    assert caught.value.info.category is Category.CONNECTION
    assert "throttled locally" in caught.value.info.message
    [event] = events
    assert (event.requests, event.accepts) == (1, 0)
    assert event.probability == pytest.approx(0.5)
    assert "secret" not in event.url
    assert "Throttled GET" in caplog.text
    assert "secret" not in caplog.text


def test_retries_are_counted_as_requests(waits: InstantWaits) -> None:
    t = throttle(always(0.99))
    policy = dataclasses.replace(NO_JITTER, throttle=t)
    drive_one(policy, Script(error("a"), Failed(ConnectionRefusedError(), REFUSED), "ok"))
    assert t.stats("http://h/x") == (3, 1)


def drive_one(policy: RetryPolicy, script: Script) -> str:
    from errorkit._loop import drive

    return drive(policy, script)
