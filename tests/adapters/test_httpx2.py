"""`errorkit.httpx2` and what the httpx family shares, over real loopback sockets.

The behaviour both libraries share is proven by the httpx test files, which run
over httpx and httpx2 (`test_httpx_transport.py`, `test_httpx_hostile.py`,
`test_httpx_proxy.py`) and by the scenario table (clients ``httpx2`` and
``httpx2-async``). Here: what is proper to having two libraries (a request or an
inner transport of the wrong one, each adapter importing only its own library,
one implementation), and the wrappers entering and exiting their inner transport.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import pytest

import errorkit
import errorkit.httpx
import errorkit.httpx2
from errorkit import RetryPolicy
from errorkit.testing import FaultServer, respond
from support.clients_httpx import HTTPX, Library
from support.clients_httpx2 import HTTPX2

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
LIBRARIES = [HTTPX, HTTPX2]
IDS = [library.name for library in LIBRARIES]


def _other(library: Library) -> Library:
    return HTTPX2 if library is HTTPX else HTTPX


# -- a request or a transport of the other library ---------------------------------


@pytest.mark.parametrize("library", LIBRARIES, ids=IDS)
def test_a_request_of_the_other_library_is_refused_naming_the_adapter(
    fault_server: FaultServer, library: Library
) -> None:
    """The other library's client over this adapter: a TypeError naming the right one, no hit."""
    other = _other(library)
    transport = library.adapter.RetryTransport(FAST)
    with (
        other.module.Client(transport=transport) as client,
        pytest.raises(TypeError) as caught,
    ):
        client.get(fault_server.url("/x"))
    assert str(caught.value) == (
        f"errorkit.{library.name}.RetryTransport got a {other.name}.Request: "
        f"use errorkit.{other.name}.RetryTransport with an {other.name} client"
    )
    assert fault_server.hits("/x") == 0


@pytest.mark.parametrize("library", LIBRARIES, ids=IDS)
def test_an_async_request_of_the_other_library_is_refused_naming_the_adapter(
    fault_server: FaultServer, library: Library
) -> None:
    """The async twin: the other library's AsyncClient gets a TypeError naming the right one."""
    other = _other(library)

    async def call() -> None:
        transport = library.adapter.AsyncRetryTransport(FAST)
        async with other.module.AsyncClient(transport=transport) as client:
            await client.get(fault_server.url("/x"))

    with pytest.raises(TypeError, match=rf"use errorkit\.{other.name}\.AsyncRetryTransport"):
        asyncio.run(call())
    assert fault_server.hits("/x") == 0


def test_a_subclass_of_the_librarys_request_is_served(fault_server: FaultServer) -> None:
    """The check is by type first, then isinstance: a Request subclass still goes through."""

    class MyRequest(httpx2.Request):
        pass

    fault_server.script("/s", [respond(503), respond(200, body=b"ok")])
    with errorkit.httpx2.RetryTransport(FAST) as transport:
        response = transport.handle_request(MyRequest("GET", fault_server.url("/s")))
        assert (response.status_code, response.read()) == (200, b"ok")
    assert fault_server.hits("/s") == 2


def test_what_is_not_a_request_is_refused() -> None:
    """Anything else is refused before any attempt, naming what the transport sends."""
    with pytest.raises(TypeError, match=r"it sends httpx2\.Request objects only"):
        errorkit.httpx2.RetryTransport(FAST).handle_request("GET /")  # type: ignore[arg-type]


@pytest.mark.parametrize("library", LIBRARIES, ids=IDS)
def test_an_inner_transport_of_the_other_library_is_refused(library: Library) -> None:
    """An inner transport of the other library would fail on every request: refused at once."""
    other = _other(library)
    with pytest.raises(TypeError, match=rf"errorkit\.{other.name}'s RetryTransport wraps it"):
        library.adapter.RetryTransport(transport=other.module.HTTPTransport())
    with pytest.raises(TypeError, match="AsyncHTTPTransport is an"):
        library.adapter.AsyncRetryTransport(transport=other.module.AsyncHTTPTransport())


