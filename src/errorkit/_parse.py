"""`parse()`: status, headers and body of any error response -> one `ErrorInfo`."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from errorkit._catalog import lookup_hint
from errorkit._classify import classify
from errorkit._formats import MAX_BODY, NOT_JSON, Extracted, build_document, recognize
from errorkit._formats._guard import STRICT, logger
from errorkit._headers import normalize_headers
from errorkit._hints import NO_HINTS, read_hints
from errorkit._info import Category, ErrorInfo
from errorkit._text import safe_text

if TYPE_CHECKING:
    from errorkit._formats import Document
    from errorkit._headers import Headers
    from errorkit._hints import ServerHints

#: Longest message kept; the whole text stays in `ErrorInfo.body`.
MAX_MESSAGE = 2000
#: Longest code, type, request id or reason kept.
MAX_FIELD = 500


def parse(
    status: int | None,
    headers: object = None,
    body: bytes | str | None = None,
    *,
    max_body: int = MAX_BODY,
    in_band: bool = False,
) -> ErrorInfo | None:
    """Return the `ErrorInfo` of an error response, or None for a success.

    Args:
        status: the HTTP status code (None when unknown).
        headers: any mapping, multi-dict or list of (name, value) pairs; names are
            matched case-insensitively.
        body: the response body as bytes, str or None. At most `max_body` bytes
            are read.
        max_body: bound on the bytes parsed (64 KiB by default).
        in_band: also report an in-band error inside a success (see below).

    The 2xx rule: a response with a status below 400 is a success. With
    ``in_band=False`` (the default) parse() returns None for it at once, without
    reading its headers or its body. In-band errors are application errors that an
    API reports inside a success (Slack's ``ok: false``, GraphQL ``errors``
    without ``data``); with ``in_band=True`` a 2xx or 3xx is an error only when its
    body is JSON within `max_body` and its shape's recognizer reports one
    (`Extracted.in_band`). A status of 400 or more, or an unknown one, is always
    an error.

    The text fields of the result (`message`, `code`, `type`, `request_id`,
    `retryable_reason`) are fit to show a person: credentials the server echoed
    back are ``***`` and control characters are escaped (`errorkit._text`).
    `ErrorInfo.body` and `ErrorInfo.details` keep the server's data as it came.

    Never raises, whatever the input: a response that cannot be parsed gives an
    `ErrorInfo` of format ``unparsed`` (None for a success), and the failure is
    logged at DEBUG on the ``errorkit`` logger
    (`errorkit.testing.strict_parsing()` re-raises it instead).
    """
    code = None
    try:
        code = _status(status)
        if code is not None and code < 400 and not in_band:
            return None
        return _parse(code, normalize_headers(headers), body, max_body)
    except Exception:  # the contract: parse() never raises, whatever the input
        if STRICT.get():
            raise
        logger.debug("parse() failed: the response is reported unparsed", exc_info=True)
        return _fallback(code) if code is None or code >= 400 else None


def _parse(code: int | None, heads: Headers, body: object, max_body: int) -> ErrorInfo | None:
    doc = build_document(code or 0, heads, body, max_body)
    found = recognize(doc)
    if code is not None and code < 400 and not _in_band_error(doc, found):
        return None
    return _error_info(code, heads, doc, found)


def _error_info(code: int | None, heads: Headers, doc: Document, found: Extracted) -> ErrorInfo:
    hints = read_hints(heads)
    category, retryable, reason = classify(code, found, hints)
    message = safe_text(found.message or _default_message(code, category), MAX_MESSAGE)
    retry_after, source = _retry_after(code, hints, found)
    return ErrorInfo(
        status=code,
        category=category,
        message=message,
        code=_shown(found.code),
        type=_shown(found.type),
        request_id=_shown(hints.request_id or found.request_id),
        retryable=retryable,
        retry_after=retry_after,
        details=found.details,
        hint=lookup_hint(code, message, found.code, found.format or ""),
        format=found.format,
        body=_body(doc),
        retry_after_source=_shown(source),
        should_retry=hints.should_retry,
        retryable_reason=safe_text(reason, MAX_FIELD),
        quota=hints.quota,
        extra=found.extra,
    )


def _shown(text: str | None) -> str | None:
    """A short server-sent field (code, type, request id) made safe to show."""
    return None if text is None else safe_text(text, MAX_FIELD)


def _status(status: object) -> int | None:
    """A status in 100..999 from an int or a numeric string, else None (unknown)."""
    if isinstance(status, bool):
        return None
    if not isinstance(status, int):
        try:
            status = int(str(status).strip())
        except (TypeError, ValueError):
            return None
    return status if 100 <= status <= 999 else None


def _in_band_error(doc: Document, found: Extracted) -> bool:
    """True when a success's body is JSON whose shape reports an error inside it."""
    return found.in_band and doc.json is not NOT_JSON


def _body(doc: Document) -> object:
    """The decoded JSON document, or else the (bounded) text."""
    return doc.text if doc.json is NOT_JSON else doc.json


def _retry_after(
    status: int | None, hints: ServerHints, found: Extracted
) -> tuple[float | None, str | None]:
    # Headers are the protocol's own channel: they win over a body field.
    if hints.retry_after is not None:
        return hints.retry_after, hints.retry_after_source
    if found.retry_after is not None:
        return found.retry_after, found.retry_after_source
    # A 429/503 that only says when its rate-limit window resets: that is the wait.
    if status in (429, 503) and hints.rate_limit_reset is not None:
        return hints.rate_limit_reset, "header:rate-limit-reset"
    return None, None


#: Reason phrases by status.
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _default_message(status: int | None, category: Category) -> str:
    if status is None:
        return f"HTTP error ({category})"
    phrase = _PHRASES.get(status)
    return f"HTTP {status}" if phrase is None else f"HTTP {status} {phrase}"


def _fallback(status: int | None) -> ErrorInfo:
    """A response whose headers or body could not be read, judged by its status alone.

    A 503 or 429 stays retryable: what broke was the reading, not the server's answer.
    """
    category, retryable, reason = classify(status, Extracted(format="unparsed"), NO_HINTS)
    return ErrorInfo(
        status=status,
        category=category,
        message=_default_message(status, category),
        retryable=retryable,
        format="unparsed",
        retryable_reason=f"{reason}; its headers or body could not be parsed",
    )
