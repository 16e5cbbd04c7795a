"""`parse()`: status, headers and body of any error response -> one `ErrorInfo`."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol, cast

from errorkit._catalog import lookup_hint
from errorkit._classify import classify
from errorkit._formats import MAX_BODY, NOT_JSON, Extracted, build_document, recognize
from errorkit._headers import normalize_headers
from errorkit._hints import ServerHints, read_hints
from errorkit._info import Category, ErrorInfo, builder
from errorkit._text import escape_control

if TYPE_CHECKING:

    class _ErrorInfoBuilder(Protocol):
        def __call__(  # noqa: PLR0913 - every field of ErrorInfo, by keyword
            self,
            *,
            status: int | None,
            category: Category,
            message: str,
            code: str | None,
            type: str | None,  # noqa: A002 - the field's name
            request_id: str | None,
            retryable: bool,
            retry_after: float | None,
            details: tuple[object, ...],
            hint: str | None,
            format: str,  # noqa: A002 - the field's name
            body: object,
            retry_after_source: str | None,
            should_retry: bool | None,
            retryable_reason: str,
        ) -> ErrorInfo: ...


#: `ErrorInfo(...)` at a third of the cost, every field given (see `builder`).
_error_info = cast("_ErrorInfoBuilder", builder(ErrorInfo))

#: Longest message kept; the whole text stays in `ErrorInfo.body`.
MAX_MESSAGE = 2000


def parse(
    status: int | None,
    headers: object = None,
    body: bytes | str | None = None,
    *,
    max_body: int = MAX_BODY,
) -> ErrorInfo | None:
    """Return the `ErrorInfo` of an error response, or None for a success.

    Args:
        status: the HTTP status code (None when unknown).
        headers: any mapping, multi-dict or list of (name, value) pairs; names are
            matched case-insensitively.
        body: the response body as bytes, str or None. At most `max_body` bytes
            are read.
        max_body: bound on the bytes parsed (64 KiB by default).

    A 2xx or 3xx response is a success unless its body reports an in-band error
    (Slack's ``ok: false``, GraphQL ``errors`` with no data). Never raises, whatever
    the input.
    """
    try:
        code = _status(status)
        heads = normalize_headers(headers)
        doc = build_document(code or 0, heads, body, max_body)
        found = recognize(doc)
        if code is not None and code < 400 and not found.in_band:
            return None
        hints = read_hints(heads)
        category, retryable, reason = classify(code, found, hints)
        message = escape_control(found.message or _default_message(code, category), MAX_MESSAGE)
        retry_after, source = _retry_after(code, hints, found)
        value = doc.json
        return _error_info(
            status=code,
            category=category,
            message=message,
            code=found.code,
            type=found.type,
            request_id=hints.request_id or found.request_id,
            retryable=retryable,
            retry_after=retry_after,
            details=found.details,
            hint=lookup_hint(code, message, found.code),
            format=found.format,
            body=doc.text if value is NOT_JSON else value,
            retry_after_source=source,
            should_retry=hints.should_retry,
            retryable_reason=reason,
        )
    except Exception:  # noqa: BLE001 - the contract: parse() never raises
        code = _status(status)
        return _fallback(code) if code is None or code >= 400 else None


def _status(status: object) -> int | None:
    if type(status) is int and 100 <= status <= 999:  # the usual case, first
        return status
    if isinstance(status, bool) or not isinstance(status, int):
        try:
            status = int(str(status).strip())
        except (TypeError, ValueError):
            return None
    return status if 100 <= status <= 999 else None


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


#: Reason phrases by status, read once: an HTTPStatus look-up is an enum call.
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _default_message(status: int | None, category: Category) -> str:
    if status is None:
        return f"HTTP error ({category})"
    phrase = _PHRASES.get(status)
    return f"HTTP {status}" if phrase is None else f"HTTP {status} {phrase}"


def _fallback(status: int | None) -> ErrorInfo:
    category = Category.SERVER if status is None or status >= 500 else Category.CLIENT
    return ErrorInfo(
        status=status,
        category=category,
        message=_default_message(status, category),
        retryable=False,
        format="unparsed",
        retryable_reason="the response could not be parsed",
    )
