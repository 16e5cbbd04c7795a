"""GraphQL responses: ``{"errors": [{"message", "path", "locations", "extensions"}], "data"}``.

A GraphQL server answers 200 to a failed operation, so errors with no data (null
or absent) are an in-band error; errors beside data are a partial success. The
code is ``extensions.code`` (Apollo, Hasura, Shopify) or the error's own ``type``
(GitHub).
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import as_text, first_text, hints, items, shape
from errorkit._info import Category

_MEMBERS = frozenset({"locations", "path", "extensions"})
_CATEGORIES = {
    "UNAUTHENTICATED": Category.AUTHENTICATION,
    "FORBIDDEN": Category.PERMISSION,
    "NOT_FOUND": Category.NOT_FOUND,
    "BAD_USER_INPUT": Category.BAD_REQUEST,
    "GRAPHQL_PARSE_FAILED": Category.BAD_REQUEST,
    "GRAPHQL_VALIDATION_FAILED": Category.BAD_REQUEST,
    "RATE_LIMITED": Category.RATE_LIMITED,
    "THROTTLED": Category.RATE_LIMITED,
    "INTERNAL_SERVER_ERROR": Category.SERVER,
}


@shape("graphql", keys=["errors"])
def graphql(doc: Document) -> Extracted | None:
    """A GraphQL error list, told apart by ``data`` or the spec's error members."""
    obj = doc.json
    errors = obj.get("errors") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or not isinstance(errors, list) or not errors:
        return None
    head = errors[0]
    if not isinstance(head, dict) or not isinstance(head.get("message"), str):
        return None
    graphql_type = doc.media_type == "application/graphql-response+json"
    if "data" not in obj and not graphql_type and _MEMBERS.isdisjoint(head):
        return None
    extensions = head.get("extensions")
    machine = (
        first_text(extensions, ("code",)) if isinstance(extensions, dict) else None
    ) or as_text(head.get("type"))
    found = hints(None, extensions, "errors[0].extensions.")
    return Extracted(
        format="graphql",
        message=as_text(head.get("message")),
        code=machine,
        details=items(errors, 1),
        category=_CATEGORIES.get((machine or "").upper()),
        retry_after=found.retry_after,
        retry_after_source=found.source,
        in_band=obj.get("data") is None and doc.status < 400,
    )
