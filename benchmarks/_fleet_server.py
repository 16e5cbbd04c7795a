"""The fleet bench's server, in its own process: 40 requests/s in total, burst 10.

A `FaultServer` whose two paths share one token bucket (40 tokens/s, 10 at most):

- ``/bare``: 200 within the limit, else 429 with ``Retry-After: 1`` only;
- ``/quota``: the same, and every response states the quota the IETF way
  (``RateLimit-Policy: "fleet";q=40;w=1`` and ``RateLimit: "fleet";r=..;t=..``);
- ``/control/outage?seconds=S``: every request to either path gets a plain 503 (no
  ``Retry-After``, no quota) for S s; the bucket keeps refilling meanwhile;
- ``/control/reset?epoch=E``: refill the bucket, clear the log; times count from E
  (``time.time()`` of the parent: one host, one clock);
- ``/control/log``: ``[[t, path, status, in_wait], ...]`` since the reset, where
  `in_wait` says the request arrived while a wait announced by a 429 (its
  ``Retry-After: 1`` from when it was sent) was still running, for anyone. At most
  200 000 entries (then the log stops growing).
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import threading
import time
import urllib.request
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

RATE = 40.0
BURST = 10.0
_LOG_CAP = 200_000
_POLICY = '"fleet";q=40;w=1'
_LIMITED = {"error": {"message": "rate limited", "type": "rate_limit"}}


class _Limiter:
    """The token bucket, the outage switch and the request log, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epoch = time.time()
        self.tokens = BURST
        self.refilled = time.monotonic()
        self.down_until = 0.0
        self.wait_until = 0.0  # the end of the latest wait a 429 announced
        self.log: list[list[Any]] = []

    def reset(self, epoch: float) -> None:
        with self.lock:
            self.epoch, self.tokens, self.refilled = epoch, BURST, time.monotonic()
            self.down_until = self.wait_until = 0.0
            self.log = []

    def admit(self, path: str) -> tuple[int, float, float]:
        """(status, tokens left, seconds until a token) for one request, logged."""
        now, wall = time.monotonic(), time.time()
        with self.lock:
            self.tokens = min(BURST, self.tokens + (now - self.refilled) * RATE)
            self.refilled = now
            in_wait = now < self.wait_until
            if now < self.down_until:
                status = 503
            elif self.tokens >= 1.0:
                self.tokens -= 1.0
                status = 200
            else:
                status = 429
                self.wait_until = max(self.wait_until, now + 1.0)
            if len(self.log) < _LOG_CAP:
                self.log.append([round(wall - self.epoch, 4), path, status, in_wait])
            return status, self.tokens, max(0.0, (1.0 - self.tokens) / RATE)


def _serve(port_queue: Any, stop: Any) -> None:
    from errorkit.testing import FaultServer, dynamic, respond

    limiter = _Limiter()

    def limited(path: str, *, states_quota: bool) -> Any:
        def answer(_: object) -> Any:
            status, left, next_token = limiter.admit(path)
            if status == 503:  # down: a plain 503, no hint, no quota
                return respond(503, body={"error": {"message": "down"}})
            headers: dict[str, str] = {}
            if states_quota:
                headers["RateLimit-Policy"] = _POLICY
                headers["RateLimit"] = f'"fleet";r={int(left)};t={math.ceil(next_token)}'
            if status == 429:
                headers["Retry-After"] = "1"
                return respond(429, headers, _LIMITED)
            return respond(200, headers, {"ok": True})

        return dynamic(answer)

    def outage(request: Any) -> Any:
        seconds = float(dict(p.split("=") for p in request.query.split("&"))["seconds"])
        with limiter.lock:
            limiter.down_until = time.monotonic() + seconds
        return respond(200, body=b"down")

    def reset(request: Any) -> Any:
        limiter.reset(float(dict(p.split("=") for p in request.query.split("&"))["epoch"]))
        return respond(200, body=b"reset")

    def log(_: object) -> Any:
        with limiter.lock:
            body = json.dumps(limiter.log).encode()
        return respond(200, {"Content-Type": "application/json"}, body)

    with FaultServer() as server:
        server.script("/bare", [limited("bare", states_quota=False)])
        server.script("/quota", [limited("quota", states_quota=True)])
        server.script("/control/outage", [dynamic(outage)])
        server.script("/control/reset", [dynamic(reset)])
        server.script("/control/log", [dynamic(log)])
        port_queue.put(server.port)
        stop.wait(3600)


@contextmanager
def fleet_server() -> Iterator[str]:
    """Run the server in a child process; yields its base URL."""
    ctx = mp.get_context("spawn")
    port_queue, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(port_queue, stop), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{port_queue.get(timeout=30)}"
    finally:
        stop.set()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def control(base: str, what: str) -> bytes:
    with urllib.request.urlopen(f"{base}/control/{what}", timeout=10) as r:  # noqa: S310 - loopback
        return r.read()  # type: ignore[no-any-return]
