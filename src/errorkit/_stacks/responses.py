"""`error_of` and `raise_for_error`: any stack's response -> `ErrorInfo` / exception.

Responses are read by duck typing, so no stack is imported:

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
"""

from __future__ import annotations

from typing import Any

from errorkit._exceptions import exception_for
from errorkit._info import ErrorInfo
from errorkit._parse import parse

#: Where an errorkit adapter leaves the `ErrorInfo` it built for a response.
INFO_ATTRIBUTE = "_errorkit_info"
# Cached bodies, in the order tried: requests and httpx, then urllib3 and aiohttp.
_BODY_ATTRIBUTES = ("_content", "_body")


def error_of(response: Any, *, in_band: bool = False) -> ErrorInfo | None:
    """The `ErrorInfo` of a requests, urllib3, httpx or aiohttp response; None for a success.

    Never reads a body the caller has not read (see the module docstring).
    `in_band`: also report an in-band error inside a 2xx (see the 2xx rule above).
    Raises TypeError when `response` has no HTTP status at all.
    """
    known = getattr(response, INFO_ATTRIBUTE, None)
    if isinstance(known, ErrorInfo):
        return known
    status = status_of(response)
    if status < 400 and not in_band:
        return None
    headers = getattr(response, "headers", None)
    return parse(status, headers, body_of(response), in_band=in_band)


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
