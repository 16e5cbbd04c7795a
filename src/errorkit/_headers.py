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
#: Most distinct fields stored besides `READ_FIELDS`; a flood of fields is not kept whole.
MAX_HEADER_FIELDS = 512
#: Most items walked: more than any stack hands over (http.client stops at 100
#: fields, aiohttp at 32768, httpcore at a 100 KiB head), so a field errorkit reads is
#: found wherever a real response puts it, while an endless iterable still ends.
MAX_HEADER_ITEMS = 65536
#: Longest raw header block (str or bytes) looked at.
MAX_HEADER_BLOCK = 64 * 1024

#: The fields errorkit itself reads: stored wherever they come, even after a flood of
#: `MAX_HEADER_FIELDS` others (tests check this covers every hint `errorkit._hints` reads).
READ_FIELDS = frozenset(
    {
        # the body's media type and the shapes that read a header
        *("content-type", "www-authenticate", "x-amzn-errortype"),
        # retry hints and their reference time
        *("retry-after", "retry-after-ms", "x-ms-retry-after-ms", "x-amz-retry-after", "date"),
        *("x-should-retry", "stripe-should-retry"),
        *("ratelimit", "ratelimit-reset", "ratelimit-remaining", "ratelimit-policy"),
        *("x-ratelimit-reset", "x-ratelimit-remaining", "x-ratelimit-reset-after"),
        *("x-rate-limit-reset", "x-rate-limit-remaining"),
        *("x-ratelimit-reset-requests", "x-ratelimit-remaining-requests"),
        *("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens"),
        *(
            f"anthropic-ratelimit-{kind}-{part}"
            for kind in ("requests", "tokens", "input-tokens", "output-tokens")
            for part in ("reset", "remaining")
        ),
        # request ids
        *("x-request-id", "request-id", "x-amzn-requestid", "x-amz-request-id"),
        *("x-ms-request-id", "x-github-request-id", "x-slack-req-id", "x-goog-request-id"),
        *("apigw-requestid", "x-correlation-id"),
        *("cf-ray", "x-amz-cf-id"),
    }
)

Headers = dict[str, str]
"""Lower-cased field name -> value (repeated fields joined with ", ")."""


def normalize_headers(headers: object) -> Headers:
    """Return lower-cased headers from a mapping, a multi-dict or a list of pairs.

    Repeated fields are joined with ", " (RFC 9110 5.3) and every value is cut at
    `MAX_HEADER_VALUE` characters. At most `MAX_HEADER_ITEMS` items are walked;
    every field in `READ_FIELDS` among them is kept, and at most
    `MAX_HEADER_FIELDS` others, the first ones. Items that are not (name, value)
    pairs of str, bytes or numbers are skipped, each on its own. Only a headers
    object that raises while it is read makes this raise (`parse()` still answers).
    """
    out: Headers = {}
    for item in islice(_items(headers), MAX_HEADER_ITEMS):
        name, value = _pair(item)
        key = _key(name)
        if key in out or (key and (len(out) < MAX_HEADER_FIELDS or key in READ_FIELDS)):
            _store(out, key, value)
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


def _pair(item: object) -> tuple[object, object]:
    """(name, value) of a pair or a ``Name: value`` line; (None, None) for anything else."""
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[0], item[1]
    if isinstance(item, (str, bytes, bytearray)):
        name, sep, value = _decoded(item).partition(":")
        if sep:
            return name, value
    return None, None


def _key(name: object) -> str:
    """A field name, lower-cased and trimmed; "" for a name that is none."""
    text = name if isinstance(name, str) else _text(name)
    return text.strip().lower() if text else ""


def _store(out: Headers, key: str, value: object) -> None:
    """Add `value` (one value, or a list or tuple of repeated ones) to the field `key`."""
    if isinstance(value, str) and key not in out:  # the common case, first and cheapest
        out[key] = value[:MAX_HEADER_VALUE].strip()
        return
    for one in value if isinstance(value, (list, tuple)) else (value,):
        text = _text(one)
        old = out.get(key)
        if text is None or (old is not None and len(old) >= MAX_HEADER_VALUE):
            continue  # not text, or the field is full: it takes no more repeats
        text = text[:MAX_HEADER_VALUE].strip()
        out[key] = text if old is None else f"{old}, {text}"[:MAX_HEADER_VALUE]


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
