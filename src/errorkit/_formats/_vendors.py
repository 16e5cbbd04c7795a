"""Vendor APIs with a shape of their own.

Stripe, OpenAI (and the OpenAI-compatible ``{"object": "error"}`` of vLLM and
Mistral), Anthropic, GitHub, Discord, Hugging Face, Cloudflare and Slack. A
category is set only where the vendor's vocabulary names one without doubt.
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import (
    MAX_ITEMS,
    as_code,
    as_seconds,
    as_status,
    as_text,
    envelope,
    first,
    hints,
    items,
    shape,
)
from errorkit._info import Category

_ANTHROPIC = {
    "invalid_request_error": Category.BAD_REQUEST,
    "authentication_error": Category.AUTHENTICATION,
    "permission_error": Category.PERMISSION,
    "not_found_error": Category.NOT_FOUND,
    "request_too_large": Category.PAYLOAD_TOO_LARGE,
    "rate_limit_error": Category.RATE_LIMITED,
    "api_error": Category.SERVER,
    "timeout_error": Category.TIMEOUT,
    "overloaded_error": Category.UNAVAILABLE,
}
_OPENAI = {
    "insufficient_quota": Category.QUOTA_EXCEEDED,
    "rate_limit_exceeded": Category.RATE_LIMITED,
}
_STRIPE_MARKERS = frozenset(
    {"doc_url", "request_log_url", "decline_code", "payment_intent", "charge"}
)
# Types no other shape uses; the others (invalid_request_error...) need a marker.
_STRIPE_ONLY = frozenset({"card_error", "idempotency_error"})
_STRIPE_TYPES = {
    "card_error": None,
    "idempotency_error": Category.CONFLICT,
    "rate_limit_error": Category.RATE_LIMITED,
    "authentication_error": Category.AUTHENTICATION,
}
_STRIPE_CODES = {"rate_limit": Category.RATE_LIMITED}
_SLACK = {
    "ratelimited": Category.RATE_LIMITED,
    "rate_limited": Category.RATE_LIMITED,
    "invalid_auth": Category.AUTHENTICATION,
    "not_authed": Category.AUTHENTICATION,
    "account_inactive": Category.AUTHENTICATION,
    "token_revoked": Category.AUTHENTICATION,
    "token_expired": Category.AUTHENTICATION,
    "missing_scope": Category.PERMISSION,
    "no_permission": Category.PERMISSION,
    "not_allowed_token_type": Category.PERMISSION,
}
_DISCORD_KEYS = frozenset({"message", "code", "errors", "retry_after", "global"})
# Discord's nested form errors: at most this deep, this many nodes.
_MAX_DEPTH = 16
_MAX_NODES = 1000


@shape("anthropic", keys=["type"])
def anthropic(doc: Document) -> Extracted | None:
    """``{"type": "error", "error": {"type": "overloaded_error", "message"}, "request_id"}``."""
    obj = doc.json
    err = envelope(obj)
    if err is None or not isinstance(obj, dict) or obj.get("type") != "error":
        return None
    kind = as_text(err.get("type"))
    found = hints(obj, err)
    return Extracted(
        format="anthropic",
        message=as_text(err.get("message")),
        type=kind,
        category=_ANTHROPIC.get(kind or ""),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )


@shape("stripe", keys=["error"])
def stripe(doc: Document) -> Extracted | None:
    """``{"error": {"type", "code", "message", "param", "decline_code", "doc_url"}}``."""
    obj = doc.json
    err = envelope(obj)
    if err is None:
        return None
    kind = as_text(err.get("type"))
    if kind not in _STRIPE_ONLY and _STRIPE_MARKERS.isdisjoint(err):
        return None
    machine = as_text(err.get("code"))
    found = hints(obj, err)
    return Extracted(
        format="stripe",
        message=as_text(err.get("message")),
        code=machine,
        type=kind,
        category=Category.RATE_LIMITED
        if machine == "rate_limit"
        else _STRIPE_TYPES.get(kind or ""),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id or _stripe_request(err.get("request_log_url")),
        retryable=found.retryable,
        extra=_present(err, ("param", "decline_code", "doc_url")),
    )


def _stripe_request(url: object) -> str | None:
    """``req_123`` from ``https://dashboard.stripe.com/test/logs/req_123?t=...``."""
    if not isinstance(url, str) or "/logs/" not in url:
        return None
    tail = url.rpartition("/logs/")[2].partition("?")[0]
    return tail if tail.startswith("req_") else None


def _present(obj: dict[str, object], keys: tuple[str, ...]) -> dict[str, object]:
    return {key: obj[key] for key in keys if isinstance(obj.get(key), str)}


@shape("openai", keys=["error", "object"])
def openai(doc: Document) -> Extracted | None:
    """``{"error": {"message", "type", "param", "code"}}`` or ``{"object": "error", ...}``."""
    obj = doc.json
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    if not isinstance(err, dict) or "param" not in err:
        if obj.get("object") != "error":
            return None
        err = obj
    machine = as_code(err.get("code"))
    kind = as_text(err.get("type"))
    found = hints(obj, err)
    return Extracted(
        format="openai",
        message=as_text(err.get("message")),
        code=machine,
        type=kind,
        status=as_status(err.get("status")),
        category=_OPENAI.get(machine or "") or _OPENAI.get(kind or ""),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
        extra=_present(err, ("param",)),
    )


