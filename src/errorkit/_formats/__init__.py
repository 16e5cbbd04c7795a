"""Error-body shapes: one module per family, tried in an ordered registry.

`build_document` decodes a body once; `recognize` hands the `Document` to the
registered recognizers (most specific first, users' ahead of the built-in ones)
and, when none claims it, to the fixed fallbacks (WWW-Authenticate, unknown
JSON, empty, HTML, XML, text). A recognizer is any callable
``(Document) -> Extracted | None`` with a ``name`` and, optionally, ``keys``: the
top-level JSON keys one of which must be present for it to be tried. `shape`
declares one, and the ``as_*`` helpers and `envelope` read untrusted JSON values
without raising: the built-in recognizers use them too.
"""

from __future__ import annotations

from errorkit._formats._base import NOT_JSON, Document, Extracted, Recognizer
from errorkit._formats._document import build_document
from errorkit._formats._registry import (
    format_names,
    recognize,
    register_format,
    unregister_format,
)
from errorkit._formats._util import as_code, as_seconds, as_status, as_text, envelope, shape

#: Default bound on the bytes of a body that are read and parsed.
MAX_BODY = 64 * 1024

__all__ = [
    "MAX_BODY",
    "NOT_JSON",
    "Document",
    "Extracted",
    "Recognizer",
    "as_code",
    "as_seconds",
    "as_status",
    "as_text",
    "build_document",
    "envelope",
    "format_names",
    "recognize",
    "register_format",
    "shape",
    "unregister_format",
]
