"""Pitfall 10: httpx's `Client(transport=...)` side effects on proxies, verify and limits.

A second `FaultServer` plays a forward proxy: it receives absolute-form targets
(``GET http://upstream.test/x``), which its scripts match verbatim.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from errorkit import RetryPolicy
from errorkit._stacks.httpx_transport import _environment_proxies
from errorkit.httpx import (
    AsyncRetryTransport,
    RetryTransport,
)
from errorkit.testing import FaultServer, respond
from support.clients_httpx import Library, Twin

if TYPE_CHECKING:
    from collections.abc import Iterator

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
UPSTREAM = "http://upstream.test/x"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def proxy() -> Iterator[FaultServer]:
    """A second FaultServer, scripted as a forward proxy for UPSTREAM."""
    with FaultServer() as server:
        server.script(UPSTREAM, [respond(503), respond(200, body=b"via proxy")])
        yield server


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine running the tests, in either case."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which twin: the sync `RetryTransport` or the async `AsyncRetryTransport`."""
    return str(request.param)


def _get(mode: str, url: str, library: Library, **client_kwargs: Any) -> httpx.Response:
    twin = Twin(mode, FAST, library=library, client_kwargs=client_kwargs)
    try:
        return twin.request("GET", url)
    finally:
        twin.close()


def test_proxy_given_to_the_transport_is_retried_through(
    proxy: FaultServer, clean_env: pytest.MonkeyPatch, mode: str, library: Library
) -> None:
    """RetryTransport(proxy=...) sends every attempt through the proxy: 2 hits there, 200."""
    adapter = library.adapter
    transport: Any = (
        adapter.RetryTransport(FAST, proxy=proxy.base_url)
        if mode == "sync"
        else adapter.AsyncRetryTransport(FAST, proxy=proxy.base_url)
    )
    response = _get(mode, UPSTREAM, library, transport=transport)
    assert (response.status_code, response.content) == (200, b"via proxy")
    assert proxy.hits(UPSTREAM) == 2


def test_environment_proxies_through_mounts_from_env(
    proxy: FaultServer, clean_env: pytest.MonkeyPatch, mode: str, library: Library
) -> None:
    """HTTP_PROXY in the environment with mounts=mounts_from_env(policy): retried via the proxy."""
    clean_env.setenv("HTTP_PROXY", proxy.base_url)
    adapter = library.adapter
    mounts = (
        adapter.mounts_from_env(FAST) if mode == "sync" else adapter.async_mounts_from_env(FAST)
    )
    response = _get(mode, UPSTREAM, library, mounts=mounts)
    assert response.status_code == 200
    assert proxy.hits(UPSTREAM) == 2


def test_no_proxy_hosts_fall_back_to_the_clients_retrying_transport(
    proxy: FaultServer,
    fault_server: FaultServer,
    clean_env: pytest.MonkeyPatch,
    mode: str,
    library: Library,
) -> None:
    """A NO_PROXY host goes direct, through the client's own RetryTransport, still retried."""
    clean_env.setenv("HTTP_PROXY", proxy.base_url)
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    fault_server.script("/direct", [respond(503), respond(200)])
    adapter = library.adapter
    mounts = (
        adapter.mounts_from_env(FAST) if mode == "sync" else adapter.async_mounts_from_env(FAST)
    )
    response = _get(mode, fault_server.url("/direct"), library, mounts=mounts)
    assert response.status_code == 200
    assert fault_server.hits("/direct") == 2
    assert proxy.hits() == 0


def test_client_proxy_argument_bypasses_the_transport(
    proxy: FaultServer, clean_env: pytest.MonkeyPatch, mode: str, library: Library
) -> None:
    """Pinned httpx behaviour: Client(transport=X, proxy=P) never calls X, so no retry."""
    response = _get(mode, UPSTREAM, library, proxy=proxy.base_url)
    assert response.status_code == 503
    assert proxy.hits(UPSTREAM) == 1


def test_client_ignores_environment_proxies_when_given_a_transport(
    proxy: FaultServer,
    fault_server: FaultServer,
    clean_env: pytest.MonkeyPatch,
    mode: str,
    library: Library,
) -> None:
    """Pinned httpx behaviour: with transport=X, HTTP_PROXY is ignored and X sends directly."""
    clean_env.setenv("HTTP_PROXY", proxy.base_url)
    fault_server.script("/env", [respond(503), respond(200)])
    response = _get(mode, fault_server.url("/env"), library)
    assert response.status_code == 200
    assert fault_server.hits("/env") == 2
    assert proxy.hits() == 0


def test_environment_proxies_read_like_httpx(clean_env: pytest.MonkeyPatch) -> None:
    """HTTP(S)/ALL proxies become scheme mounts; NO_PROXY hosts, IPs and domains map to None."""
    clean_env.setenv("HTTP_PROXY", "proxy.local:3128")
    clean_env.setenv("HTTPS_PROXY", "http://secure.local:3129")
    clean_env.setenv("NO_PROXY", "localhost,10.0.0.1,::1,.example.com,http://skip.test")
    assert _environment_proxies() == {
        "http://": "http://proxy.local:3128",
        "https://": "http://secure.local:3129",
        "all://localhost": None,
        "all://10.0.0.1": None,
        "all://[::1]": None,
        "all://*.example.com": None,
        "http://skip.test": None,
    }
    clean_env.setenv("NO_PROXY", "*")
    assert _environment_proxies() == {}


def test_verify_and_limits_reach_the_inner_transport() -> None:
    """verify=False and limits= build the inner HTTPTransport; Client's own would be ignored."""
    with RetryTransport(verify=False, limits=httpx.Limits(max_connections=3)) as transport:
        inner = transport.transport
        assert isinstance(inner, httpx.HTTPTransport)
        pool = inner._pool
        assert pool._max_connections == 3
        assert pool._ssl_context is not None
        assert pool._ssl_context.verify_mode is ssl.CERT_NONE


def test_retries_and_ignored_options_are_refused() -> None:
    """retries= would multiply attempts; options beside transport= would be silently lost."""
    with pytest.raises(TypeError, match="retries"):
        RetryTransport(retries=2)
    with pytest.raises(TypeError, match="ignored"):
        AsyncRetryTransport(transport=httpx.AsyncHTTPTransport(), verify=False)
