"""The `RedisServer` launcher: a real server, killed and restarted empty on its port."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from errorkit.testing.redis_server import RedisServer, find_redis_server


def ask(server: RedisServer, *command: str) -> bytes:
    """Send one command inline and return the first reply line."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(" ".join(command).encode() + b"\r\n")
        return sock.recv(256).split(b"\r\n")[0]


@pytest.fixture
def binary() -> str:
    """The redis-server, or a skip (a failure under $ERRORKIT_REQUIRE_REDIS), as the plugin."""
    found = find_redis_server()
    if found is None:
        if os.environ.get("ERRORKIT_REQUIRE_REDIS"):
            pytest.fail("ERRORKIT_REQUIRE_REDIS is set but there is no redis-server")
        pytest.skip("no redis-server")
    return found


def test_it_answers_on_a_free_loopback_port(redis_server: RedisServer) -> None:
    assert redis_server.running
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert ask(redis_server, "PING") == b"+PONG"


def test_killed_it_refuses_then_restarts_empty_on_the_same_port(
    redis_server: RedisServer,
) -> None:
    port = redis_server.port
    assert ask(redis_server, "SET", "k", "v") == b"+OK"
    redis_server.kill()
    assert not redis_server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    redis_server.restart()
    assert redis_server.port == port
    assert ask(redis_server, "DBSIZE") == b":0"


def test_two_servers_apart_and_stop_leaves_nothing(redis_server: RedisServer) -> None:
    other = RedisServer().start()
    folder = other._dir  # the test checks it is removed
    try:
        assert other.port != redis_server.port
        assert ask(other, "PING") == b"+PONG"
    finally:
        other.stop()
        other.stop()  # idempotent
    assert folder is not None
    assert not Path(folder).exists()


def test_no_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERRORKIT_REDIS_SERVER", os.devnull + "-missing")
    assert find_redis_server() == os.devnull + "-missing"
    server = RedisServer()
    with pytest.raises(RuntimeError, match="cannot run"):
        server.start()
    assert not server.running


def test_stopped_it_restarts_empty_on_the_same_port(redis_server: RedisServer) -> None:
    port = redis_server.port
    assert ask(redis_server, "SET", "k", "v") == b"+OK"
    redis_server.stop()
    assert not redis_server.running
    redis_server.restart()
    assert ask(redis_server, "PING") == b"+PONG"
    assert redis_server.port == port
    assert ask(redis_server, "DBSIZE") == b":0"


def test_a_given_port_taken_fails_with_the_log_and_leaves_nothing(
    binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = RedisServer(port=port)
        with pytest.raises(RuntimeError, match="Address already in use"):
            server.start()
    assert not server.running
    assert list(tmp_path.iterdir()) == []


def test_a_free_port_taken_first_is_replaced(binary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from errorkit.testing import redis_server as module

    real = module._free_port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        picks = iter([port])
        monkeypatch.setattr(module, "_free_port", lambda: next(picks, None) or real())
        with RedisServer() as server:
            assert server.port != port
            assert ask(server, "PING") == b"+PONG"


def test_as_a_context_manager_it_stops(binary: str) -> None:
    server = RedisServer(binary=binary)
    with pytest.raises(RuntimeError, match="before its first start"):
        _ = server.port
    with server:
        port = server.port
        assert server.host == "127.0.0.1"
        assert ask(server, "PING") == b"+PONG"
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
