"""The public surface is a contract: code outside this repository depends on it."""

from __future__ import annotations

import subprocess
import sys

import errorkit

PUBLIC = {
    "AdaptiveThrottle",
    "ThrottleEvent",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
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
    "Reason",
    "Recognizer",
    "RateLimitGate",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "ServiceUnavailableError",
    "TransportFailure",
    "UnprocessableEntityError",
    "as_code",
    "by_endpoint",
    "by_origin",
    "as_seconds",
    "as_status",
    "as_text",
    "envelope",
    "error_of",
    "parse",
    "raise_for_error",
    "register_catalog",
    "register_format",
    "shape",
    "unregister_catalog",
    "unregister_format",
}


def test_all_is_pinned() -> None:
    """`errorkit.__all__` is exactly the documented surface, sorted, and every name exists."""
    assert set(errorkit.__all__) == PUBLIC
    assert list(errorkit.__all__) == sorted(errorkit.__all__)
    for name in errorkit.__all__:
        assert getattr(errorkit, name) is not None


def test_design_contract_names_and_categories() -> None:
    """The names and category values of DESIGN.md are all present."""
    assert {c.value for c in errorkit.Category} == {
        "bad_request", "authentication", "permission", "not_found", "conflict",
        "payload_too_large", "unprocessable", "rate_limited", "quota_exceeded", "client",
        "server", "unavailable", "timeout", "connection",
    }  # fmt: skip
    assert issubclass(errorkit.ServiceUnavailableError, errorkit.InternalServerError)
    assert issubclass(errorkit.APITimeoutError, errorkit.APIConnectionError)
    for cls in (errorkit.APIStatusError, errorkit.APIConnectionError):
        assert issubclass(cls, errorkit.APIError)


def test_import_errorkit_imports_no_http_stack() -> None:
    """`import errorkit` (and its testing toolkit) loads none of the HTTP stacks, nor
    OpenTelemetry (which only `errorkit.otel` imports)."""
    code = (
        "import sys, errorkit, errorkit.testing\n"
        "stacks = {'requests', 'urllib3', 'httpx', 'httpx2', 'httpcore', 'aiohttp', 'pytest',\n"
        "          'opentelemetry', 'wrapt'}\n"
        "print(sorted(stacks & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_package_is_typed() -> None:
    """The package ships its py.typed marker."""
    from importlib.resources import files

    assert files("errorkit").joinpath("py.typed").is_file()
