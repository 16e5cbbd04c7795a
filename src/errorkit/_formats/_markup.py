"""Markup bodies: safe XML parsing, HTML error pages and a tag-stripped XML fallback.

Every scan here is linear: searches use `str.find` or regexes whose character
classes stop at the next ``<`` (no nested quantifier can backtrack), and only the
first `MAX_SCAN` characters of a page are looked at.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

from errorkit._formats._base import Document, Extracted
from errorkit._formats._fields import informative, read_fields
from errorkit._info import Category

#: Characters of a page searched for a title, a heading or text.
MAX_SCAN = 64 * 1024
#: Longest element text kept before whitespace is collapsed.
_MAX_ELEMENT = 4096
#: Characters of body text shown when a page has no title and no heading.
_MAX_SNIPPET = 300
#: Most XML elements walked while looking for an error element.
_MAX_ELEMENTS = 500
#: Levels of nested elements read by `as_members`.
_MAX_XML_DEPTH = 8

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")
_INLINE = frozenset(
    {"a", "abbr", "b", "code", "em", "font", "i", "small", "span", "strong", "sub", "sup", "u"}
)
_OPEN = {
    tag: re.compile(rf"<{tag}(?:\s[^<>]*)?>", re.IGNORECASE) for tag in ("title", "h1", "body")
}
_CLOSE = {tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in ("title", "h1")}
_SKIPPED = re.compile(r"<(script|style)(?:\s[^<>]*)?>", re.IGNORECASE)
_SKIP_END = {tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in ("script", "style")}
_CF_CODE = re.compile(r'cf-error-code">\s*(\d{1,6})')
# Cloudflare 1015: "You are being rate limited".
_CF_CATEGORIES = {"1015": Category.RATE_LIMITED}
#: Titles that name no error.
_EMPTY_TITLES = frozenset({"error", "untitled", "oops", "oops!"})
#: A request id as a page or text shows it.
_SHOWN_ID = re.compile(
    r"\b(?:request[\s_-]?id|reference(?:\s+(?:id|number|no\.?))?|xid|trace[\s_-]?id|"
    r"correlation[\s_-]?id|incident[\s_-]?id|support[\s_-]?id)\s*(?:[:#=]|is)\s*#?\s*"
    r"([A-Za-z0-9][A-Za-z0-9._:+/=-]{5,127})",
    re.IGNORECASE,
)


def _space(tag: re.Match[str]) -> str:
    # inline elements join their neighbours ("went <i>wrong</i>."); others separate
    name = tag.group()[1:12].lstrip("/").split(None, 1)[0:1]
    return "" if name and name[0].rstrip(">/").lower() in _INLINE else " "


def parse_xml(text: str) -> ET.Element | None:
    """The root element of `text`, or None. Refuses any DOCTYPE or ENTITY declaration.

    Without a declaration there is no entity to expand and no external resource to
    fetch, so the standard library parser is safe here.
    """
    if _DECLARATION.search(text) is not None:
        return None
    try:
        return ET.fromstring(text)  # noqa: S314 - declarations refused above
    except (ET.ParseError, ValueError):  # malformed, or a lone surrogate: not XML
        return None


def local(tag: object) -> str:
    """An element's name without its ``{namespace}``, lower-cased."""
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def walk(root: ET.Element) -> list[ET.Element]:
    """Up to `_MAX_ELEMENTS` elements of the tree, breadth first."""
    found = [root]
    for element in found:
        if len(found) >= _MAX_ELEMENTS:
            break
        found.extend(list(element)[: _MAX_ELEMENTS - len(found)])
    return found


def child_text(element: ET.Element, *names: str) -> str | None:
    """The stripped text of the first direct child called one of `names`."""
    for child in element:
        if local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def looks_like_html(doc: Document) -> bool:
    """True for an HTML media type or a body that opens like an HTML page."""
    if doc.media_type in _HTML_TYPES:
        return True
    head = doc.text[:1024].lstrip()[:64].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body"))


