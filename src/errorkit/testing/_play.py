"""Playing one script step on one connection.

Each player returns what happens to the connection next: `KEEP` it for another
request, `CLOSE` it, or `RESET` it (the caller's close then sends a TCP RST). Every
wait goes through the server's stop event, so stopping the server wakes it.
"""

from __future__ import annotations

import contextlib
import enum
import gzip
import select
import socket
import struct
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from errorkit.testing._steps import (
    Bomb,
    Drop,
    HeaderPairs,
    HugeBody,
    ResetMidBody,
    Respond,
    SlowBody,
    Stall,
    Step,
)

if TYPE_CHECKING:
    import threading

_PATTERN = bytes(range(256)) * 256  # 64 KiB block that huge bodies repeat
_CHUNK = 65536  # largest chunk of a chunked bomb
_MAX_SELECT = 3600.0  # longest single select(), so that huge limits never overflow it
_NO_BODY_STATUSES = frozenset({204, 304})


class Next(enum.Enum):
    """What the connection does after a step."""

    KEEP = "keep"
    CLOSE = "close"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class Exchange:
    """The connection a step plays on and what the request asked of it."""

    sock: socket.socket
    stopping: threading.Event
    stall_limit: float
    head_only: bool
    client_closes: bool


def play(step: Step, ex: Exchange) -> Next:  # noqa: PLR0911 - one return per step type
    """Play `step` (already resolved from any `Dynamic`) for one request."""
    if isinstance(step, Respond):
        return _respond(step, ex)
    if isinstance(step, Drop):
        return Next.RESET if step.reset else Next.CLOSE
    if isinstance(step, Stall):
        return _stall(step, ex)
    if isinstance(step, SlowBody):
        return _slow_body(step, ex)
    if isinstance(step, ResetMidBody):
        return _reset_mid_body(step, ex)
    if isinstance(step, HugeBody):
        return _huge_body(step, ex)
    if isinstance(step, Bomb):
        return _bomb(step, ex)
    raise TypeError(f"not a playable step: {step!r}")


