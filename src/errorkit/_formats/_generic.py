"""The fallbacks tried after every registered recognizer, in this order.

1. ``www-authenticate``: a Bearer challenge's ``error`` (RFC 6750), when the body
   matched no known shape (a JSON body's sentence, if it has one, is the message);
2. ``json``: a JSON document of unknown shape, read by what its fields are
   (`errorkit._formats._fields`); on a 2xx it is an in-band error when it says it
   failed (`reports_failure`); of JSON lines, the line that failed is the document;
3. ``empty``: nothing but whitespace;
4. ``html`` and ``xml``: a page's heading or title, or its first text; XML's
   elements read like JSON members;
5. ``text``: the first non-empty line (or, for JSON cut at the size bound, the
   first ``"message": "..."`` member that survived).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from errorkit._formats._base import NOT_JSON, Document, Extracted
from errorkit._formats._fields import informative, is_identifier, read_fields
from errorkit._formats._markup import (
    html_page,
    looks_like_html,
    looks_like_xml,
    text_request_id,
    xml_text,
)
from errorkit._formats._oauth import www_authenticate
from errorkit._formats._util import (
    as_status,
    as_text,
    hints,
)

#: Longest first line of a text body kept as the message.
_MAX_LINE = 4096
_STATUS_KEYS = ("status", "statusCode", "status_code")
# A JSON body cut at the size bound: the first message member that survived.
_SALVAGE = re.compile(
    r'"(?:message|detail|error_description|error|title|msg|description)"\s*:\s*"'
    r'((?:[^"\\]|\\.){1,2000})"'
)


def fallback(doc: Document) -> Extracted:
    """Whatever can be said about a body no registered recognizer claimed."""
    challenge = www_authenticate(doc)
    if challenge is not None:
        return _with_body_text(challenge, doc)
    if doc.json is not NOT_JSON:
        return unknown_json(doc.json, doc.status)
    if not doc.text.strip():
        return Extracted(format="empty")
    if looks_like_html(doc):
        return html_page(doc)
    if looks_like_xml(doc):
        return xml_text(doc)
    return plain_text(doc.text)


def _with_body_text(challenge: Extracted, doc: Document) -> Extracted:
    """A challenge that only has its ``error`` token takes a JSON body's sentence or
    phrase as its message (the token stays the code)."""
    if doc.json is NOT_JSON or not challenge.message or not is_identifier(challenge.message):
        return challenge
    found = read_fields(doc.json, doc.status)
    if found.message is None or informative(found.message) == 2:
        return challenge
    return replace(challenge, message=found.message, request_id=found.request_id)


def unknown_json(value: object, status: int = 0) -> Extracted:
    """A JSON body of no known shape, read by `errorkit._formats._fields` (what its
    fields are, not whose they are); retry hints from the usual keys."""
    found = read_fields(value, status)
    obj = value if isinstance(value, dict) else {}
    err = obj.get("error")
    body_hints = hints(obj, err)
    return Extracted(
        format="json",
        message=found.message,
        code=found.code,
        type=found.type,
        status=_status(obj),
        details=found.details,
        retry_after=body_hints.retry_after,
        retry_after_source=body_hints.source,
        request_id=body_hints.request_id or found.request_id,
        retryable=body_hints.retryable,
        in_band=status < 400 and found.message is not None and reports_failure(obj),
    )


#: Envelope members a response wraps its error in, one level down.
_ENVELOPES = ("response", "result", "data", "body", "payload")
#: Members named as an error's text: present on a 2xx, the response failed.
_ERROR_TEXTS = ("error_message", "errormessage", "errmsg", "error_msg", "error_description")
#: ``status`` values of a failed response (JSend's ``fail`` and ``error``...).
_FAILED = frozenset({"error", "fail", "failed", "failure"})


def reports_failure(value: object) -> bool:
    """Whether a JSON body says it failed, for a 2xx (`Extracted.in_band`): ``ok``
    or ``success`` false, a ``status`` of ``error``/``fail``, a member named as an
    error message (``error_message``, ``errMsg``), or an error object or text (or
    non-empty ``errors``) at the top or in one response envelope, without data beside it.
    Keys are compared without case."""
    obj = _lowered(value)
    if obj.get("ok") is False or obj.get("success") is False:
        return True
    status = obj.get("status")
    if isinstance(status, str) and status.strip().lower() in _FAILED:
        return True
    if any(as_text(obj.get(key)) for key in _ERROR_TEXTS):
        return True
    inner = (_lowered(obj[key]) for key in _ENVELOPES if isinstance(obj.get(key), dict))
    return any(_has_error(level) for level in (obj, *inner))


def _lowered(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        return {}
    return {key.lower(): member for key, member in value.items() if isinstance(key, str)}


def _has_error(obj: dict[str, object]) -> bool:
    if obj.get("data") not in (None, {}, []):
        return False
    error, errors = obj.get("error"), obj.get("errors")
    if isinstance(error, str):
        return bool(error.strip())
    return (isinstance(error, dict) and bool(error)) or (isinstance(errors, list) and bool(errors))


def _status(obj: dict[str, object]) -> int | None:
    for key in _STATUS_KEYS:
        found = as_status(obj.get(key))
        if found is not None:
            return found
    return None


def plain_text(body: str) -> Extracted:
    """The first non-empty line of a text body (bounded)."""
    stripped = body.lstrip()
    if stripped.startswith(("{", "[")):
        salvaged = _salvage(stripped)
        if salvaged is not None:
            return Extracted(format="text", message=salvaged)
    lines = stripped[:_MAX_LINE].splitlines()
    line = lines[0].strip() if lines else ""
    if len(line) >= 2 and line[0] == line[-1] == '"':
        # a bare JSON string: "Not Found"
        line = _unquote(line) or line
    return Extracted(format="text", message=line or None, request_id=text_request_id(body))


def _salvage(body: str) -> str | None:
    match = _SALVAGE.search(body)
    return _unquote(f'"{match.group(1)}"') if match else None


def _unquote(quoted: str) -> str | None:
    try:
        value = json.loads(quoted)
    except ValueError:
        return None
    return as_text(value)
