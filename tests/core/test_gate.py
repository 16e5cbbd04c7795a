"""The rate-limit gate, alone and in the loop: scopes, closing, waiting, refusing.

No sockets: `Script` from test_loop stands for the stack; tests/adapters/test_gate.py
runs the same over every stack against a FaultServer.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from errorkit import Category, ErrorInfo, Quota, Reason, RetryBudget, RetryPolicy
from errorkit._gate import MAX_SCOPES, RateLimitGate, by_endpoint, by_origin, closing_wait
from errorkit._loop import RequestFacts, adrive, drive, step
from errorkit.testing import InstantWaits, instant_waits

from .test_loop import NO_JITTER, UNAVAILABLE, Answer, AsyncScript, RefusedError, Script, error

if TYPE_CHECKING:
    from collections.abc import Iterator

URL = "http://api.test/v1/things"


def wait_info(status: int, seconds: float, source: str = "header:retry-after") -> ErrorInfo:
    category = Category.RATE_LIMITED if status == 429 else Category.UNAVAILABLE
    if status == 403:
        category = Category.PERMISSION
    return ErrorInfo(
        status=status,
        category=category,
        message="wait",
        retryable=status in {429, 503},
        retry_after=seconds,
        retry_after_source=source,
    )


@pytest.fixture
def waits() -> Iterator[InstantWaits]:
    with instant_waits() as recorded:
        yield recorded


def gated(**changes: object) -> RetryPolicy:
    return dataclasses.replace(NO_JITTER, gate=RateLimitGate(), **changes)  # type: ignore[arg-type]


# -- scopes -----------------------------------------------------------------------------


def test_the_default_scope_is_the_endpoint_without_query_or_credentials() -> None:
    assert by_endpoint("GET", "HTTPS://user:secret@API.test:8443/v1/x?api_key=k#f", None) == (
        "https://api.test:8443/v1/x"
    )
    assert by_endpoint("POST", "http://api.test", None) == "http://api.test/"


def test_by_origin_is_one_scope_per_origin() -> None:
    assert by_origin("GET", "https://k:s@api.test/v1/x?key=1", None) == "https://api.test"


def test_a_key_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        RateLimitGate(key="origin")  # type: ignore[arg-type]


# -- closing and waiting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "closes"),
    [
        (wait_info(429, 30.0), 30.0),
        (wait_info(503, 5.0), 5.0),
        (wait_info(503, 5.0, "body:error.retryAfter"), 5.0),
        (wait_info(403, 60.0, "header:x-ratelimit-reset"), 60.0),  # GitHub's used-up limit
        (wait_info(500, 5.0), None),  # a 500's Retry-After is that request's own
        (wait_info(429, 0.0), None),
        (ErrorInfo(status=429, category=Category.RATE_LIMITED, message="no hint"), None),
    ],
)
def test_which_waits_close_the_gate(info: ErrorInfo, closes: float | None) -> None:
    assert closing_wait(info) == closes


def test_a_closed_scope_holds_its_requests_until_it_opens(waits: InstantWaits) -> None:
    gate = RateLimitGate(learn=False)  # the pace learned after it: test_gate_learning.py
    assert gate.observe("GET", URL, None, wait_info(429, 30.0)) == 30.0
    assert gate.wait("GET", URL + "?page=2", None) == pytest.approx(30.0, abs=0.05)
    assert gate.wait("GET", "http://api.test/v1/other", None) == 0.0
    waits.sleep(10.0)
    assert gate.wait("POST", URL, None) == pytest.approx(20.0, abs=0.05)
    waits.sleep(20.0)
    assert gate.wait("GET", URL, None) == 0.0


def test_a_shorter_wait_never_reopens_a_scope_early(waits: InstantWaits) -> None:
    gate = RateLimitGate()
    gate.close(by_endpoint("GET", URL, None), 30.0)
    gate.close(by_endpoint("GET", URL, None), 1.0)
    assert gate.wait("GET", URL, None) == pytest.approx(30.0, abs=0.05)


def test_the_gate_remembers_a_bounded_number_of_scopes(waits: InstantWaits) -> None:
    gate = RateLimitGate()
    for n in range(MAX_SCOPES + 10):
        gate.close(f"scope-{n}", 100.0 + n)
    assert len(gate._closed) == MAX_SCOPES
    assert "scope-0" not in gate._closed


# -- the loop ---------------------------------------------------------------------------


def test_one_429_holds_the_next_request_back(waits: InstantWaits) -> None:
    """A 429 with Retry-After: 30 (not retried): the next request waits 30 s, then is sent."""
    policy = gated(max_attempts=1)
    first = Script(error("429", wait_info(429, 30.0)), url=URL)
    assert drive(policy, first) == "final:1"
    second = Script("ok", url=URL)
    assert drive(policy, second) == "ok"
    assert waits.delays == [pytest.approx(30.0, abs=0.05)]
    assert second.attempts[0][0] == 1


def test_a_wait_above_max_retry_after_is_refused_unsent(waits: InstantWaits) -> None:
    policy = gated(max_attempts=1, max_retry_after=10.0)
    drive(policy, Script(error("429", wait_info(429, 30.0)), url=URL))
    second = Script("never sent", url=URL)
    with pytest.raises(RefusedError) as caught:
        drive(policy, second)
    assert second.attempts == []
    info = caught.value.info
    assert (info.category, info.retry_after_source) == (Category.RATE_LIMITED, "gate")
    assert info.retry_after == pytest.approx(30.0, abs=0.05)
    assert "not sent" in info.message
    assert waits.delays == []


def test_a_wait_that_reaches_the_deadline_is_refused_unsent(waits: InstantWaits) -> None:
    policy = gated(max_attempts=1, deadline=20.0)
    drive(policy, Script(error("429", wait_info(429, 30.0)), url=URL))
    with pytest.raises(RefusedError):
        drive(policy, Script("never sent", url=URL))


class Meanwhile(Script):
    """A stack during whose first attempt another request closes the scope for `held` s."""

    def __init__(self, gate: RateLimitGate, held: float, *answers: Answer) -> None:
        super().__init__(*answers, url=URL)
        self.gate, self.held = gate, held

    def attempt(self, number: int, timeout: float | None) -> Answer:
        answer = super().attempt(number, timeout)
        if number == 1:
            self.gate.close(by_endpoint("GET", URL, None), self.held)
        return answer


def test_a_retry_waits_as_long_as_the_gate_holds(waits: InstantWaits) -> None:
    """A 503 asking 1 s while another request's 429 holds the scope 20 s: the retry waits 20."""
    policy = gated()
    assert policy.gate is not None
    script = Meanwhile(policy.gate, 20.0, error("503", wait_info(503, 1.0)), "ok")
    assert drive(policy, script) == "ok"
    assert waits.delays == [pytest.approx(20.0, abs=0.05)]


