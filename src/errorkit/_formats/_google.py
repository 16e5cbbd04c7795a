"""Google APIs (AIP-193) and gRPC-gateway status bodies.

``{"error": {"code": 429, "message", "status": "RESOURCE_EXHAUSTED", "details": [...]}}``
where details are typed ``google.rpc`` messages: ``RetryInfo.retryDelay`` ("1.5s")
is the retry hint, ``ErrorInfo.reason`` the code, ``RequestInfo.requestId`` the
request id, and ``BadRequest``/``QuotaFailure``/``PreconditionFailure`` violations
the details. The legacy shape ``{"error": {"errors": [{"reason", "message"}]}}``
is understood too. gRPC-gateway answers ``{"code": 8, "message", "details"}``
with a numeric gRPC code.
"""

from __future__ import annotations

from typing import NamedTuple, TypeGuard

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import (
    MAX_ITEMS,
    as_seconds,
    as_status,
    as_text,
    envelope,
    hints,
    shape,
)
from errorkit._info import Category

# Only the canonical codes that name one category; RESOURCE_EXHAUSTED may be a
# rate limit or a spent quota, so the classifier decides it from the rest.
_CATEGORIES = {
    "INVALID_ARGUMENT": Category.BAD_REQUEST,
    "FAILED_PRECONDITION": Category.BAD_REQUEST,
    "OUT_OF_RANGE": Category.BAD_REQUEST,
    "UNAUTHENTICATED": Category.AUTHENTICATION,
    "PERMISSION_DENIED": Category.PERMISSION,
    "NOT_FOUND": Category.NOT_FOUND,
    "ALREADY_EXISTS": Category.CONFLICT,
    "ABORTED": Category.CONFLICT,
    "DEADLINE_EXCEEDED": Category.TIMEOUT,
    "UNAVAILABLE": Category.UNAVAILABLE,
    "INTERNAL": Category.SERVER,
    "DATA_LOSS": Category.SERVER,
}
# The legacy (v1 discovery) reasons that say which limit was hit.
_LEGACY_CATEGORIES = {
    "rateLimitExceeded": Category.RATE_LIMITED,
    "userRateLimitExceeded": Category.RATE_LIMITED,
    "quotaExceeded": Category.QUOTA_EXCEEDED,
    "dailyLimitExceeded": Category.QUOTA_EXCEEDED,
}
_GRPC_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)
_VIOLATIONS = {
    "google.rpc.BadRequest": "fieldViolations",
    "google.rpc.QuotaFailure": "violations",
    "google.rpc.PreconditionFailure": "violations",
}


class _Details(NamedTuple):
    reason: str | None = None
    retry_after: float | None = None
    request_id: str | None = None
    violations: tuple[object, ...] = ()


@shape("google", keys=["error"])
def google(doc: Document) -> Extracted | None:
    """An AIP-193 error: an integer ``code`` inside ``error``."""
    obj = doc.json
    err = envelope(obj)
    if err is None:
        return None
    number = err.get("code")
    legacy = err.get("errors")
    if isinstance(number, bool) or not (isinstance(number, int) or _is_legacy(legacy)):
        return None
    found = _details(err.get("details"))
    status = as_text(err.get("status"))
    first: dict[str, object] = legacy[0] if _is_legacy(legacy) else {}
    reason = found.reason or as_text(first.get("reason"))
    body = hints(obj, err)
    return Extracted(
        format="google",
        message=as_text(err.get("message")) or as_text(first.get("message")),
        code=reason or status,
        type=status,
        status=as_status(number),
        details=found.violations or _rest(legacy),
        category=_CATEGORIES.get(status or "") or _LEGACY_CATEGORIES.get(reason or ""),
        retry_after=found.retry_after if found.retry_after is not None else body.retry_after,
        retry_after_source=_source(found, body.source),
        request_id=found.request_id or body.request_id,
        retryable=body.retryable,
    )


@shape("grpc", keys=["details"])
def grpc(doc: Document) -> Extracted | None:
    """A gRPC-gateway status: ``{"code": 14, "message", "details": [...]}``."""
    obj = doc.json
    if not isinstance(obj, dict) or not isinstance(obj.get("details"), list):
        return None
    number = obj.get("code")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number <= 16:
        return None
    name = _GRPC_NAMES[number]
    found = _details(obj.get("details"))
    return Extracted(
        format="grpc",
        message=as_text(obj.get("message")),
        code=found.reason or name,
        type=name,
        details=found.violations,
        category=_CATEGORIES.get(name),
        retry_after=found.retry_after,
        retry_after_source=_source(found, None),
        request_id=found.request_id,
    )


def _is_legacy(errors: object) -> TypeGuard[list[dict[str, object]]]:
    return isinstance(errors, list) and bool(errors) and isinstance(errors[0], dict)


def _rest(legacy: object) -> tuple[object, ...]:
    if _is_legacy(legacy):
        return tuple(legacy[1 : 1 + MAX_ITEMS])
    return ()


def _source(found: _Details, fallback: str | None) -> str | None:
    return "body:error.details.retryDelay" if found.retry_after is not None else fallback


def _details(details: object) -> _Details:
    if not isinstance(details, list):
        return _Details()
    reason = retry_after = request_id = None
    violations: list[object] = []
    for detail in details[:MAX_ITEMS]:
        if not isinstance(detail, dict) or not isinstance(detail.get("@type"), str):
            continue
        kind = detail["@type"].rpartition("/")[2]
        if kind == "google.rpc.ErrorInfo":
            reason = reason or as_text(detail.get("reason"))
        elif kind == "google.rpc.RetryInfo" and retry_after is None:
            retry_after = as_seconds(detail.get("retryDelay"))
        elif kind == "google.rpc.RequestInfo":
            request_id = request_id or as_text(detail.get("requestId"))
        elif kind in _VIOLATIONS:
            listed = detail.get(_VIOLATIONS[kind])
            if isinstance(listed, list):
                violations.extend(listed[: MAX_ITEMS - len(violations)])
    return _Details(reason, retry_after, request_id, tuple(violations))
