"""Time behind one seam: the attempt loops read the clock and wait through `CLOCK`.

`errorkit.testing.instant_waits()` swaps these functions so that waits return at
once while the clock still advances by the time that would have passed; deadlines
and `Retry-After` logic therefore behave exactly as in production.

The async sleep runs on the event loop it is awaited in: asyncio's, or trio's
(httpx's async client runs under trio too); errorkit imports trio only when the
caller already has.
"""

from __future__ import annotations

import asyncio
import sys
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
        self.asleep: Callable[[float], Awaitable[None]] = sleep_async


def under_trio() -> bool:
    """Whether the running coroutine runs under trio (never imports trio itself)."""
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


async def sleep_async(seconds: float) -> None:
    """Wait `seconds` on the running event loop: trio's under trio, else asyncio's."""
    if under_trio():
        await sys.modules["trio"].sleep(seconds)
    else:
        await asyncio.sleep(seconds)


CLOCK = Clock()
