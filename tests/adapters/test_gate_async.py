"""The rate-limit gate under asyncio: tasks wait for it without blocking the event loop."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx
import httpx2
import pytest

from errorkit import RateLimitGate, RetryPolicy
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


@pytest.mark.parametrize("library", ["httpx", "httpx2", "aiohttp"])
async def test_tasks_wait_at_the_gate_while_the_loop_runs(
    library: str, fault_server: FaultServer
) -> None:
    """After a 429 with Retry-After: 1, three tasks wait ~1 s; a ticker keeps running."""
    fault_server.script("/t", [respond(429, {"Retry-After": "1"}), respond(200)])
    policy = RetryPolicy(gate=RateLimitGate(), **POLICY)  # type: ignore[arg-type]
    url = fault_server.url("/t")
    if library == "aiohttp":
        session = aiohttp.ClientSession(middlewares=(RetryMiddleware(policy),))

        async def get(target: str) -> int:
            async with session.get(target) as response:
                return response.status

        close = session.close
    else:
        module, transport = (
            (httpx, AsyncRetryTransport) if library == "httpx" else (httpx2, AsyncRetryTransport2)
        )
        client = module.AsyncClient(transport=transport(policy))

        async def get(target: str) -> int:
            return int((await client.get(target)).status_code)

        close = client.aclose
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
