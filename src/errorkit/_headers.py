"""Header access that tolerates whatever a caller or a stack hands us."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Longest header value looked at; longer values are cut, never parsed whole.
MAX_HEADER_VALUE = 8192
#: Most header fields looked at; a flood of fields is cut, never walked whole.
MAX_HEADER_FIELDS = 512

Headers = dict[str, str]
"""Lower-cased field name -> value (repeated fields joined with ", ")."""


def normalize_headers(headers: object) -> Headers:
    """Return lower-cased headers from a mapping, a multi-dict or a list of pairs.

    Never raises: items that are not (name, value) pairs of str/bytes are skipped.
    """
    if not headers:
        return {}
    out: Headers = {}
    try:
        for count, (name, value) in enumerate(_pairs(headers)):
            if count >= MAX_HEADER_FIELDS:
                break
            key = _text(name).strip().lower()
            val = _text(value)[:MAX_HEADER_VALUE].strip()
            if not key:
                continue
            out[key] = f"{out[key]}, {val}" if key in out else val
    except Exception:  # noqa: BLE001 - a hostile headers object must not make parse() raise
        return out
    return out


def _pairs(headers: object) -> Iterable[tuple[Any, Any]]:
    items = getattr(headers, "multi_items", None) or getattr(headers, "items", None)
    if isinstance(headers, Mapping) or callable(items):
        raw: Iterable[Any] = items() if callable(items) else ()
    elif isinstance(headers, Iterable) and not isinstance(headers, (str, bytes)):
        raw = headers
    else:
        return
    for item in raw:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            yield item[0], item[1]


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, (int, float)):
        return str(value)
    raise TypeError("not a header value")
