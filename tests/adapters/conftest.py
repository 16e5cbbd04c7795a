"""Fixtures that run each adapter scenario against every client of every stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from errorkit import RetryPolicy
from support import clients  # noqa: F401 - registers every stack's client factory
from support.clients_httpx import HTTPX, Library, Twin
from support.clients_httpx2 import HTTPX2
from support.harness import FACTORIES, Client, ClientOptions

MakeClient = Callable[..., Client]
MakeTwin = Callable[..., Twin]
#: Short real waits, for the httpx twin tests.
FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)


@pytest.fixture(params=sorted(FACTORIES))
def stack(request: pytest.FixtureRequest) -> str:
    """The name of one client (requests, urllib3, httpx, httpx-async, aiohttp)."""
    return str(request.param)


@pytest.fixture
def make_client(stack: str) -> Iterator[MakeClient]:
    """Build clients of the current stack; all are closed after the test."""
    made: list[Client] = []

    def make(**options: object) -> Client:
        client = FACTORIES[stack](ClientOptions(**options))  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=[HTTPX, HTTPX2], ids=lambda library: library.name)
def library(request: pytest.FixtureRequest) -> Library:
    """httpx, or its fork httpx2: the twin tests run over both."""
    library: Library = request.param
    return library


@pytest.fixture
def hx(library: Library) -> Any:
    """The module of the test's library (httpx or httpx2), for its classes."""
    return library.module


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest, library: Library) -> Iterator[MakeTwin]:
    """Build clients of the library over errorkit's transport, sync or async; closed after."""
    made: list[Twin] = []

    def make(policy: RetryPolicy | None = FAST, **kwargs: Any) -> Twin:
        client = Twin(str(request.param), policy, library=library, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
