"""Amazon Web Services errors, JSON and XML.

JSON protocols put the error name in ``__type``
(``com.amazonaws.dynamodb.v20120810#ThrottlingException``) or in the
``x-amzn-errortype`` header (``ThrottlingException:http://internal...``), and
the message in ``message`` or ``Message``. The query and REST-XML protocols, S3
and S3-compatible stores answer ``<Error><Code/><Message/></Error>``, wrapped in
``<ErrorResponse>`` (with ``<RequestId>``) or ``<Response><Errors>`` (EC2).
The error name is both the code and the type: AWS SDKs call it the error code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from errorkit._formats._base import NOT_JSON, Document, Extracted
from errorkit._formats._markup import child_text, local, parse_xml, walk
from errorkit._formats._util import MAX_ITEMS, as_text, first_text, hints, shape

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

_MESSAGE_KEYS = ("message", "Message", "errorMessage")
_NAME_KEYS = ("__type", "code", "Code")
_REQUEST_ID_NAMES = ("requestid", "request_id")


@shape("aws", keys=["__type", "message", "Message", "Type", "code", "Code"])
def aws(doc: Document) -> Extracted | None:
    """An AWS JSON error: ``__type`` in the body or ``x-amzn-errortype`` in the headers."""
    obj = doc.json
    if not isinstance(obj, dict):
        return None
    header = doc.headers.get("x-amzn-errortype")
    raw = obj.get("__type")
    if not isinstance(raw, str) and not header:
        return None
    name = _name(raw) or _name(header) or _name(first_text(obj, _NAME_KEYS[1:]))
    found = hints(obj)
    return Extracted(
        format="aws",
        message=first_text(obj, _MESSAGE_KEYS),
        code=name,
        type=name,
        retry_after=found.retry_after,
        retry_after_source=found.source,
        request_id=found.request_id,
        retryable=found.retryable,
    )


def _name(value: object) -> str | None:
    """``ThrottlingException`` from ``ns#ThrottlingException:http://...``."""
    if not isinstance(value, str):
        return None
    return as_text(value.rpartition("#")[2].partition(":")[0])


@shape("aws-xml")
def aws_xml(doc: Document) -> Extracted | None:
    """``<Error><Code>SlowDown</Code><Message>...</Message></Error>`` and its wrappers."""
    if doc.json is not NOT_JSON or "<Code>" not in doc.text:
        return None
    root = parse_xml(doc.text)
    if root is None:
        return None
    errors = [element for element in walk(root) if local(element.tag) == "error"]
    errors = [error for error in errors if child_text(error, "code") is not None]
    if not errors:
        return None
    error = errors[0]
    name = child_text(error, "code")
    fault = child_text(error, "type")
    return Extracted(
        format="aws-xml",
        message=child_text(error, "message"),
        code=name,
        type=name,
        details=tuple(_as_dict(other) for other in errors[1 : 1 + MAX_ITEMS]),
        request_id=child_text(error, *_REQUEST_ID_NAMES) or _request_id(root),
        extra={"fault": fault} if fault else {},
    )


def _request_id(root: ET.Element) -> str | None:
    return child_text(root, *_REQUEST_ID_NAMES) if local(root.tag) != "error" else None


def _as_dict(error: ET.Element) -> dict[str, str]:
    return {
        local(child.tag): child.text.strip()
        for child in list(error)[:MAX_ITEMS]
        if child.text and child.text.strip()
    }
