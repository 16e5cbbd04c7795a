"""Ready-made scripts that reproduce the error responses of real APIs.

Each function returns a list of steps for `FaultServer.script`::

    server.script("/v1/agents", scenarios.rate_limited(retry_after=1))

Two families come from errorkit's seed specifications:

* **OneCLI** (``onecli_*``): route-level validation errors are a flat string,
  ``{"error": "Label is required"}``; authentication failures and service errors
  use an envelope, ``{"error": {"message": ..., "type": ...}}``.
* **The agents / sandbox API** (the others): ``{"error": {"code": ..., "message":
  ..., "status": ...}}``, plus ``retryAfter`` (seconds) on a 429.

Messages quoted by a seed are reproduced exactly; where a seed names an error but
not its wording or status, the default below says so and can be overridden.
Scenarios that fail and then recover end with `OK`, which the server repeats.
"""

from __future__ import annotations

from errorkit.testing._steps import HeadersArg, Respond, Step, drop, respond

#: The success that recovering scenarios end with.
OK = respond(200, body={"ok": True})

#: Flat OneCLI validation messages (status 400) quoted by the seed, verbatim.
ONECLI_VALIDATION_MESSAGES: tuple[str, ...] = (
    "Label is required",
    "X-Project-Id header is required",
    (
        "Identifier must be 1-50 characters, start with a letter or number, and contain "
        "only lowercase letters, numbers, and hyphens"
    ),
    "Cannot delete the default agent",
    "Agent is already the default",
    "One or more secrets not found",
    "Enter a hostname, not a URL (remove http:// or https://)",
    "Enter a hostname only, not a path (use the path pattern field for paths)",
    "Host pattern must not contain spaces",
    "Header name, parameter name, or URL path template is required for generic secrets",
    "1Password is only available for project-scoped secrets",
    "No fields to update",
    "rateLimit and rateLimitWindow are required when action is rate_limit",
    "Rate limit rules require a rate limit and window",
    "At least one field must be provided",
    "Only agent-scoped app permissions can be set to inherit",
    "Missing fields in request body",
    "Invalid request body",
    "Too small: expected string to have >=1 characters",
)


def _then(failure: Step, times: int, then: Step | None) -> list[Step]:
    if times < 1:
        raise ValueError("times must be >= 1")
    steps: list[Step] = [failure] * times
    return [*steps, then] if then is not None else steps


# -- OneCLI ------------------------------------------------------------------------


def onecli_error(status: int, message: str, type: str | None = None) -> list[Step]:  # noqa: A002 - the field's name
    """One OneCLI error: the flat shape when `type` is None, else the envelope."""
    if type is None:
        return [respond(status, body={"error": message})]
    return [respond(status, body={"error": {"message": message, "type": type}})]


def onecli_validation_error(message: str = "Label is required") -> list[Step]:
    """A flat 400, ``{"error": "Label is required"}`` (see ONECLI_VALIDATION_MESSAGES)."""
    return onecli_error(400, message)


def onecli_invalid_api_key() -> list[Step]:
    """The envelope 401: ``Invalid API key or token.``, type ``authentication_error``."""
    return onecli_error(401, "Invalid API key or token.", "authentication_error")


def onecli_forbidden() -> list[Step]:
    """A flat 403 ``Insufficient permissions`` (the seed gives no shape; flat assumed)."""
    return onecli_error(403, "Insufficient permissions")


def onecli_not_found(message: str = "Agent not found") -> list[Step]:
    """A flat 404 (``Agent not found``, ``Secret not found``, ``Connection not found``...)."""
    return onecli_error(404, message)


def onecli_agent_conflict(type: str | None = "conflict_error") -> list[Step]:  # noqa: A002 - the field's name
    """The envelope 409 ``An agent with this identifier already exists``.

    The seed says it is an envelope but names no type: ``conflict_error`` is assumed;
    pass ``type=None`` for the flat shape.
    """
    return onecli_error(409, "An agent with this identifier already exists", type)


def onecli_server_error(
    times: int = 1,
    then: Step | None = OK,
    *,
    message: str = "Internal server error",
    type: str = "api_error",  # noqa: A002 - the field's name
) -> list[Step]:
    """`times` envelope 500s, then `then` (None: fail forever); wording and type assumed."""
    failure = respond(500, body={"error": {"message": message, "type": type}})
    return _then(failure, times, then)


# -- the agents / sandbox API ------------------------------------------------------


def agents_error(
    status: int, code: str, message: str, *, headers: HeadersArg = None, **extra: object
) -> Respond:
    """One agents-API error step, ``{"error": {"code", "message", "status", **extra}}``."""
    error: dict[str, object] = {"code": code, "message": message, "status": status, **extra}
    return respond(status, headers, {"error": error})


