"""The fallbacks tried after every registered recognizer, in this order.

1. ``www-authenticate``: a Bearer challenge's ``error`` (RFC 6750), when the body
   matched no known shape;
2. ``json``: a JSON document of unknown shape, its message from the usual keys;
3. ``empty``: nothing but whitespace;
4. ``html`` and ``xml``: a page's title or first heading, or its first text;
5. ``text``: the first non-empty line (or, for JSON cut at the size bound, the
   first ``"message": "..."`` member that survived).
"""

from __future__ import annotations

import json
import re

from errorkit._formats._base import NOT_JSON, Document, Extracted
from errorkit._formats._markup import html_page, looks_like_html, looks_like_xml, xml_text
from errorkit._formats._oauth import www_authenticate
from errorkit._formats._util import (
    as_code,
    as_status,
    as_text,
    field_errors,
    field_message,
    first,
    hints,
    is_token,
    items,
)

#: Longest first line of a text body kept as the message.
_MAX_LINE = 4096
#: Nesting followed when a message key holds an object ({"error": {"error": ...}}).
_MAX_DEPTH = 4

_MESSAGE_KEYS = (
    "message",
    "error",
    "detail",
    "msg",
    "description",
    "error_message",
    "errorMessage",
    "error_description",
    "title",
    "Message",
    "reason",
    "errors",
)
_CODE_KEYS = ("code", "error_code", "errorCode", "Code")
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
        return challenge
    if doc.json is not NOT_JSON:
        return unknown_json(doc.json)
    if not doc.text.strip():
        return Extracted(format="empty")
    if looks_like_html(doc):
        return html_page(doc)
    if looks_like_xml(doc):
        return xml_text(doc)
    return plain_text(doc.text)


def unknown_json(value: object) -> Extracted:
    """A JSON body of no known shape: message, code and hints from the usual keys."""
    if isinstance(value, list):
        message, details = _from_list(value, 0)
        return Extracted(format="json", message=message, details=details)
    if not isinstance(value, dict):
        return Extracted(format="json")
    message, details, key = _message(value, 0)
    err = value.get("error")
    found = hints(value, err)
    return Extracted(
        format="json",
        message=message,
        code=_code(value, err, key),
        type=as_text(value.get("type"))
        or (as_text(err.get("type")) if isinstance(err, dict) else None),
        status=_status(value),
        details=details,
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )


def _message(obj: dict[str, object], depth: int) -> tuple[str | None, tuple[object, ...], str]:
    for key in _MESSAGE_KEYS:
        value = obj.get(key)
        if value is None:
            continue
        message, details = _from_value(value, depth)
        if message is not None:
            return message, details, key
    fields = field_errors(obj)
    if fields:
        return field_message(fields[0]), tuple(fields), ""
    return None, (), ""


def _from_value(value: object, depth: int) -> tuple[str | None, tuple[object, ...]]:
    if isinstance(value, str):
        return as_text(value), ()
    if depth >= _MAX_DEPTH:
        return None, ()
    if isinstance(value, list):
        return _from_list(value, depth + 1)
    if isinstance(value, dict):
        message, details, _ = _message(value, depth + 1)
        return message, details
    return None, ()


def _from_list(value: list[object], depth: int) -> tuple[str | None, tuple[object, ...]]:
    head = first(value)
    if head is None:
        return None, ()
    message, _ = _from_value(head, depth)
    return message, items(value, 1)


def _code(obj: dict[str, object], err: object, message_key: str) -> str | None:
    for key in _CODE_KEYS:
        found = as_code(obj.get(key))
        if found is not None:
            return found
    if isinstance(err, dict):
        return as_code(err.get("code"))
    # {"error": "not_found", "message": "..."}: the error member is a code
    if message_key != "error" and isinstance(err, str) and is_token(err):
        return err
    return None


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
    return Extracted(format="text", message=line or None)


def _salvage(body: str) -> str | None:
    match = _SALVAGE.search(body)
    return _unquote(f'"{match.group(1)}"') if match else None


def _unquote(quoted: str) -> str | None:
    try:
        value = json.loads(quoted)
    except ValueError:
        return None
    return as_text(value)
