"""`RedisBackend` against a real redis-server: sharing, expiry, failure and recovery.

The fleet itself (several processes) is in test_fleet.py; here two backends in one
process stand for two hosts, and the Redis server is killed, restarted empty, or
replaced by one that never answers.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

import errorkit
import redis
from errorkit import RateLimitGate, RetryBudget, RetryPolicy
from errorkit.redis import RedisBackend
from errorkit.testing import FaultServer, closed_port, respond

if TYPE_CHECKING:
    from collections.abc import Iterator

    from errorkit.testing.redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)

SCOPE = "http://127.0.0.1:1/v1/chat"


def settle(*backends: RedisBackend) -> None:
    """Two exchanges for each backend, so every view includes the other's changes."""
    for _ in range(2):
        for backend in backends:
            backend.sync()


def up(backend: RedisBackend) -> bool:
    """Whether the backend's last exchange reached Redis (read afresh each time)."""
    return backend.available


@contextmanager
def backend_at(url: str, **kwargs: Any) -> Iterator[RedisBackend]:
    backend = RedisBackend.from_url(url, **kwargs)
    try:
        yield backend
    finally:
        backend.close()


def test_a_closed_scope_reaches_another_host_within_the_interval(
    redis_server: RedisServer,
) -> None:
    with backend_at(redis_server.url) as one, backend_at(redis_server.url) as other:
        here, there = RateLimitGate(backend=one), RateLimitGate(backend=other)
        here.close(SCOPE, 5.0)
        deadline = time.monotonic() + 1.0
        while there.wait("GET", SCOPE, {}) == 0.0 and time.monotonic() < deadline:
            time.sleep(0.005)
        seen_after = 1.0 - (deadline - time.monotonic())
        assert 4.5 < there.wait("GET", SCOPE, {}) <= 5.0
        assert seen_after < 0.3  # the default interval is 50 ms: well within


def test_a_closing_elsewhere_wakes_the_fleet_before_its_interval(
    redis_server: RedisServer,
) -> None:
    """Exchanges every 5 s, but a closing is published: the other host holds within
    a few round trips of it, not at its next exchange."""
    slow = {"interval": 5.0, "stale_after": 10.0}
    with backend_at(redis_server.url, **slow) as one, backend_at(redis_server.url, **slow) as other:
        here, there = RateLimitGate(backend=one), RateLimitGate(backend=other)
        time.sleep(0.3)  # both listeners subscribed (their threads start on attach)
        closed_at = time.monotonic()
        here.close(SCOPE, 5.0)
        deadline = closed_at + 2.0
        while there.wait("GET", SCOPE, {}) == 0.0 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert time.monotonic() - closed_at < 0.2
        assert 4.5 < there.wait("GET", SCOPE, {}) <= 5.0


def test_a_learned_pace_reaches_another_host(redis_server: RedisServer) -> None:
    """A bare 429 here (Retry-After: 1): the other host releases the scope paced too,
    at its share of the fleet's slow start (2/s per process, two processes)."""
    with backend_at(redis_server.url) as one, backend_at(redis_server.url) as other:
        here, there = RateLimitGate(backend=one), RateLimitGate(backend=other)
        settle(one, other)
        bare = errorkit.parse(429, {"Retry-After": "1"}, b"")
        assert bare is not None
        here.observe("GET", SCOPE, {}, bare)
        settle(one, other)
        first, second = there.wait("GET", SCOPE, {}), there.wait("GET", SCOPE, {})
        assert 0.8 < first <= 1.0
        # The fleet starts at 2/s per member: each process's own slots are 1/2 s apart.
        assert second - first == pytest.approx(0.5, abs=0.02)
        assert there._paces[SCOPE].peak == 0.0


def test_gates_of_other_names_or_prefixes_never_mix(redis_server: RedisServer) -> None:
    with (
        backend_at(redis_server.url) as one,
        backend_at(redis_server.url) as same,
        backend_at(redis_server.url, prefix="other-app:") as apart,
    ):
        closing = RateLimitGate(backend=one)
        named = RateLimitGate(backend=same, name="search")
        prefixed = RateLimitGate(backend=apart)
        closing.close(SCOPE, 5.0)
        settle(one, same, apart)
        assert named.wait("GET", SCOPE, {}) == 0.0
        assert prefixed.wait("GET", SCOPE, {}) == 0.0


def test_the_budget_is_one_for_two_hosts(redis_server: RedisServer) -> None:
    with backend_at(redis_server.url) as one, backend_at(redis_server.url) as other:
        a = RetryBudget(ratio=0.0, min_per_second=1.0, window=4.0, backend=one)
        b = RetryBudget(ratio=0.0, min_per_second=1.0, window=4.0, backend=other)
        settle(one, other)
        granted = 0
        for _ in range(10):  # bounded: both spend in turns, exchanging between
            granted += a.try_spend() + b.try_spend()
            settle(one, other)
        assert granted == 4  # the fleet's floor: 1 per second over 4 s


