"""The two seed shapes: the agents API and OneCLI (see ``shared/seeds/``).

Agents: ``{"error": {"code", "message", "status", "retryAfter"}}``, a string code
and an integer status. OneCLI: a flat ``{"error": "<message>"}`` for validation
errors and ``{"error": {"message", "type"}}`` for authentication and service
errors ("read error when it is a string, otherwise error.message").
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import as_code, as_status, as_text, envelope, hints, is_token, shape

#: Keys beside a flat ``error`` string that mean another shape carries the message.
_NOT_FLAT = frozenset({"message", "detail", "errors", "error_description"})
_ENVELOPE_KEYS = frozenset({"message", "type", "code"})


@shape("agents", keys=["error"])
def agents(doc: Document) -> Extracted | None:
    """``{"error": {"code": "rate_limit_exceeded", "message", "status": 429, "retryAfter"}}``."""
    obj = doc.json
    err = envelope(obj)
    if err is None:
        return None
    status = err.get("status")
    machine = err.get("code")
    if not isinstance(machine, str) or isinstance(status, bool) or not isinstance(status, int):
        return None
    found = hints(obj, err)
    return Extracted(
        format="agents",
        message=as_text(err.get("message")),
        code=as_text(machine),
        type=as_text(err.get("type")),
        status=as_status(status),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )


@shape("onecli", keys=["error"])
def onecli(doc: Document) -> Extracted | None:
    """``{"error": "Label is required"}`` or ``{"error": {"message", "type"}}``."""
    obj = doc.json
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    if isinstance(err, str):
        return _flat(obj, err)
    if isinstance(err, dict):
        return _nested(obj, err)
    return None


def _nested(obj: dict[str, object], err: dict[str, object]) -> Extracted | None:
    # {"code", "message"} alone is the OData/Azure envelope, left to that recognizer
    if not err.keys() <= _ENVELOPE_KEYS or ("code" in err and "type" not in err):
        return None
    message = as_text(err.get("message"))
    if message is None:
        return None
    found = hints(obj, err)
    return Extracted(
        format="onecli",
        message=message,
        type=as_text(err.get("type")),
        code=as_code(err.get("code")),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )


def _flat(obj: dict[str, object], err: str) -> Extracted | None:
    message = as_text(err)
    if message is None or not _NOT_FLAT.isdisjoint(obj):
        return None
    found = hints(obj)
    return Extracted(
        format="onecli",
        message=message,
        # a bare token ("not_found") is a code as well as the only message there is
        code=message if is_token(message) else None,
        status=as_status(obj.get("status")),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )
