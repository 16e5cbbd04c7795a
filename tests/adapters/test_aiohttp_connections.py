"""How RetryMiddleware sits in aiohttp's request machinery, over real sockets.

Pitfall 3 (discarded responses released, no hang on a small pool), pitfall 11
(aiohttp's own automatic retry, redirect hops and per-request middlewares) and
pitfall 12 (the total timeout and cancellation interrupt a wait at once and leave
no connection checked out), plus the middleware's identity and the deadline clip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import pytest

import errorkit
from errorkit import RetryPolicy
from errorkit.aiohttp import RetryMiddleware
from errorkit.testing import FaultServer, Step, drop, huge_body, respond, stall
from support.clients_aiohttp import CallLog, acquired, retry_session

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)


# -- the middleware object ---------------------------------------------------------------


def test_middleware_hashes_and_compares_by_identity() -> None:
    """Two middlewares with one policy are distinct; each is hashable (aiohttp may cache)."""
    first, second = RetryMiddleware(FAST), RetryMiddleware(FAST)
    assert first != second
    assert len({first, second, first}) == 2
    assert hash(first) == hash(first)
    assert "raise_for_status=False" in repr(first)


# -- pitfall 3: releasing discarded responses -------------------------------------------


async def test_huge_error_bodies_do_not_exhaust_a_small_pool(fault_server: FaultServer) -> None:
    """Two 3 MB 503s then 200s, limit=2, three requests: no hang; each huge body is closed."""
    fault_server.script(
        "/h", [huge_body(3_000_000, 503), huge_body(3_000_000, 503), respond(200, body=b"ok")]
    )
    async with retry_session(FAST, limit=2) as session:

        async def three() -> list[int]:
            statuses = []
            for _ in range(3):
                async with session.get(fault_server.url("/h")) as resp:
                    await resp.read()
                    statuses.append(resp.status)
            return statuses

        assert await asyncio.wait_for(three(), 5) == [200, 200, 200]
        assert acquired(session) == 0
    assert fault_server.hits("/h") == 5
    assert fault_server.connections_accepted == 3  # two closed 503s, then one kept alive


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_small_discarded_bodies_keep_the_connection(
    fault_server: FaultServer, chunked: bool
) -> None:
    """5 000-byte 503 bodies (sized or chunked) are read and released: one connection in all."""
    big = b"x" * 5000
    step = respond(503, body=big, chunked=3 if chunked else False)
    fault_server.script("/pool", [step, step, respond(200)])
    async with retry_session(FAST, limit=1) as session:
        for _ in range(2):
            async with session.get(fault_server.url("/pool")) as resp:
                assert resp.status == 200
    assert fault_server.hits("/pool") == 4
    assert fault_server.connections_accepted == 1


async def test_large_chunked_discarded_body_is_closed(fault_server: FaultServer) -> None:
    """A chunked 503 longer than the bound is read up to the bound, then its connection closed."""
    fault_server.script("/big", [huge_body(200_000, 503, chunked=True), respond(200)])
    async with retry_session(FAST, limit=1) as session:
        async with session.get(fault_server.url("/big")) as resp:
            assert resp.status == 200
        assert acquired(session) == 0
    assert fault_server.connections_accepted == 2


# -- pitfall 11: aiohttp's own retry, redirect hops, per-request middlewares -------------


async def test_without_errorkit_aiohttp_retries_a_dropped_get_once(
    fault_server: FaultServer,
) -> None:
    """The baseline errorkit accounts for: aiohttp alone re-sends a dropped GET once."""
    fault_server.script("/d", [drop(), respond(200)])
    log = CallLog()
    async with (
        aiohttp.ClientSession(middlewares=(log,)) as session,
        session.get(fault_server.url("/d")) as resp,
    ):
        assert resp.status == 200
    assert (fault_server.hits("/d"), len(log.calls)) == (2, 2)


async def test_aiohttp_own_re_send_goes_out_when_errorkit_does_not_retry(
    fault_server: FaultServer,
) -> None:
    """max_attempts=1, GET dropped: aiohttp's own one re-send goes out, as without errorkit."""
    fault_server.script("/d", [drop(), respond(200)])
    events: list[errorkit.RetryEvent] = []
    outer, inner = CallLog(), CallLog()
    policy = dataclasses.replace(FAST, max_attempts=1, on_retry=events.append)
    async with (
        retry_session(policy, outer=(outer,), inner=(inner,)) as session,
        session.get(fault_server.url("/d")) as resp,
    ):
        assert resp.status == 200
    assert fault_server.hits("/d") == 2
    assert (len(outer.calls), len(inner.calls), len(events)) == (2, 2, 0)


