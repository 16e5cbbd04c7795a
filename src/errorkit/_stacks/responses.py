"""`error_of` and `raise_for_error`: any stack's response -> `ErrorInfo` / exception.

They take the responses of requests, urllib3, httpx, httpx2 and aiohttp (their
classes and subclasses), told apart by type without importing any stack: a
response of a stack that was never imported cannot exist. Anything else (an SDK's
wrapper such as slack_sdk's ``SlackResponse``, a dict, a mock without a spec) is a
`TypeError` that says to pass the stack's own response or call `errorkit.parse`
with the status, headers and body the object holds.

A response is then read by duck typing:

- status: ``status_code`` (requests, httpx), else ``status`` (urllib3, aiohttp);
- headers: ``headers``, whatever mapping or multi-dict the stack uses;
- body: only what the stack has already read and cached, never a stream the
  caller has not consumed. requests and httpx keep it in ``_content`` (httpx sets
  it only once the body is read, so there is no ``ResponseNotRead`` to catch);
  urllib3 (``preload_content=True`` or ``.data`` accessed) and aiohttp (after
  ``await resp.read()``) keep it in ``_body``. Without a cached body the error is
  classified on its status and headers alone.

**The 2xx rule.** A response whose status is below 400 is a success: `error_of`
returns None for it and `raise_for_error` returns, without reading its body, as
every adapter does. In-band errors (Slack's ``ok: false``, GraphQL ``errors``
without ``data``) are application errors inside a success; they are reported
only when the caller asks with ``in_band=True``, and then only for a body the
stack already read that is JSON within `MAX_BODY` and of a shape that defines
them (see `errorkit.parse`).

`error_of` is synchronous: for aiohttp, ``await resp.read()`` first, or rely on
``errorkit.aiohttp.RetryMiddleware``, which reads bounded error bodies. A response
that an errorkit adapter already parsed carries its `ErrorInfo` in
``_errorkit_info``, which is returned as is.

**Long error bodies.** `parse` reads at most `MAX_BODY` (64 KiB) of a body, and an
adapter classifies an error from at most its ``max_body`` bytes. Once the caller
has read an error body longer than that (httpx ``response.read()``, requests
``.content``, aiohttp ``await resp.read()``), `error_of` parses the whole cached
body instead, once, and keeps the result on the response in place of the
adapter's. An adapter's `ErrorInfo` counts as built from less than the cached
body when its parse found no JSON document (a JSON body cut at the bound is not
JSON) and kept a text shorter than that body. `error_of` never reads a body
itself, and parses a response whole at most once.
"""

from __future__ import annotations

import sys
from typing import Any

from errorkit._exceptions import exception_for
from errorkit._formats import MAX_BODY
from errorkit._info import ErrorInfo
from errorkit._parse import parse

#: Where an errorkit adapter leaves the `ErrorInfo` it built for a response.
INFO_ATTRIBUTE = "_errorkit_info"
#: Set once `error_of` parsed a response's whole body: it is not parsed again.
_WHOLE_ATTRIBUTE = "_errorkit_whole"
# Cached bodies, in the order tried: requests and httpx, then urllib3 and aiohttp.
_BODY_ATTRIBUTES = ("_content", "_body")
#: The response classes `error_of` reads: (module, class name) of each stack.
_RESPONSE_CLASSES = (
    ("requests", "Response"),
    ("urllib3", "BaseHTTPResponse"),
    ("httpx", "Response"),
    ("httpx2", "Response"),
    ("aiohttp", "ClientResponse"),
)


def error_of(response: Any, *, in_band: bool = False) -> ErrorInfo | None:
    """The `ErrorInfo` of a requests, urllib3, httpx, httpx2 or aiohttp response; None if a success.

    Never reads a body the caller has not read (see the module docstring).
    `in_band`: also report an in-band error inside a 2xx (see the 2xx rule above).
    Raises TypeError when `response` is not such a response (an SDK's wrapper of
    one, for instance), or has no HTTP status at all.
    """
    check_response(response)
    known = getattr(response, INFO_ATTRIBUTE, None)
    if isinstance(known, ErrorInfo) and not _partial(response, known):
        return known
    status = status_of(response)
    if status < 400 and not in_band:
        return None
    headers = getattr(response, "headers", None)
    body = body_of(response)
    if status < 400 or body is None or (len(body) <= MAX_BODY and not isinstance(known, ErrorInfo)):
        return parse(status, headers, body, in_band=in_band)
    # A long error body the caller read: parsed whole, once, and kept.
    info = parse(status, headers, body, max_body=len(body))
    setattr(response, INFO_ATTRIBUTE, info)
    setattr(response, _WHOLE_ATTRIBUTE, True)
    return info


def check_response(response: object) -> None:
    """Raise TypeError unless `response` is a response of a stack errorkit reads.

    A stack's class is looked up only in the modules already imported: nothing is
    imported here. ``__class__`` is what `isinstance` checks, so a mock made with
    ``spec=httpx.Response`` passes.
    """
    for module, name in _RESPONSE_CLASSES:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(response, cls):
            return
    kind = type(response)
    raise TypeError(
        f"error_of() reads requests, urllib3, httpx, httpx2 and aiohttp responses, not "
        f"{kind.__module__}.{kind.__qualname__}: pass the stack's own response, or call "
        "errorkit.parse(status, headers, body) with the status, headers and body (bytes "
        "or str) it holds; for slack_sdk's SlackResponse: errorkit.parse(r.status_code, "
        "r.headers, json.dumps(r.data), in_band=True)"
    )


def _partial(response: Any, known: ErrorInfo) -> bool:
    """Whether `known` was built from less than the body `response` now caches.

    True when its parse found no JSON document and kept a text shorter than that
    body (an adapter's bounded peek, a JSON body cut at the bound), unless
    `error_of` already parsed this response whole.
    """
    seen = known.body
    if not isinstance(seen, str) or getattr(response, _WHOLE_ATTRIBUTE, False) is True:
        return False
    body = body_of(response)
    return body is not None and len(body) > len(seen)


def raise_for_error(response: Any, *, attempts: int = 1, in_band: bool = False) -> None:
    """Raise the errorkit exception for `response` if it is an error, else return None.

    `in_band`: also raise for an in-band error inside a 2xx (see the 2xx rule above).
    """
    info = error_of(response, in_band=in_band)
    if info is not None:
        raise exception_for(info, response=response, attempts=attempts)


def status_of(response: Any) -> int:
    """The response's HTTP status (``status_code`` or ``status``)."""
    for name in ("status_code", "status"):
        status = getattr(response, name, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    raise TypeError(f"{type(response).__name__} is not an HTTP response: it has no status")


def body_of(response: Any) -> bytes | str | None:
    """The body the stack has already read and cached, or None if it has not."""
    for name in _BODY_ATTRIBUTES:
        body = getattr(response, name, None)
        if isinstance(body, (bytes, str)):
            return body
        if isinstance(body, (bytearray, memoryview)):
            return bytes(body)
    return None
