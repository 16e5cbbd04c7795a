"""Header access that tolerates whatever a caller or a stack hands us.

Accepted: any mapping (``dict``, requests' ``CaseInsensitiveDict``, urllib3's
``HTTPHeaderDict``), any multi-dict (httpx ``Headers.multi_items()``, aiohttp's
``CIMultiDictProxy``, ``http.client.HTTPMessage``), an iterable of
``(name, value)`` pairs or of ``"Name: value"`` lines, and a raw header block as
str or bytes. Names and values may be str or bytes (latin-1, as on the wire);
numbers are accepted as values, and a list of values under one name counts as
repeated fields. Anything else is skipped one pair at a time: a bad pair never
costs the good ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

#: Longest header value looked at; longer values are cut, never parsed whole.
MAX_HEADER_VALUE = 8192
#: Most header fields looked at; a flood of fields is cut, never walked whole.
MAX_HEADER_FIELDS = 512
#: Longest raw header block (str or bytes) looked at.
MAX_HEADER_BLOCK = 64 * 1024

Headers = dict[str, str]
"""Lower-cased field name -> value (repeated fields joined with ", ")."""


def normalize_headers(headers: object) -> Headers:
    """Return lower-cased headers from a mapping, a multi-dict or a list of pairs.

    Repeated fields are joined with ", " (RFC 9110 5.3) and every value is cut at
    `MAX_HEADER_VALUE` characters; at most `MAX_HEADER_FIELDS` items are read.
    Items that are not (name, value) pairs of str, bytes or numbers are skipped,
    each on its own. Only a headers object that raises while it is read makes this
    raise (`parse()` still answers).
    """
    out: Headers = {}
    for item in islice(_items(headers), MAX_HEADER_FIELDS):
        _add(out, item)
    return out


def _items(headers: object) -> Iterable[object]:
    if isinstance(headers, (str, bytes, bytearray)):
        return _decoded(headers[:MAX_HEADER_BLOCK]).splitlines()
    # httpx.Headers: multi_items() keeps repeated fields apart; items() of every
    # other multi-dict (aiohttp, urllib3, HTTPMessage) already yields each one.
    multi = getattr(headers, "multi_items", None)
    if callable(multi):
        return _iterable(multi())
    items = getattr(headers, "items", None)
    if callable(items):
        return _iterable(items())
    return _iterable(headers)


def _iterable(raw: object) -> Iterable[object]:
    if isinstance(raw, Iterable) and not isinstance(raw, (str, bytes, bytearray)):
        return raw
    return ()


def _add(out: Headers, item: object) -> None:
    name, value = _pair(item)
    key = (_text(name) or "").strip().lower()
    if not key:
        return
    for one in value if isinstance(value, (list, tuple)) else (value,):
        text = _text(one)
        if text is not None:
            _store(out, key, text[:MAX_HEADER_VALUE].strip())


def _store(out: Headers, key: str, value: str) -> None:
    old = out.get(key)
    out[key] = value if old is None else f"{old}, {value}"[:MAX_HEADER_VALUE]


def _pair(item: object) -> tuple[object, object]:
    """(name, value) of a pair or a ``Name: value`` line; (None, None) for anything else."""
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[0], item[1]
    if isinstance(item, (str, bytes, bytearray)):
        name, sep, value = _decoded(item).partition(":")
        if sep:
            return name, value
    return None, None


def _text(value: object) -> str | None:
    """A header name or value as text: str as it is, bytes as latin-1, numbers written out."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return _decoded(value)
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _decoded(value: str | bytes | bytearray) -> str:
    # latin-1, as on the wire: every byte is one character
    return value if isinstance(value, str) else bytes(value).decode("latin-1")
