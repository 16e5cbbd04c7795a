"""Error-body shapes: one module per family, tried in an ordered registry.

(Stub: the contract below is fixed; the implementation is being written.)
"""

from __future__ import annotations

from errorkit._formats._base import NOT_JSON, Document, Extracted, Recognizer
from errorkit._headers import Headers

#: Default bound on the bytes of a body that are read and parsed.
MAX_BODY = 64 * 1024


def build_document(status: int, headers: Headers, body: object, max_body: int) -> Document:
    """Decode at most `max_body` bytes of `body` (bytes, str or None) once. Never raises."""
    raise NotImplementedError


def recognize(doc: Document) -> Extracted:
    """The first registered recognizer's answer; text/html/empty fallbacks last."""
    raise NotImplementedError


def register_format(
    recognizer: Recognizer, *, before: str | None = None, after: str | None = None
) -> Recognizer:
    """Add `recognizer` (default: ahead of every built-in one). Returns it."""
    raise NotImplementedError


def unregister_format(name: str) -> None:
    """Remove the recognizer called `name` (KeyError if there is none)."""
    raise NotImplementedError


def format_names() -> tuple[str, ...]:
    """The registered recognizers' names, in the order they are tried."""
    raise NotImplementedError


__all__ = [
    "MAX_BODY",
    "NOT_JSON",
    "Document",
    "Extracted",
    "Recognizer",
    "build_document",
    "format_names",
    "recognize",
    "register_format",
    "unregister_format",
]
