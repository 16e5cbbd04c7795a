"""Azure, Microsoft Graph and OData errors.

OData v4 and the Microsoft REST guidelines: ``{"error": {"code", "message",
"target", "details": [...], "innererror": {...}}}``; Graph writes ``innerError``
with the ``request-id``. OData v3 (verbose JSON, SharePoint):
``{"odata.error": {"code", "message": {"lang", "value"}}}``.
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import as_text, envelope, first_text, hints, items, shape

_INNER_KEYS = ("innererror", "innerError")
_MARKERS = frozenset({"innererror", "innerError", "target", "details", "additionalInfo"})
_REQUEST_ID_KEYS = ("request-id", "requestId", "client-request-id")


@shape("azure", keys=["error"])
def azure(doc: Document) -> Extracted | None:
    """An OData v4 / Azure error envelope with a string ``code``."""
    obj = doc.json
    err = envelope(obj)
    if err is None:
        return None
    machine = as_text(err.get("code"))
    message = _message(err.get("message"))
    if machine is None and not (message and not _MARKERS.isdisjoint(err)):
        return None
    found = hints(obj, err)
    return Extracted(
        format="azure",
        message=message,
        code=machine,
        details=items(err.get("details")),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id or _inner_request_id(err),
        retryable=found.retryable,
        extra=_target(err),
    )


@shape("odata", keys=["odata.error"])
def odata(doc: Document) -> Extracted | None:
    """An OData v3 error: ``{"odata.error": {"code", "message": {"value"}}}``."""
    err = envelope(doc.json, "odata.error")
    if err is None:
        return None
    return Extracted(
        format="odata",
        message=_message(err.get("message")),
        code=as_text(err.get("code")),
        request_id=_inner_request_id(err),
    )


def _message(value: object) -> str | None:
    if isinstance(value, dict):
        return as_text(value.get("value"))
    return as_text(value)


def _inner_request_id(err: dict[str, object]) -> str | None:
    for key in _INNER_KEYS:
        inner = err.get(key)
        if isinstance(inner, dict):
            return first_text(inner, _REQUEST_ID_KEYS)
    return None


def _target(err: dict[str, object]) -> dict[str, object]:
    target = as_text(err.get("target"))
    return {"target": target} if target else {}
