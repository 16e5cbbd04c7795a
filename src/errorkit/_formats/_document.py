"""Decode a response body once, bounded, into the `Document` every recognizer reads."""

from __future__ import annotations

import codecs
import json
from typing import TYPE_CHECKING

from errorkit._formats._base import NOT_JSON, Document, document
from errorkit._memo import remember

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from errorkit._headers import Headers

#: Parsed Content-Type values kept; a server sends few distinct ones.
_CACHE_SIZE = 256
_UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "u8"})
# Checked longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BOM_STARTS = frozenset(mark[:1] for mark, _ in _BOMS)
_content_types: dict[str, tuple[str, str | None]] = {}
# What json.loads() runs underneath: a default decoder's scanner (typeshed omits
# the attribute), and the only whitespace JSON allows around a value (RFC 8259).
_scan: Callable[[str, int], tuple[object, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\n\r"


def build_document(
    status: int, headers: Mapping[str, str], body: object, max_body: int
) -> Document:
    """Decode at most `max_body` bytes of `body` (bytes, str or None) once. Never raises.

    The encoding is the byte-order mark's, else a valid Content-Type charset, else
    UTF-8; undecodable bytes are replaced. A str body is cut to `max_body`
    characters. JSON is tried only for text that starts with ``{`` or ``[``: a body
    cut at the bound, too deep or otherwise invalid stays text.
    """
    try:
        heads: Headers = headers if isinstance(headers, dict) else {}
        raw = heads.get("content-type")
        media_type, charset = ("", None) if raw is None else _content_type(raw)
        code = status if type(status) is int else _int(status)
        limit = max_body if type(max_body) is int else int(max_body)
        if type(body) is bytes and body[:1] == b"{" and charset is None and len(body) <= limit:
            # The usual error body: a whole JSON object in UTF-8, no mark, no charset.
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text = body.decode(errors="replace")
            value = _object(text)
        else:
            text = _decode(body, max(limit, 0), charset)
            value = _json(text)
        return document(status=code, headers=heads, media_type=media_type, text=text, json=value)
    except Exception:  # noqa: BLE001 - the contract: building a document never raises
        return Document(status=_int(status), headers={}, media_type="", text="")


def _int(status: object) -> int:
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


def _content_type(value: str) -> tuple[str, str | None]:
    cached = _content_types.get(value)
    if cached is None:
        cached = remember(_content_types, value, _parse_content_type(value), _CACHE_SIZE)
    return cached


def _parse_content_type(value: str) -> tuple[str, str | None]:
    media_type, _, params = value[:1024].partition(";")
    charset = None
    for param in params.split(";"):
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset":
            charset = _codec(raw.strip().strip("\"'").lower())
            break
    return media_type.strip().lower(), charset


def _codec(name: str) -> str | None:
    if not name or name in _UTF8_NAMES:
        return None
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # bytes-to-bytes codecs (base64, zlib, rot13) are not text encodings
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _decode(body: object, max_body: int, charset: str | None) -> str:
    if isinstance(body, str):
        # a str body was decoded by the caller, who may have kept the mark
        return body[1 : max_body + 1] if body.startswith("\ufeff") else body[:max_body]
    if isinstance(body, (bytearray, memoryview)):
        body = bytes(body[:max_body])
    if not isinstance(body, bytes):
        return ""
    data = body[:max_body]
    if data[:1] in _BOM_STARTS:
        for mark, encoding in _BOMS:
            if data.startswith(mark):
                return _decode_with(data, encoding)
    if charset is not None:
        return _decode_with(data, charset)
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data.decode(errors="replace")


def _decode_with(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding, errors="replace")
    except Exception:  # noqa: BLE001 - an exotic codec may fail in its own way
        return data.decode(errors="replace")


def _json(text: str) -> object:
    head = text[:1]
    if head not in {"{", "["} and not (head.isspace() and text.lstrip().startswith(("{", "["))):
        return NOT_JSON
    return _object(text)


def _object(text: str) -> object:
    """``json.loads(text)`` for a str, or `NOT_JSON`, without json's layers of wrappers.

    Those wrappers cost about twice the C scan of a typical error body. Same
    decoder, same whitespace rule (RFC 8259), same failures: invalid or trailing
    data, or no value where one must start.
    """
    try:
        value, end = _scan(text, len(text) - len(text.lstrip(_JSON_SPACE)))
    except (ValueError, RecursionError, StopIteration):
        # ValueError also covers ints over the 4300-digit limit (Python 3.11+)
        return NOT_JSON
    return value if end == len(text) or not text[end:].strip(_JSON_SPACE) else NOT_JSON
