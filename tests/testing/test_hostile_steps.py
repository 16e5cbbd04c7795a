"""The hostile steps over real loopback sockets: what a client really receives.

`bomb`, `header_flood` and `echo_request` are read here with raw sockets (or
``http.client`` where it helps), so the assertions are about bytes on the wire, not
about what some client library made of them.
"""

from __future__ import annotations

import http.client
import importlib
import io
import json
import socket
import zlib
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests
import zstandard

from errorkit.testing import (
    Bomb,
    FaultServer,
    bomb,
    echo_request,
    header_flood,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

brotli: Any = importlib.import_module("brotli")  # ships no type information

ENCODINGS = ("gzip", "deflate", "br", "zstd")
GIB = 1 << 30
MIB = 1 << 20
# Largest compressed size of a 1 GiB bomb per encoding: deflate tops out near 1:1032.
GIB_BOMB_MAX = {"gzip": 1_100_000, "deflate": 1_100_000, "br": 2048, "zstd": 40_000}

Response = tuple[int, list[tuple[str, str]], bytes]


@pytest.fixture(scope="module")
def gib_bombs() -> dict[str, Bomb]:
    """One 1 GiB bomb per encoding, built once (about 2.5 s for all four)."""
    return {encoding: bomb(encoding=encoding) for encoding in ENCODINGS}


def _exchange(server: FaultServer, request: bytes, limit: int = 8 * MIB) -> Response:
    """Send `request` on a fresh connection; parse the head, return the raw body.

    Reads until the server closes or, on keep-alive, until Content-Length bytes came.
    """
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(request)
        data = bytearray()
        while len(data) < limit and not _complete(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    pairs = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    return int(status_line.split(" ")[1]), pairs, body


def _complete(data: bytearray) -> bool:
    head, found, body = bytes(data).partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return len(body) >= int(value)
    return False  # chunked or close-delimited: read until the server closes


def _get(server: FaultServer, path: str, *, close: bool = True) -> Response:
    connection = "Connection: close\r\n" if close else ""
    return _exchange(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n{connection}\r\n".encode())


def _header(pairs: list[tuple[str, str]], name: str) -> list[str]:
    return [value for field, value in pairs if field.lower() == name.lower()]


def _inflate(encoding: str, body: bytes, limit: int) -> Iterator[bytes]:
    """Decode `body` in pieces of at most about 1 MiB, stopping after `limit` bytes."""
    produced = 0
    if encoding in {"gzip", "deflate"}:
        decoder = zlib.decompressobj(31 if encoding == "gzip" else 15)
        data = body
        for _ in range(limit // MIB + 2):
            piece = decoder.decompress(data, MIB)
            data = decoder.unconsumed_tail
            produced += len(piece)
            yield piece
            if decoder.eof or produced >= limit:
                return
    elif encoding == "br":
        br = brotli.Decompressor()
        piece = br.process(body, output_buffer_limit=MIB)
        for _ in range(limit // MIB + 2):
            produced += len(piece)
            yield piece
            if br.is_finished() or produced >= limit:
                return
            piece = br.process(b"", output_buffer_limit=MIB)
    else:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body))
        for _ in range(limit // MIB + 2):
            piece = reader.read(MIB)
            if not piece:
                return
            produced += len(piece)
            yield piece
            if produced >= limit:
                return
    raise AssertionError("decoder made no progress")  # pragma: no cover


# -- bomb ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_gib_bomb_sends_its_compressed_bytes_with_encoding_and_length(
    server: FaultServer, gib_bombs: dict[str, Bomb], encoding: str
) -> None:
    """A 1 GiB bomb arrives as the small compressed body, labelled, whose first MiB is zeros."""
    step = gib_bombs[encoding]
    server.script("/bomb", step)
    status, pairs, body = _get(server, "/bomb")
    assert status == 503
    assert _header(pairs, "Content-Encoding") == [encoding]
    assert _header(pairs, "Content-Length") == [str(len(body))]
    assert _header(pairs, "Content-Type") == ["application/json"]
    assert _header(pairs, "Transfer-Encoding") == []
    assert body == step.body
    assert len(body) <= GIB_BOMB_MAX[encoding]
    first = b"".join(_inflate(encoding, body, MIB))[:MIB]
    assert first == bytes(MIB)


def test_gib_gzip_bomb_states_its_decoded_size(gib_bombs: dict[str, Bomb]) -> None:
    """The gzip trailer of a 1 GiB bomb holds the CRC-32 of 1 GiB of zeros and its size."""
    body = gib_bombs["gzip"].body
    crc = 0
    for _ in range(GIB // MIB):
        crc = zlib.crc32(bytes(MIB), crc)
    assert body[-8:] == crc.to_bytes(4, "little") + GIB.to_bytes(4, "little")
    assert zstandard.get_frame_parameters(gib_bombs["zstd"].body).content_size == GIB


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("decoded_bytes", [0, 1, 3 * MIB + 7])
def test_bomb_inflates_to_exactly_decoded_bytes_of_zeros(
    server: FaultServer, encoding: str, decoded_bytes: int
) -> None:
    """Decoded in bounded pieces, the body is exactly `decoded_bytes` zeros and valid to
    its end (gzip and deflate check their trailers)."""
    server.script("/bomb", bomb(encoding=encoding, decoded_bytes=decoded_bytes))
    _, _, body = _get(server, "/bomb")
    pieces = list(_inflate(encoding, body, decoded_bytes + MIB))
    assert sum(map(len, pieces)) == decoded_bytes
    assert all(not piece.strip(b"\0") for piece in pieces)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_deflate_bombs_over_many_blocks_end_with_a_valid_trailer(encoding: str) -> None:
    """64 MiB + 5 of zeros (the repeated-block path) decode whole, trailer checked."""
    n = 64 * MIB + 5
    body = bomb(encoding=encoding, decoded_bytes=n).body
    wbits = 31 if encoding == "gzip" else 15
    decoder = zlib.decompressobj(wbits)
    total, data = 0, body
    for _ in range(n // MIB + 2):
        total += len(decoder.decompress(data, 4 * MIB))
        data = decoder.unconsumed_tail
        if decoder.eof:
            break
    assert decoder.eof
    assert total == n


def test_chunked_bomb_sends_the_same_bytes_in_chunks(
    server: FaultServer, gib_bombs: dict[str, Bomb]
) -> None:
    """`chunked=True` replaces Content-Length with chunked framing; the bytes are the same."""
    step = bomb(encoding="gzip", chunked=True)  # cached: instant after the fixture
    assert step.body is gib_bombs["gzip"].body
    server.script("/bomb", step)
    status, pairs, raw = _get(server, "/bomb")
    assert status == 503
    assert _header(pairs, "Transfer-Encoding") == ["chunked"]
    assert _header(pairs, "Content-Length") == []
    assert raw.count(b"\r\n10000\r\n") >= len(step.body) // 65536 - 1  # 64 KiB chunks
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("GET", "/bomb")
        response = connection.getresponse()
        assert response.getheader("Content-Encoding") == "gzip"
        assert response.read() == step.body  # http.client de-chunks, never decodes
    finally:
        connection.close()


def test_bomb_headers_given_win_over_computed_ones(server: FaultServer) -> None:
    """A given Content-Type or Content-Encoding replaces the computed one (a mislabelled bomb)."""
    step = bomb(
        500,
        encoding="br",
        decoded_bytes=MIB,
        headers={"content-encoding": "gzip", "Content-Type": "text/html", "Retry-After": "1"},
    )
    server.script("/bomb", step)
    status, pairs, body = _get(server, "/bomb")
    assert status == 500
    assert _header(pairs, "Content-Encoding") == ["gzip"]
    assert _header(pairs, "Content-Type") == ["text/html"]
    assert _header(pairs, "Retry-After") == ["1"]
    assert brotli.decompress(body) == bytes(MIB)


def test_bomb_answers_head_without_a_body_and_keeps_the_connection(server: FaultServer) -> None:
    """HEAD gets the head only; the connection then serves the GET that follows."""
    step = bomb(encoding="zstd", decoded_bytes=8 * MIB)
    server.script("/bomb", step)
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("HEAD", "/bomb")
        head = connection.getresponse()
        assert head.read() == b""
        assert head.getheader("Content-Length") == str(len(step.body))
        connection.request("GET", "/bomb")
        assert connection.getresponse().read() == step.body
    finally:
        connection.close()
    assert server.connections_accepted == 1


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_real_stack_decodes_every_bomb_encoding(server: FaultServer, encoding: str) -> None:
    """httpx decodes each encoding (zstd through zstandard), so a bomb reaches its decoder.

    urllib3 and aiohttp decode zstd only with ``backports.zstd`` before Python 3.14.
    """
    server.script("/bomb", bomb(encoding=encoding, decoded_bytes=4 * MIB))
    with httpx.stream("GET", server.url("/bomb"), timeout=5) as response:
        first = next(response.iter_bytes(65536))
    assert response.status_code == 503
    assert first
    assert not first.strip(b"\0")


# -- header_flood --------------------------------------------------------------------


def test_header_flood_puts_the_fillers_first_and_the_given_headers_after(
    server: FaultServer,
) -> None:
    """600 numbered fillers, then the given headers in order, then the body's fields."""
    step = header_flood(429, 600, headers=[("Retry-After", "7"), ("X-Hint", "a")], body={"e": 1})
    server.script("/flood", step)
    status, pairs, body = _get(server, "/flood", close=False)
    assert status == 429
    assert pairs[:600] == [(f"X-Filler-{i}", "x") for i in range(600)]
    assert pairs[600:] == [
        ("Retry-After", "7"),
        ("X-Hint", "a"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ]
    assert body == b'{"e":1}'


def test_header_flood_repeats_one_name_with_long_values(server: FaultServer) -> None:
    """`repeat` sends one name `count` times; `value_bytes` sets each value's length."""
    server.script("/flood", header_flood(503, 20, name="X-Big", value_bytes=9000, repeat=True))
    status, pairs, body = _get(server, "/flood", close=False)
    assert status == 503
    assert pairs[:20] == [("X-Big", "x" * 9000)] * 20
    assert pairs[20:] == [("Content-Length", "0")]
    assert body == b""


def test_header_flood_answers_a_closing_client_with_connection_close_first(
    server: FaultServer,
) -> None:
    """For a client that sent ``Connection: close``, the server's own field leads."""
    server.script("/flood", header_flood(503, 3))
    _, pairs, _ = _get(server, "/flood")
    assert [name for name, _ in pairs] == [
        "Connection", "X-Filler-0", "X-Filler-1", "X-Filler-2", "Content-Length",
    ]  # fmt: skip


def test_header_flood_over_100_fields_is_refused_by_http_client(server: FaultServer) -> None:
    """The documented limit: http.client (requests, urllib3) refuses over 100 fields."""
    server.script("/flood", header_flood(503, 101))
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("GET", "/flood")
        with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
            connection.getresponse()
    finally:
        connection.close()


def test_header_flood_with_keep_alive_serves_the_next_request(server: FaultServer) -> None:
    """The flood is a complete response: the connection carries the next request."""
    server.script("/flood", header_flood(200, 50, body="ok"))
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        for _ in range(2):
            connection.request("GET", "/flood")
            response = connection.getresponse()
            assert response.read() == b"ok"
            assert len(response.getheaders()) == 52  # 50 fillers, type, length
    finally:
        connection.close()
    assert server.connections_accepted == 1


# -- echo_request --------------------------------------------------------------------

_ECHO_REQUEST = (
    b"GET /v1/x?api_key=k1 HTTP/1.1\r\n"
    b"Host: h\r\n"
    b"Authorization: Bearer t0k\r\n"
    b"x-api-key: k2\r\n"
    b"X-Dup: 1\r\n"
    b"X-Dup: 2\r\n"
    b"Connection: close\r\n\r\n"
)


def test_echo_request_quotes_the_request_line_and_credentials_verbatim(
    server: FaultServer,
) -> None:
    """The message quotes target and credential headers as sent; `headers` echoes every one."""
    server.script("/v1/x", echo_request(headers={"WWW-Authenticate": 'Bearer realm="x"'}))
    status, pairs, body = _exchange(server, _ECHO_REQUEST)
    assert status == 401
    assert _header(pairs, "WWW-Authenticate") == ['Bearer realm="x"']
    assert _header(pairs, "Content-Type") == ["application/json"]
    error = json.loads(body)["error"]
    assert error["message"] == (
        "Invalid credentials for GET /v1/x?api_key=k1: Authorization: Bearer t0k, x-api-key: k2"
    )
    assert error["request"] == {
        "method": "GET",
        "target": "/v1/x?api_key=k1",
        "headers": {
            "Host": "h",
            "Authorization": "Bearer t0k",
            "x-api-key": "k2",
            "X-Dup": "1, 2",
            "Connection": "close",
        },
    }


def test_echo_request_echoes_what_a_real_client_sent(server: FaultServer) -> None:
    """The echoed headers equal those requests put on the wire, names and values."""
    server.script("/v1/x", echo_request(403))
    response = requests.get(
        server.url("/v1/x"),
        headers={"Authorization": "Basic dXNlcjpwYXNz", "Cookie": "session=s3"},
        timeout=5,
    )
    assert response.status_code == 403
    echoed = response.json()["error"]["request"]["headers"]
    assert echoed == dict(response.request.headers) | {"Host": f"127.0.0.1:{server.port}"}
    assert "Authorization: Basic dXNlcjpwYXNz" in response.json()["error"]["message"]
    assert "Cookie: session=s3" in response.json()["error"]["message"]


def test_echo_request_without_credentials_names_only_the_request(server: FaultServer) -> None:
    """No credential header: the message is the request line alone."""
    server.script("/p", echo_request())
    _, _, body = _get(server, "/p?q=1")
    assert json.loads(body)["error"]["message"] == "Invalid credentials for GET /p?q=1"


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [(b'{"password":"hunter2"}', {"password": "hunter2"}), (b"pw=hunter2", "pw=hunter2")],
)
def test_echo_request_echoes_the_body_on_request(
    server: FaultServer, sent: bytes, echoed: object
) -> None:
    """`echo_body` adds the request body: parsed when it is JSON, else as text."""
    server.script("/login", echo_request(400, echo_body=True))
    response = requests.post(server.url("/login"), data=sent, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["request"]["body"] == echoed
