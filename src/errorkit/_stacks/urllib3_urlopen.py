"""What urllib3's `Retry` is never told: the request's body and headers.

`Retry.increment()` receives the method, the URL, the response or the error, and
the pool, but not the body it would re-send nor the headers it was sent with.
Both are local variables of the `HTTPConnectionPool.urlopen` call that invoked it
(urllib3 calls ``retries.increment(...)`` directly from ``urlopen``, which then
recurses with the same ``body``, ``body_pos`` and ``headers``), or entries of the
``kw`` of `PoolManager.urlopen` when it follows a redirect across pools.
`request_facts()` finds the innermost such frame, identified by its code object
rather than by name, and reads those values, nothing else. Frames are inspected
only on the failure path, never per request, and no frame reference outlives the
call.

When no ``urlopen`` frame is found (a custom pool that reimplements ``urlopen``,
or ``increment`` called by hand), the facts are unknown and the caller falls back
to urllib3's own assumptions: the body can be re-sent, no idempotency key.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from urllib3.connectionpool import HTTPConnectionPool
from urllib3.poolmanager import PoolManager
from urllib3.util.request import _FAILEDTELL

# HTTPSConnectionPool inherits urlopen, so one code object identifies both; a
# ProxyManager's urlopen calls PoolManager's.
_POOL_URLOPEN = HTTPConnectionPool.urlopen.__code__
_MANAGER_URLOPEN = PoolManager.urlopen.__code__
# increment() is called from urlopen itself; a subclass calling super() adds a frame or two.
_MAX_DEPTH = 12


@dataclass(frozen=True, slots=True)
class UrlopenFacts:
    """What the pending `urlopen` call knows about its request."""

    replayable: bool
    header_names: frozenset[str]  # lower-cased
    #: A file whose ``tell()`` failed: urllib3 raises its own ``UnrewindableBodyError``
    #: before any re-send of it (a retry or a redirect).
    unrewindable_file: bool = False


UNKNOWN = UrlopenFacts(replayable=True, header_names=frozenset())


def request_facts() -> UrlopenFacts | None:
    """The facts of the `urlopen` call up the stack, or None when there is none."""
    frame = sys._getframe(1)  # noqa: SLF001 - the one way to reach urlopen's locals
    try:
        for _ in range(_MAX_DEPTH):
            code = frame.f_code
            if code is _POOL_URLOPEN or code is _MANAGER_URLOPEN:
                local = frame.f_locals
                if code is _MANAGER_URLOPEN:
                    kw = local.get("kw")
                    local = kw if isinstance(kw, dict) else {}
                body = local.get("body")
                return UrlopenFacts(
                    replayable=body_replayable(body, local.get("body_pos")),
                    header_names=_names(local.get("headers")),
                    unrewindable_file=hasattr(body, "read")
                    and local.get("body_pos") is _FAILEDTELL,
                )
            if frame.f_back is None:
                return None
            frame = frame.f_back
        return None
    finally:
        del frame  # a frame reference would keep every local of the call stack alive


def body_replayable(body: object, body_pos: object) -> bool:
    """Whether urllib3 sends `body` whole again when it re-sends the request.

    urllib3 re-sends bytes, str, buffers and re-iterable collections as they are,
    and rewinds a file to `body_pos`, the offset it recorded before the first
    attempt (an int; anything else means ``tell()`` failed or was missing). A
    file must also be able to seek: an object with ``tell()`` whose
    ``seekable()`` is False (a urllib3 response, a pipe) makes urllib3 raise
    ``UnrewindableBodyError`` on the retry, so it is not replayable. A
    generator that was never started (the connection failed before any byte of
    the body left) is still whole; any other iterator is spent by the first
    attempt, and urllib3 would send it again as an empty body.
    """
    if body is None or isinstance(body, (bytes, str, bytearray, memoryview)):
        return True
    if hasattr(body, "read"):
        return isinstance(body_pos, int) and _can_seek(body)
    if inspect.isgenerator(body):
        return inspect.getgeneratorstate(body) == inspect.GEN_CREATED
    if isinstance(body, Iterable):
        return iter(body) is not body  # a list or tuple of chunks iterates anew
    return True  # a buffer object: sent from memory each time


def _can_seek(body: object) -> bool:
    """Whether `body` has a ``seek()`` that works: its ``seekable()`` says so when it has one.

    An object without ``seekable()`` but with ``seek()`` is trusted, as urllib3
    trusts it; a ``seekable()`` that raises (a closed file) means no.
    """
    if not callable(getattr(body, "seek", None)):
        return False
    seekable = getattr(body, "seekable", None)
    if not callable(seekable):
        return True
    try:
        return bool(seekable())
    except Exception:  # noqa: BLE001 - a closed or broken file cannot be rewound
        return False


def _names(headers: object) -> frozenset[str]:
    if not isinstance(headers, Iterable):
        return frozenset()
    return frozenset(str(name).lower() for name in headers)
