"""A fleet of worker processes sharing one gate or one budget through a real Redis.

Four ``spawn`` processes, each with its own `RedisBackend`, call one FaultServer
through errorkit's requests adapter. What the server received is the proof: when it
got each request, and how many.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from errorkit.testing import FaultServer, respond
from support.fleet import Job, fleet

if TYPE_CHECKING:
    from errorkit.testing.redis_server import RedisServer

pytestmark = pytest.mark.timeout(120)

WORKERS = 4
RETRY_AFTER = 2.0


def wait_for_hits(server: FaultServer, path: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while server.hits(path) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    assert server.hits(path) >= count


def one_429_then_ok(server: FaultServer) -> str:
    server.script(
        "/limited",
        [
            respond(429, {"Retry-After": str(int(RETRY_AFTER))}, {"error": {"message": "slow"}}),
            respond(200, body=b"ok"),
        ],
    )
    return server.url("/limited")


def held_back(
    redis_url: str | None, server: FaultServer
) -> tuple[float, list[float], list[object]]:
    """Worker 0's request is answered 429 (Retry-After: 2); then the three others start.

    Returns when the 429 went out, when the server got each later request, and what
    every worker's call ended with.
    """
    url = one_429_then_ok(server)
    jobs = [Job(redis_url, url, group=0 if n == 0 else 1) for n in range(WORKERS)]
    with fleet(jobs) as running:
        running.start(0)
        wait_for_hits(server, "/limited", 1)
        time.sleep(0.3)  # the others start well inside the announced wait
        running.start(1)
        reports = running.outcomes()
    first, *later = server.requests("/limited")
    return first.t, [request.t for request in later], [r[1] for r in reports]


def test_one_429_holds_every_process_of_the_fleet_back(redis_server: RedisServer) -> None:
    with FaultServer() as server:
        announced, later, outcomes = held_back(redis_server.url, server)
    assert outcomes == [[200]] * WORKERS
    # One 429, then worker 0's retry and the three others, all after the wait.
    assert len(later) == WORKERS
    assert min(later) - announced >= RETRY_AFTER - 0.05


def test_without_a_backend_each_process_collects_its_own_answer(
    redis_server: RedisServer,
) -> None:
    # The control: per-process gates know nothing of worker 0's 429.
    del redis_server
    with FaultServer() as server:
        announced, later, outcomes = held_back(None, server)
    assert outcomes == [[200]] * WORKERS
    sent_inside_the_wait = [t for t in later if t - announced < RETRY_AFTER - 0.5]
    assert len(sent_inside_the_wait) == WORKERS - 1


def outage(redis_url: str | None, calls: int) -> tuple[int, int]:
    """Every worker makes `calls` GETs of an endpoint that always answers 503.

    The budget allows no retry per request and 0.5 per second: 5 retries in its
    10 s window. Returns the server's hits and the retries the workers were granted.
    """
    settings = {
        "budget": {"ratio": 0.0, "min_per_second": 0.5, "window": 10.0},
        "max_attempts": 4,
        "initial_delay": 0.001,
        "max_delay": 0.002,
    }
    with FaultServer() as server:
        server.script("/down", [respond(503, body=b"down")])
        jobs = [Job(redis_url, server.url("/down"), calls, "budget", settings=settings)] * WORKERS
        with fleet(jobs) as running:
            running.start(0)
            reports = running.outcomes()
        hits = server.hits("/down")
    for report in reports:
        assert report[1] == [503] * calls  # every call ends with the server's own answer
    return hits, sum(report[2] for report in reports)


def test_the_fleet_spends_one_retry_budget_in_an_outage(redis_server: RedisServer) -> None:
    calls = 10
    hits, granted = outage(redis_server.url, calls)
    assert hits == WORKERS * calls + granted
    assert 3 <= granted <= 5  # one budget of 5 for the fleet, shared four ways


def test_without_a_backend_each_process_spends_a_budget_of_its_own(
    redis_server: RedisServer,
) -> None:
    del redis_server
    calls = 10
    hits, granted = outage(None, calls)
    assert granted == WORKERS * 5
    assert hits == WORKERS * calls + granted


def test_a_process_whose_clocks_are_an_hour_off_agrees_on_every_wait(
    redis_server: RedisServer,
) -> None:
    from errorkit import RateLimitGate
    from errorkit.redis import RedisBackend

    # Worker 0's clocks (time.time and time.monotonic) run an hour ahead; it gets
    # the 429 and closes the gate. This process, on true time, is held 2 s too.
    with FaultServer() as server, RedisBackend.from_url(redis_server.url) as backend:
        gate = RateLimitGate(backend=backend)
        url = one_429_then_ok(server)
        jobs = [Job(redis_server.url, url, skew=3600.0, members=2)]
        with fleet(jobs) as running:
            running.start(0)
            wait_for_hits(server, "/limited", 1)
            time.sleep(0.2)
            held, now = gate.wait("GET", url, {}), time.monotonic()
            announced = server.requests("/limited")[0].t
            assert running.outcomes()[0][1] == [200]
    left = RETRY_AFTER - (now - announced)  # by this host's clock, from the server's log
    assert left - 0.15 <= held <= left + 0.05
