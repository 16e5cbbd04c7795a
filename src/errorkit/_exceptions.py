"""errorkit's exceptions: one class per error category, one root.

Our exception hierarchy::

    APIError(Exception)            .info (ErrorInfo), .attempts, .response, .retry_after
     +-- APIStatusError            .status, .response (the stack's own response, or None)
     |    +-- BadRequestError              bad_request        (400)
     |    +-- AuthenticationError          authentication     (401)
     |    +-- PermissionDeniedError        permission         (403)
     |    +-- NotFoundError                not_found          (404, 410)
     |    +-- ConflictError                conflict           (409)
     |    +-- PayloadTooLargeError         payload_too_large  (413)
     |    +-- UnprocessableEntityError     unprocessable      (422)
     |    +-- RateLimitError               rate_limited       (429)
     |    +-- QuotaExceededError           quota_exceeded
     |    +-- InternalServerError          server             (500 and other 5xx)
     |         +-- ServiceUnavailableError unavailable        (502, 503, 504, 529)
     +-- APIConnectionError        connection: no response after the retries
          +-- APITimeoutError      timeout without a status

``client`` (any other 4xx) and a ``timeout`` that has a status (408) raise
`APIStatusError` itself. `exception_for` is the one table from an `ErrorInfo`
to its exception; adapters that raise with ``raise_for_status=True`` use the
stack-compatible subclasses built by `errorkit._stacks.exceptions`.

``str(exc)`` is one line for people, e.g. ``429 rate_limited: Slow down.
(code=rate_limit_exceeded, request_id=req_1, retry after 60 s, after 3
attempts)``: server text is redacted (`errorkit._redact.redact_text`),
control-escaped (newlines included, see `errorkit._text`) and bounded.
``repr(exc)`` is short and never shows headers, the body or credentials.

Every exception pickles with its `info` and `attempts`. Its `response` is
always dropped to None on pickling: a live response belongs to a connection and
a session, and pickling a requests ``Response`` would read its unread body. The
other attributes a stack's exception keeps (urllib3's ``url``, aiohttp's
connection key) are pickled with their credentials redacted
(`errorkit._redact.redact_value`); `errorkit._stacks.exceptions` redacts them
in memory too, when it builds an exception.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from errorkit._info import Category, ErrorInfo
from errorkit._redact import redact_value
from errorkit._text import safe_text

#: Longest server message shown in ``str(exc)``; the whole one stays in ``exc.info``.
MAX_SHOWN_MESSAGE = 1000
#: Longest code, type or request id shown in ``str(exc)``.
MAX_SHOWN_FIELD = 200

# Attributes that hold a stack's live objects (errorkit's and the stacks' own):
# they are replaced by these values when an exception is pickled.
_LIVE_ATTRIBUTES: dict[str, object] = {
    "response": None,  # errorkit, requests, httpx
    "request": None,  # requests (PreparedRequest, with its Authorization header)
    "_request": None,  # httpx (`exc.request` then raises httpx's "not set" error)
    "request_info": None,  # aiohttp (request headers, unpicklable multidict)
    "history": (),  # aiohttp (ClientResponse objects)
    "headers": None,  # aiohttp (response headers, unpicklable multidict)
    "pool": None,  # urllib3 MaxRetryError (a live pool holds locks)
}
# errorkit's own attributes: its values, safe by construction.
_ERRORKIT_ATTRIBUTES = frozenset(("info", "attempts", "status"))


class APIError(Exception):
    """Base of every errorkit exception.

    Attributes:
        info: the `ErrorInfo` errorkit built for the failure.
        attempts: how many attempts were made before giving up (>= 1).
        response: the stack's own final response object, or None.
    """

    info: ErrorInfo
    attempts: int
    response: Any

    def __init__(self, info: ErrorInfo, *, response: Any = None, attempts: int = 1) -> None:
        self._errorkit_set(info, response, attempts)
        Exception.__init__(self, describe(info, attempts))

    def _errorkit_set(self, info: ErrorInfo, response: Any, attempts: int) -> None:
        # Kept apart from __init__ so a stack-compatible subclass can run its
        # foreign base's __init__ and then this, without a cooperative chain.
        if not isinstance(info, ErrorInfo):
            raise TypeError(f"info must be an ErrorInfo, not {type(info).__name__}")
        if not _positive_int(attempts):
            raise ValueError(f"attempts must be an int >= 1, not {attempts!r}")
        self.info = info
        self.attempts = attempts
        self.response = response

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait before a retry, or None."""
        return self.info.retry_after

    def __str__(self) -> str:
        return describe(self.info, self.attempts)

    def __repr__(self) -> str:
        info = self.info
        fields = [
            ("status", info.status),
            ("category", str(info.category)),
            ("code", _short(info.code, 60)),
            ("message", _short(info.message, 80)),
            ("request_id", _short(info.request_id, 60)),
            ("attempts", self.attempts),
        ]
        shown = ", ".join(f"{name}={value!r}" for name, value in fields if value is not None)
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore, (type(self), pickle_state(self)))


class APIStatusError(APIError):
    """The server answered with an error status (or an in-band error).

    Attributes:
        status: the HTTP status, or None when the stack did not report one.
    """

    status: int | None

    def _errorkit_set(self, info: ErrorInfo, response: Any, attempts: int) -> None:
        super()._errorkit_set(info, response, attempts)
        self.status = info.status


class BadRequestError(APIStatusError):
    """The request was malformed or invalid (category ``bad_request``, 400)."""


