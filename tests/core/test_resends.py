"""An SDK's re-sends of one call, counted as one logical request: the ledger and the loop.

No sockets: `Script` from test_loop stands for the stack. The real SDKs over a
FaultServer are in tests/integrations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import TYPE_CHECKING

import pytest

from errorkit import Category, ErrorInfo, Reason, RetryBudget
from errorkit._loop import adrive, drive
from errorkit._resends import LEDGER, STAINLESS_STOP, STRIPE_STOP, Ledger, Logical
from errorkit.testing import InstantWaits, instant_waits

from .test_loop import NO_JITTER, NOT_FOUND, AsyncScript, LowerCaseHeaders, Script, error

if TYPE_CHECKING:
    from collections.abc import Iterator

RATE_LIMITED_LONG = ErrorInfo(
    status=429, category=Category.RATE_LIMITED, message="slow", retryable=True, retry_after=3600.0
)


@pytest.fixture
def waits() -> Iterator[InstantWaits]:
    with instant_waits() as recorded:
        yield recorded


def stainless(count: int, **extra: str) -> dict[str, str]:
    return {"X-Stainless-Retry-Count": str(count), **extra}


def begin(ledger: Ledger, count: int, started: float, url: str = "http://h/x") -> Logical:
    headers = LowerCaseHeaders(stainless(count))
    return ledger.logical("GET", url, headers, "Idempotency-Key", started)


def sdk_call(count: int, *answers: object, method: str = "GET") -> Script:
    return Script(*answers, method=method, headers=stainless(count))  # type: ignore[arg-type]


# -- the ledger -----------------------------------------------------------------------


def test_a_stainless_counter_above_zero_continues_the_call_it_counts() -> None:
    """Retry count 0 begins a logical request; 1 in the same thread and task continues it."""
    ledger = Ledger()
    first = ledger.logical(
        "GET", "http://h/x", LowerCaseHeaders(stainless(0)), "Idempotency-Key", 1.0
    )
    first.attempts = 3
    again = ledger.logical(
        "GET", "http://h/x", LowerCaseHeaders(stainless(1)), "Idempotency-Key", 9.0
    )
    assert again is first
    assert (again.resent, again.attempts, again.started) == (True, 3, 1.0)
    assert again.stop_header == STAINLESS_STOP


def test_a_counter_of_zero_always_begins_a_new_logical_request() -> None:
    """The counter restarts at 0 on every call: an identical later call is not a re-send."""
    ledger = Ledger()
    first = ledger.logical(
        "GET", "http://h/x", LowerCaseHeaders(stainless(0)), "Idempotency-Key", 1.0
    )
    later = ledger.logical(
        "GET", "http://h/x", LowerCaseHeaders(stainless(0)), "Idempotency-Key", 5.0
    )
    assert later is not first
    assert (later.resent, later.started) == (False, 5.0)


def test_a_re_send_in_another_thread_or_to_another_url_is_another_call() -> None:
    """An SDK re-sends in the caller's thread, to the same URL: anything else is new."""
    ledger = Ledger()
    ledger.logical("GET", "http://h/x", LowerCaseHeaders(stainless(0)), "Idempotency-Key", 1.0)
    seen = []
    thread = threading.Thread(
        target=lambda: seen.append(
            ledger.logical("GET", "http://h/x", LowerCaseHeaders(stainless(1)), "K", 2.0)
        )
    )
    thread.start()
    thread.join()
    other_url = ledger.logical("GET", "http://h/y", LowerCaseHeaders(stainless(1)), "K", 3.0)
    assert not seen[0].resent
    assert not other_url.resent


async def test_a_re_send_in_another_task_is_another_call() -> None:
    """Two tasks of one thread running the same call concurrently are two logical requests."""
    ledger = Ledger()
    headers = LowerCaseHeaders(stainless(0))

    async def begin() -> None:
        ledger.logical("GET", "http://h/x", headers, "Idempotency-Key", 1.0)

    await asyncio.create_task(begin())
    mine = ledger.logical("GET", "http://h/x", LowerCaseHeaders(stainless(1)), "K", 2.0)
    assert not mine.resent


def test_a_repeated_idempotency_key_continues_its_request() -> None:
    """Any client: the same key on the same method and URL is the same logical request."""
    ledger = Ledger()
    key = LowerCaseHeaders({"Idempotency-Key": "k-1"})
    first = ledger.logical("POST", "http://h/x", key, "Idempotency-Key", 1.0)
    assert ledger.logical("POST", "http://h/x", key, "Idempotency-Key", 2.0) is first
    other = LowerCaseHeaders({"Idempotency-Key": "k-2"})
    assert ledger.logical("POST", "http://h/x", other, "Idempotency-Key", 3.0) is not first
    assert first.stop_header is None


def test_stripe_is_told_to_stop_by_its_own_header() -> None:
    """Stripe's client header names the stop header; a GET without a key is not remembered."""
    ledger = Ledger()
    headers = LowerCaseHeaders({"X-Stripe-Client-User-Agent": "{}"})
    logical = ledger.logical("GET", "http://h/x", headers, "Idempotency-Key", 1.0)
    assert logical.stop_header == STRIPE_STOP
    assert len(ledger) == 0


def test_a_request_no_sdk_marks_is_not_remembered() -> None:
    ledger = Ledger()
    logical = ledger.logical("GET", "http://h/x", LowerCaseHeaders({}), "Idempotency-Key", 1.0)
    assert (logical.stop_header, logical.resent, len(ledger)) == (None, False, 0)


