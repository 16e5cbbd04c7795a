"""httpx bodies for `errorkit.httpx` and `errorkit.httpx2`: request replay, bounded peeks.

The functions take the library's `Flavor` (`errorkit._stacks.httpx_flavor`)
where they need one of its classes; the peeked streams here are mixins, which
the flavor combines with its library's byte streams.

Request side: httpx turns bytes, text, JSON and forms into a `ByteStream`, which
can be sent any number of times; a `files=` upload becomes a `MultipartStream`,
which seeks each file back to 0 itself; any other iterable becomes an
`IteratorByteStream` (or its async twin), which is one-shot unless it wraps a
seekable file. `Replay` records where such a file starts and rewinds it before
each re-send.

Response side: an error body is peeked rather than read whole: raw chunks are
pulled from the inner transport's stream until more than ``bound`` bytes came
(or the body ended), and the response keeps its status, headers and extensions
but gets a `PeekedStream` that yields those chunks again, then the rest of the
original. When the peek reached the end of the body, the original stream is
closed at once, so its connection goes back to the pool whatever the caller
does next.

What errorkit parses is a throwaway copy of the peeked bytes, decoded by
`decoded` with a bounded decoder (`errorkit._stacks.decoding.bounded_decode`):
a compressed body never inflates past the bound in errorkit's hands, whatever
its ratio. The caller's response keeps the raw bytes, and httpx decodes them
if the caller reads the body. `keep_read` is the one place errorkit leaves a
body read for the caller: the response of a raised status error, which only
ever holds what the peek read (see `errorkit.httpx`).
"""

from __future__ import annotations

import inspect
import socket
from typing import TYPE_CHECKING, Any

from errorkit._stacks.deadline import cut_at
from errorkit._stacks.decoding import bounded_decode

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

    from errorkit._stacks.httpx_flavor import Flavor

    # The peeked streams are mixins: `Flavor` adds its library's byte stream base.
    _SyncBase = httpx.SyncByteStream
    _AsyncBase = httpx.AsyncByteStream
else:
    _SyncBase = _AsyncBase = object


class Replay:
    """Whether a request body can be sent again, and how to rewind it before that."""

    __slots__ = ("_file", "_start", "replayable", "spent")

    def __init__(self, stream: object, flavor: Flavor) -> None:
        self._file: Any = None
        self._start = 0
        self.replayable = True
        self.spent = False
        if isinstance(stream, (flavor.ByteStream, flavor.MultipartStream)):
            multipart = isinstance(stream, flavor.MultipartStream)
            self.replayable = not multipart or _multipart_seeks(stream)
        elif isinstance(stream, (flavor.IteratorByteStream, flavor.AsyncIteratorByteStream)):
            self._adopt(stream, getattr(stream, "_stream", None))
        else:
            self.replayable = False

    def _adopt(self, stream: object, inner: object) -> None:
        if isinstance(inner, (list, tuple)):
            return  # iterated afresh on each send
        # Read by an earlier hop (a 307 re-sends the same stream): what is left of it is
        # not the body, and its starting offset is lost.
        self.spent = bool(getattr(stream, "_is_stream_consumed", False))
        start = _seek_start(inner)
        if start is None:
            self.replayable = False
        else:
            self._file, self._start = inner, start

    def rewind(self) -> None:
        """Put a file body back where it started (nothing to do for other bodies)."""
        if self._file is not None:
            self._file.seek(self._start)


def _multipart_seeks(stream: Any) -> bool:
    for field in stream.fields:
        file = getattr(field, "file", None)
        if file is not None and not isinstance(file, (str, bytes)) and not _seekable(file):
            return False
    return True


def _seekable(file: object) -> bool:
    check = getattr(file, "seekable", None)
    try:
        return bool(check()) if callable(check) else callable(getattr(file, "seek", None))
    except (OSError, ValueError):
        return False


