"""Text made safe to show a person: control characters escaped, length bounded."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str, limit: int | None = None) -> str:
    """Escape control characters (ANSI escapes, CR, bidi overrides...) in `text`.

    Tabs and newlines are kept. With `limit`, the result is cut to about that many
    characters and ends with an ellipsis.
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + "\u2026"
    # Every character the pattern escapes is unprintable, so printable text has
    # nothing to escape. (A str subclass goes through sub(), which returns a str.)
    if type(text) is str and text.isprintable():
        return text
    return _CONTROL.sub(_escape, text)
