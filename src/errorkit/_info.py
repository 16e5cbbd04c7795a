"""The error model: one frozen `ErrorInfo` per error response, whatever its shape."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Category(str, enum.Enum):
    """What kind of failure an error is, independent of the API that reported it.

    The value is the stable, lowercase name used in logs, JSON output and docs.
    """

    BAD_REQUEST = "bad_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNPROCESSABLE = "unprocessable"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    CLIENT = "client"
    SERVER = "server"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CONNECTION = "connection"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """Everything errorkit learned from one error response (or transport failure).

    Attributes:
        status: HTTP status, or None for a transport failure.
        category: the `Category` the error belongs to.
        message: the primary human-readable message; never empty.
        code: machine-readable code (``rate_limit_exceeded``), or None.
        type: machine-readable type/class (``authentication_error``), or None.
        request_id: the server's request id, from headers or body, or None.
        retryable: whether retrying the same request may succeed.
        retry_after: seconds the server asked to wait, or None.
        details: the other errors / field violations, in order.
        hint: remediation text from a catalog, or None.
        format: name of the recognised body shape (``problem+json``, ``text``...).
        body: the decoded JSON document, or the (bounded) text.
        retry_after_source: where `retry_after` came from (``header:retry-after``,
            ``body:error.retryAfter``...), or None.
        should_retry: the server's explicit directive (``x-should-retry``), or None.
        retryable_reason: one short sentence saying why `retryable` is what it is.
    """

    status: int | None
    category: Category
    message: str
    code: str | None = None
    type: str | None = None
    request_id: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    details: tuple[object, ...] = ()
    hint: str | None = None
    format: str = "empty"
    body: object = None
    retry_after_source: str | None = None
    should_retry: bool | None = None
    retryable_reason: str = ""
