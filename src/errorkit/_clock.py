"""Time behind one seam: the attempt loops read the clock and wait through `CLOCK`.

`errorkit.testing.instant_waits()` swaps these functions so that waits return at
once while the clock still advances by the time that would have passed; deadlines
and `Retry-After` logic therefore behave exactly as in production.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


class Clock:
    """The monotonic clock and the sync and async sleeps used by every adapter.

    Every wait handed to `sleep` or `asleep` is a policy's decided delay: finite,
    never negative, and at most ``errorkit._policy.MAX_WAIT`` (one day), which
    ``time.sleep``, ``asyncio.sleep`` and the testing helpers all accept.
    """

    __slots__ = ("asleep", "monotonic", "sleep")

    def __init__(self) -> None:
        self.monotonic: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep
        self.asleep: Callable[[float], Awaitable[None]] = asyncio.sleep


CLOCK = Clock()
