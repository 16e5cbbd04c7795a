"""Script steps: what `FaultServer` does with one request.

Each step is a frozen value built by a factory function (`respond`, `drop`, ...).
A script is an ordered list of them; the server plays one step per request and
repeats the last one once the list is used up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from errorkit.testing._records import RecordedRequest

HeaderPairs: TypeAlias = tuple[tuple[str, str], ...]
HeaderValue: TypeAlias = str | int | float
HeadersArg: TypeAlias = Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]] | None
Body: TypeAlias = bytes | str | Mapping[str, object] | Sequence[object] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Respond:
    """Answer with a status, headers and a body (see `respond`)."""

    status: int = 200
    headers: HeaderPairs = ()
    body: bytes = b""
    delay: float = 0.0
    chunked: int = 0
    close: bool = False
    gzip: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop:
    """Read the request, then close the connection without answering (see `drop`)."""

    reset: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Stall:
    """Read the request and never answer (see `stall`)."""

    seconds: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlowBody:
    """Send the headers at once, then trickle the body (see `slow_body`)."""

    status: int = 200
    headers: HeaderPairs = ()
    body: bytes = b""
    chunk: int = 1
    interval: float = 0.1


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetMidBody:
    """Announce the whole body, send part of it, then abort (see `reset_mid_body`)."""

    status: int = 200
    headers: HeaderPairs = ()
    body: bytes = b""
    sent_bytes: int = 0
    reset: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class HugeBody:
    """Stream a large body from a repeating pattern (see `huge_body`)."""

    n_bytes: int
    status: int = 200
    headers: HeaderPairs = ()
    chunked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Dynamic:
    """Choose the step from the recorded request (see `dynamic`)."""

    choose: Callable[[RecordedRequest], Step]


Step: TypeAlias = Respond | Drop | Stall | SlowBody | ResetMidBody | HugeBody | Dynamic
STEP_TYPES = (Respond, Drop, Stall, SlowBody, ResetMidBody, HugeBody, Dynamic)


def respond(  # noqa: PLR0913 - one keyword per HTTP feature a test may need
    status: int = 200,
    headers: HeadersArg = None,
    body: Body = b"",
    *,
    delay: float = 0.0,
    chunked: int | bool = False,
    close: bool = False,
    gzip: bool = False,
) -> Respond:
    """Answer with `status`, `headers` and `body`.

    `body` may be bytes, str (sent as UTF-8, ``text/plain`` unless `headers` say
    otherwise) or a dict/list (sent as JSON, ``application/json``). `delay` waits
    that many seconds before the headers. `chunked` sends the body with
    ``Transfer-Encoding: chunked`` in that many chunks (``True`` means one).
    `close` adds ``Connection: close`` and closes after the body; the default keeps
    the connection alive. `gzip` compresses the body and adds
    ``Content-Encoding: gzip``. A header given here always wins over a computed one.
    """
    _check_status(status)
    if delay < 0 or chunked < 0:
        raise ValueError("delay and chunked must not be negative")
    pairs, data = _encode(headers, body)
    return Respond(
        status=status,
        headers=pairs,
        body=data,
        delay=float(delay),
        chunked=int(chunked),
        close=close,
        gzip=gzip,
    )


def drop(*, reset: bool = False) -> Drop:
    """Read the whole request, then close the connection without a response.

    With `reset`, the close is an abortive one (TCP RST) instead of a FIN.
    """
    return Drop(reset=reset)


def stall(seconds: float | None = None) -> Stall:
    """Read the request and never answer: hold the connection open, silent.

    Ends when the client closes, the server stops or resets, or `seconds` pass (then
    the connection is closed without a response). None means the server's
    `stall_limit` (30 s by default), so that no stall outlives a test run.
    """
    if seconds is not None and seconds < 0:
        raise ValueError("seconds must not be negative")
    return Stall(seconds=seconds)


def slow_body(
    status: int = 200,
    body: Body = b"x" * 10,
    *,
    headers: HeadersArg = None,
    chunk: int = 1,
    interval: float = 0.1,
) -> SlowBody:
    """Send the headers (full Content-Length) at once, then `chunk` bytes per `interval` s."""
    _check_status(status)
    if chunk < 1 or interval < 0:
        raise ValueError("chunk must be >= 1 and interval >= 0")
    pairs, data = _encode(headers, body)
    return SlowBody(status=status, headers=pairs, body=data, chunk=chunk, interval=interval)


def reset_mid_body(
    status: int = 200,
    body: Body = b"x" * 100,
    sent_bytes: int | None = None,
    *,
    headers: HeadersArg = None,
    reset: bool = True,
) -> ResetMidBody:
    """Send headers announcing the full body, then `sent_bytes` of it, then abort.

    The abort is a TCP RST (``SO_LINGER`` 0) once the sent bytes have left the
    server; with ``reset=False`` it is a plain close, so the client sees a body
    shorter than its Content-Length. `sent_bytes` defaults to half the body.
    """
    _check_status(status)
    pairs, data = _encode(headers, body)
    sent = len(data) // 2 if sent_bytes is None else sent_bytes
    if not 0 <= sent < len(data):
        raise ValueError("sent_bytes must be in [0, len(body))")
    return ResetMidBody(status=status, headers=pairs, body=data, sent_bytes=sent, reset=reset)


def huge_body(
    n_bytes: int,
    status: int = 200,
    *,
    headers: HeadersArg = None,
    chunked: bool = False,
) -> HugeBody:
    """Send a body of `n_bytes`, streamed from a repeating pattern, never held in memory."""
    _check_status(status)
    if n_bytes < 0:
        raise ValueError("n_bytes must not be negative")
    return HugeBody(n_bytes=n_bytes, status=status, headers=_pairs(headers), chunked=chunked)


def dynamic(choose: Callable[[RecordedRequest], Step]) -> Dynamic:
    """Call `choose(request)` for each request and play the step it returns."""
    return Dynamic(choose=choose)


def _check_status(status: int) -> None:
    if not 100 <= status <= 999:
        raise ValueError(f"status must be a three-digit HTTP status, got {status!r}")


def _pairs(headers: HeadersArg) -> HeaderPairs:
    if headers is None:
        return ()
    loose: object = headers  # callers without a type checker pass a str body here
    if isinstance(loose, (str, bytes)):
        raise TypeError("headers must be a mapping or (name, value) pairs; pass the body as body=")
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = tuple((name, value) for name, value in items)
    for name, value in pairs:
        if (
            not isinstance(name, str)
            or isinstance(value, bool)
            or not isinstance(value, (str, int, float))
        ):
            raise TypeError(f"header {name!r}: names are str, values str or numbers")
    return tuple((name, str(value)) for name, value in pairs)


def _encode(headers: HeadersArg, body: Body) -> tuple[HeaderPairs, bytes]:
    pairs = _pairs(headers)
    if body is None or isinstance(body, bytes):
        return pairs, body or b""
    if isinstance(body, str):
        return _with_default(pairs, "text/plain; charset=utf-8"), body.encode()
    document = dict(body) if isinstance(body, Mapping) else list(body)
    data = json.dumps(document, separators=(",", ":")).encode()
    return _with_default(pairs, "application/json"), data


def _with_default(pairs: HeaderPairs, content_type: str) -> HeaderPairs:
    if any(name.lower() == "content-type" for name, _ in pairs):
        return pairs
    return (("Content-Type", content_type), *pairs)
