"""Decode a compressed error body without letting it inflate: `bounded_decode`.

errorkit reads at most `max_body` bytes of an error body to classify it. When
the body is compressed, what those bytes inflate to is up to the server: 1.6 KB
of brotli can be 1 GiB. A stack's own decoder inflates a whole chunk at a time,
so errorkit decodes a throwaway copy of the raw bytes it peeked with decoders
that stop at a limit: zlib's ``max_length``, brotli's ``output_buffer_limit``
(``brotli`` >= 1.2), zstd's ``max_length`` (``compression.zstd`` on Python
3.14, ``backports.zstd``) or a bounded stream read (``zstandard``). The
caller's response keeps its raw bytes and is decoded, if at all, by the stack.

A coding errorkit cannot decode within a bound (an unknown one, brotli or zstd
without a bounded decoder installed) gives no bytes: the response is then
classified by its status and headers alone.
"""

from __future__ import annotations

import importlib
import io
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["bounded_decode"]


def bounded_decode(content_encoding: str | None, raw: bytes, limit: int) -> bytes:
    """At most `limit` bytes of `raw` decoded by its ``Content-Encoding`` value.

    Codings listed as ``"gzip, br"`` were applied in that order, so they are
    undone from the last. No step holds much more than `limit` decoded bytes,
    whatever the compression ratio. Never raises on data: a body that stops
    decoding gives what was decoded before the error, an unknown coding gives
    b"". Without a Content-Encoding (or ``identity``) the first `limit` bytes.
    """
    if limit <= 0:
        return b""
    data = raw
    for coding in reversed(_codings(content_encoding)):
        decode = _DECODERS.get(coding)
        if decode is None:
            return b""
        data = decode(data, limit)
    return data[:limit]


def _codings(header: str | None) -> list[str]:
    if not header:
        return []
    names = (name.strip().lower() for name in header.split(","))
    return [name for name in names if name and name != "identity"]


def _zlib(wbits: int) -> Callable[[bytes, int], bytes]:
    def decode(data: bytes, limit: int) -> bytes:
        return _inflate(zlib.decompressobj(wbits), data, limit)

    return decode


def _inflate(decoder: Any, data: bytes, limit: int) -> bytes:
    """Feed `data` to a zlib-style decoder (``decompress(data, max_length)``) up to `limit`."""
    out = bytearray()
    pending = data
    try:
        while len(out) < limit:
            piece = decoder.decompress(pending, limit - len(out))
            out += piece
            pending = getattr(decoder, "unconsumed_tail", b"")
            if not piece and not pending:
                break  # input used up (or the stream ended)
            if getattr(decoder, "eof", False):
                break
    except (zlib.error, EOFError, ValueError, _ZSTD_ERROR):
        pass
    return bytes(out)


def _deflate(data: bytes, limit: int) -> bytes:
    """``deflate`` as servers send it: zlib-wrapped, or (wrongly, but often) raw."""
    try:
        zlib.decompressobj().decompress(data[:2])
    except zlib.error:
        return _inflate(zlib.decompressobj(-zlib.MAX_WBITS), data, limit)
    return _inflate(zlib.decompressobj(), data, limit)


def _brotli(data: bytes, limit: int) -> bytes:
    if _Brotli is None:
        return b""
    decoder = _Brotli()
    out = bytearray()
    try:
        piece = decoder.process(data, output_buffer_limit=limit)
        out += piece
        # More output is pending while it cannot accept data; each call is bounded.
        while len(out) < limit and not decoder.can_accept_more_data():
            piece = decoder.process(b"", output_buffer_limit=limit - len(out))
            if not piece:
                break
            out += piece
    except TypeError:  # brotli < 1.2: no output_buffer_limit, no bounded decode
        return b""
    except Exception:  # noqa: BLE001 - brotli.error, or anything its binding raises
        return bytes(out[:limit])  # what was decoded before the error
    return bytes(out[:limit])


def _zstd(data: bytes, limit: int) -> bytes:
    if _ZstdDecompressor is not None:
        return _inflate(_ZstdDecompressor(), data, limit)
    if _zstandard is not None:
        try:
            reader = _zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
            return bytes(reader.read(limit))
        except _zstandard.ZstdError:
            return b""
    return b""


# Optional decoders: the ones a stack may use for brotli and zstd.
def _optional(*names: str) -> Any:
    """The first of the modules `names` that imports, or None."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:  # noqa: PERF203 - at import time, at most three names
            continue
    return None


_brotli_module = _optional("brotli")
_Brotli: Any = getattr(_brotli_module, "Decompressor", None)
_zstd_module = _optional("compression.zstd", "backports.zstd")
_ZstdDecompressor: Any = getattr(_zstd_module, "ZstdDecompressor", None)
_ZSTD_ERROR: type[Exception] = getattr(_zstd_module, "ZstdError", zlib.error)
_zstandard: Any = _optional("zstandard")


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _zlib(16 + zlib.MAX_WBITS),
    "x-gzip": _zlib(16 + zlib.MAX_WBITS),
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
