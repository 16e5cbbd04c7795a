"""errorkit: one error model and one retry policy for every Python HTTP stack.

    import errorkit

    info = errorkit.parse(429, {"Retry-After": "2"}, b'{"error": "slow down"}')
    info.category       # Category.RATE_LIMITED
    info.retry_after    # 2.0

The stack adapters live in `errorkit.requests`, `errorkit.urllib3`,
`errorkit.httpx` and `errorkit.aiohttp`; importing `errorkit` imports none of
the stacks. The testing toolkit is `errorkit.testing`.
"""

from __future__ import annotations

from errorkit._budget import BudgetStats, RetryBudget
from errorkit._catalog import Catalog, CatalogEntry, register_catalog, unregister_catalog
from errorkit._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from errorkit._formats import (
    Document,
    Extracted,
    Recognizer,
    as_code,
    as_seconds,
    as_status,
    as_text,
    envelope,
    register_format,
    shape,
    unregister_format,
)
from errorkit._gate import RateLimitGate, by_endpoint, by_origin
from errorkit._info import Category, ErrorInfo, Quota
from errorkit._parse import parse
from errorkit._policy import Decision, Reason, RetryEvent, RetryPolicy, TransportFailure
from errorkit._stacks.responses import error_of, raise_for_error
from errorkit._throttle import AdaptiveThrottle, ThrottleEvent

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveThrottle",
    "AuthenticationError",
    "BadRequestError",
    "BudgetStats",
    "Catalog",
    "CatalogEntry",
    "Category",
    "ConflictError",
    "Decision",
    "Document",
    "ErrorInfo",
    "Extracted",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Quota",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimitGate",
    "Reason",
    "Recognizer",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "ServiceUnavailableError",
    "ThrottleEvent",
    "TransportFailure",
    "UnprocessableEntityError",
    "as_code",
    "as_seconds",
    "as_status",
    "as_text",
    "by_endpoint",
    "by_origin",
    "envelope",
    "error_of",
    "parse",
    "raise_for_error",
    "register_catalog",
    "register_format",
    "shape",
    "unregister_catalog",
    "unregister_format",
]
