"""Kubernetes API ``Status`` objects.

``{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message", "reason":
"TooManyRequests", "code": 429, "details": {"retryAfterSeconds": 1, "causes": [...]}}``.
The reason is a fixed vocabulary (``metav1.StatusReason``), so it names the category.
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import as_seconds, as_status, as_text, items, shape
from errorkit._info import Category

_CATEGORIES = {
    "BadRequest": Category.BAD_REQUEST,
    "Unauthorized": Category.AUTHENTICATION,
    "Forbidden": Category.PERMISSION,
    "NotFound": Category.NOT_FOUND,
    "AlreadyExists": Category.CONFLICT,
    "Conflict": Category.CONFLICT,
    "Invalid": Category.UNPROCESSABLE,
    "RequestEntityTooLarge": Category.PAYLOAD_TOO_LARGE,
    "TooManyRequests": Category.RATE_LIMITED,
    "Timeout": Category.TIMEOUT,
    "ServerTimeout": Category.TIMEOUT,
    "ServiceUnavailable": Category.UNAVAILABLE,
    "InternalError": Category.SERVER,
}


@shape("kubernetes", keys=["kind"])
def kubernetes(doc: Document) -> Extracted | None:
    """A failed ``Status``: message, reason as the code, causes as details."""
    obj = doc.json
    if not isinstance(obj, dict) or obj.get("kind") != "Status" or obj.get("status") == "Success":
        return None
    reason = as_text(obj.get("reason"))
    details = obj.get("details")
    details = details if isinstance(details, dict) else {}
    wait = as_seconds(details.get("retryAfterSeconds"))
    return Extracted(
        format="kubernetes",
        message=as_text(obj.get("message")),
        code=reason,
        status=as_status(obj.get("code")),
        details=items(details.get("causes")),
        category=_CATEGORIES.get(reason or ""),
        retry_after=wait,
        retry_after_source="body:details.retryAfterSeconds" if wait is not None else None,
    )
