"""Adaptive throttling over real sockets, on every client: an outage is not fed, recovery seen."""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING

import pytest

import errorkit
from errorkit import AdaptiveThrottle, RetryPolicy
from errorkit.testing import FaultServer, InstantWaits, respond

from .test_gate import stack_error

if TYPE_CHECKING:
    from .conftest import MakeClient

FAST = RetryPolicy(budget=None, gate=None, max_attempts=1)


def test_an_outage_is_not_fed_and_recovery_is_seen(
    stack: str, fault_server: FaultServer, make_client: MakeClient, instant_waits: InstantWaits
) -> None:
    """30 requests to a dead endpoint: 1 in 10 goes out; probes see it back; the failures
    age out of the 2-minute window and every request goes out again."""
    if stack == "urllib3":
        pytest.skip("errorkit.urllib3 refuses a throttle (test_urllib3_refuses_a_throttle)")
    draws = itertools.cycle([0.0] * 9 + [0.95])  # every tenth draw is above the 0.9 cap
    throttle = AdaptiveThrottle(random=lambda: next(draws))
    client = make_client(policy=dataclasses.replace(FAST, throttle=throttle))
    url = fault_server.url("/o")
    fault_server.script("/o", respond(503))
    outage = [client.request("GET", url) for _ in range(30)]
    refused = [r for r in outage if r.exception is not None]
    assert all(isinstance(r.exception, errorkit.APIConnectionError) for r in refused)
    assert all(isinstance(r.exception, stack_error(stack)) for r in refused)
    assert fault_server.hits("/o") == 30 - len(refused)
    assert fault_server.hits("/o") <= 5  # the first, then the probes
    fault_server.script("/o", respond(200))
    probes = [client.request("GET", url).status for _ in range(10)]
    assert probes.count(200) >= 1  # a probe sees the server back
    instant_waits.sleep(125.0)  # the outage leaves the window
    assert [client.request("GET", url).status for _ in range(10)] == [200] * 10


def test_urllib3_refuses_a_throttle() -> None:
    """urllib3 calls its Retry for failures only: a throttle there is a clear TypeError."""
    from errorkit.urllib3 import PoolManager, Retry

    policy = dataclasses.replace(FAST, throttle=AdaptiveThrottle())
    with pytest.raises(TypeError, match="AdaptiveThrottle"):
        Retry(policy)
    with pytest.raises(TypeError, match="AdaptiveThrottle"):
        PoolManager(policy)
