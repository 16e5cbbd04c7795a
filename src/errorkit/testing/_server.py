"""`FaultServer`: a scripted HTTP/1.1 server on the loopback interface.

Design: one accept thread waits on the listening socket and a wake-up socket pair;
each accepted connection gets its own handler thread that reads requests with the
bounded parser in `_http`, records them, and plays the next step of the matching
script. Stopping (or resetting) sets each connection's cancel event and shuts its
socket down, which wakes every blocked recv, send, select and wait, so the threads
end promptly; `stop()` then joins them. A request is always recorded before the
server answers it (or drops, stalls or resets it), so once a client has seen any
outcome, the record is there.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from errorkit.testing._config import FaultServerConfig
from errorkit.testing._http import (
    BadRequest,
    ClientGone,
    Head,
    Limits,
    Reader,
    expects_continue,
    parse_head,
    read_body,
    wants_close,
)
from errorkit.testing._play import (
    Exchange,
    Next,
    drain,
    play,
    refuse,
    response_head,
    set_linger_zero,
)
from errorkit.testing._records import Headers, RecordedRequest
from errorkit.testing._steps import STEP_TYPES, Dynamic, Step, dynamic, respond

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

_MAX_DYNAMIC_DEPTH = 8
_FAST_BODY = b"ok"


def _not_scripted(request: RecordedRequest) -> Step:
    message = f"FaultServer has no script for {request.method} {request.target}"
    return respond(404, body={"error": {"message": message, "type": "not_scripted"}})


@dataclass(slots=True, eq=False)
class _Conn:
    conn_id: int
    sock: socket.socket
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    fast_hits: int = 0
    fast_request: bytes | None = None  # the last fast request, byte for byte


@dataclass(slots=True)
class _Script:
    steps: tuple[Step, ...]
    played: int = 0

    def next_step(self) -> Step:
        step = self.steps[min(self.played, len(self.steps) - 1)]
        self.played += 1
        return step


class FaultServer:
    """A real HTTP/1.1 server on 127.0.0.1 that plays scripted faults and records requests.

    Use it as a context manager, sync or async (it runs in its own threads, so an
    asyncio test can use either form)::

        with FaultServer() as server:
            server.script("/v1/agents", [respond(503), respond(200, body={"ok": True})])
            ...
            assert server.hits("/v1/agents") == 2

    A script is looked up by method and path: first ``(method, target)``, then
    ``(any, target)``, then ``(method, path)``, then ``(any, path)``, where `target`
    is the request target verbatim (``/p?q=1``, or ``http://host/p`` when the server
    acts as a forward proxy) and `path` is the target up to ``?``.
    """

    def __init__(self, config: FaultServerConfig | None = None) -> None:
        self.config = config or FaultServerConfig()
        self._limits = Limits(
            self.config.max_request_line, self.config.max_header_bytes, self.config.max_body_bytes
        )
        self._lock = threading.Lock()
        self._scripts: dict[tuple[str | None, str], _Script] = {}
        self._records: list[RecordedRequest] = []
        self._conns: dict[int, _Conn] = {}
        self._conn_seq = 0
        self._accepted = 0
        self._fast_done = 0
        self._default: Step = self.config.default or dynamic(_not_scripted)
        self._fast_line: bytes | None = None
        self._fast_path: str | None = None
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._acceptor: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Bind, listen and start serving; returns the server.

        A server starts once; entering its ``with`` block after `start()` is fine.
        """
        if self._listener is not None or self._stopping.is_set():
            raise RuntimeError("a FaultServer starts once")
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.config.host, self.config.port))
            listener.listen(128)
            listener.settimeout(0.0)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._address = listener.getsockname()[:2]
        self._wake = socket.socketpair()
        self._acceptor = threading.Thread(
            target=self._accept_loop,
            args=(listener, self._wake[0]),
            name=f"errorkit-faultserver-{self.port}",
            daemon=True,
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake and join every thread, close every socket. Idempotent."""
        if self._listener is None or self._stopping.is_set():
            return
        self._stopping.set()
        deadline = time.monotonic() + self.config.stop_timeout
        if self._wake is not None:
            self._wake[1].send(b"x")
        if self._acceptor is not None:
            self._acceptor.join(self.config.stop_timeout)
        self._close_connections(deadline)
        self._listener.close()
        for sock in self._wake or ():
            sock.close()

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # stop() never waits on the client: it shuts the sockets itself, so calling it
        # from the event loop is prompt even while this loop's clients hold connections.
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is started and not yet stopped."""
        return self._listener is not None and not self._stopping.is_set()

    # -- addresses ---------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._bound()[0]

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._bound()[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (IPv6 hosts in brackets), without a trailing slash."""
        host, port = self._bound()
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _bound(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("the FaultServer is not started")
        return self._address

    # -- scripting ---------------------------------------------------------------

    def script(self, path: str, steps: Sequence[Step] | Step, *, method: str | None = None) -> None:
        """Play `steps` in order for requests to `path` (and `method`, if given).

        The last step repeats once the others are used up. Scripting a path again
        replaces its script and starts it from the first step.
        """
        seq = (steps,) if not isinstance(steps, Sequence) else tuple(steps)
        if not seq:
            raise ValueError("a script needs at least one step")
        for step in seq:
            if not isinstance(step, STEP_TYPES):
                raise TypeError(f"not a step (use respond(), drop(), ...): {step!r}")
        key = (method.upper() if method else None, path)
        with self._lock:
            self._scripts[key] = _Script(seq)

    @property
    def default(self) -> Step:
        """The step for requests no script matches (a JSON 404 unless configured)."""
        return self._default

    @default.setter
    def default(self, step: Step) -> None:
        self._default = step

    @property
    def fast_path(self) -> str | None:
        """A path served ``200 ok`` on keep-alive with no scripting or recording, or None.

        Only ``GET <fast_path> HTTP/1.1`` requests without a body take this path; its
        requests are counted in `fast_hits`, not recorded. Meant for benchmarks.
        """
        return self._fast_path

    @fast_path.setter
    def fast_path(self, path: str | None) -> None:
        self._fast_path = path
        self._fast_line = None if path is None else f"GET {path} HTTP/1.1".encode("latin-1")

    def reset(self) -> None:
        """Forget scripts, records and counts; close open connections; restore the default.

        Connection ids keep increasing across resets, so they stay unique.
        """
        self._close_connections(time.monotonic() + self.config.stop_timeout)
        with self._lock:
            self._scripts.clear()
            self._records.clear()
            self._accepted = 0
            self._fast_done = 0
        self._default = self.config.default or dynamic(_not_scripted)
        self.fast_path = None

    # -- records -----------------------------------------------------------------

    def requests(
        self, path: str | None = None, *, method: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests in arrival order, optionally only those to `path` / `method`.

        `path` matches a request's verbatim target or its path (target up to ``?``).
        """
        with self._lock:
            records = list(self._records)
        return [
            r
            for r in records
            if (path is None or r.matches(path)) and (method is None or r.method == method.upper())
        ]

    def hits(self, path: str | None = None, *, method: str | None = None) -> int:
        """How many requests were recorded (to `path` / with `method`, if given)."""
        return len(self.requests(path, method=method))

    @property
    def connections_accepted(self) -> int:
        """Connections accepted since start (or the last `reset`)."""
        with self._lock:
            return self._accepted

    @property
    def fast_hits(self) -> int:
        """Requests served by the `fast_path` since start (or the last `reset`)."""
        with self._lock:
            return self._fast_done + sum(c.fast_hits for c in self._conns.values())

    # -- accepting ---------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket, wake: socket.socket) -> None:
        while not self._stopping.is_set():  # bounded: stop() sets the event and wakes us
            readable, _, _ = select.select([listener, wake], [], [])
            if self._stopping.is_set() or listener not in readable:
                continue
            try:
                sock, _ = listener.accept()
            except OSError:  # BlockingIOError, or the peer gave up in between
                continue
            self._admit(sock)

    def _admit(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            full = len(self._conns) >= self.config.max_connections
            if self._stopping.is_set() or full:
                conn = None
            else:
                self._conn_seq += 1
                self._accepted += 1
                conn = _Conn(self._conn_seq, sock)
                conn.thread = threading.Thread(
                    target=self._serve,
                    args=(conn,),
                    name=f"errorkit-faultserver-conn-{conn.conn_id}",
                    daemon=True,
                )
                self._conns[conn.conn_id] = conn
        if conn is None:
            refuse(sock, busy=full)
        else:
            assert conn.thread is not None  # noqa: S101 - set just above
            conn.thread.start()

    def _close_connections(self, deadline: float) -> None:
        with self._lock:
            conns = list(self._conns.values())
            for conn in conns:
                conn.cancel.set()
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
        for conn in conns:
            if conn.thread is not None and conn.thread.ident is not None:
                conn.thread.join(max(0.0, deadline - time.monotonic()))

    # -- serving -----------------------------------------------------------------

    def _serve(self, conn: _Conn) -> None:
        reader = Reader(conn.sock)
        outcome = Next.KEEP
        try:
            while outcome is Next.KEEP and not conn.cancel.is_set():
                outcome = self._serve_one(conn, reader)
        except (OSError, ClientGone):
            outcome = Next.CLOSE
        finally:
            with self._lock:
                self._conns.pop(conn.conn_id, None)
                self._fast_done += conn.fast_hits
                if outcome is Next.RESET:
                    with contextlib.suppress(OSError):
                        set_linger_zero(conn.sock)
                conn.sock.close()

    def _serve_one(self, conn: _Conn, reader: Reader) -> Next:
        if conn.fast_request is not None and not reader.buf and self._repeat_fast(conn, reader):
            return Next.KEEP
        try:
            raw = reader.read_head(self._limits)
        except BadRequest as exc:
            return self._reject(conn, exc, bytes(reader.buf[: self._limits.request_line]))
        if raw is None:
            return Next.CLOSE
        if self._fast_line is not None and raw.startswith(self._fast_line):
            fast = self._serve_fast(conn, reader, raw, self._fast_line)
            if fast is not None:
                return fast
        arrived = time.monotonic()
        try:
            head = parse_head(raw, self._limits)
            if expects_continue(head):
                conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = read_body(reader, head, self._limits)
        except BadRequest as exc:
            return self._reject(conn, exc, raw, arrived)
        except ClientGone as exc:
            self._record_failure(conn, raw, arrived, str(exc))
            raise
        record = self._record(conn, head, body, arrived)
        exchange = Exchange(
            sock=conn.sock,
            stopping=conn.cancel,
            stall_limit=self.config.stall_limit,
            head_only=head.method == "HEAD",
            client_closes=wants_close(head),
        )
        return play(self._choose(record), exchange)

    def _repeat_fast(self, conn: _Conn, reader: Reader) -> bool:
        """Answer a byte-identical repeat of the last fast request without parsing it
        (a benchmark client sends the same bytes every time); else buffer what came."""
        data = conn.sock.recv(65536)
        line = self._fast_line
        if data == conn.fast_request and line is not None and data.startswith(line):
            conn.sock.sendall(_FAST_KEEP)
            conn.fast_hits += 1
            return True
        conn.fast_request = None
        reader.buf += data
        return False

    def _serve_fast(self, conn: _Conn, reader: Reader, raw: bytes, line: bytes) -> Next | None:
        rest = raw[len(line) : len(line) + 2]
        lowered = raw.lower()
        if (
            rest not in (b"", b"\r\n")
            or b"content-length" in lowered
            or b"transfer-encoding" in lowered
        ):
            return None
        close = b"connection: close" in lowered
        conn.sock.sendall(_FAST_CLOSE if close else _FAST_KEEP)
        conn.fast_hits += 1
        if not close and not reader.buf:
            conn.fast_request = raw + b"\r\n\r\n"
        return Next.CLOSE if close else Next.KEEP

    def _record(self, conn: _Conn, head: Head, body: bytes, arrived: float) -> RecordedRequest:
        with self._lock:
            record = RecordedRequest(
                method=head.method,
                target=head.target,
                version=head.version,
                headers=Headers(head.headers),
                body=body,
                t=arrived,
                conn_id=conn.conn_id,
                index=len(self._records),
            )
            self._records.append(record)
        return record

    def _record_failure(self, conn: _Conn, raw: bytes, arrived: float, error: str) -> None:
        parts = raw.partition(b"\r\n")[0].split(b" ")
        method, target = (parts[0], parts[1]) if len(parts) == 3 else (b"", b"")
        with self._lock:
            self._records.append(
                RecordedRequest(
                    method=method.decode("latin-1"),
                    target=target.decode("latin-1"),
                    t=arrived,
                    conn_id=conn.conn_id,
                    index=len(self._records),
                    error=error,
                )
            )

    def _reject(
        self, conn: _Conn, exc: BadRequest, raw: bytes, arrived: float | None = None
    ) -> Next:
        self._record_failure(conn, raw, arrived or time.monotonic(), exc.reason)
        body = json.dumps({"error": {"message": exc.reason, "type": "bad_request"}}).encode()
        head = response_head(
            exc.status, (("Content-Type", "application/json"),), length=len(body), close=True
        )
        conn.sock.sendall(head + body)
        drain(conn.sock, conn.cancel)
        return Next.CLOSE

    def _choose(self, record: RecordedRequest) -> Step:
        with self._lock:
            script = None
            for key in (
                (record.method, record.target),
                (None, record.target),
                (record.method, record.path),
                (None, record.path),
            ):
                script = self._scripts.get(key)
                if script is not None:
                    break
            step = script.next_step() if script is not None else self._default
        for _ in range(_MAX_DYNAMIC_DEPTH):
            if not isinstance(step, Dynamic):
                return step
            step = step.choose(record)
        raise RuntimeError("dynamic steps nested too deeply")


_FAST_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n"
_FAST_KEEP = _FAST_HEAD.format(len(_FAST_BODY), "").encode() + _FAST_BODY
_FAST_CLOSE = _FAST_HEAD.format(len(_FAST_BODY), "Connection: close\r\n").encode() + _FAST_BODY
