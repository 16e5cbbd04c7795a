"""Instant retry waits: errorkit's clock, made virtual for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import TYPE_CHECKING

from errorkit._clock import CLOCK

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class InstantWaits:
    """A virtual clock: each wait returns at once and moves the clock forward instead.

    `monotonic()` is the underlying clock (`base`, the real monotonic clock unless
    virtual clocks are nested) plus the sum of every wait so far, so
    deadlines and ``Retry-After`` arithmetic see the time that would have passed.

    Attributes:
        delays: every wait requested, in seconds, in order (negative ones included).
    """

    def __init__(self, base: Callable[[], float] = time.monotonic) -> None:
        self.delays: list[float] = []
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def total(self) -> float:
        """Seconds the waits would have taken (negative requests count as 0)."""
        with self._lock:
            return self._offset

    @property
    def count(self) -> int:
        """How many waits were requested."""
        with self._lock:
            return len(self.delays)

    def monotonic(self) -> float:
        """The underlying clock advanced by every wait so far."""
        return self._base() + self._offset

    def sleep(self, seconds: float) -> None:
        """Record a wait of `seconds` and return at once."""
        with self._lock:
            self.delays.append(seconds)
            self._offset += max(0.0, seconds)

    async def asleep(self, seconds: float) -> None:
        """Record a wait of `seconds`, yield to the event loop once, and return."""
        self.sleep(seconds)
        await asyncio.sleep(0)

    def clear(self) -> None:
        """Forget the recorded waits; the clock keeps its advance."""
        with self._lock:
            self.delays.clear()


@contextlib.contextmanager
def instant_waits() -> Iterator[InstantWaits]:
    """Make every errorkit retry wait instant for the duration of the block.

    Swaps ``sleep``, ``asleep`` and ``monotonic`` of errorkit's clock for those of a
    fresh `InstantWaits`, yields it, and puts the previous ones back on exit,
    whatever happens inside. Blocks nest. Code that waits on its own can take the
    yielded object's `sleep` / `asleep` / `monotonic` to share the same virtual time::

        with instant_waits() as waits:
            session.get(url)  # retried after Retry-After: 60, in milliseconds
        assert waits.delays == [60.0]
    """
    saved = (CLOCK.sleep, CLOCK.asleep, CLOCK.monotonic)
    waits = InstantWaits(base=CLOCK.monotonic)
    CLOCK.sleep, CLOCK.asleep, CLOCK.monotonic = waits.sleep, waits.asleep, waits.monotonic
    try:
        yield waits
    finally:
        CLOCK.sleep, CLOCK.asleep, CLOCK.monotonic = saved
