"""The attempt loop and its two drivers, without sockets: scripted answers in, calls out."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

import pytest

from errorkit import Category, ErrorInfo, Reason, RetryBudget, RetryEvent, RetryPolicy
from errorkit._loop import (
    ErrorResponse,
    Failed,
    Final,
    RequestFacts,
    adrive,
    drive,
    step,
)
from errorkit._policy import TransportFailure
from errorkit.testing import InstantWaits, instant_waits

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

UNAVAILABLE = ErrorInfo(status=503, category=Category.UNAVAILABLE, message="down", retryable=True)
NOT_FOUND = ErrorInfo(status=404, category=Category.NOT_FOUND, message="gone")
REFUSED = TransportFailure(sent=False, description="refused")
NO_JITTER = RetryPolicy(budget=None, jitter=0.0)

Answer = str | ErrorResponse[str] | Failed


class Script:
    """A fake stack: answers each attempt from a list and records every call it gets."""

    def __init__(
        self,
        *answers: Answer,
        method: str = "GET",
        url: str = "http://h/x",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.answers: Iterator[Answer] = iter(answers)
        self.method = method
        self.url = url
        self.headers = LowerCaseHeaders(headers or {})
        self.stopped: list[tuple[str, str]] = []
        self.replayable = True
        self.has_idempotency_key = False
        self.attempts: list[tuple[int, float | None]] = []
        self.discarded: list[str] = []
        self.finished: list[Final[str]] = []

    def attempt(self, number: int, timeout: float | None) -> Answer:
        self.attempts.append((number, timeout))
        return next(self.answers)

    def discard(self, response: str) -> None:
        self.discarded.append(response)

    def finish(self, final: Final[str]) -> str:
        self.finished.append(final)
        return f"final:{final.attempts}"

    def stop_resends(self, response: str, header: str) -> None:
        self.stopped.append((response, header))

    def refuse(self, info: ErrorInfo) -> BaseException:
        return RefusedError(info)

    def answer_locally(self, info: ErrorInfo, stop_header: str) -> str:
        return f"local 429 ({stop_header}: false, retry after {info.retry_after:.0f} s)"

    def used_up(self, response: str) -> Mapping[str, str] | None:
        """A success whose name says so reports a used-up rate limit, resetting in 7 s."""
        if response != "ok, used up":
            return None
        return {"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "7"}


class RefusedError(Exception):
    """What `Script` raises for a request the gate did not send."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


