"""The rate-limit gate over real sockets, on every client: one 429 holds the next back.

errorkit's waits are instant (`instant_waits`) and recorded; what the FaultServer
received and what the caller got are the outcomes asserted.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING

import pytest

import errorkit
from errorkit import RateLimitGate, RetryPolicy
from errorkit._clock import CLOCK
from errorkit._gate import by_endpoint
from errorkit.testing import FaultServer, InstantWaits, respond

if TYPE_CHECKING:
    from .conftest import MakeClient

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
RATE_LIMITED = {"error": {"message": "Slow down", "type": "rate_limit_error"}}


def gated(**changes: object) -> RetryPolicy:
    return dataclasses.replace(FAST, gate=RateLimitGate(), **changes)  # type: ignore[arg-type]


def stack_error(stack: str) -> type[BaseException]:
    """The stack's own class the gate's refusal also is."""
    if stack == "requests":
        import requests

        return requests.ConnectionError
    if stack == "urllib3":
        import urllib3

        return urllib3.exceptions.MaxRetryError
    if stack == "aiohttp":
        import aiohttp

        return aiohttp.ClientConnectionError
    module = __import__("httpx2" if stack.startswith("httpx2") else "httpx")
    return module.TransportError  # type: ignore[no-any-return]


def test_one_429_holds_the_next_request_back(
    fault_server: FaultServer, make_client: MakeClient, instant_waits: InstantWaits
) -> None:
    """A 429 with Retry-After: 30, not retried: the next request waits 30 s, then is sent."""
    fault_server.script(
        "/g", [respond(429, {"Retry-After": "30"}, body=RATE_LIMITED), respond(200)]
    )
    client = make_client(policy=gated(max_attempts=1))
    first = client.request("GET", fault_server.url("/g"))
    assert first.status == 429
    assert instant_waits.delays == []
    second = client.request("GET", fault_server.url("/g?page=2"))
    assert second.status == 200
    assert instant_waits.delays == [pytest.approx(30.0, abs=0.5)]
    assert fault_server.hits("/g") == 2


@pytest.mark.parametrize(
    ("headers", "held"),
    [
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "20"}, 20.0),  # Discord
        ({"RateLimit": '"default";r=0;t=5'}, 5.0),  # IETF draft-11
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "3600"}, 60.0),  # capped
        ({"X-RateLimit-Remaining": "4", "X-RateLimit-Reset-After": "20"}, None),
        ({"Retry-After": "20"}, None),  # a Retry-After on a 200 is no wait
    ],
)
def test_a_success_whose_limit_is_used_up_holds_the_next_request(
    fault_server: FaultServer,
    make_client: MakeClient,
    instant_waits: InstantWaits,
    headers: dict[str, str],
    held: float | None,
) -> None:
    """The 200 that spent the last request of a window closes the endpoint until its
    reset (a success says so for at most a minute): the next request is held before
    it collects the 429."""
    fault_server.script("/u", [respond(200, headers), respond(200)])
    client = make_client(policy=gated())
    assert client.request("GET", fault_server.url("/u")).status == 200
    assert client.request("GET", fault_server.url("/u")).status == 200
    if held is None:
        assert instant_waits.delays == []
    else:
        assert instant_waits.delays == [pytest.approx(held, abs=0.5)]
    assert fault_server.hits("/u") == 2


def test_a_wait_above_max_retry_after_fails_at_once_unsent(
    stack: str, fault_server: FaultServer, make_client: MakeClient, instant_waits: InstantWaits
) -> None:
    """Retry-After: 120 with max_retry_after=60: the next request raises, and is never sent."""
    fault_server.script("/g", [respond(429, {"Retry-After": "120"}), respond(200)])
    client = make_client(policy=gated(max_attempts=1))
    assert client.request("GET", fault_server.url("/g")).status == 429
    refused = client.request("POST", fault_server.url("/g"), body=b"x", body_kind="bytes")
    assert isinstance(refused.exception, errorkit.RateLimitError)
    assert isinstance(refused.exception, stack_error(stack))
    info = refused.exception.info
    assert info.retry_after == pytest.approx(120.0, abs=0.5)
    assert info.retry_after_source == "gate"
    assert fault_server.hits("/g") == 1
    assert instant_waits.delays == []


def test_other_endpoints_are_not_held(
    fault_server: FaultServer, make_client: MakeClient, instant_waits: InstantWaits
) -> None:
    """The default scope is the endpoint: a 429 on /a does not hold /b."""
    fault_server.script("/a", respond(429, {"Retry-After": "30"}))
    fault_server.script("/b", respond(200))
    client = make_client(policy=gated(max_attempts=1))
    assert client.request("GET", fault_server.url("/a")).status == 429
    assert client.request("GET", fault_server.url("/b")).status == 200
    assert instant_waits.delays == []


def test_by_origin_holds_the_whole_api(
    fault_server: FaultServer, make_client: MakeClient, instant_waits: InstantWaits
) -> None:
    fault_server.script("/a", respond(429, {"Retry-After": "30"}))
    fault_server.script("/b", respond(200))
    policy = dataclasses.replace(FAST, max_attempts=1, gate=RateLimitGate(key=errorkit.by_origin))
    client = make_client(policy=policy)
    assert client.request("GET", fault_server.url("/a")).status == 429
    assert client.request("GET", fault_server.url("/b")).status == 200
    assert instant_waits.delays == [pytest.approx(30.0, abs=0.5)]


class SlotGate(RateLimitGate):
    """A gate that records the (virtual) time each request it held was given."""

    def __init__(self, *, learn: bool) -> None:
        super().__init__(learn=learn)
        self.slots: list[float] = []

    def wait(self, method: str, url: object, headers: object, *, after: float = 0.0) -> float:
        seconds = super().wait(method, url, headers, after=after)
        self.slots.append(CLOCK.monotonic() + seconds)
        return seconds


@pytest.mark.parametrize("learn", [False, True])
def test_a_retried_429_reopens_the_gate_once_its_wait_is_over(
    fault_server: FaultServer,
    make_client: MakeClient,
    instant_waits: InstantWaits,
    learn: bool,
) -> None:
    """The retry waits the 2 s. With a gate that only closes, the next request then
    goes out at once; a learning one (the default) paces the reopened scope from 2/s,
    so the next request goes half a second after the retry."""
    fault_server.script("/g", [respond(429, {"Retry-After": "2"}), respond(200), respond(200)])
    gate = SlotGate(learn=learn)
    client = make_client(policy=dataclasses.replace(FAST, gate=gate))
    assert client.request("GET", fault_server.url("/g")).status == 200
    assert client.request("GET", fault_server.url("/g")).status == 200
    assert 2.0 <= instant_waits.delays[0] <= 2.2
    if learn:
        retry, second = gate.slots
        # 2/s at the opening, doubling every 0.5 s: the retry went `late` s after it.
        late = retry - gate._paces[by_endpoint("GET", fault_server.url("/g"), None)].cut
        assert 0.0 <= late < 0.2
        assert second - retry == pytest.approx(0.5 / 2 ** (late / 0.5), abs=0.005)
    else:
        assert len(gate.slots) == len(instant_waits.delays) == 1  # the gate was open
    assert fault_server.hits("/g") == 3


def test_a_request_asleep_in_its_slot_waits_for_a_closing_that_came_meanwhile(
    stack: str, fault_server: FaultServer, make_client: MakeClient
) -> None:
    """Paced at 5/s, the second request sleeps 0.2 s for its slot; meanwhile another
    caller's 429 closes the scope for 1 s: it goes when the scope opens, not in its slot."""
    if stack in {"httpx-async", "httpx2-async", "aiohttp"}:
        pytest.skip("one event loop per call in the harness: tasks are tested in test_gate_async")
    fault_server.script("/s", [respond(200)])
    url = fault_server.url("/s")
    gate = RateLimitGate(learn=False)
    gate.pace(by_endpoint("GET", url, None), errorkit.Quota(5, 1.0))
    client = make_client(policy=dataclasses.replace(FAST, gate=gate))
    assert client.request("GET", url).status == 200  # the first slot
    statuses: list[int | None] = []
    thread = threading.Thread(target=lambda: statuses.append(client.request("GET", url).status))
    thread.start()
    time.sleep(0.05)
    gate.close(by_endpoint("GET", url, None), 1.0)
    thread.join(timeout=10)
    assert statuses == [200]
    first, second = fault_server.requests("/s")
    assert second.t - first.t >= 1.0  # its slot was at 0.21 s; the closing ended at 1.05