def looks_like_xml(doc: Document) -> bool:
    """True for an XML media type or XML declaration, without DOCTYPE or ENTITY.

    A document with declarations is refused as XML everywhere and shown as text.
    """
    if _DECLARATION.search(doc.text, 0, MAX_SCAN) is not None:
        return False
    return (
        doc.media_type in _XML_TYPES
        or doc.media_type.endswith("+xml")
        or doc.text[:1024].lstrip().startswith("<?xml")
    )


def html_page(doc: Document) -> Extracted:
    """An HTML error page: its title, else its first heading, else its first text;
    the heading before the title when the title only states the status."""
    page = doc.text[:MAX_SCAN]
    title, heading = _element(page, "title"), _element(page, "h1")
    if title and heading and informative(heading) < informative(title):
        title = None  # "503 Service Unavailable" above "The server is down for maintenance"
    if title and title.casefold() in _EMPTY_TITLES:
        title = None  # a title that says only "Error": the page's own text says more
    message = title or heading or _snippet(page)
    cloudflare = _CF_CODE.search(page)
    code = cloudflare.group(1) if cloudflare else None
    return Extracted(
        format="html",
        message=message,
        code=code,
        category=_CF_CATEGORIES.get(code or ""),
        request_id=text_request_id(page),
    )


def text_request_id(text: str) -> str | None:
    """The id a page or text shows for support: ``Request ID: abc``, ``Reference
    #18.5def``, ``XID: 9028``, ``Trace ID abc``, ``Correlation-Id: abc``."""
    found = _SHOWN_ID.search(_TAG.sub(" ", text[:MAX_SCAN]))
    return html.unescape(found.group(1)) if found else None


def xml_text(doc: Document) -> Extracted:
    """An XML body of no known shape: its elements read as the generic reader reads
    JSON members (``<Code>``, ``<Message>``, ``<RequestId>``, ``<faultstring>``...
    at any depth, `errorkit._formats._fields`); else its first text, tags stripped."""
    root = parse_xml(doc.text[:MAX_SCAN])
    found = read_fields(as_members(root), doc.status) if root is not None else None
    if found is None or found.message is None:
        return Extracted(format="xml", message=_snippet(doc.text[:MAX_SCAN]))
    return Extracted(
        format="xml",
        message=found.message,
        code=found.code,
        type=found.type,
        request_id=found.request_id,
    )


def as_members(element: ET.Element, depth: int = 0) -> dict[str, object]:
    """An element as a JSON object: each child by its local name, its text if it
    has no children, else its own object; repeated children make an array."""
    members: dict[str, object] = {}
    for child in list(element)[:_MAX_ELEMENTS]:
        value: object = " ".join(child.text.split()) if child.text else ""
        if len(child) and depth < _MAX_XML_DEPTH:
            value = as_members(child, depth + 1)
        name = local(child.tag)
        if name in members:
            previous = members[name]
            members[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            members[name] = value
    return members


def _element(page: str, tag: str) -> str | None:
    opening = _OPEN[tag].search(page)
    if opening is None:
        return None
    end = opening.end()
    closing = _CLOSE[tag].search(page, end, end + _MAX_ELEMENT)
    return _clean(page[end : closing.start() if closing else end + _MAX_ELEMENT])


def _snippet(page: str) -> str | None:
    body = _OPEN["body"].search(page)
    position = body.end() if body else 0
    pieces: list[str] = []
    total = 0
    while position < len(page) and total < _MAX_SNIPPET:
        skipped = _SKIPPED.search(page, position)
        stop = skipped.start() if skipped else len(page)
        piece = _clean(page[position:stop][: _MAX_SNIPPET * 20])
        if piece:
            pieces.append(piece)
            total += len(piece) + 1
        if skipped is None:
            break
        closing = _SKIP_END[skipped.group(1).lower()].search(page, skipped.end())
        position = closing.end() if closing else len(page)
    snippet = " ".join(pieces)
    return snippet[:_MAX_SNIPPET].rstrip() or None


def _clean(fragment: str) -> str | None:
    stripped = html.unescape(_TAG.sub(_space, fragment))
    return " ".join(stripped.split()) or None