@shape("huggingface", keys=["estimated_time", "error_type"])
def huggingface(doc: Document) -> Extracted | None:
    """``{"error": "Model x is currently loading", "estimated_time": 20.0}``."""
    obj = doc.json
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    message = as_text(err) or as_text(first(err))
    if message is None:
        return None
    wait = as_seconds(obj.get("estimated_time"))
    return Extracted(
        format="huggingface",
        message=message,
        type=as_text(obj.get("error_type")),
        details=items(err, 1),
        retry_after=wait,
        retry_after_source="body:estimated_time" if wait is not None else None,
    )


@shape("github", keys=["documentation_url"])
def github(doc: Document) -> Extracted | None:
    """``{"message", "documentation_url", "errors": [...], "status": "422"}``."""
    obj = doc.json
    if not isinstance(obj, dict) or not isinstance(obj.get("documentation_url"), str):
        return None
    url = obj["documentation_url"]
    found = hints(obj)
    return Extracted(
        format="github",
        message=as_text(obj.get("message")),
        status=as_status(obj.get("status")),
        details=items(obj.get("errors")),
        # The documentation link is how GitHub says which limit was hit.
        category=Category.RATE_LIMITED if "rate-limit" in url else None,
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        extra={"documentation_url": url},
    )


@shape("discord", keys=["global", "code"])
def discord(doc: Document) -> Extracted | None:
    """``{"message", "code": 50035, "errors": {...}}`` or the 429 ``{"retry_after", "global"}``."""
    obj = doc.json
    if not isinstance(obj, dict) or not obj.keys() <= _DISCORD_KEYS:
        return None
    number = obj.get("code")
    limited = isinstance(obj.get("global"), bool)
    numeric = isinstance(number, int) and not isinstance(number, bool)
    if not limited and not (numeric and _discord_code(obj, number)):
        return None
    wait = as_seconds(obj.get("retry_after"))
    return Extracted(
        format="discord",
        message=as_text(obj.get("message")),
        code=as_code(number),
        details=tuple(_form_errors(obj.get("errors"))),
        category=Category.RATE_LIMITED if limited else None,
        retry_after=wait,
        retry_after_source="body:retry_after" if wait is not None else None,
    )


def _discord_code(obj: dict[str, object], number: object) -> bool:
    # 0 is "401: Unauthorized"; JSON codes are five digits; form errors are a dict.
    return (
        number == 0
        or isinstance(obj.get("errors"), dict)
        or (isinstance(number, int) and 10000 <= number < 1000000)
    )


def _form_errors(tree: object) -> list[dict[str, object]]:
    """``{"embed": {"title": {"_errors": [{"code", "message"}]}}}`` flattened with paths."""
    out: list[dict[str, object]] = []
    stack: list[tuple[str, object, int]] = [("", tree, 0)]
    nodes = 0
    while stack and len(out) < MAX_ITEMS and nodes < _MAX_NODES:
        path, node, depth = stack.pop()
        nodes += 1
        if not isinstance(node, dict) or depth > _MAX_DEPTH:
            continue
        for error in items(node.get("_errors")):
            if isinstance(error, dict) and len(out) < MAX_ITEMS:
                out.append({"field": path, **error})
        children = [(k, v) for k, v in list(node.items())[:MAX_ITEMS] if k != "_errors"]
        stack.extend((f"{path}.{k}" if path else k, v, depth + 1) for k, v in reversed(children))
    return out


@shape("cloudflare", keys=["success"])
def cloudflare(doc: Document) -> Extracted | None:
    """``{"success": false, "errors": [{"code": 10000, "message"}], "result": null}``."""
    obj = doc.json
    if not isinstance(obj, dict) or obj.get("success") is not False:
        return None
    errors = obj.get("errors")
    head = first(errors)
    if not isinstance(errors, list) or not (head is None or isinstance(head, dict)):
        return None
    head = head if isinstance(head, dict) else {}
    return Extracted(
        format="cloudflare",
        message=as_text(head.get("message")),
        code=as_code(head.get("code")),
        details=items(errors, 1),
        in_band=doc.status < 400,
    )


@shape("slack", keys=["ok"])
def slack(doc: Document) -> Extracted | None:
    """``{"ok": false, "error": "ratelimited"}``: an error inside an HTTP 200."""
    obj = doc.json
    if not isinstance(obj, dict) or obj.get("ok") is not False:
        return None
    machine = as_text(obj.get("error"))
    found = hints(obj)
    return Extracted(
        format="slack",
        message=machine,
        code=machine,
        details=_slack_notes(obj),
        category=_SLACK.get(machine or ""),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        in_band=doc.status < 400,
        extra=_present(obj, ("needed", "provided")),
    )


def _slack_notes(obj: dict[str, object]) -> tuple[object, ...]:
    notes: list[object] = []
    warning = as_text(obj.get("warning"))
    if warning:
        notes.extend(part.strip() for part in warning.split(",")[:MAX_ITEMS] if part.strip())
    meta = obj.get("response_metadata")
    if isinstance(meta, dict):
        for key in ("messages", "warnings"):
            notes.extend(note for note in items(meta.get(key)) if isinstance(note, str))
    return tuple(notes[:MAX_ITEMS])
