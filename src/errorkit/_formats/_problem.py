"""RFC 9457 (formerly 7807) problem details: ``application/problem+json``.

``{"type", "title", "status", "detail", "instance", ...extension members}``. Also
recognised without the media type when a string ``title`` comes with an integer
``status`` or a string ``type``. The violations go to details: ``errors`` (a
list, or ASP.NET's ``{"field": ["message"]}``), ``invalid-params`` (RFC 9457's
own example) or ``invalid_params``.
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import (
    as_code,
    as_status,
    as_text,
    field_errors,
    first_text,
    hints,
    items,
    shape,
)

_VIOLATION_KEYS = ("errors", "invalid-params", "invalid_params", "violations")
_TRACE_KEYS = ("traceId", "trace_id", "correlationId", "correlation_id")


@shape("problem+json", keys=["type", "title", "status", "detail", "instance"])
def problem(doc: Document) -> Extracted | None:
    """A problem details object, by media type or by its telling members."""
    obj = doc.json
    if not isinstance(obj, dict) or not _is_problem(doc, obj):
        return None
    found = hints(obj)
    kind = as_text(obj.get("type"))
    return Extracted(
        format="problem+json",
        message=as_text(obj.get("detail")) or as_text(obj.get("title")),
        code=as_code(obj.get("code")) or as_code(obj.get("error_code")),
        type=None if kind == "about:blank" else kind,
        status=as_status(obj.get("status")),
        details=_violations(obj),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id or first_text(obj, _TRACE_KEYS),
        retryable=found.retryable,
    )


def _is_problem(doc: Document, obj: dict[str, object]) -> bool:
    if doc.media_type.endswith("problem+json"):
        return True
    if not isinstance(obj.get("title"), str):
        return False
    status = obj.get("status")
    return isinstance(obj.get("type"), str) or (
        isinstance(status, int) and not isinstance(status, bool)
    )


def _violations(obj: dict[str, object]) -> tuple[object, ...]:
    for key in _VIOLATION_KEYS:
        value = obj.get(key)
        if isinstance(value, list):
            return items(value)
        fields = field_errors(value)
        if fields:
            return tuple(fields)
    return ()
