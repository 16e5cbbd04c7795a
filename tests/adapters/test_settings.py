"""The settings every adapter shares: the policy and `max_body`, checked and used alike."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import pytest
import requests
import urllib3

from errorkit import RetryPolicy
from errorkit._adapter import MAX_BODY_LIMIT
from errorkit.aiohttp import RetryMiddleware
from errorkit.httpx import AsyncRetryTransport, RetryTransport
from errorkit.requests import RetryAdapter
from errorkit.urllib3 import Retry

if TYPE_CHECKING:
    from collections.abc import Callable

    from errorkit.testing import FaultServer

from errorkit.testing import respond

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)

ADAPTERS: list[Callable[..., Any]] = [
    RetryAdapter,
    Retry,
    RetryTransport,
    AsyncRetryTransport,
    RetryMiddleware,
]
IDS = ["requests", "urllib3", "httpx", "httpx-async", "aiohttp"]


BAD_SIZES = [
    -1,
    1.5,
    64.0,
    math.nan,
    math.inf,
    True,
    False,
    "64k",
    "65536",
    b"64",
    None,
    MAX_BODY_LIMIT + 1,
    2**63,
    10**100,
    10**5000,
    -(10**400),
]
BAD_IDS = [*map(repr, BAD_SIZES[:11]), "64 MiB + 1", "2**63", "10**100", "10**5000", "-10**400"]


@pytest.mark.parametrize("make", ADAPTERS, ids=IDS)
@pytest.mark.parametrize("bad", BAD_SIZES, ids=BAD_IDS)
def test_every_adapter_refuses_a_max_body_that_is_not_a_size(
    make: Callable[..., Any], bad: object
) -> None:
    """max_body must be an int in [0, 64 MiB] on every stack: else a ValueError naming it."""
    with pytest.raises(ValueError, match=r"^max_body must be an int >= 0 and <= 67108864 "):
        make(FAST, max_body=bad)


@pytest.mark.parametrize("make", ADAPTERS, ids=IDS)
def test_every_adapter_accepts_the_largest_max_body(make: Callable[..., Any]) -> None:
    """64 MiB, the bound, is a valid max_body on every stack, kept as given."""
    assert make(FAST, max_body=MAX_BODY_LIMIT).max_body == MAX_BODY_LIMIT


@pytest.mark.parametrize("make", ADAPTERS, ids=IDS)
def test_every_adapter_keeps_its_max_body_and_defaults_to_64_kib(
    make: Callable[..., Any],
) -> None:
    """The value given is the one kept; the default is 64 KiB."""
    assert make(FAST, max_body=0).max_body == 0
    assert make(FAST).max_body == 64 * 1024


@pytest.mark.parametrize("make", ADAPTERS, ids=IDS)
def test_every_adapter_refuses_what_is_not_a_policy(make: Callable[..., Any]) -> None:
    """A number where the policy goes (urllib3's Retry(3) habit) is a TypeError on every stack."""
    with pytest.raises(TypeError, match="RetryPolicy"):
        make(3)


def test_urllib3_retry_carries_its_max_body_to_every_copy() -> None:
    """urllib3 copies a Retry with new() at each step: max_body goes along."""
    assert Retry(FAST, max_body=10).new().new(total=None).max_body == 10


@pytest.mark.parametrize(("max_body", "connections"), [(64 * 1024, 1), (10, 2)])
def test_requests_drains_or_closes_a_discarded_body_by_its_own_max_body(
    fault_server: FaultServer, max_body: int, connections: int
) -> None:
    """A discarded 503 of 100 bytes keeps its connection under the default, not with max_body=10."""
    fault_server.script("/d", [respond(503, body=b"x" * 100), respond(200, body=b"ok")])
    with requests.Session() as session:
        session.mount("http://", RetryAdapter(FAST, max_body=max_body))
        response = session.get(fault_server.url("/d"), stream=True)
        assert (response.status_code, response.content) == (200, b"ok")
    assert fault_server.hits("/d") == 2
    assert fault_server.connections_accepted == connections


@pytest.mark.parametrize(("max_body", "connections"), [(64 * 1024, 1), (10, 2)])
def test_urllib3_drains_or_closes_a_discarded_body_by_its_own_max_body(
    fault_server: FaultServer, max_body: int, connections: int
) -> None:
    """The same for urllib3's Retry: an unread 100-byte error body is closed beyond max_body."""
    fault_server.script("/d", [respond(503, body=b"x" * 100), respond(200, body=b"ok")])
    retry = Retry(dataclasses.replace(FAST, max_attempts=2), max_body=max_body)
    with urllib3.PoolManager(retries=retry, maxsize=1) as http:
        response = http.request("GET", fault_server.url("/d"), preload_content=False)
        assert (response.status, response.read()) == (200, b"ok")
    assert fault_server.hits("/d") == 2
    assert fault_server.connections_accepted == connections
