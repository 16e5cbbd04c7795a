"""Total helpers shared by the recognizers: each accepts any JSON value and never raises.

A body is untrusted: every field may be missing, null, of the wrong type, huge or
nested without end. These helpers are the only place that checks types, so a
recognizer reads as a description of its shape.

Public (exported by `errorkit` for users' recognizers): `shape`, `as_text`,
`as_code`, `as_status`, `as_seconds` and `envelope`. Their contracts are part of
the API; the other helpers here may change.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, NamedTuple, cast

from errorkit._hints import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from errorkit._formats._base import Document, Extracted, Recognizer

#: Most list items, details or field violations looked at in one body.
MAX_ITEMS = 100

_RETRY_KEYS = (
    ("retryAfter", 1.0),
    ("retry_after", 1.0),
    ("retry_after_seconds", 1.0),
    ("retryAfterSeconds", 1.0),
    ("retry_after_ms", 0.001),
    ("retryAfterMs", 0.001),
)
_REQUEST_ID_KEYS = ("request_id", "requestId", "RequestId", "requestID", "request-id")
_RETRYABLE_KEYS = ("retryable", "retriable", "isRetryable", "is_retryable")
_RETRY_SCALE = dict(_RETRY_KEYS)
# The order in which keys are read when a body carries several of one kind.
_RANK = {
    key: rank
    for rank, key in enumerate(
        [key for key, _ in _RETRY_KEYS] + [*_REQUEST_ID_KEYS, *_RETRYABLE_KEYS]
    )
}
_HINT_KEYS = frozenset(_RANK)


def shape(
    name: str, keys: Iterable[str] | None = None
) -> Callable[[Callable[[Document], Extracted | None]], Recognizer]:
    """Declare a function as the recognizer called `name`; returns the function itself.

    `keys` are top-level JSON object keys: the recognizer is tried only for a JSON
    object carrying at least one of them (a JSON array of objects is read as its
    first object). Without `keys` it is tried for every body. Register the result
    with `errorkit.register_format`, which validates the name and the keys.

    Raises:
        TypeError: `keys` is a single string rather than a collection of them.
    """
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys is a collection of key names, not one string")

    def declare(function: Callable[[Document], Extracted | None]) -> Recognizer:
        vars(function).update(name=name, keys=None if keys is None else frozenset(keys))
        return cast("Recognizer", function)

    return declare


def as_text(value: object) -> str | None:
    """`value` stripped when it is a string with a non-blank character, else None.

    Accepts any value (None, numbers, lists...), never raises: the way to read a
    message field whose type the body does not guarantee.
    """
    if isinstance(value, str):
        return value.strip() or None
    return None


def as_code(value: object) -> str | None:
    """A machine-readable code: a non-blank string stripped, or an integer as text.

    ``"rate_limit"`` -> ``"rate_limit"``, ``50035`` -> ``"50035"``; booleans,
    integers of 19 digits or more and every other value give None. Never raises.
    """
    if isinstance(value, str):
        return as_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and -(10**18) < value < 10**18:
        return str(value)
    return None


def as_status(value: object) -> int | None:
    """An HTTP status in 100..599 from an int or a three-digit string, else None.

    ``429`` and ``"429"`` give 429; booleans, floats, ``"4xx"`` and out-of-range
    numbers give None. Never raises.
    """
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def envelope(obj: object, key: str = "error") -> dict[str, object] | None:
    """The JSON object under `key` of the JSON object `obj`, else None.

    ``envelope({"error": {"message": "m"}})`` is ``{"message": "m"}``; a missing
    key, a value that is not an object, or an `obj` that is not one give None.
    Never raises.
    """
    inner = obj.get(key) if isinstance(obj, dict) else None
    return inner if isinstance(inner, dict) else None


def is_token(value: str) -> bool:
    """True for a lowercase machine token such as ``invalid_grant`` or ``ratelimited``."""
    if not 0 < len(value) <= 64 or not value.isascii() or not value[0].isalpha():
        return False
    return value.islower() and value.replace("_", "").replace("-", "").replace(".", "").isalnum()


def as_seconds(value: object) -> float | None:
    """Seconds as a float from 60, 1.5, "60", "1.5s", "6m0s", "250ms" or {"seconds", "nanos"}.

    Numbers, numeric strings, Go/Protobuf durations and a protobuf Duration
    object are read; negative, NaN, infinite and absurd (over a year) values,
    booleans and every other value give None. Never raises.
    """
    if isinstance(value, dict):
        # protobuf Duration as an object, as some gateways render it
        whole = parse_duration(value.get("seconds"))
        nanos = _nanos(value.get("nanos"))
        if whole is None and nanos is None:
            return None
        return parse_duration((whole or 0.0) + (nanos or 0.0))
    return parse_duration(value)


def _nanos(value: object) -> float | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_duration(value / 1e9)
    return None


def items(value: object, start: int = 0) -> tuple[object, ...]:
    """At most `MAX_ITEMS` items of a list from `start`, else ()."""
    if isinstance(value, list):
        return tuple(islice(value, start, start + MAX_ITEMS))
    return ()


def first(value: object) -> object:
    """The first item of a non-empty list, else None."""
    if isinstance(value, list) and value:
        return value[0]
    return None


def first_text(obj: dict[str, object], keys: Iterable[str]) -> str | None:
    """The first of `keys` whose value in `obj` is a non-blank string."""
    for key in keys:
        found = as_text(obj.get(key))
        if found is not None:
            return found
    return None


class Hints(NamedTuple):
    """Retry and request-id statements found in a body."""

    retry_after: float | None = None
    source: str | None = None
    request_id: str | None = None
    retryable: bool | None = None


NO_HINTS = Hints()


def hints(top: object, inner: object = None, inner_path: str = "error.") -> Hints:
    """Body hints from the inner error object first, then the top-level object."""
    found = NO_HINTS
    if isinstance(inner, dict):
        found = _scan(inner, inner_path, found)
    if isinstance(top, dict):
        found = _scan(top, "", found)
    return found


def _scan(obj: dict[str, object], path: str, found: Hints) -> Hints:
    for key in sorted(_HINT_KEYS.intersection(obj), key=_RANK.__getitem__):
        found = _read_hint(found, key, obj[key], path)
    return found


def _read_hint(found: Hints, key: str, value: object, path: str) -> Hints:
    """`found` with the hint `key` holds, unless a hint of its kind came first."""
    if key in _RETRY_SCALE:
        seconds = as_seconds(value) if found.retry_after is None else None
        if seconds is not None:
            return found._replace(
                retry_after=seconds * _RETRY_SCALE[key], source=f"body:{path}{key}"
            )
    elif key in _RETRYABLE_KEYS:
        if found.retryable is None and isinstance(value, bool):
            return found._replace(retryable=value)
    elif found.request_id is None:
        return found._replace(request_id=as_text(value))
    return found


def field_errors(obj: object) -> list[dict[str, str]] | None:
    """``{"name": ["msg", ...], "address": {"city": [...]}}`` as field violations.

    None unless every value is a list of strings (or, one level down, a dict of
    them), which is how DRF, Rails and ASP.NET report field errors.
    """
    if not isinstance(obj, dict) or not obj:
        return None
    out: list[dict[str, str]] = []
    for name, value in obj.items():
        if isinstance(value, dict) and value:
            for child, messages in value.items():
                if not _collect(f"{name}.{child}", messages, out):
                    return None
        elif not _collect(str(name), value, out):
            return None
    return out


def _collect(name: str, messages: object, out: list[dict[str, str]]) -> bool:
    if not isinstance(messages, list) or not messages:
        return False
    for message in messages:
        if not isinstance(message, str):
            return False
        if len(out) < MAX_ITEMS and message.strip():
            out.append({"field": name, "message": message.strip()})
    return True


def field_message(violation: dict[str, str]) -> str:
    """``name: message``, or the bare message for errors not tied to one field."""
    name, message = violation["field"], violation["message"]
    if name in {"non_field_errors", "__all__", ""}:
        return message
    return f"{name}: {message}"
