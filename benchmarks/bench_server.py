"""Throughput of `FaultServer`'s fast success endpoint, against one client process.

The fault server must not be what a retry benchmark measures: it has to answer
much faster than any single Python client process can ask. This script measures:

1. one client process, the cheapest possible client (a raw socket sending one
   keep-alive GET and reading the fixed-size answer, in a loop);
2. the same with ``http.client`` and with ``requests.Session``, the clients a
   benchmark would actually use;
3. several raw-socket client processes at once: the server's own throughput.

Each measurement runs for a bounded time (``--seconds``, 2 s by default).
Run: ``.venv/bin/python benchmarks/bench_server.py [--seconds 2] [--processes 4]``.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import resource
import socket
import time
from typing import TYPE_CHECKING

from errorkit.testing import FaultServer

if TYPE_CHECKING:
    from collections.abc import Callable

FAST = "/fast"
RESPONSE_SIZE = len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")


def raw_client(port: int, seconds: float) -> int:
    """Send keep-alive GETs over one raw socket for `seconds`; return how many completed."""
    request = f"GET {FAST} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    done = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sock.sendall(request)
            got = 0
            while got < RESPONSE_SIZE:
                chunk = sock.recv(4096)
                if not chunk:
                    return done
                got += len(chunk)
            done += 1
    return done


def http_client(port: int, seconds: float) -> int:
    """Keep-alive GETs through `http.client` for `seconds`; return how many completed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    done = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            conn.request("GET", FAST)
            conn.getresponse().read()
            done += 1
    finally:
        conn.close()
    return done


def requests_client(port: int, seconds: float) -> int:
    """Keep-alive GETs through a `requests.Session` for `seconds`; return how many completed."""
    import requests

    done = 0
    deadline = time.monotonic() + seconds
    with requests.Session() as session:
        url = f"http://127.0.0.1:{port}{FAST}"
        while time.monotonic() < deadline:
            session.get(url, timeout=5).content  # noqa: B018 - reading the body is the point
            done += 1
    return done


def _in_processes(
    client: Callable[[int, float], int], port: int, seconds: float, processes: int
) -> int:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.starmap(client, [(port, seconds)] * processes))


def _cpu_seconds(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    """CPU time this process (the server's threads) spent between two snapshots."""
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each run")
    parser.add_argument("--processes", type=int, default=4, help="client processes at once")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 0.1), 60.0)
    processes = min(max(args.processes, 1), 64)
    print(f"cpus: {os.cpu_count()}, {seconds:g} s per run")
    with FaultServer() as server:
        server.fast_path = FAST
        runs: list[tuple[str, Callable[[int, float], int], int]] = [
            ("1 process, raw socket", raw_client, 1),
            ("1 process, http.client", http_client, 1),
            ("1 process, requests.Session", requests_client, 1),
            (f"{processes} processes, raw socket", raw_client, processes),
        ]
        for label, client, count in runs:
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            done = _in_processes(client, server.port, seconds, count)
            cpu = _cpu_seconds(cpu_before, resource.getrusage(resource.RUSAGE_SELF))
            print(
                f"{label:32} {done / seconds:10,.0f} requests/s"
                f"   server CPU {cpu / max(done, 1) * 1e6:5.1f} us/request"
                f" (= {done / max(cpu, 1e-9):8,.0f} requests/s per server core)"
            )
        print(f"server fast_hits: {server.fast_hits}")


if __name__ == "__main__":
    main()