def _seek_start(file: object) -> int | None:
    """Offset a sync-seekable file body starts at, or None when it cannot be rewound."""
    seek, tell = getattr(file, "seek", None), getattr(file, "tell", None)
    if not (callable(seek) and callable(tell)) or inspect.iscoroutinefunction(seek):
        return None  # an async file's seek cannot be awaited from here
    if not _seekable(file):
        return None
    try:
        return int(tell())
    except (OSError, ValueError):
        return None


class PeekedStream(_SyncBase):
    """A response body whose first chunks were pulled already: they come first again.

    A mixin: `Flavor.PeekedStream` is the class, also its library's `SyncByteStream`.

    `rest` is None when the peek reached the end of the body: `whole()` then
    gives the raw body until the stream is iterated.
    """

    def __init__(
        self, head: list[bytes], rest: Iterator[bytes] | None, original: httpx.SyncByteStream
    ) -> None:
        self._head = head
        self._rest = rest
        self._original = original
        self._complete = rest is None

    def whole(self) -> bytes | None:
        """The whole raw body, if the peek read all of it and nobody iterated it since."""
        return b"".join(self._head) if self._complete else None

    def __iter__(self) -> Iterator[bytes]:
        head, self._head, self._complete = self._head, [], False
        yield from head
        if self._rest is not None:
            yield from self._rest

    def close(self) -> None:
        rest, self._rest = self._rest, None
        try:
            if rest is not None:
                getattr(rest, "close", _nothing)()
        finally:
            self._original.close()


class AsyncPeekedStream(_AsyncBase):
    """The async twin of `PeekedStream` (`Flavor.AsyncPeekedStream` is the class)."""

    def __init__(
        self,
        head: list[bytes],
        rest: AsyncIterator[bytes] | None,
        original: httpx.AsyncByteStream,
    ) -> None:
        self._head = head
        self._rest = rest
        self._original = original
        self._complete = rest is None

    def whole(self) -> bytes | None:
        """As `PeekedStream.whole`."""
        return b"".join(self._head) if self._complete else None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head, self._head, self._complete = self._head, [], False
        for chunk in head:
            yield chunk
        if self._rest is not None:
            async for chunk in self._rest:
                yield chunk

    async def aclose(self) -> None:
        rest, self._rest = self._rest, None
        try:
            closer = getattr(rest, "aclose", None)
            if closer is not None:
                await closer()
        finally:
            await self._original.aclose()


def _nothing() -> None:
    return None


def socket_of(response: httpx.Response) -> socket.socket | None:
    """The socket under an HTTP/1.1 response of httpcore's (TLS or not), else None.

    httpcore hands it over as ``extensions["network_stream"]``, whose
    ``get_extra_info("socket")`` is the socket (an `ssl.SSLSocket` over TLS; the
    outer socket for TLS through a TLS proxy). None for any other inner
    transport, and for HTTP/2: shutting its connection down would end every
    other request multiplexed on it.
    """
    extensions = response.extensions
    if extensions.get("http_version") == b"HTTP/2":
        return None
    get_extra_info = getattr(extensions.get("network_stream"), "get_extra_info", None)
    if get_extra_info is None:
        return None
    try:
        sock = get_extra_info("socket")
    except Exception:  # noqa: BLE001 - a foreign stream's answer: no socket then
        return None
    return sock if isinstance(sock, socket.socket) else None


class PeekCut(Exception):  # noqa: N818 - an event, raised for the adapter to catch
    """The peek was still reading when its time was up: `cut_at` shut the socket down.

    Its ``__cause__`` is what the stack raised then, if anything.
    """


def peek(
    response: httpx.Response,
    bound: int,
    flavor: Flavor,
    *,
    sock: socket.socket | None = None,
    seconds: float | None = None,
) -> bytes:
    """Pull raw bytes of `response`'s body until more than `bound` came or it ended.

    The body stays whole for the caller; returns the raw bytes pulled. With
    `seconds`, the reads are cut that many seconds from now by ``cut_at(sock,
    seconds)`` (nothing is armed without a socket): `PeekCut` if the cut fired.
    The cut is disarmed before the connection of a body read to its end goes
    back to the pool, so it never fires on a connection another request took.
    On any failure (a read error, an interrupt, a cut) the body is closed and
    the exception propagates.
    """
    original = response.stream
    assert isinstance(original, flavor.SyncByteStream)  # noqa: S101 - a sync transport's
    head: list[bytes] = []
    chunks = iter(original)
    try:
        if seconds is None:
            ended = _pull(chunks, bound, head)
        else:
            ended = _pull_within(chunks, bound, head, sock, seconds)
    except BaseException:
        flavor.PeekedStream([], chunks, original).close()
        raise
    if ended:
        original.close()  # at EOF: the connection goes back to the pool now
        response.stream = flavor.PeekedStream(head, None, original)
    else:
        response.stream = flavor.PeekedStream(head, chunks, original)
    return b"".join(head)


