"""Text made safe to show a person: credentials hidden, control characters escaped, bounded.

The guarantee, for everything errorkit shows (``str(exc)``, ``repr(exc)``,
``repr(ErrorInfo)``, ``ErrorInfo.message``, ``code`` and ``type``, the lines of
the ``errorkit`` logger, ``errorkit explain``): the text is one line of
printable characters, so it can neither move the cursor, recolour a terminal,
reorder what follows (bidi controls) nor forge a log line; it holds no lone
surrogate, so ``text.encode("utf-8")`` never fails. Non-ASCII letters are kept:
on a stream whose encoding cannot hold them (ASCII, Latin-1 with
``errors="strict"``) Python's usual rules apply, and the ``errorkit`` command
writes them with ``errors="backslashreplace"``.

`escape_control` turns every character that is not printable into an escape a
person can read: ``\\n``, ``\\r``, ``\\t``, ``\\x1b`` (C0, DEL, C1),
``\\u202e`` (bidi and other format characters, line and paragraph separators,
lone surrogates, private use, unassigned), ``\\U000e0041``. Spaces are kept.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping

from errorkit._redact import redact_text

#: Longest text `safe_text` shows by default; the whole text stays where it came from.
MAX_SHOWN = 2000
#: Longest argument of a log line of the ``errorkit`` logger.
MAX_LOG_ARGUMENT = 2000

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Printable ASCII needs no look; every other character is looked at one by one.
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")


def escape_control(text: str, limit: int | None = None) -> str:
    """`text` with every non-printable character escaped (see the module docstring).

    With `limit`, at most `limit` characters of `text` are kept, then an ellipsis:
    the result is at most ``10 * limit + 1`` characters long. Never raises.
    """
    if limit is not None and len(text) > limit:
        text = text[: max(limit, 0)] + "\u2026"
    # A str subclass goes through sub(), which returns a plain str.
    if type(text) is str and text.isprintable():
        return text
    return _NOT_PRINTABLE_ASCII.sub(_escape, text)


def safe_text(value: object, limit: int = MAX_SHOWN) -> str:
    """`value` as text fit to show a person: credentials redacted, then escaped, bounded.

    `errorkit._redact.redact_text` looks at more of the text than is shown, so a
    secret that straddles the cut is hidden whole. Never raises.
    """
    return escape_control(redact_text(value), limit)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char.isprintable() or unicodedata.category(char) == "Zs":
        return char
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class SafeRecords(logging.Filter):
    """Makes every record of the ``errorkit`` logger safe before any handler sees it.

    Its arguments go through `safe_text` (numbers and None are kept, for ``%d``
    and ``%.2f``); its traceback is formatted here, and each line goes through
    `safe_text`: the formatted line holds no credential errorkit's rules see and
    no control character. ``record.exc_info`` itself is kept for handlers that
    read the exception object (they see the stack's own text).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Make `record` safe in place; True: the record is always kept."""
        record.args = _safe_args(record.args)
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = "\n".join(safe_text(line) for line in text.splitlines())
        return True


def _safe_args(args: object) -> tuple[object, ...] | Mapping[str, object]:
    if isinstance(args, Mapping):
        return {key: _safe_argument(value) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(_safe_argument(value) for value in args)
    return () if args is None else (_safe_argument(args),)


def _safe_argument(value: object) -> object:
    if value is None or isinstance(value, (int, float)):
        return value
    return safe_text(value, MAX_LOG_ARGUMENT)


#: Installed once, on the logger every errorkit module writes to.
SAFE_RECORDS = SafeRecords()
logging.getLogger("errorkit").addFilter(SAFE_RECORDS)