def response_head(
    status: int,
    headers: HeaderPairs,
    *,
    length: int | None,
    close: bool,
    extra: HeaderPairs = (),
) -> bytes:
    """A status line and header block; `length` None means chunked (or no body)."""
    names = {name.lower() for name, _ in headers}
    computed: list[tuple[str, str]] = list(extra)
    if status >= 200 and status not in _NO_BODY_STATUSES:
        if length is None:
            computed.append(("Transfer-Encoding", "chunked"))
        else:
            computed.append(("Content-Length", str(length)))
    if close:
        computed.append(("Connection", "close"))
    fields = [*(p for p in computed if p[0].lower() not in names), *headers]
    lines = [f"HTTP/1.1 {status} {_reason(status)}", *(f"{n}: {v}" for n, v in fields)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _has_body(status: int, ex: Exchange) -> bool:
    return not ex.head_only and status >= 200 and status not in _NO_BODY_STATUSES


def _respond(step: Respond, ex: Exchange) -> Next:
    if step.delay and ex.stopping.wait(step.delay):
        return Next.CLOSE
    body = gzip.compress(step.body, mtime=0) if step.gzip else step.body
    extra = (("Content-Encoding", "gzip"),) if step.gzip else ()
    close = step.close or ex.client_closes
    length = None if step.chunked else len(body)
    head = response_head(step.status, step.headers, length=length, close=close, extra=extra)
    if not _has_body(step.status, ex):
        ex.sock.sendall(head)
    elif step.chunked:
        ex.sock.sendall(head)
        size = -(-len(body) // step.chunked) or 1
        for start in range(0, len(body), size):
            ex.sock.sendall(_chunk(body[start : start + size]))
        ex.sock.sendall(b"0\r\n\r\n")
    else:
        ex.sock.sendall(head + body)
    return Next.CLOSE if close else Next.KEEP


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _stall(step: Stall, ex: Exchange) -> Next:
    limit = ex.stall_limit if step.seconds is None else min(step.seconds, ex.stall_limit)
    deadline = time.monotonic() + limit
    while not ex.stopping.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([ex.sock], [], [], remaining)
        if readable and not ex.sock.recv(65536):
            break  # the client gave up and closed
    return Next.CLOSE


def _slow_body(step: SlowBody, ex: Exchange) -> Next:
    length = None if step.chunked else len(step.body)
    head = response_head(step.status, step.headers, length=length, close=ex.client_closes)
    ex.sock.sendall(head)
    if not _has_body(step.status, ex):
        return Next.CLOSE if ex.client_closes else Next.KEEP
    for start in range(0, len(step.body), step.chunk):
        if not _pause(step.interval, ex):
            return Next.CLOSE
        piece = step.body[start : start + step.chunk]
        ex.sock.sendall(_chunk(piece) if step.chunked else piece)
    if step.chunked:
        ex.sock.sendall(b"0\r\n\r\n")
    return Next.CLOSE if ex.client_closes else Next.KEEP


def _pause(seconds: float, ex: Exchange) -> bool:
    """Wait `seconds` (at most the stall limit) in the middle of a response.

    False means close the connection instead of going on: the server is stopping or
    resetting, the client closed, or the pause was longer than the stall limit.
    Stopping shuts the socket down, which wakes the select as a close would.
    """
    if seconds <= 0:
        return not ex.stopping.is_set()
    deadline = time.monotonic() + min(seconds, ex.stall_limit)
    peer_sent = False  # early bytes of a next request: wait on the event, not the socket
    while not ex.stopping.is_set():
        remaining = min(deadline - time.monotonic(), _MAX_SELECT)
        if remaining <= 0:
            return seconds <= ex.stall_limit
        if peer_sent:
            ex.stopping.wait(remaining)
            continue
        readable, _, _ = select.select([ex.sock], [], [], remaining)
        if readable:
            try:
                if not ex.sock.recv(1, socket.MSG_PEEK):
                    return False  # the client closed
            except OSError:
                return False
            peer_sent = True
    return False


def _reset_mid_body(step: ResetMidBody, ex: Exchange) -> Next:
    head = response_head(step.status, step.headers, length=len(step.body), close=False)
    ex.sock.sendall(head + step.body[: step.sent_bytes])
    if not step.reset:
        return Next.CLOSE
    _wait_sent(ex.sock, ex.stopping)
    return Next.RESET


def _wait_sent(sock: socket.socket, stopping: threading.Event) -> None:
    """Wait (at most 1 s) until the client acknowledged every byte, so the RST cannot
    overtake data still queued in the server's send buffer."""
    try:
        import fcntl
        import termios
    except ImportError:  # pragma: no cover - not Linux/Unix: a short grace period
        stopping.wait(0.05)
        return
    for _ in range(1000):
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
        if struct.unpack("i", raw)[0] == 0 or stopping.wait(0.001):
            return


def _huge_body(step: HugeBody, ex: Exchange) -> Next:
    length = None if step.chunked else step.n_bytes
    ex.sock.sendall(response_head(step.status, step.headers, length=length, close=False))
    if not _has_body(step.status, ex):
        return Next.CLOSE if ex.client_closes else Next.KEEP
    left = step.n_bytes
    while left > 0 and not ex.stopping.is_set():
        block = _PATTERN[: min(left, len(_PATTERN))]
        ex.sock.sendall(_chunk(block) if step.chunked else block)
        left -= len(block)
    if left:
        return Next.CLOSE
    if step.chunked:
        ex.sock.sendall(b"0\r\n\r\n")
    return Next.CLOSE if ex.client_closes else Next.KEEP


def _bomb(step: Bomb, ex: Exchange) -> Next:
    body = step.body
    length = None if step.chunked else len(body)
    extra = (("Content-Encoding", step.encoding),)
    head = response_head(
        step.status, step.headers, length=length, close=ex.client_closes, extra=extra
    )
    if not _has_body(step.status, ex):
        ex.sock.sendall(head)
    elif step.chunked:
        ex.sock.sendall(head)  # a stop shuts the socket down, failing a blocked send
        for start in range(0, len(body), _CHUNK):
            ex.sock.sendall(_chunk(body[start : start + _CHUNK]))
        ex.sock.sendall(b"0\r\n\r\n")
    else:
        ex.sock.sendall(head + body)
    return Next.CLOSE if ex.client_closes else Next.KEEP


def set_linger_zero(sock: socket.socket) -> None:
    """Make the next close of `sock` abortive: the kernel sends a RST, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def drain(sock: socket.socket, cancel: threading.Event) -> None:
    """Half-close, then discard what the client still sends (at most 16 reads or 0.5 s).

    Closing with unread input would make the kernel send a RST, which can destroy
    an error response before the client reads it.
    """
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 0.5
        for _ in range(16):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or cancel.is_set():
                return
            readable, _, _ = select.select([sock], [], [], remaining)
            if not readable or not sock.recv(65536):
                return


def refuse(sock: socket.socket, *, busy: bool) -> None:
    """Close a connection the server will not serve, with a 503 first if it is `busy`."""
    with contextlib.suppress(OSError):
        if busy:
            body = b'{"error":{"message":"FaultServer connection limit reached"}}'
            head = response_head(
                503, (("Content-Type", "application/json"),), length=len(body), close=True
            )
            sock.sendall(head + body)
    sock.close()
