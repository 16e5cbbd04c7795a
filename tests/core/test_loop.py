"""The attempt loop and its two drivers, without sockets: scripted answers in, commands out."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

from errorkit import Category, ErrorInfo, Reason, RetryBudget, RetryEvent, RetryPolicy
from errorkit._clock import CLOCK
from errorkit._loop import Failed, Final, Loop, Send, Sent, adrive, attempts, drive
from errorkit._policy import TransportFailure
from errorkit.testing import InstantWaits, instant_waits

if TYPE_CHECKING:
    from collections.abc import Iterator

UNAVAILABLE = ErrorInfo(status=503, category=Category.UNAVAILABLE, message="down", retryable=True)
NOT_FOUND = ErrorInfo(status=404, category=Category.NOT_FOUND, message="gone")
REFUSED = TransportFailure(sent=False, description="refused")
NO_JITTER = RetryPolicy(budget=None, jitter=0.0)


class Script:
    """A fake stack: answers each Send from a list and records every call."""

    def __init__(self, *answers: Sent[str] | Failed) -> None:
        self.answers: Iterator[Sent[str] | Failed] = iter(answers)
        self.sends: list[Send] = []
        self.discarded: list[str] = []

    def send(self, command: Send) -> Sent[str] | Failed:
        self.sends.append(command)
        return next(self.answers)

    def discard(self, response: str) -> None:
        self.discarded.append(response)

    async def asend(self, command: Send) -> Sent[str] | Failed:
        return self.send(command)

    async def adiscard(self, response: str) -> None:
        self.discard(response)


def ok(name: str = "ok") -> Sent[str]:
    return Sent(name, None)


def error(name: str, info: ErrorInfo = UNAVAILABLE) -> Sent[str]:
    return Sent(name, info)


def failed() -> Failed:
    return Failed(ConnectionRefusedError(), REFUSED)


@pytest.fixture
def waits() -> Iterator[InstantWaits]:
    with instant_waits() as recorded:
        yield recorded


def run(policy: RetryPolicy, script: Script, method: str = "GET") -> Final[str]:
    return drive(attempts(policy, method=method, url="http://h/x"), script.send, script.discard)


def test_a_first_success_returns_at_once(waits: InstantWaits) -> None:
    """A success on the first attempt: one send, nothing discarded, no wait, no decision."""
    script = Script(ok())
    final = run(NO_JITTER, script)
    assert (final.attempts, final.decision, final.result) == (1, None, ok())
    assert [c.attempt for c in script.sends] == [1]
    assert waits.delays == []


def test_errors_are_discarded_waited_for_and_retried(waits: InstantWaits) -> None:
    """Two 503s then a success: each discarded response is released before its wait."""
    script = Script(error("a"), error("b"), ok())
    final = run(NO_JITTER, script)
    assert final.result == ok()
    assert final.attempts == 3
    assert script.discarded == ["a", "b"]
    assert waits.delays == [0.1, 0.2]


def test_a_non_retryable_first_error_stops_without_a_wait(waits: InstantWaits) -> None:
    """A 404 ends the loop after one attempt with the decision that says why."""
    script = Script(error("nf", NOT_FOUND))
    final = run(NO_JITTER, script)
    assert final.attempts == 1
    assert final.decision is not None
    assert final.decision.reason is Reason.NOT_RETRYABLE
    assert script.discarded == []
    assert waits.delays == []


def test_the_last_error_is_returned_when_attempts_run_out(waits: InstantWaits) -> None:
    """After max_attempts failures the last one is the outcome, and it is not discarded."""
    script = Script(error("a"), failed(), error("c"))
    final = run(NO_JITTER, script)
    assert final.result == error("c")
    assert final.decision is not None
    assert final.decision.reason is Reason.ATTEMPTS_EXHAUSTED
    assert script.discarded == ["a"]


def test_a_refused_post_is_retried_but_a_sent_one_is_not(waits: InstantWaits) -> None:
    """Method safety reaches the loop: a POST retries a refused connect, never a 503."""
    assert run(NO_JITTER, Script(failed(), ok()), method="POST").attempts == 2
    final = run(NO_JITTER, Script(error("a"), ok()), method="POST")
    assert final.attempts == 1
    assert final.decision is not None
    assert final.decision.reason is Reason.UNSAFE_METHOD


def test_the_budget_counts_requests_and_refuses_retries(waits: InstantWaits) -> None:
    """Each logical request is counted once; a refused retry stops with budget_exhausted."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0)  # one retry in all
    policy = NO_JITTER.with_changes(budget=budget)
    first = run(policy, Script(error("a"), ok()))
    second = run(policy, Script(error("b"), ok()))
    assert first.attempts == 2
    assert second.decision is not None
    assert second.decision.reason is Reason.BUDGET_EXHAUSTED
    assert budget.stats() == (2, 1, 1)


