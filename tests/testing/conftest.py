"""Fixtures for the testing toolkit's own tests."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from errorkit.testing import FaultServer

RawExchange = Callable[..., bytes]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A private FaultServer for one test, stopped afterwards."""
    with FaultServer() as fault_server:
        yield fault_server


def read_until_closed(sock: socket.socket, limit: int = 1 << 24) -> bytes:
    """Everything `sock` receives until the peer closes (bounded by `limit` bytes)."""
    data = bytearray()
    while len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


@pytest.fixture
def raw(server: FaultServer) -> RawExchange:
    """Send raw bytes on a fresh connection and return all the server sends back."""

    def exchange(payload: bytes, timeout: float = 2.0) -> bytes:
        with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
            sock.sendall(payload)
            return read_until_closed(sock)

    return exchange