def _pull_within(
    chunks: Iterator[bytes],
    bound: int,
    head: list[bytes],
    sock: socket.socket | None,
    seconds: float,
) -> bool:
    """`_pull` under ``cut_at(sock, seconds)``; `PeekCut` if the cut fired."""
    with cut_at(sock, seconds) as cut:
        try:
            ended = _pull(chunks, bound, head)
        except Exception as exc:  # whatever the stack raises for a socket shut down
            if cut.fired:
                raise PeekCut from exc
            raise
    if cut.fired:  # a body without a length ends at the shutdown, cut short
        raise PeekCut
    return ended


def _pull(chunks: Iterator[bytes], bound: int, head: list[bytes]) -> bool:
    """Append chunks to `head` until more than `bound` bytes came; True if the body ended."""
    size = 0
    while size <= bound:
        chunk = next(chunks, None)
        if chunk is None:
            return True
        head.append(chunk)
        size += len(chunk)
    return False


async def apeek(response: httpx.Response, bound: int, flavor: Flavor) -> bytes:
    """The async twin of `peek`."""
    original = response.stream
    assert isinstance(original, flavor.AsyncByteStream)  # noqa: S101 - an async transport's
    head: list[bytes] = []
    size = 0
    chunks = aiter(original)
    try:
        while size <= bound:
            chunk = await anext(chunks, None)
            if chunk is None:
                await original.aclose()
                response.stream = flavor.AsyncPeekedStream(head, None, original)
                return b"".join(head)
            head.append(chunk)
            size += len(chunk)
    except BaseException:
        await flavor.AsyncPeekedStream([], chunks, original).aclose()
        raise
    response.stream = flavor.AsyncPeekedStream(head, chunks, original)
    return b"".join(head)


def decoded(headers: httpx.Headers, raw: bytes, limit: int) -> bytes:
    """At most `limit` bytes of `raw` decoded by its Content-Encoding, on a throwaway copy.

    The bounded decoder never holds much more than `limit` decoded bytes, whatever
    the compression ratio (1.6 KB of brotli may inflate to 1 GiB); an undecodable
    body gives what was decoded before the error, an unknown coding b"". The
    caller's response keeps the raw bytes and decodes them itself, exactly once.
    """
    return bounded_decode(headers.get("content-encoding"), raw, limit)


def keep_read(response: httpx.Response, bound: int) -> bool:
    """Leave `response` read, as httpx's ``read()`` would, if the peek holds its whole body.

    True when the peek reached the end of the body and the body decodes, by
    `decoded`, to at most `bound` bytes: ``.content`` (``.text``, ``.json()``)
    is then that decoded body. False otherwise, and nothing is read: no more
    bytes are pulled from the network, so a body that did not fit in the peek,
    or that inflates past `bound`, stays unread. Either way the caller closes
    the response next. A body that gives no decoded bytes from some raw ones (an
    unknown coding, a body that does not decode) is not read either.
    """
    stream = response.stream
    raw = stream.whole() if isinstance(stream, (PeekedStream, AsyncPeekedStream)) else None
    if raw is None:
        return False
    body = decoded(response.headers, raw, bound + 1)
    if len(body) > bound or (raw and not body):
        return False
    # What httpx's own read() leaves; `.content` reads `_content` (httpx 0.23 to 0.29, httpx2).
    response._content = body  # noqa: SLF001
    response.is_stream_consumed = True
    return True
