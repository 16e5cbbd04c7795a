"""Script steps: what `FaultServer` does with one request.

Each step is a frozen value built by a factory function (`respond`, `drop`, ...).
A script is an ordered list of them; the server plays one step per request and
repeats the last one once the list is used up.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from types import ModuleType

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
    chunked: bool = False


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
class Bomb:
    """A small compressed body that inflates to `decoded_bytes` zero bytes (see `bomb`)."""

    status: int = 503
    headers: HeaderPairs = ()
    encoding: str = "br"
    decoded_bytes: int = 1 << 30
    chunked: bool = False

    @property
    def body(self) -> bytes:
        """The compressed body as sent (built once per encoding and size, then cached)."""
        return compressed_zeros(self.encoding, self.decoded_bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dynamic:
    """Choose the step from the recorded request (see `dynamic`)."""

    choose: Callable[[RecordedRequest], Step]


Step: TypeAlias = Respond | Drop | Stall | SlowBody | ResetMidBody | HugeBody | Bomb | Dynamic
STEP_TYPES = (Respond, Drop, Stall, SlowBody, ResetMidBody, HugeBody, Bomb, Dynamic)


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


def slow_body(  # noqa: PLR0913 - the drip's shape and the response around it
    status: int = 200,
    body: Body = b"x" * 10,
    *,
    headers: HeadersArg = None,
    chunk: int = 1,
    interval: float = 0.1,
    chunked: bool = False,
) -> SlowBody:
    """Send the headers (full Content-Length) at once, then `chunk` bytes per `interval` s.

    Two faults in one step:

    - a body dripped at a given rate: ``slow_body(200, b"x" * 20, interval=0.5)`` sends
      one byte every half second, so the whole body takes 10 s while no single read
      ever waits longer than 0.5 s;
    - headers, then a stall: ``slow_body(503, b"{}", interval=math.inf)`` sends the head
      and never a byte of the promised body.

    The server waits `interval` before each chunk, including the first. A wait ends
    early, closing the connection, when the client closes it, the server stops or
    resets, or the wait reaches the server's `stall_limit` (30 s by default; a longer
    `interval`, ``math.inf`` included, is cut there and the client sees a body shorter
    than its Content-Length), so that no drip outlives a test run.

    `chunked` sends ``Transfer-Encoding: chunked`` instead of a Content-Length: each
    drip is one chunk, and the last chunk follows the body, so the client cannot
    know the body's length in advance.
    """
    _check_status(status)
    if chunk < 1 or not interval >= 0:  # `not >=` also refuses NaN
        raise ValueError("chunk must be >= 1 and interval >= 0")
    pairs, data = _encode(headers, body)
    return SlowBody(
        status=status, headers=pairs, body=data, chunk=chunk, interval=interval, chunked=chunked
    )


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


def bomb(
    status: int = 503,
    *,
    encoding: str = "br",
    decoded_bytes: int = 1 << 30,
    headers: HeadersArg = None,
    chunked: bool = False,
) -> Bomb:
    """Answer with a small compressed body that inflates to `decoded_bytes` zero bytes.

    `encoding` is one of ``gzip``, ``deflate`` (zlib-wrapped, as HTTP means it), ``br``
    (needs the ``brotli`` package) or ``zstd`` (needs ``zstandard``; the frame header
    states the decoded size, as the ``zstd`` tool writes it). The response carries
    ``Content-Encoding: <encoding>``, ``Content-Type: application/json`` and the
    compressed Content-Length (with `chunked`, ``Transfer-Encoding: chunked`` instead).
    A header given here always wins over a computed one, so
    ``headers={"Content-Encoding": "gzip"}`` on a br bomb mislabels it.

    The compressed bytes are built here, once per encoding and size in a process, by
    streaming compression of zero blocks: the decoded body is never in memory. For
    1 GiB, gzip and deflate take about 0.3 s and send about 1 MB (deflate's ratio tops
    out near 1:1000), br about 1.3 s for 1.6 KB, zstd about 0.3 s for 32 KB.
    """
    _check_status(status)
    if encoding not in _BOMB_ENCODERS:
        raise ValueError(f"encoding must be one of {', '.join(_BOMB_ENCODERS)}, got {encoding!r}")
    _check_int("decoded_bytes", decoded_bytes, 0)
    if encoding in _BOMB_PACKAGES:
        _bomb_package(encoding)  # a missing package fails here, not in the server's thread
    pairs = _with_default(_pairs(headers), "application/json")
    step = Bomb(
        status=status,
        headers=pairs,
        encoding=encoding,
        decoded_bytes=decoded_bytes,
        chunked=chunked,
    )
    compressed_zeros(encoding, decoded_bytes)  # pay the build now, not on the first request
    return step


def header_flood(  # noqa: PLR0913 - the flood's shape and the response around it
    status: int = 503,
    count: int = 600,
    *,
    headers: HeadersArg = None,
    body: Body = b"",
    name: str = "X-Filler",
    value_bytes: int = 1,
    repeat: bool = False,
) -> Respond:
    """Answer with a header block that starts with `count` filler fields.

    The fillers are ``X-Filler-0: x`` to ``X-Filler-<count-1>: x`` (`name` numbered;
    with `repeat`, every filler is named `name` exactly), each value `value_bytes`
    ``x`` characters long. `headers` follow the flood, so a hint such as Retry-After
    sits after it, then the body's Content-Type and Content-Length (a ``Connection:
    close`` the server adds for a client that asked for one comes first). `body` is
    encoded as in `respond`.

    Clients draw the line in different places: Python's ``http.client`` (hence
    requests and urllib3) refuses more than 100 header fields, aiohttp 3.14 more than
    127 or one longer than 8190 bytes, httpx (h11 0.16) a head over 64 KiB.
    """
    _check_status(status)
    _check_int("count", count, 0)
    _check_int("value_bytes", value_bytes, 1)
    loose: object = name
    if not isinstance(loose, str) or not _TOKEN.fullmatch(loose):
        raise ValueError(f"name must be a header field name (an HTTP token), got {name!r}")
    given = _pairs(headers)
    encoded, data = _encode(given, body)
    computed = encoded[: len(encoded) - len(given)]  # the body's Content-Type, if any
    names = {field_name.lower() for field_name, _ in given}
    if status >= 200 and status not in {204, 304} and "content-length" not in names:
        computed = (*computed, ("Content-Length", str(len(data))))  # after the flood too
    value = "x" * value_bytes
    flood = tuple((name if repeat else f"{name}-{i}", value) for i in range(count))
    return Respond(status=status, headers=(*flood, *given, *computed), body=data)


def echo_request(
    status: int = 401,
    *,
    headers: HeadersArg = None,
    echo_body: bool = False,
) -> Dynamic:
    """Answer with a JSON error that echoes back what the client sent, as careless servers do.

    The body is ``{"error": {"message": ..., "request": {"method": ..., "target": ...,
    "headers": {...}}}}``: the message quotes the request line and every credential
    header verbatim (``Invalid credentials for GET /v1/x?api_key=k1: Authorization:
    Bearer t0k, x-api-key: k2``), and ``headers`` holds every received field under its
    name as sent (repeats joined with ``", "``). A credential header is one whose name
    contains ``auth``, ``key``, ``token``, ``secret``, ``passw``, ``cookie``,
    ``session``, ``signature`` or ``credential``. With `echo_body`, ``request`` also has
    ``"body"``: the request body as JSON if it parses, else as text. Use it to prove
    that a client never shows a person the secrets a server echoed. `headers` are
    added to the response, e.g. a ``WWW-Authenticate`` challenge.
    """
    _check_status(status)
    return Dynamic(choose=_Echo(status=status, headers=_pairs(headers), echo_body=echo_body))


def dynamic(choose: Callable[[RecordedRequest], Step]) -> Dynamic:
    """Call `choose(request)` for each request and play the step it returns."""
    return Dynamic(choose=choose)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CREDENTIAL_PARTS = (
    "auth",
    "key",
    "token",
    "secret",
    "passw",
    "cookie",
    "session",
    "signature",
    "credential",
)


@dataclass(frozen=True, slots=True)
class _Echo:
    """The chooser behind `echo_request`: a value, so equal echo steps compare equal."""

    status: int
    headers: HeaderPairs
    echo_body: bool

    def __call__(self, request: RecordedRequest) -> Step:
        pairs = request.headers.pairs
        quoted = [
            f"{name}: {value}"
            for name, value in pairs
            if any(part in name.lower() for part in _CREDENTIAL_PARTS)
        ]
        message = f"Invalid credentials for {request.method} {request.target}"
        if quoted:
            message += ": " + ", ".join(quoted)
        echoed: dict[str, str] = {}
        for name, value in pairs:
            echoed[name] = f"{echoed[name]}, {value}" if name in echoed else value
        document: dict[str, object] = {
            "method": request.method,
            "target": request.target,
            "headers": echoed,
        }
        if self.echo_body and request.body:
            document["body"] = _body_document(request.body)
        return respond(
            self.status, self.headers, {"error": {"message": message, "request": document}}
        )


def _body_document(body: bytes) -> object:
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- compressed zeros ------------------------------------------------------------------

_ZERO_BLOCK = bytes(1 << 20)  # compressed block by block, so the decoded body never exists
_BOMB_PACKAGES = {"br": "brotli", "zstd": "zstandard"}
_BOMB_CACHE: dict[tuple[str, int], bytes] = {}
_BOMB_LOCK = threading.Lock()


def compressed_zeros(encoding: str, decoded_bytes: int) -> bytes:
    """`decoded_bytes` zero bytes compressed with `encoding`, built once per process."""
    key = (encoding, decoded_bytes)
    with _BOMB_LOCK:  # held while building, so two threads never build the same bomb
        data = _BOMB_CACHE.get(key)
        if data is None:
            data = _BOMB_CACHE[key] = _BOMB_ENCODERS[encoding](decoded_bytes)
    return data


def _bomb_package(encoding: str) -> ModuleType:
    package = _BOMB_PACKAGES[encoding]
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise ImportError(
            f"bomb(encoding={encoding!r}) needs the {package!r} package: pip install {package}",
            name=package,
        ) from exc


def _deflate_blocks(decoded_bytes: int) -> bytes:
    """Raw deflate of zeros, each 1 MiB block ended by a full flush.

    After a full flush the compressor refers to nothing before it, so every full
    block compresses to the same bytes: the first two are compressed, the rest copied.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    full, tail = divmod(decoded_bytes, len(_ZERO_BLOCK))
    parts: list[bytes] = []
    previous = b""
    for index in range(full):
        if index >= 2 and parts[-1] == previous:
            parts.extend([parts[-1]] * (full - index))
            break
        previous = parts[-1] if parts else b""
        parts.append(compressor.compress(_ZERO_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH))
    parts.append(compressor.compress(_ZERO_BLOCK[:tail]) + compressor.flush(zlib.Z_FINISH))
    return b"".join(parts)