def test_the_ledger_is_bounded_and_forgets_the_oldest_first() -> None:
    ledger = Ledger(max_entries=3)
    for n in range(5):
        ledger.logical("POST", "http://h/x", LowerCaseHeaders({"K": f"k{n}"}), "K", 1.0)
    assert len(ledger) == 3
    assert not ledger.logical("POST", "http://h/x", LowerCaseHeaders({"K": "k0"}), "K", 2.0).resent
    assert ledger.logical("POST", "http://h/x", LowerCaseHeaders({"K": "k4"}), "K", 2.0).resent


def test_a_logical_request_is_forgotten_ttl_seconds_after_its_last_failure(
    waits: InstantWaits,
) -> None:
    ledger = Ledger(ttl=300.0)
    key = LowerCaseHeaders({"K": "k"})
    ledger.logical("POST", "http://h/x", key, "K", 1.0)
    waits.sleep(299.0)
    assert ledger.logical("POST", "http://h/x", key, "K", 2.0).resent  # touched again
    waits.sleep(300.0)
    assert not ledger.logical("POST", "http://h/x", key, "K", 3.0).resent


# -- the loop over an SDK's calls -------------------------------------------------------


def test_an_sdk_re_send_gets_only_the_attempts_its_call_has_left(waits: InstantWaits) -> None:
    """A 503 throughout: 3 attempts, then the SDK is told to stop; a re-send anyway is 1 more."""
    first = sdk_call(0, error("a"), error("b"), error("c"))
    assert drive(NO_JITTER, first) == "final:3"
    assert first.stopped == [("c", STAINLESS_STOP)]
    assert the_reason(first) is Reason.ATTEMPTS_EXHAUSTED
    resend = sdk_call(1, error("d"), error("never sent"))
    assert drive(NO_JITTER, resend) == "final:4"
    assert [number for number, _ in resend.attempts] == [1]
    assert resend.stopped == [("d", STAINLESS_STOP)]


def test_sdk_re_sends_after_errors_errorkit_does_not_retry_share_the_attempts(
    waits: InstantWaits,
) -> None:
    """A POST 503 errorkit must not re-send: the SDK's own re-sends are attempts 2 and 3."""
    answers = [sdk_call(n, error(f"r{n}"), method="POST") for n in range(3)]
    finals = [drive(NO_JITTER, script) for script in answers]
    assert finals == ["final:1", "final:2", "final:3"]
    # Told to stop only once the call has used its 3 attempts.
    assert [script.stopped for script in answers] == [[], [], [("r2", STAINLESS_STOP)]]


def test_a_server_wait_above_max_retry_after_stops_the_sdk_too(waits: InstantWaits) -> None:
    """Retry-After: 3600 with max_retry_after 60: no wait by errorkit, and none by the SDK."""
    script = sdk_call(0, error("rl", RATE_LIMITED_LONG))
    assert drive(dataclasses.replace(NO_JITTER, max_retry_after=60.0), script) == "final:1"
    assert the_reason(script) is Reason.HINT_TOO_LONG
    assert script.stopped == [("rl", STAINLESS_STOP)]
    assert waits.delays == []


def test_an_error_the_sdk_may_retry_itself_is_left_to_it(waits: InstantWaits) -> None:
    """A 404 on the first attempt: attempts are left, so the SDK decides (it will not retry)."""
    script = sdk_call(0, error("nf", NOT_FOUND))
    assert drive(NO_JITTER, script) == "final:1"
    assert script.stopped == []


def test_the_deadline_counts_from_the_calls_first_attempt(waits: InstantWaits) -> None:
    """deadline=5: the SDK re-sends 6 s after its call began; errorkit adds no attempt."""
    policy = dataclasses.replace(NO_JITTER, deadline=5.0, max_attempts=10)
    first = sdk_call(0, error("a"), error("b"))
    first_policy = dataclasses.replace(policy, max_attempts=2)
    assert drive(first_policy, first) == "final:2"
    waits.sleep(6.0)  # the SDK's own backoff
    resend = sdk_call(1, error("c"), error("never sent"))
    assert drive(policy, resend) == "final:3"
    assert the_reason(resend) is Reason.DEADLINE
    assert resend.stopped == [("c", STAINLESS_STOP)]


def test_a_re_send_is_paid_for_by_the_budget(waits: InstantWaits) -> None:
    """The budget sees the SDK's re-send as the retry it is; once refused, errorkit stops."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.2, window=10.0)  # 2 retries in all
    policy = dataclasses.replace(NO_JITTER, budget=budget, max_attempts=5)
    first = sdk_call(0, error("a"), error("b"), error("c"), error("never sent"))
    assert drive(policy, first) == "final:3"
    assert the_reason(first) is Reason.BUDGET_EXHAUSTED
    assert first.stopped == [("c", STAINLESS_STOP)]
    resend = sdk_call(1, error("d"), error("never sent"))
    assert drive(policy, resend) == "final:4"
    assert the_reason(resend) is Reason.BUDGET_EXHAUSTED
    # Two hops recorded; two retries granted; refused: errorkit's third, and the re-send.
    assert budget.stats() == (2, 2, 2)


async def test_the_async_driver_counts_re_sends_too(waits: InstantWaits) -> None:
    first = AsyncScript(error("a"), error("b"), error("c"), headers=stainless(0))
    assert await adrive(NO_JITTER, first) == "final:3"
    resend = AsyncScript(error("d"), headers=stainless(1))
    assert await adrive(NO_JITTER, resend) == "final:4"
    assert resend.stopped == [("d", STAINLESS_STOP)]


def test_a_success_looks_nothing_up(waits: InstantWaits) -> None:
    """The success path is untouched: nothing is remembered before a failure."""
    assert drive(NO_JITTER, sdk_call(0, "ok")) == "ok"
    assert len(LEDGER) == 0


def the_reason(script: Script) -> Reason:
    [final] = script.finished
    return final.decision.reason