@pytest.mark.parametrize("package", ["httpx", "httpx2"])
def test_each_adapter_imports_its_own_library_only(package: str) -> None:
    """errorkit.httpx imports no httpx2 (nor httpcore2), errorkit.httpx2 no httpx: two extras."""
    other = {"httpx": ("httpx2", "httpcore2"), "httpx2": ("httpx", "httpcore")}[package]
    code = (
        f"import sys, errorkit.{package}; print(sorted(m for m in {other!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_one_implementation_serves_both_libraries() -> None:
    """Both adapters' methods are the same functions: nothing is copied between them."""
    for name in ("handle_request", "close", "__enter__", "__exit__", "__init__"):
        assert getattr(errorkit.httpx.RetryTransport, name) is getattr(
            errorkit.httpx2.RetryTransport, name
        )
    for name in ("handle_async_request", "aclose", "__aenter__", "__aexit__"):
        assert getattr(errorkit.httpx.AsyncRetryTransport, name) is getattr(
            errorkit.httpx2.AsyncRetryTransport, name
        )
    assert issubclass(errorkit.httpx2.RetryTransport, httpx2.BaseTransport)
    assert not issubclass(errorkit.httpx2.RetryTransport, httpx.BaseTransport)


# -- httpx2's own classes in what the caller gets ----------------------------------


def test_httpx2_errors_are_httpx2s_own_and_error_of_reads_its_responses(
    fault_server: FaultServer,
) -> None:
    """A 429 after retries: an httpx2.HTTPStatusError (not httpx's), error_of reads the response."""
    body = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    fault_server.script("/rl", [respond(429, {"Retry-After": "0"}, body=body)])
    policy = dataclasses.replace(FAST, max_attempts=2)
    with httpx2.Client(transport=errorkit.httpx2.RetryTransport(policy)) as client:
        response = client.get(fault_server.url("/rl"))
        info = errorkit.error_of(response)
        assert info is not None
        assert (info.category, info.message) == (errorkit.Category.RATE_LIMITED, "slow down")
    transport = errorkit.httpx2.RetryTransport(policy, raise_for_status=True)
    with httpx2.Client(transport=transport) as client, pytest.raises(errorkit.RateLimitError) as c:
        client.get(fault_server.url("/rl"))
    assert isinstance(c.value, httpx2.HTTPStatusError)
    assert not isinstance(c.value, httpx.HTTPStatusError)  # type: ignore[unreachable]
    assert c.value.response.json() == body
    assert fault_server.hits("/rl") == 4


# -- the inner transport is entered and exited with the wrapper ----------------------


class _Recording:
    """An inner transport that records its context-manager calls and its close.

    A mixin: `_recording` adds the library's `BaseTransport`.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.events: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self.inner.handle_request(request)
        return response

    def close(self) -> None:
        self.events.append("close")
        self.inner.close()

    def __enter__(self) -> Self:
        self.events.append("enter")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.events.append("exit")
        self.close()  # what BaseTransport.__exit__ does


class _AsyncRecording:
    """The async twin of `_Recording`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.events: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self.inner.handle_async_request(request)
        return response

    async def aclose(self) -> None:
        self.events.append("close")
        await self.inner.aclose()

    async def __aenter__(self) -> Self:
        self.events.append("enter")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.events.append("exit")
        await self.aclose()


def _recording(library: Library, base: str) -> Any:
    """`_Recording` (or its async twin) rebased on the library's own transport base."""
    cls = _Recording if base == "BaseTransport" else _AsyncRecording
    return type(cls.__name__, (cls, getattr(library.module, base)), {})


@pytest.mark.parametrize("library", LIBRARIES, ids=IDS)
def test_a_context_managed_inner_transport_is_entered_and_exited_with_the_client(
    fault_server: FaultServer, library: Library
) -> None:
    """`with Client(transport=RetryTransport(transport=t))`: t entered, used, exited once."""
    fault_server.script("/c", [respond(503), respond(200, body=b"ok")])
    inner = _recording(library, "BaseTransport")(library.module.HTTPTransport())
    wrapper = library.adapter.RetryTransport(FAST, transport=inner)
    with library.module.Client(transport=wrapper) as client:
        assert inner.events == ["enter"]
        assert client.get(fault_server.url("/c")).content == b"ok"
    assert inner.events == ["enter", "exit", "close"]
    assert fault_server.hits("/c") == 2


@pytest.mark.parametrize("library", LIBRARIES, ids=IDS)
def test_an_async_context_managed_inner_transport_is_entered_and_exited_with_the_client(
    fault_server: FaultServer, library: Library
) -> None:
    """The async twin: `async with AsyncClient(...)` enters and exits the inner transport."""
    fault_server.script("/c", [respond(503), respond(200, body=b"ok")])
    inner = _recording(library, "AsyncBaseTransport")(library.module.AsyncHTTPTransport())
    wrapper = library.adapter.AsyncRetryTransport(FAST, transport=inner)

    async def call() -> bytes:
        async with library.module.AsyncClient(transport=wrapper) as client:
            assert inner.events == ["enter"]
            response = await client.get(fault_server.url("/c"))
        content: bytes = response.content
        return content

    assert asyncio.run(call()) == b"ok"
    assert inner.events == ["enter", "exit", "close"]
    assert fault_server.hits("/c") == 2


def test_entering_the_wrapper_returns_the_wrapper() -> None:
    """`with RetryTransport() as t`: t is the wrapper (as BaseTransport's), not the inner one."""
    transport = errorkit.httpx2.RetryTransport(FAST)
    with transport as entered:
        assert entered is transport