def rate_limited(
    retry_after: int = 60,
    *,
    times: int = 1,
    then: Step | None = OK,
    header: bool = False,
) -> list[Step]:
    """`times` 429s exactly as the seed shows them, then `then` (None: 429 forever).

    The body is ``{"error": {"code": "rate_limit_exceeded", "message": "Too many
    requests. Please retry after 60 seconds.", "status": 429, "retryAfter": 60}}``
    with `retry_after` in place of 60. The seed sends no ``Retry-After`` header;
    `header` adds one with the same value.
    """
    message = f"Too many requests. Please retry after {retry_after} seconds."
    headers = {"Retry-After": str(retry_after)} if header else None
    failure = agents_error(
        429, "rate_limit_exceeded", message, headers=headers, retryAfter=retry_after
    )
    return _then(failure, times, then)


def sandbox_unavailable(times: int = 1, then: Step | None = OK) -> list[Step]:
    """`times` 503s while the sandbox runtime is unavailable, then `then`.

    The seed documents the status (``sandbox runtime is temporarily unavailable``)
    but no code: ``sandbox_error`` is assumed.
    """
    failure = agents_error(503, "sandbox_error", "Sandbox runtime is temporarily unavailable")
    return _then(failure, times, then)


def sandbox_error(times: int = 1, then: Step | None = OK) -> list[Step]:
    """`times` 500s ``sandbox_error`` (the sandbox hit a runtime error), then `then`."""
    failure = agents_error(500, "sandbox_error", "The sandbox encountered a runtime error")
    return _then(failure, times, then)


def budget_exceeded(status: int = 429) -> list[Step]:
    """``budget_exceeded``: a quota, not a rate limit, so retrying cannot help.

    The seed names the code but no status; 429 is the default because it is the
    case a client must not mistake for a retryable rate limit. Pass another status
    (402, 403, 422) to test those.
    """
    return [
        agents_error(status, "budget_exceeded", "The request exceeded a configured budget limit")
    ]


def credential_cap_exceeded() -> list[Step]:
    """The 422 for a 21st active credential in a vault (at most 20 per vault)."""
    message = "A vault can hold at most 20 active credentials"
    return [agents_error(422, "credential_cap_exceeded", message)]


def vault_coverage_missing() -> list[Step]:
    """The 422 when the session's vaults do not cover every MCP server of the agent."""
    message = "The session's resolved vaults do not cover all MCP servers declared on the agent"
    return [agents_error(422, "vault_coverage_missing", message)]


def agents_invalid_request(message: str = "sandboxId is required") -> list[Step]:
    """The 400 ``invalid_request`` of the seed (``sandboxId is required``)."""
    return [agents_error(400, "invalid_request", message)]


def agents_validation_error(message: str = "Vault name is too long") -> list[Step]:
    """A 400 ``validation_error`` (a field failed validation)."""
    return [agents_error(400, "validation_error", message)]


def agents_unauthorized() -> list[Step]:
    """The seed's 401 ``unauthorized``: ``Invalid or missing API key``."""
    return [agents_error(401, "unauthorized", "Invalid or missing API key")]


def agents_forbidden() -> list[Step]:
    """A 403 ``forbidden``: the key lacks permission for the operation."""
    return [
        agents_error(403, "forbidden", "The API key does not have permission for this operation")
    ]


def agents_not_found(resource: str = "sandbox") -> list[Step]:
    """A 404 ``not_found`` for a sandbox, thread, vault or credential."""
    return [agents_error(404, "not_found", f"The specified {resource} does not exist")]


def agents_conflict() -> list[Step]:
    """A 409 ``conflict``: a duplicate credential for the same serverUrl in a vault."""
    message = "A credential for this serverUrl already exists in the vault"
    return [agents_error(409, "conflict", message)]


def stream_active() -> list[Step]:
    """A 409 ``stream_active``: a stream is already active for this sandbox."""
    return [agents_error(409, "stream_active", "A stream is already active for this sandbox")]


# -- generic -----------------------------------------------------------------------


def flaky(status: int = 503, times: int = 2, then: Step | None = OK) -> list[Step]:
    """`times` bare `status` responses (empty body), then `then`."""
    return _then(respond(status), times, then)


def retry_after(seconds: str | float = 1, status: int = 503, then: Step | None = OK) -> list[Step]:
    """One `status` with a ``Retry-After`` header (seconds, or an HTTP-date string), then `then`."""
    return _then(respond(status, {"Retry-After": str(seconds)}), 1, then)


def dropped_then_ok(times: int = 1, then: Step = OK) -> list[Step]:
    """`times` connections closed without an answer after reading the request, then `then`."""
    return [*([drop()] * times), then]