async def test_aiohttp_own_re_send_is_absorbed_once_errorkit_retried(
    fault_server: FaultServer,
) -> None:
    """max_attempts=2, GET dropped twice: errorkit's 2 attempts are all; aiohttp's re-run fails."""
    fault_server.script("/d", [drop(), drop(), respond(200)])
    outer, inner = CallLog(), CallLog()
    policy = dataclasses.replace(FAST, max_attempts=2)
    async with retry_session(policy, outer=(outer,), inner=(inner,)) as session:
        with pytest.raises(aiohttp.ServerDisconnectedError) as caught:
            await session.get(fault_server.url("/d"))
    assert isinstance(caught.value, errorkit.APIConnectionError)
    assert fault_server.hits("/d") == 2
    assert (len(outer.calls), len(inner.calls)) == (2, 2)


async def test_dropped_get_is_retried_by_errorkit_not_aiohttp(fault_server: FaultServer) -> None:
    """max_attempts=2: errorkit's own retry gets the 200; aiohttp never re-runs the chain."""
    fault_server.script("/d", [drop(), respond(200)])
    events: list[errorkit.RetryEvent] = []
    outer = CallLog()
    async with (
        retry_session(
            dataclasses.replace(FAST, max_attempts=2, on_retry=events.append), outer=(outer,)
        ) as session,
        session.get(fault_server.url("/d")) as resp,
    ):
        assert resp.status == 200
    assert (fault_server.hits("/d"), len(outer.calls), len(events)) == (2, 1, 1)


async def test_put_that_keeps_dropping_is_sent_max_attempts_times(
    fault_server: FaultServer,
) -> None:
    """A PUT dropped every time reaches the server max_attempts (3) times, not 3 + 3."""
    fault_server.script("/d", [drop()])
    async with retry_session(FAST) as session:
        with pytest.raises(aiohttp.ServerDisconnectedError) as caught:
            await session.put(fault_server.url("/d"), data=b"x")
    assert fault_server.hits("/d") == 3
    assert caught.value.attempts == 3  # type: ignore[attr-defined]
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)


async def test_dropped_post_is_sent_once(fault_server: FaultServer) -> None:
    """A POST dropped after it was read: neither errorkit nor aiohttp sends it again."""
    fault_server.script("/d", [drop(), respond(201)])
    outer = CallLog()
    async with retry_session(FAST, outer=(outer,)) as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post(fault_server.url("/d"), data=b"x")
    assert (fault_server.hits("/d"), len(outer.calls)) == (1, 1)


async def test_each_redirect_hop_runs_its_own_attempts(fault_server: FaultServer) -> None:
    """A 307 to a flaky target: the chain runs once per hop, and the target hop retries."""
    fault_server.script("/a", [respond(307, headers={"Location": "/b"})])
    fault_server.script("/b", [respond(503), respond(200, body=b"done")])
    events: list[errorkit.RetryEvent] = []
    outer, inner = CallLog(), CallLog()
    async with (
        retry_session(
            dataclasses.replace(FAST, on_retry=events.append), outer=(outer,), inner=(inner,)
        ) as session,
        session.put(fault_server.url("/a"), data=b"body") as resp,
    ):
        assert (resp.status, await resp.read()) == (200, b"done")
        assert [h.status for h in resp.history] == [307]
    assert outer.calls == [("PUT", "/a"), ("PUT", "/b")]
    assert inner.calls == [("PUT", "/a"), ("PUT", "/b"), ("PUT", "/b")]
    assert [r.body for r in fault_server.requests("/b")] == [b"body", b"body"]
    assert [e.url.endswith("/b") for e in events] == [True]


async def test_per_request_middlewares_replace_the_sessions(fault_server: FaultServer) -> None:
    """middlewares=(other,) on one request drops the session's RetryMiddleware: one hit."""
    fault_server.script("/m", [respond(503), respond(200)])
    async with retry_session(FAST) as session:
        async with session.get(fault_server.url("/m"), middlewares=(CallLog(),)) as resp:
            assert resp.status == 503
        assert fault_server.hits("/m") == 1
        async with session.get(fault_server.url("/m")) as resp:  # the session's own again
            assert resp.status == 200