def test_requests_that_failed_here_earn_no_retries_there(redis_server: RedisServer) -> None:
    """Host a records 6 requests, 4 of which failed: host b may retry half of the 2."""
    with backend_at(redis_server.url) as one, backend_at(redis_server.url) as other:
        a = RetryBudget(ratio=1.0, min_per_second=0.0, backend=one)
        b = RetryBudget(ratio=1.0, min_per_second=0.0, backend=other)
        for _ in range(6):
            a.record_request()
        for _ in range(4):
            a.record_failure()
        settle(one, other)
        granted = sum(b.try_spend() for _ in range(5))
        assert granted == 1  # the fleet's 2 answered requests, shared by the 2 hosts


def test_every_key_is_prefixed_expires_and_holds_no_credential(
    redis_server: RedisServer,
) -> None:
    url = "http://user:hunter2@127.0.0.1:1/v1/chat?api_key=sk-secret"
    with backend_at(redis_server.url) as backend:
        gate = RateLimitGate(backend=backend)
        budget = RetryBudget(backend=backend)
        throttle = errorkit.AdaptiveThrottle(backend=backend)
        gate.observe("GET", url, {}, errorkit.parse(429, {"Retry-After": "3"}, b""))  # type: ignore[arg-type]
        budget.record_request()
        throttle.admit(throttle.scope("GET", url, {}))
        backend.sync()
        client = redis.Redis.from_url(redis_server.url)
        keys: list[bytes] = client.keys("*")  # type: ignore[assignment]
        assert keys
        dump = b""
        for key in keys:
            assert key.startswith(b"errorkit:{")
            assert client.pttl(key) > 0  # every key expires
            kind = client.type(key)
            items: Any = client.hgetall(key) if kind == b"hash" else client.zrange(key, 0, -1)
            dump += (
                b"".join(k + v for k, v in items.items()) if kind == b"hash" else b"".join(items)
            )
        assert b"hunter2" not in dump
        assert b"sk-secret" not in dump
        assert b"http://127.0.0.1:1/v1/chat" in dump  # the scope, as by_endpoint made it
        client.close()


def fetch_in_a_loop(url: str, policy: RetryPolicy, stop: threading.Event) -> list[float]:
    """GET `url` until `stop` (at most 2000 times); the time each call took."""
    import requests

    from errorkit.requests import RetryAdapter

    took: list[float] = []
    with requests.Session() as session:
        session.mount("http://", RetryAdapter(policy=policy))
        for _ in range(2000):
            if stop.is_set():
                break
            started = time.monotonic()
            assert session.get(url, timeout=5).status_code == 200
            took.append(time.monotonic() - started)
            time.sleep(0.002)
    return took


def test_redis_killed_mid_run_then_restarted_empty(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="errorkit")
    with FaultServer() as server, backend_at(redis_server.url, interval=0.02) as backend:
        server.script("/ok", [respond(200, body=b"ok")])
        gate = RateLimitGate(backend=backend)
        policy = RetryPolicy(gate=gate, budget=RetryBudget(backend=backend))
        stop = threading.Event()
        took: list[float] = []
        calls = threading.Thread(
            target=lambda: took.extend(fetch_in_a_loop(server.url("/ok"), policy, stop))
        )
        calls.start()
        try:
            time.sleep(0.3)
            redis_server.kill()
            time.sleep(0.5)
            assert not up(backend)
            gate.close(SCOPE, 30.0)  # the fallback: this process's gate still holds
            assert gate.wait("GET", SCOPE, {}) > 29.0
            time.sleep(0.5)
            redis_server.restart()  # empty
            deadline = time.monotonic() + 5.0
            while not up(backend) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert up(backend)
            time.sleep(0.3)
        finally:
            stop.set()
            calls.join(timeout=10)
        # The closing made while Redis was down reached the new, empty Redis.
        with backend_at(redis_server.url) as late:
            assert RateLimitGate(backend=late).wait("GET", SCOPE, {}) > 28.0
    assert len(took) > 100
    assert max(took) < 0.25  # no request stalled on the backend
    down = [r for r in caplog.records if "did not answer" in r.getMessage()]
    back = [r for r in caplog.records if "answers again" in r.getMessage()]
    assert [r.levelname for r in down] == ["WARNING"]  # once, however many exchanges failed
    assert [r.levelname for r in back] == ["INFO"]
    assert backend.failures > 1


