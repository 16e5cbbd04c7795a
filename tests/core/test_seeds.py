"""Every row of both seed documents, end to end through the public `errorkit.parse()`.

The seeds are ``shared/seeds/agents-sdk-errors.txt`` and
``shared/seeds/onecli-api-errors.txt``. Each row is sent as a real response would
carry it (the seed's own body shape, JSON content type) and must come back with
the documented status, category, retryability (the seeds' retry guidance),
exact message, code/type, retry wait, and a catalog hint naming its cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

import errorkit
from errorkit import Category

C = Category
HEADERS = {"Content-Type": "application/json", "X-Request-Id": "req_seed_1"}


@dataclass(frozen=True)
class Row:
    """One seed row: the response to send and what parse() must say about it."""

    id: str
    status: int
    body: object
    category: Category | None = None
    retryable: bool = False
    message: str = ""
    code: str | None = None
    type: str | None = None
    retry_after: float | None = None
    hint: str = ""


def agents(
    id_: str,
    status: int,
    code: str,
    message: str,
    category: Category,
    *,
    retryable: bool = False,
    hint: str,
) -> Row:
    """An agents-API row: ``{"error": {"code", "message", "status"}}``."""
    body = {"error": {"code": code, "message": message, "status": status}}
    return Row(
        id_, status, body, category, retryable=retryable, message=message, code=code, hint=hint
    )


def flat(id_: str, status: int, message: str, category: Category, *, hint: str) -> Row:
    """A OneCLI validation row: ``{"error": "<message>"}``."""
    return Row(id_, status, {"error": message}, category, message=message, hint=hint)


def envelope(
    id_: str,
    status: int,
    message: str,
    type_: str,
    category: Category,
    *,
    retryable: bool = False,
    hint: str,
) -> Row:
    """A OneCLI authentication/service row: ``{"error": {"message", "type"}}``."""
    body = {"error": {"message": message, "type": type_}}
    return Row(
        id_, status, body, category, retryable=retryable, message=message, type=type_, hint=hint
    )


AGENTS_ROWS = [
    # "Error Response Format" example
    agents(
        "format-example",
        400,
        "invalid_request",
        "sandboxId is required",
        C.BAD_REQUEST,
        hint="malformed or missing required fields",
    ),
    # "HTTP Status Codes" table: the successes are not errors at all
    Row("status-200", 200, {"id": "sb_1", "status": "running"}),
    Row("status-201", 201, {"id": "vault_1"}),
    Row("status-204", 204, None),
    agents(
        "status-400",
        400,
        "invalid_request",
        "invalid parameters or missing required fields",
        C.BAD_REQUEST,
        hint="malformed",
    ),
    agents(
        "status-401",
        401,
        "unauthorized",
        "API key expired",
        C.AUTHENTICATION,
        hint="Authorization: Bearer",
    ),
    agents(
        "status-403",
        403,
        "forbidden",
        "Insufficient permissions",
        C.PERMISSION,
        hint="does not have permission",
    ),
    agents(
        "status-404",
        404,
        "not_found",
        "Sandbox not found",
        C.NOT_FOUND,
        hint="(sandbox, thread, vault, credential) does not exist",
    ),
    agents(
        "status-409",
        409,
        "conflict",
        "resource already exists or is in a conflicting state",
        C.CONFLICT,
        hint="same serverUrl",
    ),
    agents(
        "status-422",
        422,
        "validation_error",
        "request is well-formed but violates a semantic constraint",
        C.UNPROCESSABLE,
        hint="fails validation",
    ),
    agents(
        "status-429",
        429,
        "rate_limit_exceeded",
        "rate limit exceeded",
        C.RATE_LIMITED,
        retryable=True,
        hint="retryAfter",
    ),
    agents(
        "status-500",
        500,
        "sandbox_error",
        "unexpected server failure",
        C.SERVER,
        retryable=True,
        hint="runtime error",
    ),
    agents(
        "status-503",
        503,
        "sandbox_error",
        "sandbox runtime is temporarily unavailable",
        C.UNAVAILABLE,
        retryable=True,
        hint="runtime error",
    ),
    # "Error Codes" table
    agents(
        "code-invalid_request",
        400,
        "invalid_request",
        "The request body is malformed",
        C.BAD_REQUEST,
        hint="malformed",
    ),
    agents(
        "code-validation_error",
        400,
        "validation_error",
        "vault name too long",
        C.BAD_REQUEST,
        hint="metadata caps",
    ),
    agents(
        "code-unauthorized",
        401,
        "unauthorized",
        "The API key is invalid, expired, or missing",
        C.AUTHENTICATION,
        hint="invalid, expired or missing",
    ),
    agents(
        "code-forbidden",
        403,
        "forbidden",
        "The API key does not have permission for this operation",
        C.PERMISSION,
        hint="does not have permission",
    ),
    agents(
        "code-not_found",
        404,
        "not_found",
        "Credential not found",
        C.NOT_FOUND,
        hint="does not exist",
    ),
    agents(
        "code-conflict",
        409,
        "conflict",
        "Duplicate credential for the same serverUrl in a vault",
        C.CONFLICT,
        hint="archive before hard-deleting",
    ),
    agents(
        "code-credential_cap_exceeded",
        422,
        "credential_cap_exceeded",
        "Vault already has 20 active credentials",
        C.UNPROCESSABLE,
        hint="max 20 active credentials per vault",
    ),
    agents(
        "code-vault_coverage_missing",
        422,
        "vault_coverage_missing",
        "Resolved vaults do not cover all MCP servers",
        C.UNPROCESSABLE,
        hint="VAULT_COVERAGE_MODE is strict",
    ),
    agents(
        "code-rate_limit_exceeded",
        429,
        "rate_limit_exceeded",
        "Too many requests in a short period",
        C.RATE_LIMITED,
        retryable=True,
        hint="retryAfter seconds",
    ),
    agents(
        "code-sandbox_error",
        500,
        "sandbox_error",
        "The sandbox encountered a runtime error",
        C.SERVER,
        retryable=True,
        hint="exponential backoff",
    ),
    agents(
        "code-budget_exceeded",
        429,
        "budget_exceeded",
        "The request exceeded a configured budget limit",
        C.QUOTA_EXCEEDED,
        hint="Retrying does not help",
    ),
    agents(
        "code-budget_exceeded-402",
        402,
        "budget_exceeded",
        "The request exceeded a configured budget limit",
        C.QUOTA_EXCEEDED,
        hint="Retrying does not help",
    ),
    agents(
        "code-stream_active",
        409,
        "stream_active",
        "A stream is already active for this sandbox",
        C.CONFLICT,
        hint="already active for this sandbox",
    ),
    # "Authentication Errors" example
    agents(
        "auth-example",
        401,
        "unauthorized",
        "Invalid or missing API key",
        C.AUTHENTICATION,
        hint="Authorization: Bearer",
    ),
    # "Rate Limiting" example: the body's retryAfter is the wait
    Row(
        "rate-limit-example",
        429,
        {
            "error": {
                "code": "rate_limit_exceeded",
                "message": "Too many requests. Please retry after 60 seconds.",
                "status": 429,
                "retryAfter": 60,
            }
        },
        C.RATE_LIMITED,
        retryable=True,
        message="Too many requests. Please retry after 60 seconds.",
        code="rate_limit_exceeded",
        retry_after=60.0,
        hint="retryAfter seconds",
    ),
]

ONECLI_ROWS = [
    # "Error response format" examples
    flat("format-flat", 400, "Label is required", C.BAD_REQUEST, hint="non-empty label"),
    envelope(
        "format-envelope",
        401,
        "Invalid API key or token.",
        "authentication_error",
        C.AUTHENTICATION,
        hint="oc_org_",
    ),
    # "Error reference" table and "Retry guidance" table (400-409 no, 500 yes),
    # with messages no catalog row names: the status-level advice answers
    flat(
        "status-400",
        400,
        "Expected number, received string",
        C.BAD_REQUEST,
        hint="against the endpoint's schema",
    ),
    envelope(
        "status-401",
        401,
        "Session expired",
        "authentication_error",
        C.AUTHENTICATION,
        hint="regenerate the key",
    ),
    envelope(
        "status-403",
        403,
        "Forbidden for this resource",
        "authorization_error",
        C.PERMISSION,
        hint="correct project",
    ),
    flat("status-404", 404, "Resource not found", C.NOT_FOUND, hint="list endpoint"),
    envelope(
        "status-409",
        409,
        "Duplicate resource",
        "conflict_error",
        C.CONFLICT,
        hint="different identifier",
    ),
    envelope(
        "status-500",
        500,
        "Internal server error",
        "internal_error",
        C.SERVER,
        retryable=True,
        hint="brief delay with exponential backoff",
    ),
    # "Common error messages": General
    envelope(
        "general-invalid-key",
        401,
        "Invalid API key or token.",
        "authentication_error",
        C.AUTHENTICATION,
        hint="POST /user/api-key/regenerate",
    ),
    flat(
        "general-project-id",
        400,
        "X-Project-Id header is required",
        C.BAD_REQUEST,
        hint="project context",
    ),
    envelope(
        "general-permissions",
        403,
        "Insufficient permissions",
        "authorization_error",
        C.PERMISSION,
        hint="admin or owner role",
    ),
    # Agents
    flat(
        "agents-name-too-small",
        400,
        "Too small: expected string to have >=1 characters",
        C.BAD_REQUEST,
        hint="1-255 characters",
    ),
    flat(
        "agents-name-too-big",
        400,
        "Too big: expected string to have <=255 characters",
        C.BAD_REQUEST,
        hint="1-255 characters",
    ),
    flat(
        "agents-identifier",
        400,
        "Identifier must be 1-50 characters, start with a letter or number, and contain only"
        " lowercase letters, numbers, and hyphens",
        C.BAD_REQUEST,
        hint="identifier has an invalid format",
    ),
    envelope(
        "agents-duplicate",
        409,
        "An agent with this identifier already exists",
        "conflict_error",
        C.CONFLICT,
        hint="Choose a different identifier",
    ),
    flat(
        "agents-delete-default",
        400,
        "Cannot delete the default agent",
        C.BAD_REQUEST,
        hint="default agent cannot be deleted",
    ),
    flat(
        "agents-already-default",
        400,
        "Agent is already the default",
        C.BAD_REQUEST,
        hint="already set as the project's default",
    ),
    flat(
        "agents-secrets-missing",
        400,
        "One or more secrets not found",
        C.BAD_REQUEST,
        hint="secret IDs in the request do not exist",
    ),
    flat("agents-not-found", 404, "Agent not found", C.NOT_FOUND, hint="agent ID does not exist"),
    # Secrets
    flat(
        "secrets-url",
        400,
        "Enter a hostname, not a URL (remove http:// or https://)",
        C.BAD_REQUEST,
        hint="protocol prefix",
    ),
    flat(
        "secrets-path",
        400,
        "Enter a hostname only, not a path (use the path pattern field for paths)",
        C.BAD_REQUEST,
        hint="includes a / path",
    ),
    flat(
        "secrets-spaces",
        400,
        "Host pattern must not contain spaces",
        C.BAD_REQUEST,
        hint="whitespace",
    ),
    flat(
        "secrets-generic-injection",
        400,
        "Header name, parameter name, or URL path template is required for generic secrets",
        C.BAD_REQUEST,
        hint="injectionConfig has no injection method",
    ),
    flat(
        "secrets-1password",
        400,
        "1Password is only available for project-scoped secrets",
        C.BAD_REQUEST,
        hint="valueSource: onepassword",
    ),
    flat("secrets-no-fields", 400, "No fields to update", C.BAD_REQUEST, hint="empty body"),
    flat(
        "secrets-not-found", 404, "Secret not found", C.NOT_FOUND, hint="secret ID does not exist"
    ),
    # Rules
    flat(
        "rules-rate-fields",
        400,
        "rateLimit and rateLimitWindow are required when action is rate_limit",
        C.BAD_REQUEST,
        hint="Send both fields",
    ),
    flat(
        "rules-rate-config",
        400,
        "Rate limit rules require a rate limit and window",
        C.BAD_REQUEST,
        hint="without a valid rate configuration",
    ),
    flat(
        "rules-empty-patch",
        400,
        "At least one field must be provided",
        C.BAD_REQUEST,
        hint="empty body",
    ),
    flat(
        "rules-not-found",
        404,
        "Policy rule not found",
        C.NOT_FOUND,
        hint="rule ID does not exist",
    ),
    flat(
        "rules-unknown-tool",
        400,
        "Unknown tool: github.create_issue",
        C.BAD_REQUEST,
        hint="tool github.create_issue, which is not in the app's permission definition",
    ),
    flat(
        "rules-inherit",
        400,
        "Only agent-scoped app permissions can be set to inherit",
        C.BAD_REQUEST,
        hint="without an agentId",
    ),
    # Apps
    flat(
        "apps-unknown-provider",
        404,
        "Unknown provider: acme",
        C.NOT_FOUND,
        hint="provider acme is not in the app registry",
    ),
    flat(
        "apps-provider-unavailable",
        400,
        'Provider "slack" is not available',
        C.BAD_REQUEST,
        hint="app slack exists but is not available for connection",
    ),
    flat(
        "apps-missing-fields",
        400,
        "Missing fields in request body",
        C.BAD_REQUEST,
        hint="no fields object",
    ),
    flat(
        "apps-field-required",
        400,
        "apiKey is required",
        C.BAD_REQUEST,
        hint="required field apiKey is missing or empty",
    ),
    flat(
        "apps-connection-not-found",
        404,
        "Connection not found",
        C.NOT_FOUND,
        hint="not owned by the caller",
    ),
    flat("apps-label", 400, "Label is required", C.BAD_REQUEST, hint="non-empty label"),
    flat(
        "apps-invalid-body",
        400,
        "Invalid request body",
        C.BAD_REQUEST,
        hint="BYOC config body",
    ),
    # User
    flat(
        "user-name",
        400,
        "Too small: expected string to have >=1 characters",
        C.BAD_REQUEST,
        hint="too short or empty",
    ),
]

ROWS = [pytest.param(row, id=f"agents/{row.id}") for row in AGENTS_ROWS] + [
    pytest.param(row, id=f"onecli/{row.id}") for row in ONECLI_ROWS
]


@pytest.mark.parametrize("row", ROWS)
def test_seed_row(row: Row) -> None:
    """The seed row parses to its documented status, category, retryability, text and hint."""
    body = None if row.body is None else json.dumps(row.body).encode()
    info = errorkit.parse(row.status, HEADERS, body)
    if row.category is None:
        assert info is None
        return
    assert info is not None
    assert info.status == row.status
    assert info.category is row.category
    assert info.retryable is row.retryable, info.retryable_reason
    assert info.message == row.message
    assert info.code == row.code
    assert info.type == row.type
    assert info.retry_after == row.retry_after
    assert info.request_id == "req_seed_1"
    assert info.hint is not None
    assert row.hint in info.hint
    assert info.retryable_reason


def test_rate_limit_example_names_the_body_field() -> None:
    """The agents 429 example's wait comes from the body's retryAfter field."""
    body = {
        "error": {"code": "rate_limit_exceeded", "message": "m", "status": 429, "retryAfter": 60}
    }
    info = errorkit.parse(429, HEADERS, json.dumps(body))
    assert info is not None
    assert info.retry_after == 60.0
    assert info.retry_after_source is not None
    assert info.retry_after_source.startswith("body:")


def test_retry_after_header_beats_body_retry_after() -> None:
    """A Retry-After header on the agents 429 wins over the body's retryAfter."""
    body = {
        "error": {"code": "rate_limit_exceeded", "message": "m", "status": 429, "retryAfter": 60}
    }
    info = errorkit.parse(429, {**HEADERS, "Retry-After": "5"}, json.dumps(body))
    assert info is not None
    assert (info.retry_after, info.retry_after_source) == (5.0, "header:retry-after")
