"""JSON:API errors: ``{"errors": [{"status": "422", "code", "title", "detail", "source"}]}``.

Told from GraphQL by its members: a JSON:API error object has no ``message``.
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import as_code, as_status, as_text, items, shape

_MEMBERS = frozenset({"title", "detail", "source", "status", "links"})


@shape("jsonapi", keys=["errors"])
def jsonapi(doc: Document) -> Extracted | None:
    """The first JSON:API error object is the message; the others are details."""
    obj = doc.json
    errors = obj.get("errors") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or not isinstance(errors, list) or not errors:
        return None
    head = errors[0]
    if not isinstance(head, dict):
        return None
    typed = doc.media_type == "application/vnd.api+json" or "jsonapi" in obj
    if not typed and ("message" in head or _MEMBERS.isdisjoint(head)):
        return None
    meta = head.get("meta")
    return Extracted(
        format="jsonapi",
        message=as_text(head.get("detail")) or as_text(head.get("title")),
        code=as_code(head.get("code")),
        status=as_status(head.get("status")),
        details=items(errors, 1),
        request_id=as_text(meta.get("request_id")) if isinstance(meta, dict) else None,
        extra={"source": head["source"]} if isinstance(head.get("source"), dict) else {},
    )
