"""Connection-level faults that need no HTTP server: refused and timed-out connects."""

from __future__ import annotations

import atexit
import contextlib
import select
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

_reserved: list[socket.socket] = []
_reserved_lock = threading.Lock()


def closed_port() -> int:
    """A port on 127.0.0.1 where a connect is refused at once (``ECONNREFUSED``).

    The port stays bound, without listening, for the life of the process: no other
    program can start listening on it, and the kernel can never pick it as the
    local port of a client connection (which would make a TCP "self-connect" to it
    succeed). Every call returns the same port.
    """
    with _reserved_lock:
        if not _reserved:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            _reserved.append(sock)
            atexit.register(sock.close)
        port: int = _reserved[0].getsockname()[1]
        return port


@contextlib.contextmanager
def full_backlog(max_fillers: int = 64) -> Iterator[tuple[str, int]]:
    """A ``(host, port)`` on 127.0.0.1 whose connects time out instead of completing.

    Technique: a listener with ``listen(0)`` that never calls ``accept()``, whose
    accept queue is then filled by connecting "filler" sockets until one of them
    does not complete within 0.2 s. From then on, Linux drops every new SYN to
    that port (the accept queue is full), so a client keeps retransmitting its SYN
    and its connect timeout fires: no RST, no response, exactly what an overloaded
    or firewalled host looks like. The listener and fillers close on exit.

    Caveats: this relies on Linux dropping SYNs when the accept queue overflows,
    which holds while ``net.ipv4.tcp_abort_on_overflow`` is 0 (the default; with 1 the
    kernel would answer with a RST, i.e. connection refused). Other kernels size
    the ``listen(0)`` queue differently; the filler loop adapts to that, up to
    `max_fillers` sockets, and raises `RuntimeError` if the queue never fills.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address: tuple[str, int] = listener.getsockname()[:2]
        _fill(address, fillers, max_fillers)
        yield address
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def _fill(address: tuple[str, int], fillers: list[socket.socket], max_fillers: int) -> None:
    for _ in range(max_fillers):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        fillers.append(sock)
        sock.settimeout(0.0)
        sock.connect_ex(address)
        _, writable, _ = select.select([], [sock], [], 0.2)
        if not writable:
            return  # this SYN was dropped: the queue is full
    raise RuntimeError(f"the listen(0) backlog did not fill after {max_fillers} connections")
