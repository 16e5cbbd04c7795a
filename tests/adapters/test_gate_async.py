"""The rate-limit gate under asyncio: tasks wait for it without blocking the event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import httpx
import httpx2
import pytest

from errorkit import Quota, RateLimitGate, RetryPolicy
from errorkit._gate import by_endpoint
from errorkit.aiohttp import RetryMiddleware
from errorkit.httpx import AsyncRetryTransport
from errorkit.httpx2 import AsyncRetryTransport as AsyncRetryTransport2
from errorkit.testing import FaultServer, respond

POLICY = {"budget": None, "max_attempts": 1}


async def _ticks_while(work: asyncio.Future[list[int]], every: float = 0.05) -> int:
    """Count how often a ticker task ran while `work` was pending: the loop was free."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(every)
        ticks += 1
    return ticks


async def _send_all(get: object, url: str, n: int) -> list[int]:
    return list(await asyncio.gather(*(get(url) for _ in range(n))))  # type: ignore[operator]


def _client(library: str, policy: RetryPolicy) -> tuple[Any, Any]:
    """(get(url) -> status, close()) for an async client of `library` under `policy`."""
    if library == "aiohttp":
        session = aiohttp.ClientSession(middlewares=(RetryMiddleware(policy),))

        async def get(target: str) -> int:
            async with session.get(target) as response:
                return response.status

        return get, session.close
    module, transport = (
        (httpx, AsyncRetryTransport) if library == "httpx" else (httpx2, AsyncRetryTransport2)
    )
    client = module.AsyncClient(transport=transport(policy))

    async def get_httpx(target: str) -> int:
        return int((await client.get(target)).status_code)

    return get_httpx, client.aclose


@pytest.mark.parametrize("library", ["httpx", "httpx2", "aiohttp"])
async def test_tasks_wait_at_the_gate_while_the_loop_runs(
    library: str, fault_server: FaultServer
) -> None:
    """After a 429 with Retry-After: 1, three tasks wait ~1 s; a ticker keeps running."""
    fault_server.script("/t", [respond(429, {"Retry-After": "1"}), respond(200)])
    policy = RetryPolicy(gate=RateLimitGate(), **POLICY)  # type: ignore[arg-type]
    url = fault_server.url("/t")
    get, close = _client(library, policy)
    try:
        assert await get(url) == 429
        started = time.monotonic()
        work = asyncio.ensure_future(_send_all(get, url, 3))
        ticks = await _ticks_while(work)
        statuses = await work
    finally:
        await close()
    assert statuses == [200, 200, 200]
    assert time.monotonic() - started >= 0.9
    assert ticks >= 10  # the loop ran its ticker all along (about 20 in 1 s)
    first, *later = fault_server.requests("/t")
    assert all(hit.t - first.t >= 0.95 for hit in later)


@pytest.mark.parametrize("library", ["httpx", "httpx2", "aiohttp"])
async def test_a_task_asleep_in_its_slot_waits_for_a_closing_that_came_meanwhile(
    library: str, fault_server: FaultServer
) -> None:
    """Paced at 5/s, the second task sleeps 0.2 s for its slot; meanwhile a 429 elsewhere
    closes the scope for 1 s: the task goes when the scope opens, not in its slot."""
    fault_server.script("/s", [respond(200)])
    url = fault_server.url("/s")
    gate = RateLimitGate(learn=False)
    gate.pace(by_endpoint("GET", url, None), Quota(5, 1.0))
    get, close = _client(library, RetryPolicy(gate=gate, **POLICY))  # type: ignore[arg-type]
    try:
        assert await get(url) == 200  # the first slot
        second = asyncio.ensure_future(get(url))
        await asyncio.sleep(0.05)
        gate.close(by_endpoint("GET", url, None), 1.0)
        assert await asyncio.wait_for(second, 10) == 200
    finally:
        await close()
    first, then = fault_server.requests("/s")
    assert then.t - first.t >= 1.0  # its slot was at 0.21 s; the closing ended at 1.05
