"""httpx bodies for `errorkit.httpx`: request replay, and bounded peeks at error bodies.

Request side: httpx turns bytes, text, JSON and forms into a `ByteStream`, which
can be sent any number of times; a `files=` upload becomes a `MultipartStream`,
which seeks each file back to 0 itself; any other iterable becomes an
`IteratorByteStream` (or its async twin), which is one-shot unless it wraps a
seekable file. `Replay` records where such a file starts and rewinds it before
each re-send.

Response side: an error body is peeked rather than read whole: up to
``bound + 1`` raw chunks are pulled from the inner transport's stream, and the
response keeps its status, headers and extensions but gets a `PeekedStream`
that yields those chunks again, then the rest of the original. When the peek
reached the end of the body, the original stream is closed at once, so its
connection goes back to the pool whatever the caller does next.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import httpx
from httpx._content import AsyncIteratorByteStream, IteratorByteStream
from httpx._multipart import MultipartStream

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

#: Slice size fed to the throwaway decoder: 1 KiB of gzip inflates to at most ~1 MiB.
_DECODE_SLICE = 1024


class Replay:
    """Whether a request body can be sent again, and how to rewind it before that."""

    __slots__ = ("_file", "_start", "replayable", "spent")

    def __init__(self, stream: object) -> None:
        self._file: Any = None
        self._start = 0
        self.replayable = True
        self.spent = False
        if isinstance(stream, (httpx.ByteStream, MultipartStream)):
            self.replayable = not isinstance(stream, MultipartStream) or _multipart_seeks(stream)
        elif isinstance(stream, (IteratorByteStream, AsyncIteratorByteStream)):
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


def _multipart_seeks(stream: MultipartStream) -> bool:
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


class PeekedStream(httpx.SyncByteStream):
    """A response body whose first chunks were pulled already: they come first again."""

    def __init__(
        self, head: list[bytes], rest: Iterator[bytes] | None, original: httpx.SyncByteStream
    ) -> None:
        self._head = head
        self._rest = rest
        self._original = original

    def __iter__(self) -> Iterator[bytes]:
        head, self._head = self._head, []
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


class AsyncPeekedStream(httpx.AsyncByteStream):
    """The async twin of `PeekedStream`."""

    def __init__(
        self,
        head: list[bytes],
        rest: AsyncIterator[bytes] | None,
        original: httpx.AsyncByteStream,
    ) -> None:
        self._head = head
        self._rest = rest
        self._original = original

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head, self._head = self._head, []
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


def peek(response: httpx.Response, bound: int) -> bytes:
    """Pull up to ``bound + 1`` raw bytes of `response`'s body; it stays whole for the caller.

    Returns the raw bytes pulled. On any failure (a read error, an interrupt) the
    body is closed and the exception propagates.
    """
    original = response.stream
    assert isinstance(original, httpx.SyncByteStream)  # noqa: S101 - a sync transport's
    head: list[bytes] = []
    size = 0
    chunks = iter(original)
    try:
        while size <= bound:
            chunk = next(chunks, None)
            if chunk is None:
                original.close()  # at EOF: the connection goes back to the pool now
                response.stream = PeekedStream(head, None, original)
                return b"".join(head)
            head.append(chunk)
            size += len(chunk)
    except BaseException:
        PeekedStream([], chunks, original).close()
        raise
    response.stream = PeekedStream(head, chunks, original)
    return b"".join(head)


async def apeek(response: httpx.Response, bound: int) -> bytes:
    """The async twin of `peek`."""
    original = response.stream
    assert isinstance(original, httpx.AsyncByteStream)  # noqa: S101 - an async transport's
    head: list[bytes] = []
    size = 0
    chunks = aiter(original)
    try:
        while size <= bound:
            chunk = await anext(chunks, None)
            if chunk is None:
                await original.aclose()
                response.stream = AsyncPeekedStream(head, None, original)
                return b"".join(head)
            head.append(chunk)
            size += len(chunk)
    except BaseException:
        await AsyncPeekedStream([], chunks, original).aclose()
        raise
    response.stream = AsyncPeekedStream(head, chunks, original)
    return b"".join(head)


def decoded(headers: httpx.Headers, raw: bytes, bound: int) -> bytes:
    """At most `bound` bytes of `raw` decoded by its Content-Encoding, on a throwaway copy.

    The caller's response keeps the raw bytes and decodes them itself, exactly
    once. Decoding goes slice by slice, so a compressed body cannot inflate past
    the bound by much; an undecodable body gives what was decoded before the error.
    """
    if "content-encoding" not in headers:
        return raw[:bound]
    slices = [raw[i : i + _DECODE_SLICE] for i in range(0, len(raw), _DECODE_SLICE)]
    probe = httpx.Response(200, headers=headers, stream=_Slices(slices))
    out = bytearray()
    try:
        for piece in probe.iter_bytes():
            out += piece
            if len(out) > bound:
                break
    except httpx.DecodingError:
        pass
    finally:
        probe.close()
    return bytes(out[:bound])


class _Slices(httpx.SyncByteStream):
    def __init__(self, slices: list[bytes]) -> None:
        self._slices = slices

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._slices)
