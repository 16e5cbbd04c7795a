"""The two seed shapes: the agents API and OneCLI (see ``shared/seeds/``).

Agents: ``{"error": {"code", "message", "status", "retryAfter"}}``, a string code
and an integer status. OneCLI: a flat ``{"error": "<message>"}`` for validation
errors and ``{"error": {"message", "type"}}`` for authentication and service
errors ("read error when it is a string, otherwise error.message").
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted, extracted
from errorkit._formats._util import code, hints, http_status, is_token, shape, text

#: Keys beside a flat ``error`` string that mean another shape carries the message.
_NOT_FLAT = frozenset({"message", "detail", "errors", "error_description"})
_ENVELOPE_KEYS = frozenset({"message", "type", "code"})


@shape("agents", keys=["error"])
def agents(doc: Document) -> Extracted | None:
    """``{"error": {"code": "rate_limit_exceeded", "message", "status": 429, "retryAfter"}}``."""
    obj = doc.json
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        return None
    status = err.get("status")
    machine = err.get("code")
    if not isinstance(machine, str) or isinstance(status, bool) or not isinstance(status, int):
        return None
    found = hints(obj, err)
    return extracted(
        format="agents",
        message=text(err.get("message")),
        code=text(machine),
        type=text(err.get("type")),
        status=http_status(status),
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
    # {"code", "message"} alone is the OData/Azure envelope, left to that recognizer
    if (
        isinstance(err, dict)
        and err.keys() <= _ENVELOPE_KEYS
        and ("type" in err or "code" not in err)
    ):
        message = text(err.get("message"))
        if message is None:
            return None
        found = hints(obj, err)
        return extracted(
            format="onecli",
            message=message,
            type=text(err.get("type")),
            code=code(err.get("code")),
            retry_after=found.retry_after,
            retry_after_source=found.source,
            request_id=found.request_id,
            retryable=found.retryable,
        )
    return None


def _flat(obj: dict[str, object], err: str) -> Extracted | None:
    message = text(err)
    if message is None or not _NOT_FLAT.isdisjoint(obj):
        return None
    found = hints(obj)
    return extracted(
        format="onecli",
        message=message,
        # a bare token ("not_found") is a code as well as the only message there is
        code=message if is_token(message) else None,
        status=http_status(obj.get("status")),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )
