"""A FaultServer in its own process, so that it never competes with the measured
client for the GIL. Paths: /fast (the no-script 200 fast path), /outage (always
503), /partial (a seeded 20 % of 503s), /stats (hit counts as JSON)."""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import urllib.request
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

PARTIAL_FAILURE_RATE = 0.2


def _serve(port_queue: Any, stop: Any, seed: int) -> None:
    from errorkit.testing import FaultServer, dynamic, respond

    rng = random.Random(seed)
    counts = {"outage": 0, "partial": 0}
    ok, failed = respond(200, body=b"ok"), respond(503, body=b"unavailable")

    def outage(_: object) -> Any:
        counts["outage"] += 1
        return failed

    def partial(_: object) -> Any:
        counts["partial"] += 1
        return failed if rng.random() < PARTIAL_FAILURE_RATE else ok

    def restart(_: object) -> Any:
        counts.update(outage=0, partial=0)
        rng.seed(seed)
        return ok

    with FaultServer() as server:
        server.fast_path = "/fast"
        server.script("/outage", [dynamic(outage)])
        server.script("/partial", [dynamic(partial)])
        server.script("/stats", [dynamic(lambda _: respond(200, body=dict(counts)))])
        server.script("/reset", [dynamic(restart)])
        port_queue.put(server.port)
        stop.wait(3600)


@contextmanager
def server_process(seed: int = 20261122) -> Iterator[str]:
    """Run the benchmark server in a child process; yields its base URL."""
    ctx = mp.get_context("spawn")
    port_queue, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(port_queue, stop, seed), daemon=True)
    proc.start()
    try:
        port = port_queue.get(timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def stats(base: str) -> dict[str, int]:
    """The server's counts of /outage and /partial hits."""
    with urllib.request.urlopen(f"{base}/stats", timeout=5) as r:  # noqa: S310 - loopback
        return json.loads(r.read())  # type: ignore[no-any-return]


def reset(base: str) -> None:
    """Zero the counts and re-seed the partial outage, for the next client."""
    with urllib.request.urlopen(f"{base}/reset", timeout=5) as r:  # noqa: S310 - loopback
        r.read()