class LowerCaseHeaders:
    """Request headers as the stacks give them: ``get`` ignores case."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = {name.lower(): value for name, value in headers.items()}

    def get(self, key: str, /) -> str | None:
        return self.headers.get(key.lower())


class AsyncScript(Script):
    """The same fake stack with coroutine operations, for `adrive`."""

    async def attempt(self, number: int, timeout: float | None) -> Answer:  # type: ignore[override]
        return Script.attempt(self, number, timeout)

    async def discard(self, response: str) -> None:  # type: ignore[override]
        Script.discard(self, response)

    async def finish(self, final: Final[str]) -> str:  # type: ignore[override]
        return Script.finish(self, final)


@pytest.fixture
def waits() -> Iterator[InstantWaits]:
    with instant_waits() as recorded:
        yield recorded


def error(name: str, info: ErrorInfo = UNAVAILABLE) -> ErrorResponse[str]:
    return ErrorResponse(name, info)


def failed() -> Failed:
    return Failed(ConnectionRefusedError(), REFUSED)


def the_final(script: Script) -> Final[str]:
    [final] = script.finished
    return final


def test_a_first_success_is_returned_as_the_stack_gave_it(waits: InstantWaits) -> None:
    """A success on the first attempt: one attempt with the whole deadline, nothing else."""
    script = Script("ok")
    assert drive(dataclasses.replace(NO_JITTER, deadline=5.0), script) == "ok"
    assert script.attempts == [(1, 5.0)]
    assert (script.discarded, script.finished, waits.delays) == ([], [], [])


def test_errors_are_discarded_waited_for_and_retried(waits: InstantWaits) -> None:
    """Two 503s then a success: each discarded response is released before its wait."""
    script = Script(error("a"), error("b"), "ok")
    assert drive(NO_JITTER, script) == "ok"
    assert [number for number, _ in script.attempts] == [1, 2, 3]
    assert script.discarded == ["a", "b"]
    assert waits.delays == [0.1, 0.2]
    assert script.finished == []


def test_a_non_retryable_first_error_stops_without_a_wait(waits: InstantWaits) -> None:
    """A 404 ends the loop after one attempt; finish() gets it with the decision that says why."""
    script = Script(error("nf", NOT_FOUND))
    assert drive(NO_JITTER, script) == "final:1"
    final = the_final(script)
    assert final.result == error("nf", NOT_FOUND)
    assert final.decision.reason is Reason.NOT_RETRYABLE
    assert (script.discarded, waits.delays) == ([], [])


def test_the_last_error_is_finished_when_attempts_run_out(waits: InstantWaits) -> None:
    """After max_attempts failures the last one is finished, and it is not discarded."""
    script = Script(error("a"), failed(), error("c"))
    assert drive(NO_JITTER, script) == "final:3"
    final = the_final(script)
    assert final.result == error("c")
    assert final.decision.reason is Reason.ATTEMPTS_EXHAUSTED
    assert script.discarded == ["a"]
    assert final.elapsed == pytest.approx(0.3, abs=0.01)  # the two waits, on the instant clock


def test_a_refused_post_is_retried_but_a_sent_one_is_not(waits: InstantWaits) -> None:
    """Method safety reaches the loop: a POST retries a refused connect, never a 503."""
    refused = Script(failed(), "ok", method="POST")
    assert drive(NO_JITTER, refused) == "ok"
    assert len(refused.attempts) == 2
    answered = Script(error("a"), "ok", method="POST")
    assert drive(NO_JITTER, answered) == "final:1"
    assert the_final(answered).decision.reason is Reason.UNSAFE_METHOD


def test_the_budget_counts_requests_and_refuses_retries(waits: InstantWaits) -> None:
    """Each logical request is counted once; a refused retry stops with budget_exhausted."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0)  # one retry in all
    policy = dataclasses.replace(NO_JITTER, budget=budget)
    assert drive(policy, Script(error("a"), "ok")) == "ok"
    second = Script(error("b"), "ok")
    assert drive(policy, second) == "final:1"
    assert the_final(second).decision.reason is Reason.BUDGET_EXHAUSTED
    assert the_final(second).decision.detail.startswith("retry budget exhausted: 503")
    assert budget.stats() == (2, 1, 1)


def test_a_success_is_counted_in_the_budget(waits: InstantWaits) -> None:
    """A first-attempt success is still one logical request for the budget."""
    budget = RetryBudget()
    drive(dataclasses.replace(NO_JITTER, budget=budget), Script("ok"))
    assert budget.stats() == (1, 0, 0)


