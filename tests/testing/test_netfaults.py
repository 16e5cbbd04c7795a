"""Connection-level faults: a refused port and a listener whose connects time out."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
import requests

from errorkit.testing import closed_port, full_backlog


def test_closed_port_refuses_connections_at_once() -> None:
    """A connect to `closed_port()` is refused immediately, for every client."""
    port = closed_port()
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert time.monotonic() - start < 1.0


def test_closed_port_is_stable_and_reserved() -> None:
    """Every call returns the same port, and nobody else can bind it meanwhile."""
    port = closed_port()
    assert closed_port() == port
    with socket.socket() as other, pytest.raises(OSError, match="in use"):
        other.bind(("127.0.0.1", port))


def test_full_backlog_makes_a_connect_time_out() -> None:
    """A 0.5 s connect timeout expires against the full backlog, instead of connecting or
    being refused."""
    with full_backlog() as (host, port):
        assert host == "127.0.0.1"
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.create_connection((host, port), timeout=0.5).close()
        assert 0.45 <= time.monotonic() - start <= 1.5


def test_full_backlog_is_a_connect_timeout_for_http_clients() -> None:
    """requests and httpx report the full backlog as their connect-timeout errors."""
    with full_backlog() as (host, port):
        url = f"http://{host}:{port}/"
        with pytest.raises(requests.ConnectTimeout):
            requests.get(url, timeout=(0.3, 1))
        with pytest.raises(httpx.ConnectTimeout):
            httpx.get(url, timeout=httpx.Timeout(1, connect=0.3))


def test_full_backlog_closes_its_port_on_exit() -> None:
    """After the block the listener is gone and its port refuses connections."""
    with full_backlog() as (host, port):
        pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=1).close()


def test_full_backlog_reports_a_backlog_that_never_fills() -> None:
    """With too few fillers allowed to fill the queue, it fails loudly instead of lying."""
    with pytest.raises(RuntimeError, match="did not fill"), full_backlog(max_fillers=0):
        pass
