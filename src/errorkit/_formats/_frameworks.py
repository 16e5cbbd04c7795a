"""Server frameworks' default error bodies: FastAPI/Starlette, DRF, Spring Boot, NestJS.

FastAPI and Starlette answer ``{"detail": "..."}`` (DRF's ``detail`` is the same
shape) and, for validation, ``{"detail": [{"loc", "msg", "type"}]}``. DRF
reports field errors as ``{"name": ["This field is required."]}`` and
``{"non_field_errors": [...]}``. Spring Boot: ``{"timestamp", "status", "error",
"message", "path"}``. NestJS: ``{"statusCode", "message", "error"}``. For a
validation list the message is the first entry and every entry is a detail,
because the message alone does not say which field failed.
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import (
    as_status,
    as_text,
    field_errors,
    field_message,
    first,
    first_text,
    hints,
    items,
    shape,
)

_NESTED_MESSAGE_KEYS = ("message", "msg", "detail", "error", "description")
# Keys that name a message, not a field: such a dict is not DRF field errors.
_NOT_FIELDS = frozenset(
    {"message", "error", "errors", "detail", "msg", "description", "messages", "title"}
)
_SPRING_EMPTY = "No message available"


@shape("fastapi", keys=["detail"])
def fastapi(doc: Document) -> Extracted | None:
    """``{"detail": "Not Found"}`` or ``{"detail": [{"loc", "msg", "type"}]}``."""
    obj = doc.json
    detail = obj.get("detail") if isinstance(obj, dict) else None
    details: tuple[object, ...] = ()
    if isinstance(detail, str):
        message, kind, details = as_text(detail), None, ()
    elif isinstance(detail, list) and detail:
        head = detail[0]
        message = _entry_message(head)
        kind = as_text(head.get("type")) if isinstance(head, dict) else None
        details = items(detail)
    elif isinstance(detail, dict):
        message, kind, details = first_text(detail, _NESTED_MESSAGE_KEYS), None, ()
    else:
        return None
    found = hints(obj, detail, "detail.")
    return Extracted(
        format="fastapi",
        message=message,
        type=kind,
        details=details,
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )


def _entry_message(entry: object) -> str | None:
    if isinstance(entry, dict):
        return as_text(entry.get("msg")) or as_text(entry.get("message"))
    return as_text(entry)


@shape("drf")
def drf(doc: Document) -> Extracted | None:
    """A 4xx body whose every value is a list of messages: DRF field errors."""
    obj = doc.json
    if not isinstance(obj, dict) or not 400 <= doc.status < 500 or not _NOT_FIELDS.isdisjoint(obj):
        return None
    violations = field_errors(obj)
    if not violations:
        return None
    return Extracted(
        format="drf",
        message=field_message(violations[0]),
        details=tuple(violations),
    )


@shape("spring", keys=["timestamp"])
def spring(doc: Document) -> Extracted | None:
    """Spring Boot's ``{"timestamp", "status": 404, "error": "Not Found", "path"}``."""
    obj = doc.json
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), str):
        return None
    status = as_status(obj.get("status"))
    if status is None or not isinstance(obj.get("path"), str):
        return None
    message = as_text(obj.get("message"))
    found = hints(obj)
    return Extracted(
        format="spring",
        message=message if message and message != _SPRING_EMPTY else as_text(obj.get("error")),
        status=status,
        details=items(obj.get("errors")),
        request_id=found.request_id,
        extra={"error": obj["error"]} if isinstance(obj.get("error"), str) else {},
    )


@shape("nestjs", keys=["statusCode"])
def nestjs(doc: Document) -> Extracted | None:
    """NestJS's ``{"statusCode": 400, "message": ["name must be a string"], "error"}``."""
    obj = doc.json
    if not isinstance(obj, dict):
        return None
    status = as_status(obj.get("statusCode"))
    message = obj.get("message")
    if status is None or not isinstance(message, (str, list)):
        return None
    found = hints(obj)
    return Extracted(
        format="nestjs",
        message=as_text(message) or as_text(first(message)),
        status=status,
        details=items(message, 1),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        extra={"error": obj["error"]} if isinstance(obj.get("error"), str) else {},
    )
