"""The attempt loop, written once: a generator that every adapter drives.

`attempts()` plans one logical request; `drive()` and `adrive()` run it. The
first attempt is sent straight away: a success (the common case) returns without
building the retry machinery at all. The adapters go one step further: they make
the first attempt themselves, count a success in the budget and return it, and
plan the loop (``attempts(..., started=...)``) only after a failure, which they
hand to the driver as `first`. After a failure, the loop generator takes over.
It never touches a socket, a clock or a sleep itself; it yields commands:

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
from typing import Generic, TypeGuard, TypeVar

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
Retries = Generator[Command[R], "Sent[R] | Failed | None", Final[R]]


def new_idempotency_key() -> str:
    """A fresh key for one logical request, reused by every attempt of it."""
    return str(uuid.uuid4())


class Loop(Generic[R]):
    """The plan of one logical request: what the loop must know to decide on retries.

    `url` is turned into text (and redacted) only when a retry is logged, so a
    stack's URL object costs nothing on the success path. `started` is the
    `CLOCK.monotonic()` reading taken right before the first attempt; an adapter
    that sends the first attempt itself and plans the loop only after a failure
    passes the reading it took, so that elapsed time and the deadline count from
    the first attempt.
    """

    __slots__ = ("has_idempotency_key", "method", "policy", "replayable", "started", "url")

    def __init__(  # noqa: PLR0913, PLR0917 - private: built by attempts() from keywords
        self,
        policy: RetryPolicy,
        method: str,
        url: object,
        replayable: bool,
        has_idempotency_key: bool,
        started: float | None = None,
    ) -> None:
        self.policy = policy
        self.method = method
        self.url = url
        self.replayable = replayable
        self.has_idempotency_key = has_idempotency_key
        # Planned right before the first attempt, unless the adapter says when it began.
        self.started = CLOCK.monotonic() if started is None else started

    def first(self) -> Send:
        """The first attempt; its timeout is the whole deadline."""
        return Send(1, self.policy.deadline)

    def succeeded(self, answer: Sent[R] | Failed) -> TypeGuard[Sent[R]]:
        """Count the logical request in the budget; True when its first attempt succeeded."""
        budget = self.policy.budget
        if budget is not None:
            budget.record_request()
        return isinstance(answer, Sent) and answer.info is None

    def retries(self, first: Sent[R] | Failed) -> Retries[R]:
        """The generator that takes over after a failed first attempt."""
        policy, method, url, started = self.policy, self.method, self.url, self.started
        budget = policy.budget
        attempt, result = 1, first
        while True:
            outcome = result.info if isinstance(result, Sent) else result.failure
            assert outcome is not None  # noqa: S101 - a success never reaches here
            decision = policy.decide(
                attempt=attempt,
                elapsed=CLOCK.monotonic() - started,
                method=method,
                outcome=outcome,
                replayable=self.replayable,
                has_idempotency_key=self.has_idempotency_key,
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
            attempt += 1
            left = policy.remaining(CLOCK.monotonic() - started)
            answer = yield Send(attempt, left)
            assert answer is not None  # noqa: S101 - the drivers always answer a Send
            if isinstance(answer, Sent) and answer.info is None:
                return Final(answer, attempt, None)
            result = answer


def attempts(  # noqa: PLR0913 - each input is one named fact of the request
    policy: RetryPolicy,
    *,
    method: str,
    url: object,
    replayable: bool = True,
    has_idempotency_key: bool = False,
    started: float | None = None,
) -> Loop[R]:
    """Plan one logical request; `drive()` or `adrive()` runs it.

    `started`: the `CLOCK.monotonic()` reading taken before a first attempt the
    adapter already made (default: now, for a loop planned before it).
    """
    return Loop(policy, method, url, replayable, has_idempotency_key, started)


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
    first: Sent[R] | Failed | None = None,
) -> Final[R]:
    """Run `loop` synchronously: `send` makes one attempt, `discard` releases.

    An adapter that made the first attempt itself (to keep its success path
    shallow) passes its result as `first`, once `loop.succeeded(first)` said no.
    """
    if first is None:
        first = send(loop.first())
        if loop.succeeded(first):
            return Final(first, 1, None)
    retries = loop.retries(first)
    answer: Sent[R] | Failed | None = None  # send(None) starts the generator
    while True:
        try:
            command = retries.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        answer = None
        if isinstance(command, Send):
            answer = send(command)
        elif isinstance(command, Discard):
            discard(command.sent.response)
        else:
            CLOCK.sleep(command.delay)


async def adrive(
    loop: Loop[R],
    send: Callable[[Send], Awaitable[Sent[R] | Failed]],
    discard: Callable[[R], Awaitable[None]],
    first: Sent[R] | Failed | None = None,
) -> Final[R]:
    """Run `loop` in asyncio: the twin of `drive()`."""
    if first is None:
        first = await send(loop.first())
        if loop.succeeded(first):
            return Final(first, 1, None)
    retries = loop.retries(first)
    answer: Sent[R] | Failed | None = None  # send(None) starts the generator
    while True:
        try:
            command = retries.send(answer)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        answer = None
        if isinstance(command, Send):
            answer = await send(command)
        elif isinstance(command, Discard):
            await discard(command.sent.response)
        else:
            await CLOCK.asleep(command.delay)