async def test_per_request_retry_middleware_uses_its_own_policy(fault_server: FaultServer) -> None:
    """A RetryMiddleware given per request applies its policy (2 attempts) instead of 3."""
    fault_server.script("/m", [respond(503)])
    mine = RetryMiddleware(dataclasses.replace(FAST, max_attempts=2))
    async with (
        retry_session(FAST) as session,
        session.get(fault_server.url("/m"), middlewares=(mine,)) as resp,
    ):
        assert resp.status == 503
    assert fault_server.hits("/m") == 2


# -- pitfall 12: total timeout, cancellation, deadline -----------------------------------


async def test_total_timeout_interrupts_the_wait_and_is_not_retried(
    fault_server: FaultServer,
) -> None:
    """total=1 with Retry-After: 2 on every hit: a plain TimeoutError at ~1 s after one hit."""
    fault_server.script("/t", [respond(503, headers={"Retry-After": "2"})])
    timeout = aiohttp.ClientTimeout(total=1)
    async with retry_session(FAST, timeout=timeout) as session:
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError) as caught:  # builtin TimeoutError on 3.11+
            await session.get(fault_server.url("/t"))
        elapsed = time.monotonic() - start
        assert acquired(session) == 0
    assert not isinstance(caught.value, errorkit.APIError)
    assert 0.9 <= elapsed < 1.15
    assert fault_server.hits("/t") == 1


@pytest.mark.parametrize(
    ("steps", "hits"),
    [([stall(3)], 1), ([respond(503), stall(3)], 2)],
    ids=["during the first attempt", "during a retry"],
)
async def test_total_timeout_is_not_retried(
    fault_server: FaultServer, steps: list[Step], hits: int
) -> None:
    """The total fires while an attempt stalls: TimeoutError at once, no further attempt."""
    fault_server.script("/t", steps)
    timeout = aiohttp.ClientTimeout(total=0.5)
    async with retry_session(FAST, timeout=timeout) as session:
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError) as caught:  # builtin TimeoutError on 3.11+
            await session.get(fault_server.url("/t"))
        assert time.monotonic() - start < 0.7
    assert not isinstance(caught.value, (errorkit.APIError, aiohttp.ServerTimeoutError))
    assert fault_server.hits("/t") == hits


async def test_cancel_during_the_backoff_is_immediate_and_leaves_no_connection(
    fault_server: FaultServer,
) -> None:
    """task.cancel() in a 5 s wait: CancelledError within 50 ms, the 503 already released."""
    fault_server.script("/c", [respond(503, headers={"Retry-After": "5"}, body=b"busy")])
    waiting = asyncio.Event()
    policy = dataclasses.replace(FAST, on_retry=lambda _event: waiting.set())
    async with retry_session(policy) as session:
        task = asyncio.create_task(session.get(fault_server.url("/c")))
        await asyncio.wait_for(waiting.wait(), 2)
        await asyncio.sleep(0.05)  # now inside the backoff sleep
        assert acquired(session) == 0
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - start < 0.05
        assert acquired(session) == 0
    assert fault_server.hits("/c") == 1


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([stall(5)], id="first-attempt-stalls"),
        pytest.param([respond(503), stall(5)], id="retry-stalls"),
    ],
)
async def test_deadline_cuts_a_stalled_attempt(
    fault_server: FaultServer, steps: list[Step]
) -> None:
    """deadline=0.5, no sock_read: the stalled attempt (first or re-sent) is cut at the
    time left, as APITimeoutError."""
    fault_server.script("/s", steps)
    timeout = aiohttp.ClientTimeout(total=10)
    async with retry_session(dataclasses.replace(FAST, deadline=0.5), timeout=timeout) as session:
        start = time.monotonic()
        with pytest.raises(errorkit.APITimeoutError) as caught:
            await session.get(fault_server.url("/s"))
        elapsed = time.monotonic() - start
        assert acquired(session) == 0
    assert 0.45 <= elapsed < 0.7
    assert isinstance(caught.value, asyncio.TimeoutError)
    assert caught.value.attempts == len(steps)
    assert fault_server.hits("/s") == len(steps)
