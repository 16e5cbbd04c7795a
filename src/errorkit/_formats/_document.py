"""Decode a response body once, bounded, into the `Document` every recognizer reads."""

from __future__ import annotations

import codecs
import json
from typing import TYPE_CHECKING

from errorkit._formats._base import NOT_JSON, Document

if TYPE_CHECKING:
    from collections.abc import Mapping

_UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "u8"})
# Checked longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def build_document(
    status: int, headers: Mapping[str, str], body: object, max_body: int
) -> Document:
    """Decode at most `max_body` bytes of `body` (bytes, str or None) once.

    The encoding is the byte-order mark's, else a valid Content-Type charset, else
    UTF-8; undecodable bytes are replaced. A str body is cut to `max_body`
    characters. JSON is tried only for text that starts with ``{`` or ``[`` after
    whitespace: a body cut at the bound, too deep or otherwise invalid stays text.
    A status that is not an int counts as 0 (unknown), headers that are not a dict
    as none, and a bound that is not a number as 0.
    """
    heads = headers if isinstance(headers, dict) else {}
    media_type, charset = _content_type(heads.get("content-type", ""))
    text = _decode(body, _bound(max_body), charset)
    return Document(
        status=_int(status), headers=heads, media_type=media_type, text=text, json=_json(text)
    )


def _int(status: object) -> int:
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


def _bound(max_body: int) -> int:
    try:
        return max(int(max_body), 0)
    except (TypeError, ValueError, OverflowError):  # not a number, NaN or infinite
        return 0


def _content_type(value: str) -> tuple[str, str | None]:
    """The media type, lower-cased and without parameters, and the codec of its charset."""
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
    except (LookupError, ValueError):  # unknown, or a name with a NUL character
        return None
    # bytes-to-bytes codecs (base64, zlib, rot13) are not text encodings
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _decode(body: object, max_body: int, charset: str | None) -> str:
    if isinstance(body, str):
        # a str body was decoded by the caller, who may have kept the mark
        return body[1 : max_body + 1] if body.startswith("\ufeff") else body[:max_body]
    if not isinstance(body, (bytes, bytearray, memoryview)):
        return ""
    data = bytes(body[:max_body])
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return _decode_with(data, encoding)
    return _decode_with(data, charset or "utf-8")


def _decode_with(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding, errors="replace")
    except UnicodeError:  # idna, punycode and "undefined" fail even with errors="replace"
        return data.decode(errors="replace")


def _json(text: str) -> object:
    """The JSON object or array `text` holds, else `NOT_JSON`; of JSON lines
    (NDJSON, a stream), the line that reports an error (`_error_line`)."""
    if text.lstrip()[:1] not in {"{", "["}:
        return NOT_JSON
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # ValueError covers ints over 4300 digits too
        return _error_line(text)


#: Lines of a JSON-lines body looked at, at most.
_MAX_LINES = 200


def _error_line(text: str) -> object:
    """The first line of a JSON-lines body that is an object with a non-empty
    ``error`` or ``errors``, or with ``ok``/``success`` false: a stream that failed
    midway (Ollama) or a batch with a failed item (Typesense's import). Else
    `NOT_JSON`: the body stays text."""
    lines = text.strip().splitlines()
    if len(lines) < 2:
        return NOT_JSON
    for line in lines[:_MAX_LINES]:
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            return NOT_JSON  # not JSON lines after all
        if isinstance(value, dict) and (
            value.get("error")
            or value.get("errors")
            or False in (value.get("ok"), value.get("success"))
        ):
            return value
    return NOT_JSON