class AuthenticationError(APIStatusError):
    """Credentials are missing, invalid or expired (``authentication``, 401)."""


class PermissionDeniedError(APIStatusError):
    """The credentials lack the permission (``permission``, 403)."""


class NotFoundError(APIStatusError):
    """The resource does not exist (``not_found``, 404/410)."""


class ConflictError(APIStatusError):
    """The request conflicts with the resource's state (``conflict``, 409)."""


class PayloadTooLargeError(APIStatusError):
    """The request body is too large (``payload_too_large``, 413)."""


class UnprocessableEntityError(APIStatusError):
    """The request is well-formed but semantically invalid (``unprocessable``, 422)."""


class RateLimitError(APIStatusError):
    """Too many requests; wait `retry_after` seconds (``rate_limited``, 429)."""


class QuotaExceededError(APIStatusError):
    """A quota or billing limit is spent; waiting will not help (``quota_exceeded``)."""


class InternalServerError(APIStatusError):
    """The server failed (``server``: 500 and other 5xx)."""


class ServiceUnavailableError(InternalServerError):
    """The server is overloaded or unreachable behind a gateway (``unavailable``)."""


class APIConnectionError(APIError):
    """No response: the transport failed after the retries.

    ``__cause__`` is the stack's own exception.
    """


class APITimeoutError(APIConnectionError):
    """No response in time (``timeout`` without a status)."""


_BY_CATEGORY: dict[Category, type[APIError]] = {
    Category.BAD_REQUEST: BadRequestError,
    Category.AUTHENTICATION: AuthenticationError,
    Category.PERMISSION: PermissionDeniedError,
    Category.NOT_FOUND: NotFoundError,
    Category.CONFLICT: ConflictError,
    Category.PAYLOAD_TOO_LARGE: PayloadTooLargeError,
    Category.UNPROCESSABLE: UnprocessableEntityError,
    Category.RATE_LIMITED: RateLimitError,
    Category.QUOTA_EXCEEDED: QuotaExceededError,
    Category.CLIENT: APIStatusError,
    Category.SERVER: InternalServerError,
    Category.UNAVAILABLE: ServiceUnavailableError,
    Category.CONNECTION: APIConnectionError,
    Category.TIMEOUT: APITimeoutError,
}


def class_for(category: Category | str, status: int | None = None) -> type[APIError]:
    """The exception class for `category` (a ``timeout`` with a status is a status error).

    An unknown category gives `APIStatusError` when there is a status, else `APIError`.
    """
    try:
        known = Category(category)
    except ValueError:
        return APIStatusError if status is not None else APIError
    if known is Category.TIMEOUT and status is not None:
        return APIStatusError
    return _BY_CATEGORY[known]


def exception_for(info: ErrorInfo, *, response: Any = None, attempts: int = 1) -> APIError:
    """The exception for `info`, ready to raise (raise it ``from`` a stack exception)."""
    return class_for(info.category, info.status)(info, response=response, attempts=attempts)


def describe(info: ErrorInfo, attempts: int = 1) -> str:
    """The one-line ``str()`` of an exception for `info` after `attempts` attempts."""
    head = str(info.category) if info.status is None else f"{info.status} {info.category}"
    text = _shown(info.message, MAX_SHOWN_MESSAGE) or "(no message)"
    extras = [f"code={_shown(info.code, MAX_SHOWN_FIELD)}"] if info.code else []
    if info.type and not info.code:
        extras.append(f"type={_shown(info.type, MAX_SHOWN_FIELD)}")
    if info.request_id:
        extras.append(f"request_id={_shown(info.request_id, MAX_SHOWN_FIELD)}")
    if info.retry_after is not None:
        extras.append(f"retry after {_seconds(info.retry_after)} s")
    if attempts > 1:
        extras.append(f"after {attempts} attempts")
    return f"{head}: {text} ({', '.join(extras)})" if extras else f"{head}: {text}"


def pickle_state(exc: BaseException) -> dict[str, Any]:
    """`exc.__dict__` without the live stack objects (see `_LIVE_ATTRIBUTES`).

    Every other attribute goes through `redact_value`, so a URL or text that
    holds a credential is pickled redacted. errorkit's own `info` is kept, but
    its raw `body`, `details` and `extra` (where a server may echo the request's
    credentials back) are pickled redacted too: a pickle leaves the process.
    """
    state = {name: _pickled(name, value) for name, value in exc.__dict__.items()}
    for name, replacement in _LIVE_ATTRIBUTES.items():
        if name in state:
            state[name] = replacement
    return state


def _pickled(name: str, value: object) -> object:
    if name == "info" and isinstance(value, ErrorInfo):
        body, details = redact_value(value.body), redact_value(value.details)
        extra = redact_value(dict(value.extra))
        if body is value.body and details is value.details and extra == value.extra:
            return value
        return dataclasses.replace(value, body=body, details=details, extra=extra)  # type: ignore[arg-type]
    return value if name in _ERRORKIT_ATTRIBUTES else redact_value(value)


def restore(cls: type[APIError], state: dict[str, Any]) -> APIError:
    """Rebuild an exception from `pickle_state` without running any ``__init__``."""
    exc = cls.__new__(cls)
    exc.__dict__.update(state)
    exc.args = (str(exc),)
    return exc


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _shown(text: object, limit: int) -> str:
    return "" if text is None else safe_text(text, limit)


def _short(text: str | None, limit: int) -> str | None:
    return None if text is None else _shown(text, limit)


def _seconds(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")
