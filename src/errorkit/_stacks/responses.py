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


def error_of(response: Any) -> ErrorInfo | None:
    """The `ErrorInfo` of a requests, urllib3, httpx or aiohttp response; None for a success.

    Never reads a body the caller has not read (see the module docstring).
    Raises TypeError when `response` has no HTTP status at all.
    """
    known = getattr(response, INFO_ATTRIBUTE, None)
    if isinstance(known, ErrorInfo):
        return known
    return parse(status_of(response), getattr(response, "headers", None), body_of(response))


def raise_for_error(response: Any, *, attempts: int = 1) -> None:
    """Raise the errorkit exception for `response` if it is an error, else return None."""
    info = error_of(response)
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
