"""A small, strict, bounded HTTP/1.1 request reader for `FaultServer`.

It reads from a blocking socket through one buffer, so bytes a client sends after
a request stay buffered for the next one. Every size is capped: an oversized or
malformed request raises `BadRequest` with the status the server should answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

_RECV = 65536
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/1\.[01]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class BadRequest(Exception):  # noqa: N818 - named after the status it answers
    """The request cannot be served; `status` is the answer to give."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ClientGone(Exception):  # noqa: N818 - an event, not an error
    """The client closed the connection in the middle of a request."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Largest request line, head (line + fields) and body the reader accepts."""

    request_line: int
    head: int
    body: int


@dataclass(frozen=True, slots=True)
class Head:
    """A parsed request line and header fields."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]


class Reader:
    """Buffered reads from one connection."""

    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def fill(self) -> bool:
        """Receive more bytes into the buffer; False at end of stream."""
        data = self.sock.recv(_RECV)
        self.buf += data
        return bool(data)

    def read_head(self, limits: Limits) -> bytes | None:
        """The next request head without its final blank line; None at a clean EOF."""
        start = 0
        while True:
            while self.buf.startswith(b"\r\n"):  # RFC 9112 2.2: ignore leading CRLFs
                del self.buf[:2]
            end = self.buf.find(b"\r\n\r\n", start)
            if end > limits.head:
                raise BadRequest(431, "request header fields too large")
            if end >= 0:
                head = bytes(self.buf[:end])
                del self.buf[: end + 4]
                return head
            _check_head_size(self.buf, limits)
            start = max(0, len(self.buf) - 3)
            if not self.fill():
                if self.buf:
                    raise ClientGone("connection closed inside a request head")
                return None

    def read_exact(self, n: int) -> bytes:
        """Exactly `n` bytes (the caller has bounded `n`)."""
        while len(self.buf) < n:
            if not self.fill():
                raise ClientGone("connection closed inside a request body")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_line(self, limit: int) -> bytes:
        """One CRLF-terminated line without its CRLF, at most `limit` bytes long."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            if len(self.buf) > limit:
                raise BadRequest(400, "chunk line too long")
            if not self.fill():
                raise ClientGone("connection closed inside a chunked body")


def _check_head_size(buf: bytearray, limits: Limits) -> None:
    line_end = buf.find(b"\r\n")
    if (line_end < 0 and len(buf) > limits.request_line) or line_end > limits.request_line:
        raise BadRequest(414, "request line too long")
    if len(buf) > limits.head:
        raise BadRequest(431, "request header fields too large")


def parse_head(raw: bytes, limits: Limits) -> Head:
    """Split a request head into its request line and header fields, strictly."""
    line, _, rest = raw.partition(b"\r\n")
    if len(line) > limits.request_line:
        raise BadRequest(414, "request line too long")
    parts = line.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise BadRequest(400, "malformed request line")
    if not _VERSION.fullmatch(parts[2]):
        raise BadRequest(400, "unsupported HTTP version")
    fields = tuple(_field(item) for item in rest.split(b"\r\n")) if rest else ()
    return Head(parts[0].decode("ascii"), parts[1].decode("latin-1"), parts[2].decode(), fields)


def _field(item: bytes) -> tuple[str, str]:
    name, colon, value = item.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        raise BadRequest(400, "malformed header field")
    return name.decode("ascii"), value.strip(b" \t").decode("latin-1")


def read_body(reader: Reader, head: Head, limits: Limits) -> bytes:
    """The request body, by Transfer-Encoding or Content-Length (RFC 9112 6.3)."""
    encodings = [v for n, v in head.headers if n.lower() == "transfer-encoding"]
    lengths = {v for n, v in head.headers if n.lower() == "content-length"}
    if encodings:
        if lengths or [e.strip().lower() for e in ",".join(encodings).split(",")] != ["chunked"]:
            raise BadRequest(400, "unsupported transfer coding")
        return _read_chunked(reader, limits)
    if not lengths:
        return b""
    if len(lengths) != 1 or not next(iter(lengths)).isdigit():
        raise BadRequest(400, "invalid Content-Length")
    size = int(next(iter(lengths)))
    if size > limits.body:
        raise BadRequest(413, "request body too large")
    return reader.read_exact(size)


def _read_chunked(reader: Reader, limits: Limits) -> bytes:
    body = bytearray()
    while True:
        size_text = reader.read_line(1024).partition(b";")[0].strip()
        if not _HEX.fullmatch(size_text):
            raise BadRequest(400, "invalid chunk size")
        size = int(size_text, 16)
        if len(body) + size > limits.body:
            raise BadRequest(413, "request body too large")
        if size == 0:
            break
        body += reader.read_exact(size)
        if reader.read_exact(2) != b"\r\n":
            raise BadRequest(400, "chunk not followed by CRLF")
    for _ in range(128):  # trailer fields, bounded
        if not reader.read_line(limits.head):
            return bytes(body)
    raise BadRequest(431, "too many trailer fields")


def wants_close(head: Head) -> bool:
    """Whether the connection ends after this request (RFC 9112 9.3)."""
    tokens = {
        token.strip().lower()
        for name, value in head.headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    if head.version == "HTTP/1.0":
        return "keep-alive" not in tokens
    return "close" in tokens


def expects_continue(head: Head) -> bool:
    """Whether the client waits for ``100 Continue`` before sending the body."""
    return (
        any(n.lower() == "expect" and v.lower() == "100-continue" for n, v in head.headers)
        and head.version == "HTTP/1.1"
    )
