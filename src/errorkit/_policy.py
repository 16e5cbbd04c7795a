"""The retry policy and its pure decision function.

(Stub: the contract below is fixed; the implementation is being written.)
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from errorkit._budget import RetryBudget
from errorkit._info import ErrorInfo


class Reason(str, enum.Enum):
    """Why a `Decision` retries or stops."""

    # retry
    RETRYABLE = "retryable"  # a retryable error, backoff delay
    SERVER_HINT = "server_hint"  # a retryable error whose wait the server set
    NOT_SENT = "not_sent"  # a transport failure before the request left
    # stop
    NOT_RETRYABLE = "not_retryable"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    DEADLINE = "deadline"
    HINT_TOO_LONG = "hint_too_long"
    SERVER_SAID_NO = "server_said_no"
    UNSAFE_METHOD = "unsafe_method"
    NOT_REPLAYABLE = "not_replayable"
    BUDGET_EXHAUSTED = "budget_exhausted"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFailure:
    """A request that got no response: the adapter's view of its stack's exception.

    Attributes:
        sent: False when the server cannot have acted on the request (refused,
            DNS, connect timeout, pool timeout); True when it may have.
        timeout: True for timeouts (then `info()` has category ``timeout``).
        retryable: False for failures that repeat identically (TLS certificate).
        description: short text for messages and logs ("connection refused").
    """

    sent: bool
    timeout: bool = False
    retryable: bool = True
    description: str = "connection failed"

    def info(self) -> ErrorInfo:
        """This failure as an `ErrorInfo` (category ``connection`` or ``timeout``)."""
        raise NotImplementedError


Outcome = ErrorInfo | TransportFailure


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after a failed attempt: retry after `delay` seconds, or stop."""

    retry: bool
    delay: float
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryEvent:
    """Handed to `RetryPolicy.on_retry` before each wait (frozen)."""

    attempt: int
    delay: float
    reason: Reason
    info: ErrorInfo
    method: str
    url: str  # credentials redacted


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """(Stub) see the implementation's docstring."""

    max_attempts: int = 3
    initial_delay: float = 0.1
    throttle_delay: float = 1.0
    max_delay: float = 20.0
    multiplier: float = 2.0
    jitter: float = 1.0
    max_retry_after: float = 60.0
    deadline: float | None = None
    budget: RetryBudget | None = field(default_factory=RetryBudget)
    idempotency_key: bool = False
    idempotency_header: str = "Idempotency-Key"
    on_retry: Callable[[RetryEvent], object] | None = None
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def decide(
        self,
        *,
        attempt: int,
        elapsed: float,
        method: str,
        outcome: Outcome,
        replayable: bool = True,
        has_idempotency_key: bool = False,
    ) -> Decision:
        """Decide, purely, whether attempt `attempt` (1-based) is followed by another."""
        raise NotImplementedError