def test_a_success_waits_for_no_redis_command(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)

    def scripts_run() -> int:
        stats: dict[str, Any] = client.info("commandstats")
        return sum(
            stats.get(name, {}).get("calls", 0) for name in ("cmdstat_evalsha", "cmdstat_eval")
        )

    with FaultServer() as server, backend_at(redis_server.url) as backend:
        server.script("/ok", [respond(200, body=b"ok")])
        policy = RetryPolicy(
            gate=RateLimitGate(backend=backend), budget=RetryBudget(backend=backend)
        )
        before, started = scripts_run(), time.monotonic()
        stop = threading.Event()
        timer = threading.Timer(1.0, stop.set)
        timer.start()
        took = fetch_in_a_loop(server.url("/ok"), policy, stop)
        elapsed = time.monotonic() - started
        ran = scripts_run() - before
    client.close()
    # Two objects, one exchange each per 50 ms: bounded by time, not by requests.
    assert len(took) > 150
    assert ran <= 2 * (elapsed / 0.05 + 3)
    assert ran < len(took)


class Blackhole:
    """A TCP server that accepts connections and never answers: a Redis that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


async def loop_lag_while(work: Any) -> tuple[Any, float]:
    """Run `work` while a ticker measures the event loop's longest stall."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            worst = max(worst, now - last - 0.005)
            last = now

    tick = asyncio.create_task(ticker())
    try:
        result = await work
    finally:
        done.set()
        await tick
    return result, worst


async def test_async_adapters_never_wait_for_a_redis_that_hangs(
    blackhole: Blackhole, caplog: pytest.LogCaptureFixture
) -> None:
    import aiohttp
    import httpx

    import errorkit.aiohttp
    import errorkit.httpx

    caplog.set_level(logging.WARNING, logger="errorkit")
    backend = RedisBackend.from_url(blackhole.url, timeout=0.2, interval=0.01)
    policy = RetryPolicy(gate=RateLimitGate(backend=backend), budget=RetryBudget(backend=backend))
    try:
        with FaultServer() as server:
            server.script("/ok", [respond(200, body=b"ok")])
            url = server.url("/ok")

            async def calls() -> list[int]:
                statuses: list[int] = []
                transport = errorkit.httpx.AsyncRetryTransport(policy=policy)
                async with httpx.AsyncClient(transport=transport) as client:
                    statuses += [(await client.get(url)).status_code for _ in range(40)]
                middleware = errorkit.aiohttp.RetryMiddleware(policy=policy)
                async with aiohttp.ClientSession(middlewares=(middleware,)) as session:
                    for _ in range(40):
                        async with session.get(url) as response:
                            statuses.append(response.status)
                return statuses

            statuses, worst = await loop_lag_while(calls())
    finally:
        backend.close()
    assert statuses == [200] * 80
    assert worst < 0.1  # a command waited on the loop would stall it 0.2 s or more
    assert not backend.available
    assert any("did not answer (TimeoutError)" in r.getMessage() for r in caplog.records)


async def test_an_asyncio_client_is_read_for_its_address(redis_server: RedisServer) -> None:
    import redis.asyncio

    given = redis.asyncio.Redis.from_url(redis_server.url)
    with backend_at(redis_server.url) as sync_side:
        backend = RedisBackend(given)
        try:
            gate, other = RateLimitGate(backend=backend), RateLimitGate(backend=sync_side)
            gate.close(SCOPE, 5.0)
            settle(backend, sync_side)
            assert other.wait("GET", SCOPE, {}) > 4.5
            assert backend.available
        finally:
            backend.close()
            await given.aclose()


def test_the_backend_never_shows_its_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="errorkit")
    port = closed_port()
    with backend_at(f"redis://:hunter2@127.0.0.1:{port}/0") as backend:  # refused: it logs
        RateLimitGate(backend=backend)
        assert not backend.available
        shown = repr(backend) + "".join(r.getMessage() for r in caplog.records)
    assert "hunter2" not in shown
    assert f"127.0.0.1:{port}/0" in shown
    assert "did not answer (ConnectionError)" in shown
    with pytest.raises(TypeError, match="credentials"):
        pickle.dumps(backend)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("interval", 0.0),
        ("interval", 11),
        ("timeout", -1),
        ("stale_after", 0.01),
        ("prefix", "a{b}"),
    ],
)
def test_settings_out_of_range_are_refused(setting: str, value: object) -> None:
    with pytest.raises(ValueError, match=setting):
        RedisBackend(redis.Redis(), **{setting: value})  # type: ignore[arg-type]


def test_a_client_that_is_no_redis_client_is_refused() -> None:
    with pytest.raises(TypeError, match=r"redis\.Redis"):
        RedisBackend("redis://localhost")
