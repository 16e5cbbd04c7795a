"""Total helpers shared by the recognizers: each accepts any JSON value and never raises.

A body is untrusted: every field may be missing, null, of the wrong type, huge or
nested without end. These helpers are the only place that checks types, so a
recognizer reads as a description of its shape.
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
    """Declare a function as the recognizer `name`, tried when one of `keys` is present."""

    def declare(function: Callable[[Document], Extracted | None]) -> Recognizer:
        vars(function).update(name=name, keys=None if keys is None else frozenset(keys))
        return cast("Recognizer", function)

    return declare


def text(value: object) -> str | None:
    """`value` stripped when it is a non-blank string, else None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def code(value: object) -> str | None:
    """A machine-readable code from a string or an integer (``429``, ``50035``)."""
    if type(value) is str:  # the usual case, without text()'s call
        return value.strip() or None
    if isinstance(value, str):
        return text(value)
    if isinstance(value, int) and not isinstance(value, bool) and -(10**18) < value < 10**18:
        return str(value)
    return None


def http_status(value: object) -> int | None:
    """An HTTP status from an int or a numeric string, when it is in 100..599."""
    if isinstance(value, str) and len(value) == 3 and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def is_token(value: str) -> bool:
    """True for a lowercase machine token such as ``invalid_grant`` or ``ratelimited``."""
    if not 0 < len(value) <= 64 or not value.isascii() or not value[0].isalpha():
        return False
    return value.islower() and value.replace("_", "").replace("-", "").replace(".", "").isalnum()


def duration(value: object) -> float | None:
    """Seconds from 60, 1.5, "60", "1.5s", "6m0s", "250ms" or {"seconds", "nanos"}.

    Negative, NaN, infinite and absurd (over a year) values give None.
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
    if isinstance(value, str) and value.isdigit() and len(value) <= 10:
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
        found = text(obj.get(key))
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
    # Most bodies carry no hint at all: one C-level set test each says so.
    if isinstance(inner, dict) and not _HINT_KEYS.isdisjoint(inner):
        found = _scan(inner, inner_path, found)
    if isinstance(top, dict) and not _HINT_KEYS.isdisjoint(top):
        found = _scan(top, "", found)
    return found


def _scan(obj: dict[str, object], path: str, found: Hints) -> Hints:
    retry_after, source, request_id, retryable = found
    present = _HINT_KEYS.intersection(obj)
    for key in sorted(present, key=_RANK.__getitem__) if len(present) > 1 else present:
        value = obj[key]
        if key in _RETRY_SCALE:
            seconds = duration(value) if retry_after is None else None
            if seconds is not None:
                retry_after, source = seconds * _RETRY_SCALE[key], f"body:{path}{key}"
        elif key in _RETRYABLE_KEYS:
            if retryable is None and isinstance(value, bool):
                retryable = value
        elif request_id is None:
            request_id = text(value)
    # tuple.__new__ skips the named tuple's Python-level __new__: half the cost.
    return tuple.__new__(Hints, (retry_after, source, request_id, retryable))


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
