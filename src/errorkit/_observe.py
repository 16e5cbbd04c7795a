"""Where the attempt loop reports what it does, for `errorkit.otel` (no dependency here).

`OBSERVER` is None unless an observer is installed (`errorkit.otel.ErrorkitInstrumentor`
installs one): the loop then reads one module attribute per logical request and
does nothing else, so a success costs what it costs without observability.

With an observer, the loop hands it each physical attempt (`Observer.attempt`, which
sends it by calling the adapter's ``attempt``: the observer wraps the send in its
span), each decision after a failed attempt (`Observer.decided`, which ends that
attempt's span), each wait at the gate before a first attempt
(`Observer.gate_wait`) and each request the gate or the throttle did not send
(`Observer.refused`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from errorkit._policy import hint_spread

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from errorkit._info import ErrorInfo
    from errorkit._loop import Request
    from errorkit._policy import Decision, TransportFailure

T = TypeVar("T")

#: Where a wait before a send came from: the policy's backoff, a header that said how
#: long (``Retry-After`` and its kin), a hint in the error body, the rate-limit gate.
WaitSource = Literal["backoff", "retry_after", "body_hint", "gate"]

#: What refused to send a request: the retry budget (a retry not granted), the
#: adaptive throttle (a request rejected locally), the gate (a wait too long to wait).
Refuser = Literal["budget", "throttle", "gate"]


class Observer(Protocol):
    """What the attempt loop tells an observer; no method may raise of its own."""

    def attempt(self, request: Request, number: int, send: Callable[[], T]) -> T:
        """Run `send` (attempt `number` of `request`) inside the attempt's span, and
        return what it returned; the span stays open until `decided` if that is an
        error response or a failure."""

    def aattempt(
        self, request: Request, number: int, send: Callable[[], Awaitable[T]]
    ) -> Awaitable[T]:
        """`attempt` on an event loop."""

    def decided(
        self,
        request: Request,
        outcome: ErrorInfo | TransportFailure,
        decision: Decision,
        attempt: int,
        source: WaitSource,
    ) -> None:
        """The decision after attempt `attempt` failed with `outcome`; `source`: where
        a retry's wait came from."""

    def failed(self, error: BaseException) -> None:
        """The attempt in progress failed with the stack's `error` (urllib3, which
        keeps the exception inside its own loop, says so before deciding)."""

    def redirected(self, status: int) -> None:
        """The attempt in progress got a redirect with `status`, which urllib3 follows
        by a nested send of its own."""

    def gate_wait(self, request: Request, seconds: float) -> None:
        """A first attempt waits `seconds` at the rate-limit gate."""

    def refused(self, refuser: Refuser, request: Request, detail: str) -> None:
        """A request that is not sent: the gate or the throttle refused it."""


#: The installed observer, or None (the default).
OBSERVER: Observer | None = None


def install(observer: Observer | None) -> None:
    """Install `observer` (None removes it)."""
    global OBSERVER  # noqa: PLW0603 - the one switch the loop reads
    OBSERVER = observer


def wait_source(outcome: ErrorInfo | TransportFailure, delay: float, planned: float) -> WaitSource:
    """Where a retry's wait of `delay` s came from, the policy having planned `planned` s.

    The gate, if it held the request longer than the policy planned and than the
    response's own hint explains (the gate closes for that hint too); else the
    server's hint (a header, or the error body), else the backoff.
    """
    hint = getattr(outcome, "retry_after", None)
    if delay > planned and (hint is None or delay > hint + hint_spread(hint)):
        return "gate"
    source = getattr(outcome, "retry_after_source", None)
    if hint is None or source is None:
        return "backoff"
    if source == "gate":
        return "gate"
    return "retry_after" if source.startswith("header") else "body_hint"
