"""The seam for error-body shapes: a `Document` in, an `Extracted` (or None) out.

A recognizer is any callable ``(Document) -> Extracted | None`` with a ``name``.
It returns None when the body is not its shape, and it must never raise (the
registry guards it anyway). Recognizers are tried in registry order; the first
that answers wins, so specific shapes come before generic ones.

A recognizer may also carry ``keys``: a set of top-level JSON object keys, one of
which must be present for it to be tried (absent or None: tried for every body,
as markup and text recognizers need). The registry indexes recognizers by these
keys: a keyed recognizer is never called for a body without one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from errorkit._text import safe_text

if TYPE_CHECKING:
    from errorkit._headers import Headers
    from errorkit._info import Category


class _NotJSON:
    """Sentinel: the body is not a JSON document."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON = _NotJSON()


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """One response body, decoded once, handed to every recognizer.

    Attributes:
        status: the HTTP status (0 when unknown).
        headers: lower-cased header names -> values.
        media_type: the Content-Type without parameters, lower-cased ('' if absent).
        text: the body decoded as text (bounded, invalid bytes replaced).
        json: the decoded JSON value, or `NOT_JSON`.
    """

    status: int
    headers: Headers
    media_type: str
    text: str
    json: object = NOT_JSON


@dataclass(frozen=True, slots=True, kw_only=True)
class Extracted:
    """What a recognizer found in a body. Every field but `format` is optional.

    Attributes:
        format: the recognised shape's name (``problem+json``, ``google``...).
        message: the primary message (the first error where there are several).
        code: machine-readable code.
        type: machine-readable type or class.
        details: the other errors / field violations.
        retry_after: seconds to wait, from a body field.
        retry_after_source: which field (``body:error.retryAfter``).
        request_id: a request id carried in the body.
        status: the status the body claims, when it carries one.
        category: the category the shape itself states (Slack ``ratelimited``,
            Kubernetes reason ``TooManyRequests``...), when it does.
        retryable: an explicit retryability statement in the body, when any.
        in_band: True when the body reports an error inside a 2xx response
            (Slack ``ok: false``, GraphQL ``errors`` without data).
    """

    format: str
    message: str | None = None
    code: str | None = None
    type: str | None = None
    details: tuple[object, ...] = ()
    retry_after: float | None = None
    retry_after_source: str | None = None
    request_id: str | None = None
    status: int | None = None
    category: Category | None = None
    retryable: bool | None = None
    in_band: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:
        """The found fields as text fit to show a person (redacted, escaped, bounded).

        `details` and `extra` hold raw server data and are left out, as in
        ``repr(ErrorInfo)``.
        """
        fields = [
            ("format", safe_text(self.format, 80)),
            ("message", None if self.message is None else safe_text(self.message, 200)),
            *(
                (name, None if value is None else safe_text(value, 80))
                for name, value in (
                    ("code", self.code),
                    ("type", self.type),
                    ("request_id", self.request_id),
                )
            ),
            ("retry_after", self.retry_after),
            ("status", self.status),
            ("category", None if self.category is None else str(self.category)),
            ("retryable", self.retryable),
            ("in_band", self.in_band or None),
        ]
        shown = ", ".join(f"{name}={value!r}" for name, value in fields if value is not None)
        return f"Extracted({shown})"


class Recognizer(Protocol):
    """Turns a `Document` of its own shape into an `Extracted`, else None.

    Any callable with a non-empty str ``name`` is one. It returns None for a body
    that is not its shape; it should not raise (one that does is skipped, and
    logged at DEBUG on the ``errorkit`` logger). An optional ``keys`` attribute, a
    set of top-level JSON object keys, restricts it to JSON objects carrying one of
    them; without it (or with None) it is tried for every body. `shape()` declares
    a function as one.
    """

    name: str

    def __call__(self, doc: Document, /) -> Extracted | None: ...