def _zeros_checksum(decoded_bytes: int, checksum: Callable[[bytes, int], int], start: int) -> int:
    value = start
    full, tail = divmod(decoded_bytes, len(_ZERO_BLOCK))
    for _ in range(full):
        value = checksum(_ZERO_BLOCK, value)
    return checksum(_ZERO_BLOCK[:tail], value)


def _gzip_zeros(decoded_bytes: int) -> bytes:
    # RFC 1952: magic, deflate, no flags, mtime 0, "maximum compression", OS unknown.
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    crc = _zeros_checksum(decoded_bytes, zlib.crc32, 0)
    trailer = crc.to_bytes(4, "little") + (decoded_bytes & 0xFFFFFFFF).to_bytes(4, "little")
    return header + _deflate_blocks(decoded_bytes) + trailer


def _deflate_zeros(decoded_bytes: int) -> bytes:
    # RFC 1950: deflate with a 32 KiB window, level 9 (0x78 0xDA), then Adler-32.
    adler = _zeros_checksum(decoded_bytes, zlib.adler32, 1)
    return b"\x78\xda" + _deflate_blocks(decoded_bytes) + adler.to_bytes(4, "big")


def _brotli_zeros(decoded_bytes: int) -> bytes:
    brotli = _bomb_package("br")
    # Quality 5 with the default 4 MiB window: 1 GiB in about 1.3 s, 1.6 KB. Quality
    # 10-11 takes a minute for the same size; 1-4 are faster but 100 times larger.
    compressor = brotli.Compressor(quality=5, lgwin=22)
    parts = [compressor.process(block) for block in _zero_blocks(decoded_bytes)]
    parts.append(compressor.finish())
    return b"".join(parts)


def _zstd_zeros(decoded_bytes: int) -> bytes:
    zstandard = _bomb_package("zstd")
    context = zstandard.ZstdCompressor(level=3)
    compressor = context.compressobj(size=decoded_bytes)
    parts = [compressor.compress(block) for block in _zero_blocks(decoded_bytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


def _zero_blocks(decoded_bytes: int) -> Iterable[bytes]:
    full, tail = divmod(decoded_bytes, len(_ZERO_BLOCK))
    for _ in range(full):
        yield _ZERO_BLOCK
    if tail:
        yield _ZERO_BLOCK[:tail]


_BOMB_ENCODERS: dict[str, Callable[[int], bytes]] = {
    "gzip": _gzip_zeros,
    "deflate": _deflate_zeros,
    "br": _brotli_zeros,
    "zstd": _zstd_zeros,
}


def _check_status(status: int) -> None:
    if not 100 <= status <= 999:
        raise ValueError(f"status must be a three-digit HTTP status, got {status!r}")


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


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
