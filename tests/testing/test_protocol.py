"""FaultServer's HTTP/1.1 request parsing: bodies, keep-alive and bad requests."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest

from errorkit.testing import FaultServer, FaultServerConfig, respond

RawExchange = Callable[..., bytes]


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_chunked_request_body_is_recorded_dechunked(server: FaultServer, raw: RawExchange) -> None:
    """A chunked request body (with an extension and a trailer) is recorded joined."""
    server.script("/c", [respond(201)])
    response = raw(
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert _status(response) == 201
    assert server.requests("/c")[0].body == b"abc0123456789"


def test_content_length_body_and_pipelined_next_request(
    server: FaultServer, raw: RawExchange
) -> None:
    """Two requests sent back to back on one connection are both read and answered in order."""
    server.script("/a", [respond(200, body=b"A")])
    server.script("/b", [respond(200, body=b"B", close=True)])
    response = raw(
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert response.count(b"HTTP/1.1 200 OK") == 2
    assert response.endswith(b"B")
    a, b = server.requests()
    assert (a.body, b.body, a.conn_id) == (b"hello", b"", b.conn_id)


def test_http10_closes_unless_keep_alive(server: FaultServer, raw: RawExchange) -> None:
    """An HTTP/1.0 request is answered with Connection: close and the connection closes."""
    server.script("/old", [respond(200, body=b"x")])
    response = raw(b"GET /old HTTP/1.0\r\n\r\n")
    assert b"Connection: close" in response
    assert server.requests("/old")[0].version == "HTTP/1.0"


def test_expect_100_continue_is_honoured(server: FaultServer) -> None:
    """A client that waits for 100 Continue gets it, then its body is recorded."""
    server.script("/e", [respond(200)])
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(
            b"PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
    assert server.requests("/e")[0].body == b"abc"


def test_leading_blank_lines_are_ignored(server: FaultServer, raw: RawExchange) -> None:
    """CRLFs before a request line are skipped, as RFC 9112 allows."""
    server.script("/x", [respond(204, close=True)])
    assert _status(raw(b"\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n")) == 204


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (b"GARBAGE\r\n\r\n", 400, "malformed request line"),
        (b"GET /x HTTP/2.0\r\n\r\n", 400, "unsupported HTTP version"),
        (b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", 400, "malformed header field"),
        (b"GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n", 400, "malformed header field"),
        (b"POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "invalid Content-Length"),
        (b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
         "invalid Content-Length"),
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
         "unsupported transfer coding"),
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400,
         "unsupported transfer coding"),
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
         "invalid chunk size"),
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", 400,
         "chunk not followed by CRLF"),
    ],
)  # fmt: skip
def test_bad_requests_get_4xx_and_a_record(
    server: FaultServer, raw: RawExchange, payload: bytes, status: int, reason: str
) -> None:
    """A request the parser rejects is answered with a JSON 4xx, closed, and recorded."""
    response = raw(payload)
    assert _status(response) == status
    assert b"Connection: close" in response
    body = json.loads(response.partition(b"\r\n\r\n")[2])
    assert body["error"]["message"] == reason
    (record,) = server.requests()
    assert record.error == reason


def test_bad_request_record_keeps_method_and_target_when_readable(
    server: FaultServer, raw: RawExchange
) -> None:
    """A rejected request with a readable request line is recorded under its path."""
    raw(b"POST /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    (record,) = server.requests("/x")
    assert (record.method, record.target, record.error) == ("POST", "/x", "invalid Content-Length")


@pytest.fixture
def tight() -> FaultServer:
    """A server with small limits, so oversize requests are cheap to build."""
    config = FaultServerConfig(max_request_line=100, max_header_bytes=400, max_body_bytes=50)
    return FaultServer(config)


def _send(server: FaultServer, payload: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(payload)
        data = bytearray()
        for _ in range(100):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return bytes(data)


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /" + b"a" * 200, 414),  # no line end yet, already too long
        (b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 500 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nContent-Length: 51\r\n\r\n" + b"b" * 51, 413),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b"b" * 64
         + b"\r\n0\r\n\r\n", 413),
    ],
)  # fmt: skip
def test_limits_give_414_431_413_and_never_crash(
    tight: FaultServer, payload: bytes, status: int
) -> None:
    """Oversized request lines, heads and bodies get their status, a record, and the
    server keeps serving."""
    with tight:
        tight.script("/", [respond(200)])
        assert _status(_send(tight, payload)) == status
        assert tight.requests()[0].error is not None
        assert _status(_send(tight, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")) == 200


def test_client_closing_mid_body_is_recorded(server: FaultServer) -> None:
    """A client that closes inside its body leaves a record saying so, and no crash."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(b"POST /cut HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    for _ in range(200):  # the server notices the close asynchronously
        if server.hits("/cut"):
            break
        time.sleep(0.01)
    (record,) = server.requests("/cut")
    assert record.error == "connection closed inside a request body"
    server.script("/ok", [respond(200, close=True)])
    assert _status(_send(server, b"GET /ok HTTP/1.1\r\n\r\n")) == 200


def test_connection_closed_mid_head_is_not_a_request(server: FaultServer) -> None:
    """Bytes of an unfinished head followed by a close leave no request record."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(b"GET /half HTTP/1.1\r\nHost")
    server.script("/ok", [respond(200, close=True)])
    assert _status(_send(server, b"GET /ok HTTP/1.1\r\n\r\n")) == 200
    assert server.hits("/half") == 0
