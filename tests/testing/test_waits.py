"""instant_waits: errorkit's clock made virtual, recorded, and always restored."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from errorkit._clock import CLOCK
from errorkit.testing import InstantWaits, instant_waits


def _clock() -> tuple[object, object, object]:
    return (CLOCK.sleep, CLOCK.asleep, CLOCK.monotonic)


def test_sleep_returns_at_once_and_is_recorded() -> None:
    """A 60 s wait through the clock takes no time and is recorded as 60."""
    with instant_waits() as waits:
        start = time.monotonic()
        CLOCK.sleep(60)
        CLOCK.sleep(0.5)
        assert time.monotonic() - start < 0.1
    assert waits.delays == [60, 0.5]
    assert waits.total == 60.5
    assert waits.count == 2


def test_monotonic_advances_by_the_waits() -> None:
    """The virtual clock moves forward by each wait, so deadlines see the time pass."""
    with instant_waits():
        before = CLOCK.monotonic()
        CLOCK.sleep(30)
        assert 30 <= CLOCK.monotonic() - before < 30.5
        assert CLOCK.monotonic() - time.monotonic() > 29.9


def test_negative_waits_are_recorded_but_do_not_rewind() -> None:
    """A negative request is kept in `delays` and moves the clock by nothing."""
    with instant_waits() as waits:
        CLOCK.sleep(-1)
    assert (waits.delays, waits.total) == ([-1], 0.0)


def test_everything_is_restored_after_the_block() -> None:
    """On exit the clock's sleep, asleep and monotonic are the originals again."""
    original = _clock()
    with instant_waits():
        assert _clock() != original
    assert _clock() == original
    assert CLOCK.sleep is time.sleep
    assert CLOCK.monotonic is time.monotonic


def test_restored_even_when_the_block_raises() -> None:
    """An exception inside the block still restores the clock and propagates."""
    original = _clock()
    with pytest.raises(KeyError), instant_waits():
        raise KeyError("boom")
    assert _clock() == original


def test_nested_blocks_stack_and_unwind() -> None:
    """An inner block records its own waits on top of the outer clock, then restores it."""
    with instant_waits() as outer:
        CLOCK.sleep(10)
        with instant_waits() as inner:
            CLOCK.sleep(5)
            assert CLOCK.monotonic() - time.monotonic() > 14.9  # both advances count
        CLOCK.sleep(1)
    assert (outer.delays, inner.delays) == ([10, 1], [5])


async def test_async_sleep_is_instant_recorded_and_yields() -> None:
    """`asleep` returns at once, records the wait, and still lets other tasks run."""
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    with instant_waits() as waits:
        task = asyncio.ensure_future(other())
        start = time.monotonic()
        await CLOCK.asleep(120)
        assert time.monotonic() - start < 0.1
        assert ran == ["other"]  # the wait yielded to the loop
        await task
    assert waits.delays == [120]


async def test_async_sleep_can_be_cancelled() -> None:
    """A task waiting through the instant clock is cancellable at its yield point."""
    with instant_waits():
        task = asyncio.ensure_future(CLOCK.asleep(3600))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_waits_from_many_threads_are_all_recorded() -> None:
    """Concurrent waits from 8 threads are all recorded and all added to the clock."""
    with instant_waits() as waits:
        threads = [
            threading.Thread(target=lambda: [CLOCK.sleep(1) for _ in range(100)]) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
    assert waits.count == 800
    assert waits.total == 800


def test_clear_forgets_delays_but_keeps_the_advance() -> None:
    """`clear()` empties `delays`; the clock stays advanced."""
    waits = InstantWaits()
    waits.sleep(3)
    waits.clear()
    assert waits.delays == []
    assert waits.monotonic() - time.monotonic() > 2.9


def test_instant_waits_fixture(instant_waits: InstantWaits) -> None:
    """The plugin's fixture is an active InstantWaits bound to errorkit's clock."""
    CLOCK.sleep(42)
    assert instant_waits.delays == [42]
    assert CLOCK.sleep == instant_waits.sleep
