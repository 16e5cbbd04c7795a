"""The attempt loop, written once: a generator that every adapter drives.

The loop never touches a socket, a clock or a sleep itself. It yields commands:

    Send(attempt, timeout)  -> the driver sends one attempt and answers with a
                               `Sent` (a response, classified) or a `Failed`
                               (the stack's exception, as a TransportFailure)
    Discard(sent)           -> the driver releases a response it will not return
    Wait(delay)             -> the driver sleeps (sync or async)

and returns the `Final` outcome. `drive()` and `adrive()` are the only two
drivers, twins that differ by `await`; the adapters supply `send` and `discard`
for their stack. All decisions come from `RetryPolicy.decide()` and the budget.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Generic, TypeVar

from errorkit._clock import CLOCK
from errorkit._info import ErrorInfo
from errorkit._policy import Decision, Reason, RetryEvent, RetryPolicy, TransportFailure
from errorkit._redact import redact_url

logger = logging.getLogger("errorkit")

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Send:
    """Send attempt number `attempt`; `timeout` is the time left before the deadline."""

    attempt: int
    timeout: float | None


@dataclass(frozen=True, slots=True)
class Wait:
    """Sleep `delay` seconds before the next attempt."""

    delay: float


@dataclass(frozen=True, slots=True)
class Sent(Generic[R]):
    """An attempt that got a response; `info` is None for a success."""

    response: R
    info: ErrorInfo | None


@dataclass(frozen=True, slots=True)
class Failed:
    """An attempt that got no response."""

    error: BaseException
    failure: TransportFailure


@dataclass(frozen=True, slots=True)
class Discard(Generic[R]):
    """Release `sent.response`: it is not the one returned to the caller."""

    sent: Sent[R]


@dataclass(frozen=True, slots=True)
class Final(Generic[R]):
    """How the logical request ended: its last result, attempts made, and why."""

    result: Sent[R] | Failed
    attempts: int
    decision: Decision | None  # None when the last attempt succeeded


Command = Send | Discard[R] | Wait
Loop = Generator[Command[R], "Sent[R] | Failed | None", Final[R]]


def new_idempotency_key() -> str:
    """A fresh key for one logical request, reused by every attempt of it."""
    return str(uuid.uuid4())


def attempts(
    policy: RetryPolicy,
    *,
    method: str,
    url: object,
    replayable: bool = True,
    has_idempotency_key: bool = False,
) -> Loop[R]:
    """The loop for one logical request; see the module docstring.

    `url` is turned into text (and redacted) only when a retry is logged, so a
    stack's URL object costs nothing on the success path.
    """
    budget = policy.budget
    if budget is not None:
        budget.record_request()
    started = CLOCK.monotonic()
    attempt = 0
    while True:
        attempt += 1
        left = None if policy.deadline is None else policy.remaining(CLOCK.monotonic() - started)
        result = yield Send(attempt, left)
        assert result is not None  # noqa: S101 - the drivers always answer a Send
        if isinstance(result, Sent) and result.info is None:
            return Final(result, attempt, None)
        outcome = result.info if isinstance(result, Sent) else result.failure
        assert outcome is not None  # noqa: S101 - narrowed above
        decision = policy.decide(
            attempt=attempt,
            elapsed=CLOCK.monotonic() - started,
            method=method,
            outcome=outcome,
            replayable=replayable,
            has_idempotency_key=has_idempotency_key,
        )
        if decision.retry and budget is not None and not budget.try_spend():
            decision = decision.refused_by_budget()
        if not decision.retry:
            _log_stop(decision, method, url, attempt)
            return Final(result, attempt, decision)
        _announce(policy, decision, outcome, method, url, attempt)
        if isinstance(result, Sent):
            yield Discard(result)
        yield Wait(decision.delay)


def _announce(  # noqa: PLR0913, PLR0917 - private: the loop passes what it holds
    policy: RetryPolicy,
    decision: Decision,
    outcome: ErrorInfo | TransportFailure,
    method: str,
    url: object,
    attempt: int,
) -> None:
    info = outcome if isinstance(outcome, ErrorInfo) else outcome.info()
    safe_url = redact_url(str(url))
    logger.info(
        "Retrying %s %s in %.2f s (attempt %d of %d failed): %s",
        method,
        safe_url,
        decision.delay,
        attempt,
        policy.max_attempts,
        decision.detail,
        extra={"errorkit_attempt": attempt, "errorkit_reason": decision.reason.value},
    )
    if policy.on_retry is not None:
        policy.on_retry(
            RetryEvent(
                attempt=attempt,
                delay=decision.delay,
                reason=decision.reason,
                info=info,
                method=method,
                url=safe_url,
            )
        )


def _log_stop(decision: Decision, method: str, url: object, attempt: int) -> None:
    if attempt > 1 or decision.reason is not Reason.NOT_RETRYABLE:
        logger.debug(
            "Not retrying %s %s after attempt %d: %s",
            method,
            redact_url(str(url)),
            attempt,
            decision.detail,
        )


def drive(
    loop: Loop[R],
    send: Callable[[Send], Sent[R] | Failed],
    discard: Callable[[R], None],
) -> Final[R]:
    """Run `loop` synchronously: `send` makes one attempt, `discard` releases."""
    command = next(loop)
    while True:
        answer: Sent[R] | Failed | None = None
        if isinstance(command, Send):
            answer = send(command)
        elif isinstance(command, Discard):
            discard(command.sent.response)
        else:
            CLOCK.sleep(command.delay)
        try:
            command = loop.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def adrive(
    loop: Loop[R],
    send: Callable[[Send], Awaitable[Sent[R] | Failed]],
    discard: Callable[[R], Awaitable[None]],
) -> Final[R]:
    """Run `loop` in asyncio: the twin of `drive()`."""
    command = next(loop)
    while True:
        answer: Sent[R] | Failed | None = None
        if isinstance(command, Send):
            answer = await send(command)
        elif isinstance(command, Discard):
            await discard(command.sent.response)
        else:
            await CLOCK.asleep(command.delay)
        try:
            command = loop.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
