"""Fixtures that run each adapter scenario against every client of every stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from support import clients  # noqa: F401 - registers every stack's client factory
from support.harness import FACTORIES, Client, ClientOptions

MakeClient = Callable[..., Client]


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
