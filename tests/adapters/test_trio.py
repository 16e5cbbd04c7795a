"""httpx's and httpx2's async clients under trio: errorkit's waits and deadline run on trio."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from errorkit import APITimeoutError, RetryPolicy
from errorkit.testing import FaultServer, respond, slow_body

if TYPE_CHECKING:
    from support.clients_httpx import Library

trio = pytest.importorskip("trio")

FAST = RetryPolicy(budget=None, initial_delay=0.05, max_delay=0.05, jitter=0.0)


def test_a_retry_waits_on_trio(fault_server: FaultServer, library: Library) -> None:
    """A 503 then a 200: the backoff is slept by trio, not asyncio (no running loop there)."""
    fault_server.script("/x", [respond(503), respond(200, body={"ok": True})])

    async def main() -> tuple[int, object]:
        transport = library.adapter.AsyncRetryTransport(FAST)
        async with library.module.AsyncClient(transport=transport) as client:
            response = await client.get(fault_server.url("/x"), timeout=5)
            return response.status_code, response.json()

    started = time.monotonic()
    assert trio.run(main) == (200, {"ok": True})
    assert time.monotonic() - started >= 0.05  # the backoff was really waited
    assert fault_server.hits("/x") == 2


def test_the_deadline_cuts_a_dripped_error_body_on_trio(
    fault_server: FaultServer, library: Library
) -> None:
    """With a deadline, a 503 body dripped a byte every 0.3 s ends at the deadline on trio."""
    fault_server.script("/drip", [slow_body(503, b"x" * 40, interval=0.3)])
    policy = RetryPolicy(budget=None, deadline=0.6, max_attempts=3)

    async def main() -> BaseException | None:
        transport = library.adapter.AsyncRetryTransport(policy)
        async with library.module.AsyncClient(transport=transport) as client:
            try:
                await client.get(fault_server.url("/drip"), timeout=5)
            except APITimeoutError as exc:
                return exc
        return None

    started = time.monotonic()
    error = trio.run(main)
    elapsed = time.monotonic() - started
    assert isinstance(error, APITimeoutError)
    assert isinstance(error, library.module.TimeoutException)
    assert "deadline" in str(error)
    assert elapsed < 0.6 + 0.3
    assert fault_server.hits("/drip") == 1


def test_an_outside_trio_cancel_scope_propagates(
    fault_server: FaultServer, library: Library
) -> None:
    """The caller's own trio timeout is the caller's: it is not turned into errorkit's."""
    fault_server.script("/drip", [slow_body(503, b"x" * 40, interval=0.3)])
    policy = RetryPolicy(budget=None, deadline=5.0)

    async def main() -> bool:
        transport = library.adapter.AsyncRetryTransport(policy)
        async with library.module.AsyncClient(transport=transport) as client:
            with trio.move_on_after(0.4) as scope:
                await client.get(fault_server.url("/drip"), timeout=5)
            return bool(scope.cancelled_caught)

    started = time.monotonic()
    assert trio.run(main) is True
    assert time.monotonic() - started < 1.0