async def test_the_async_driver_waits_at_the_gate_too(waits: InstantWaits) -> None:
    policy = gated(max_attempts=1)
    await adrive(policy, AsyncScript(error("429", wait_info(429, 5.0)), url=URL))
    assert await adrive(policy, AsyncScript("ok", url=URL)) == "ok"
    assert waits.delays == [pytest.approx(5.0, abs=0.05)]


def test_a_gate_held_longer_than_max_retry_after_stops_the_retries(waits: InstantWaits) -> None:
    """After the first attempt's 503 (1 s), the scope is held 90 s by another caller: stop."""
    policy = gated(max_retry_after=60.0)
    assert policy.gate is not None
    script = Meanwhile(policy.gate, 90.0, error("503", wait_info(503, 1.0)), "never sent")
    assert drive(policy, script) == "final:1"
    [final] = script.finished
    assert final.decision.reason is Reason.HINT_TOO_LONG
    assert "rate-limit gate" in final.decision.detail
    assert waits.delays == []


def test_an_sdk_gets_a_local_429_instead_of_a_refusal(waits: InstantWaits) -> None:
    """Under an SDK that obeys a stop header, the refusal is a local answer, not raised."""
    policy = gated(max_attempts=1, max_retry_after=10.0)
    drive(policy, Script(error("429", wait_info(429, 30.0)), url=URL))
    sdk = Script("never sent", url=URL, headers={"X-Stainless-Retry-Count": "0"})
    assert drive(policy, sdk) == "local 429 (x-should-retry: false, retry after 30 s)"
    assert sdk.attempts == []