def test_on_retry_and_the_log_see_each_retry_with_a_redacted_url(
    waits: InstantWaits, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry is one frozen event and one INFO line; the key in the URL is hidden."""
    events: list[RetryEvent] = []
    policy = NO_JITTER.with_changes(on_retry=events.append)
    script = Script(error("a"), ok())
    with caplog.at_level(logging.INFO, logger="errorkit"):
        drive(attempts(policy, method="GET", url="http://h/x?api_key=S3CR3T"), script.send,
              script.discard)  # fmt: skip
    assert [(e.attempt, e.reason, e.delay) for e in events] == [(1, Reason.RETRYABLE, 0.1)]
    assert "S3CR3T" not in events[0].url
    assert "S3CR3T" not in caplog.text
    assert "Retrying GET" in caplog.text


def test_the_deadline_reaches_each_attempt_as_its_timeout(waits: InstantWaits) -> None:
    """Every Send carries the time left before the deadline, shrinking as waits pass."""
    script = Script(error("a"), error("b"), ok())
    run(NO_JITTER.with_changes(deadline=10.0), script)
    timeouts = [c.timeout for c in script.sends]
    assert timeouts[0] == 10.0
    assert timeouts[1] is not None
    assert timeouts[2] is not None
    assert 9.85 <= timeouts[1] <= 9.9
    assert 9.65 <= timeouts[2] <= 9.7


def test_the_async_driver_is_the_twin_of_the_sync_one(waits: InstantWaits) -> None:
    """adrive() makes the same sends, discards and waits as drive()."""
    sync, asyn = Script(error("a"), failed(), ok()), Script(error("a"), failed(), ok())
    expected = run(NO_JITTER, sync)
    got = asyncio.run(adrive(attempts(NO_JITTER, method="GET", url="u"), asyn.asend, asyn.adiscard))
    assert (got.result, got.attempts) == (expected.result, expected.attempts)
    assert asyn.discarded == sync.discarded
    assert [c.attempt for c in asyn.sends] == [1, 2, 3]
    assert waits.delays == [0.1, 0.2] * 2


def test_the_async_driver_returns_a_first_success_at_once(waits: InstantWaits) -> None:
    """adrive() sends the first attempt itself; a success ends it with no decision."""
    script = Script(ok())
    final = asyncio.run(
        adrive(attempts(NO_JITTER, method="GET", url="u"), script.asend, script.adiscard)
    )
    assert (final.result, final.attempts, final.decision) == (ok(), 1, None)
    assert [c.attempt for c in script.sends] == [1]
    assert waits.delays == []


def test_a_loop_planned_after_the_first_attempt_counts_from_its_start(
    waits: InstantWaits,
) -> None:
    """attempts(started=t): an adapter's own first attempt began at t; the deadline runs from t."""
    started = CLOCK.monotonic()
    waits.sleep(4.0)  # the first attempt took 4 s (virtual) before the loop was planned
    waits.clear()
    policy = NO_JITTER.with_changes(deadline=10.0)
    loop: Loop[str] = attempts(policy, method="GET", url="u", started=started)
    assert loop.started == started
    first = error("a")
    assert not loop.succeeded(first)
    script = Script(ok())
    final = drive(loop, script.send, script.discard, first)
    assert (final.result, final.attempts) == (ok(), 2)
    [resend] = script.sends
    assert resend.attempt == 2
    assert resend.timeout is not None
    assert waits.delays == [0.1]
    assert 5.85 <= resend.timeout <= 5.9  # 10 s - 4 s - the 0.1 s wait
