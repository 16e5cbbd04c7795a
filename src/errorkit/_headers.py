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

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

#: Longest header value looked at; longer values are cut, never parsed whole.
MAX_HEADER_VALUE = 8192
#: Most header fields looked at; a flood of fields is cut, never walked whole.
MAX_HEADER_FIELDS = 512
#: Longest raw header block (str or bytes) looked at.
MAX_HEADER_BLOCK = 64 * 1024

Headers = dict[str, str]
"""Lower-cased field name -> value (repeated fields joined with ", ")."""

_SCALARS = (str, bytes, bytearray, int, float)


def normalize_headers(headers: object) -> Headers:
    """Return lower-cased headers from a mapping, a multi-dict or a list of pairs.

    Repeated fields are joined with ", " (RFC 9110 5.3) and every value is cut at
    `MAX_HEADER_VALUE` characters; at most `MAX_HEADER_FIELDS` items are read.
    Never raises: items that are not (name, value) pairs of str/bytes are skipped.
    """
    out: Headers = {}
    try:
        items = headers.items() if type(headers) is dict else _raw_items(headers)
        for item in islice(items, MAX_HEADER_FIELDS):
            # Nearly every item is a (str, str) pair: handled inline, as `_add`
            # would, without its per-item calls (a third of parse()'s header cost).
            if type(item) is tuple and len(item) == 2:
                name, value = item
                if type(name) is str and type(value) is str and len(value) <= MAX_HEADER_VALUE:
                    key = name.strip().lower()
                    if key and key not in out:
                        out[key] = value.strip()
                        continue
            _add(out, item)
    except Exception:  # noqa: BLE001 - a hostile headers object must not make parse() raise
        return out
    return out


def _raw_items(headers: object) -> Iterable[object]:
    # The common cases first, without attribute probing or a generator.
    if headers is None:
        return ()
    if type(headers) is dict:
        return headers.items()
    if type(headers) is list:
        return headers
    return _other_items(headers)


def _other_items(headers: object) -> Iterable[object]:
    if isinstance(headers, (str, bytes, bytearray)):
        return _text(headers[:MAX_HEADER_BLOCK]).splitlines()
    # httpx.Headers: multi_items() keeps repeated fields apart; items() of every
    # other multi-dict (aiohttp, urllib3, HTTPMessage) already yields each one.
    multi = getattr(headers, "multi_items", None)
    if callable(multi):
        return _iterate(multi())
    items = getattr(headers, "items", None)
    if isinstance(headers, Mapping) or callable(items):
        return _iterate(items()) if callable(items) else ()
    return _iterate(headers)


def _iterate(raw: object) -> Iterable[object]:
    if isinstance(raw, Iterable) and not isinstance(raw, (str, bytes, bytearray)):
        return raw
    return ()


def _add(out: Headers, item: object) -> None:
    try:
        pair = _pair(item)
        if pair is None:
            return
        name, value = pair
        key = _text(name).strip().lower()
        if not key or not isinstance(value, (*_SCALARS, list, tuple)):
            return
        values = value if isinstance(value, (list, tuple)) else (value,)
        for one in values:
            _store(out, key, _text(one)[:MAX_HEADER_VALUE].strip())
    except Exception:  # noqa: BLE001, S110 - one bad pair is skipped, not the whole set
        pass


def _store(out: Headers, key: str, value: str) -> None:
    old = out.get(key)
    out[key] = value if old is None else f"{old}, {value}"[:MAX_HEADER_VALUE]


def _pair(item: object) -> tuple[Any, Any] | None:
    if isinstance(item, (tuple, list)):
        return (item[0], item[1]) if len(item) == 2 else None
    if isinstance(item, (str, bytes, bytearray)):
        name, sep, value = _text(item).partition(":")
        return (name, value) if sep and name.strip() else None
    return None


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, (int, float)):
        return str(value)
    raise TypeError("not a header name or value")