# -- what the budget pays for ----------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "gate", "charged"),
    [
        (wait_info(429, 1.0), True, False),  # the server metered it; the gate holds all
        (wait_info(429, 1.0), False, False),  # metered too: the retry waits as asked
        (wait_info(503, 1.0), True, True),  # an outage with a hint: the budget's case
        (dataclasses.replace(wait_info(429, 1.0), retry_after=None), True, True),
    ],
)
def test_a_429_retry_that_waits_as_asked_is_not_charged_to_the_budget(
    waits: InstantWaits, info: ErrorInfo, gate: bool, charged: bool
) -> None:
    del waits
    budget = RetryBudget(ratio=0.0, min_per_second=0.0)  # no retry may be charged
    policy = dataclasses.replace(NO_JITTER, budget=budget, gate=RateLimitGate() if gate else None)
    request = RequestFacts(method="GET", url=URL, replayable=True, has_idempotency_key=False)
    decision = step(policy, request, info, 1, 0.0)
    assert decision.retry is not charged
    assert (decision.reason is Reason.BUDGET_EXHAUSTED) is charged


# -- slots of a paced scope, for retries -------------------------------------------------


def paced(budget: RetryBudget | None) -> tuple[RetryPolicy, RateLimitGate]:
    gate = RateLimitGate(learn=False)
    gate.pace(by_endpoint("GET", URL, None), Quota(10, 1.0))  # slots 0.1 / 0.95 s apart
    return dataclasses.replace(NO_JITTER, gate=gate, budget=budget), gate


REQUEST = RequestFacts(method="GET", url=URL, replayable=True, has_idempotency_key=False)


def test_a_retry_the_budget_refuses_takes_no_slot(waits: InstantWaits) -> None:
    policy, gate = paced(RetryBudget(ratio=0.0, min_per_second=0.0))
    assert gate.wait("GET", URL, None) == 0.0  # the first attempt's slot
    assert step(policy, REQUEST, UNAVAILABLE, 1, 0.0).reason is Reason.BUDGET_EXHAUSTED
    assert gate.wait("GET", URL, None) == pytest.approx(0.1 / 0.95, abs=0.005)  # the next one


def test_a_granted_retry_takes_the_first_slot_after_its_backoff(waits: InstantWaits) -> None:
    policy, gate = paced(None)
    for _ in range(5):  # five slots taken: the next is 5 x 0.105 s away, past the backoff
        gate.wait("GET", URL, None)
    decision = step(policy, REQUEST, UNAVAILABLE, 1, 0.0)
    assert decision.retry
    assert decision.delay == pytest.approx(5 * 0.1 / 0.95, abs=0.005)
    after = step(policy, REQUEST, UNAVAILABLE, 1, 0.0)
    assert after.delay == pytest.approx(6 * 0.1 / 0.95, abs=0.005)  # its own, the next
    assert "paces" in after.detail
    spare = RateLimitGate(learn=False)
    spare.pace(by_endpoint("GET", URL, None), Quota(10, 1.0))
    quiet = dataclasses.replace(policy, gate=spare)
    assert step(quiet, REQUEST, UNAVAILABLE, 1, 0.0).delay == pytest.approx(policy.initial_delay)


def test_a_retry_that_succeeds_with_its_limit_used_up_closes_the_gate(
    waits: InstantWaits,
) -> None:
    """The loop reads the used-up limit of every success, retried ones too."""
    policy = gated()
    assert drive(policy, Script(error("503"), "ok, used up", url=URL)) == "ok, used up"
    assert policy.gate is not None
    assert policy.gate.closed_for("GET", URL, None) == pytest.approx(7.0, abs=0.05)