def test_concurrent_callers_wait_for_the_gate_in_real_time(
    stack: str, fault_server: FaultServer, make_client: MakeClient
) -> None:
    """After a 429 with Retry-After: 1, three threads' requests reach the server a second later."""
    if stack in {"httpx-async", "httpx2-async", "aiohttp"}:
        pytest.skip("one event loop per call in the harness: tasks are tested in test_gate_async")
    fault_server.script("/c", [respond(429, {"Retry-After": "1"}), respond(200)])
    client = make_client(policy=gated(max_attempts=1))
    assert client.request("GET", fault_server.url("/c")).status == 429
    statuses: list[int | None] = []
    threads = [
        threading.Thread(
            target=lambda: statuses.append(client.request("GET", fault_server.url("/c")).status)
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert statuses == [200, 200, 200]
    first, *later = fault_server.requests("/c")
    assert len(later) == 3
    assert all(hit.t - first.t >= 0.95 for hit in later)  # none sent inside the wait


def test_used_up_looks_each_name_up_where_one_set_operation_cannot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The adapters tell in one set operation that no remaining count is there; where
    they cannot (a multidict whose key views compare with case, headers of another
    class) each name is looked up instead, without case, and the answer is the same."""
    from multidict import CIMultiDict, CIMultiDictProxy
    from urllib3 import HTTPHeaderDict

    import errorkit.aiohttp
    import errorkit.urllib3

    class Response:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = CIMultiDictProxy(CIMultiDict(headers))

    used_up_of = object.__new__(errorkit.aiohttp._Call).used_up
    for caseless in (True, False):
        monkeypatch.setattr(errorkit.aiohttp, "_CASELESS_KEYS", caseless)
        spent = Response({"X-RateLimit-Remaining": "0"})
        assert used_up_of(spent) is spent.headers  # type: ignore[arg-type]
        assert used_up_of(Response({"X-RateLimit-Remaining": "3"})) is None  # type: ignore[arg-type]
        assert used_up_of(Response({"Content-Type": "text/plain"})) is None  # type: ignore[arg-type]

    used_up = errorkit.urllib3._used_up
    assert used_up(HTTPHeaderDict({"X-RateLimit-Remaining": "0"}))
    assert not used_up(HTTPHeaderDict({"X-RateLimit-Remaining": "3"}))
    assert used_up({"x-ratelimit-remaining": "0"})  # no ``_container``: looked up
    assert not used_up({"content-type": "text/plain"})
