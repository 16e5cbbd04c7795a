"""A deadline for the blocking reads a synchronous stack makes: `cut_at`.

The sync stacks (requests, urllib3, httpx) bound each socket read by a timeout,
not a whole body: a server that drips one byte every half second never trips a
read timeout of one second, and holds the call as long as it likes. errorkit
clips each attempt's timeouts to the time left before the policy's deadline,
and around its own reads of a response body (an error body it classifies, a
body it drains, a body it reads for the caller) it arms `cut_at(sock, seconds)`:
if the reads are still going when the time is up, one watchdog thread shuts the
socket down (``shutdown(SHUT_RDWR)`` wakes a ``recv`` blocked in another thread,
``close()`` does not). The stack then sees the connection end, raises its own
error, and the adapter, seeing `Cut.fired`, reports the attempt as cut short at
the deadline.

The watchdog is one daemon thread for the process, started on first use and
idle (blocked on a condition) when nothing is armed. Arming costs a heap push
under a lock; disarming only marks the entry, which the thread drops when its
time comes (or sooner, when cancelled entries outnumber live ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from errorkit._clock import under_trio
from errorkit._policy import TransportFailure

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterator

_T = TypeVar("_T")


@dataclass(eq=False, slots=True)
class Cut:
    """One armed deadline: `fired` is True once the watchdog shut the socket down."""

    sock: socket.socket | None
    when: float
    fired: bool = False
    done: bool = field(default=False, repr=False)


#: Never armed: what `cut_at` yields when there is no socket or no deadline.
_UNARMED = Cut(sock=None, when=float("inf"))


@contextlib.contextmanager
def cut_at(sock: socket.socket | None, seconds: float | None) -> Iterator[Cut]:
    """Shut `sock` down if the block is still running `seconds` from now.

    With no socket or no deadline (`seconds` None) nothing is armed. The yielded
    `Cut` says afterwards whether the watchdog fired.
    """
    if sock is None or seconds is None:
        yield _UNARMED
        return
    cut = Cut(sock=sock, when=time.monotonic() + max(seconds, 0.0))
    _WATCHDOG.arm(cut)
    try:
        yield cut
    finally:
        _WATCHDOG.disarm(cut)


class _Watchdog:
    """The thread that shuts sockets down when their deadline passes."""

    def __init__(self) -> None:
        self._lock = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Cut]] = []
        self._order = itertools.count()
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    def arm(self, cut: Cut) -> None:
        with self._lock:
            heapq.heappush(self._heap, (cut.when, next(self._order), cut))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="errorkit-deadline", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is cut:
                self._lock.notify()  # earlier than what the thread waits for

    def disarm(self, cut: Cut) -> None:
        with self._lock:
            if cut.done:
                return
            cut.done = True
            self._cancelled += 1
            if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                    self._cancelled = max(0, self._cancelled - 1)
                if not self._heap:
                    self._lock.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, cut = heapq.heappop(self._heap)
                cut.done = cut.fired = True
                _shut_down(cut.sock)

    def after_fork(self) -> None:
        """In a forked child the thread is gone: start afresh."""
        self.__init__()  # type: ignore[misc]


def _shut_down(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.after_fork)


#: The outcome of an attempt whose reads `cut_at` (or an asyncio timeout) ended.
CUT_SHORT = TransportFailure(
    sent=True, timeout=True, description="attempt cut short at the policy deadline"
)


def is_cut_short(failure: TransportFailure) -> bool:
    """Whether `failure` is `CUT_SHORT`, or an adapter's copy of it naming the deadline's value."""
    return failure is CUT_SHORT or (
        failure.timeout and failure.description.startswith(CUT_SHORT.description)
    )


class DeadlineReached(Exception):  # noqa: N818 - an event, raised and caught by the adapters
    """errorkit's own time limit on an async attempt (or a drain) fired.

    `error` is the TimeoutError (or, on Python 3.10, CancelledError) that ended it.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__("errorkit time limit reached")
        self.error = error


async def within(awaitable: Awaitable[_T], seconds: float) -> _T:
    """Await `awaitable` for at most `seconds`; `DeadlineReached` when that limit fired.

    The async twin of `cut_at`, on the running event loop (asyncio's, or trio's
    for httpx under trio). A cancellation from outside, or a timeout of another
    scope, propagates as it is.
    """
    if under_trio():
        return await _within_trio(awaitable, seconds)
    return await _within_asyncio(awaitable, seconds)


async def _within_trio(awaitable: Awaitable[_T], seconds: float) -> _T:
    trio: Any = sys.modules["trio"]
    with trio.move_on_after(max(seconds, 0.0)):
        return await awaitable
    # Only reached when this scope's own deadline cancelled the awaitable.
    raise DeadlineReached(TimeoutError())


if sys.version_info >= (3, 11):

    async def _within_asyncio(awaitable: Awaitable[_T], seconds: float) -> _T:
        try:
            async with asyncio.timeout(max(seconds, 0.0)) as scope:
                return await awaitable
        except TimeoutError as exc:
            if scope.expired():
                raise DeadlineReached(exc) from exc
            raise

else:  # pragma: no cover - Python 3.10: no asyncio.timeout()

    async def _within_asyncio(awaitable: Awaitable[_T], seconds: float) -> _T:
        """Runs in the current task, as asyncio.timeout() does: a stack's
        connections and responses belong to the task that opened them
        (asyncio.wait_for would make another).
        """
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("errorkit's asyncio adapters need a running asyncio task")
        fired = False

        def expire() -> None:
            nonlocal fired
            fired = True
            task.cancel()

        handle = asyncio.get_running_loop().call_later(max(seconds, 0.0), expire)
        try:
            return await awaitable
        except asyncio.CancelledError as exc:
            if fired:
                raise DeadlineReached(asyncio.TimeoutError()) from exc
            raise
        finally:
            handle.cancel()