def test_on_retry_and_the_log_see_each_retry_with_a_redacted_url(
    waits: InstantWaits, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry is one frozen event and one INFO line; the key in the URL is hidden."""
    events: list[RetryEvent] = []
    policy = dataclasses.replace(NO_JITTER, on_retry=events.append)
    script = Script(error("a"), "ok", url="http://h/x?api_key=S3CR3T")
    with caplog.at_level(logging.INFO, logger="errorkit"):
        drive(policy, script)
    assert [(e.attempt, e.reason, e.delay) for e in events] == [(1, Reason.RETRYABLE, 0.1)]
    assert "S3CR3T" not in events[0].url
    assert "S3CR3T" not in caplog.text
    assert "Retrying GET" in caplog.text


def test_the_deadline_reaches_each_attempt_as_its_timeout(waits: InstantWaits) -> None:
    """Every attempt gets the time left before the deadline, shrinking as waits pass."""
    script = Script(error("a"), error("b"), "ok")
    drive(dataclasses.replace(NO_JITTER, deadline=10.0), script)
    timeouts = [timeout for _, timeout in script.attempts]
    assert timeouts == pytest.approx([10.0, 9.9, 9.7], abs=0.01)


class SlowDiscard(Script):
    """A stack whose discard takes `seconds` of (virtual) time, as a drain may."""

    def __init__(self, clock: InstantWaits, seconds: float, *answers: Answer) -> None:
        super().__init__(*answers)
        self.clock = clock
        self.seconds = seconds

    def discard(self, response: str) -> None:
        super().discard(response)
        self.clock.sleep(self.seconds)


def test_a_wait_after_a_slow_discard_ends_at_the_deadline() -> None:
    """The delay was decided before the discard; the wait is cut to what the discard left."""
    with instant_waits() as outside, instant_waits() as waits:
        script = SlowDiscard(outside, 4.95, error("a"), "ok")
        assert drive(dataclasses.replace(NO_JITTER, deadline=5.0), script) == "ok"
    assert waits.delays == [pytest.approx(0.05, abs=0.01)]
    assert [timeout for _, timeout in script.attempts][1] == pytest.approx(0.0, abs=0.01)


def test_the_async_driver_is_the_twin_of_the_sync_one(waits: InstantWaits) -> None:
    """adrive() makes the same attempts, discards, waits and final call as drive()."""
    sync = Script(error("a"), failed(), error("c"))
    asyn = AsyncScript(error("a"), failed(), error("c"))
    assert drive(NO_JITTER, sync) == "final:3"
    assert asyncio.run(adrive(NO_JITTER, asyn)) == "final:3"
    assert asyn.attempts == sync.attempts
    assert asyn.discarded == sync.discarded == ["a"]
    twins = [the_final(asyn), the_final(sync)]
    assert len({(final.result, final.attempts, final.decision.reason) for final in twins}) == 1
    assert waits.delays == [0.1, 0.2] * 2


def test_the_async_driver_returns_a_first_success_at_once(waits: InstantWaits) -> None:
    """adrive() returns a first success as it came, with no wait and no finish()."""
    script = AsyncScript("ok")
    assert asyncio.run(adrive(NO_JITTER, script)) == "ok"
    assert script.attempts == [(1, None)]
    assert (script.finished, waits.delays) == ([], [])


def test_one_step_decides_spends_and_announces(caplog: pytest.LogCaptureFixture) -> None:
    """step() is the loop's whole step: the policy's decision, the budget, the log, on_retry."""
    events: list[RetryEvent] = []
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0)  # one retry in all
    policy = dataclasses.replace(NO_JITTER, budget=budget, on_retry=events.append)
    request = RequestFacts(
        method="PUT", url="http://h/x", replayable=True, has_idempotency_key=False
    )
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        granted = step(policy, request, UNAVAILABLE, 1, 0.0)
        refused = step(policy, request, UNAVAILABLE, 1, 0.0)
    assert (granted.retry, granted.reason, granted.delay) == (True, Reason.RETRYABLE, 0.1)
    assert (refused.retry, refused.reason) == (False, Reason.BUDGET_EXHAUSTED)
    assert [event.method for event in events] == ["PUT"]
    assert "Retrying PUT http://h/x in 0.10 s" in caplog.text
    assert "Not retrying PUT http://h/x after attempt 1: retry budget exhausted" in caplog.text


def test_a_step_that_stops_on_a_plain_error_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A first attempt that is simply not retryable (a 404) is no news: no log line."""
    request = RequestFacts(method="GET", url="u", replayable=True, has_idempotency_key=False)
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        decision = step(NO_JITTER, request, NOT_FOUND, 1, 0.0)
    assert decision.reason is Reason.NOT_RETRYABLE
    assert caplog.text == ""
