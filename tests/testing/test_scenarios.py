"""Ready-made seed scenarios: the exact statuses, shapes and messages, over the wire."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

from errorkit.testing import FaultServer, Step, scenarios

if TYPE_CHECKING:
    from collections.abc import Callable


def _serve(server: FaultServer, steps: list[Step], n: int = 1) -> list[requests.Response]:
    server.script("/v1/agents", steps)
    with requests.Session() as session:
        return [session.get(server.url("/v1/agents"), timeout=2) for _ in range(n)]


def test_onecli_flat_validation_error(server: FaultServer) -> None:
    """OneCLI validation errors are a flat string, exactly the seed's message."""
    (response,) = _serve(server, scenarios.onecli_validation_error())
    assert (response.status_code, response.json()) == (400, {"error": "Label is required"})


@pytest.mark.parametrize("message", scenarios.ONECLI_VALIDATION_MESSAGES)
def test_every_quoted_onecli_message_round_trips(server: FaultServer, message: str) -> None:
    """Each message the seed quotes is served verbatim in the flat shape."""
    (response,) = _serve(server, scenarios.onecli_validation_error(message))
    assert response.json() == {"error": message}


def test_onecli_invalid_api_key_envelope(server: FaultServer) -> None:
    """The 401 uses the envelope with the seed's message and type authentication_error."""
    (response,) = _serve(server, scenarios.onecli_invalid_api_key())
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Invalid API key or token.", "type": "authentication_error"}
    }


def test_onecli_agent_conflict_envelope(server: FaultServer) -> None:
    """The 409 is an envelope carrying 'An agent with this identifier already exists'."""
    (response,) = _serve(server, scenarios.onecli_agent_conflict())
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "An agent with this identifier already exists"
    flat = scenarios.onecli_agent_conflict(type=None)
    (response,) = _serve(server, flat)
    assert response.json() == {"error": "An agent with this identifier already exists"}


def test_onecli_forbidden_and_not_found(server: FaultServer) -> None:
    """The 403 and 404 carry the seed's messages."""
    (forbidden,) = _serve(server, scenarios.onecli_forbidden())
    (missing,) = _serve(server, scenarios.onecli_not_found())
    assert (forbidden.status_code, forbidden.json()) == (403, {"error": "Insufficient permissions"})
    assert (missing.status_code, missing.json()) == (404, {"error": "Agent not found"})


def test_onecli_server_error_recovers(server: FaultServer) -> None:
    """Two envelope 500s, then a 200 that repeats."""
    responses = _serve(server, scenarios.onecli_server_error(times=2), n=4)
    assert [r.status_code for r in responses] == [500, 500, 200, 200]
    assert responses[0].json()["error"]["type"] == "api_error"


def test_rate_limited_body_is_exactly_the_seed_shape(server: FaultServer) -> None:
    """The 429 body is the seed's, with retryAfter and the message's seconds configured."""
    limited, ok = _serve(server, scenarios.rate_limited(retry_after=1), n=2)
    assert limited.status_code == 429
    assert limited.json() == {
        "error": {
            "code": "rate_limit_exceeded",
            "message": "Too many requests. Please retry after 1 seconds.",
            "status": 429,
            "retryAfter": 1,
        }
    }
    assert "Retry-After" not in limited.headers
    assert ok.status_code == 200


def test_rate_limited_default_is_60_seconds_and_can_add_a_header(server: FaultServer) -> None:
    """By default the seed's 60 s is reproduced; `header=True` adds Retry-After too."""
    (response,) = _serve(server, scenarios.rate_limited(header=True, then=None))
    assert response.json()["error"]["retryAfter"] == 60
    assert response.json()["error"]["message"] == (
        "Too many requests. Please retry after 60 seconds."
    )
    assert response.headers["Retry-After"] == "60"


def test_rate_limited_forever(server: FaultServer) -> None:
    """`then=None` keeps answering 429."""
    responses = _serve(server, scenarios.rate_limited(times=2, then=None), n=4)
    assert {r.status_code for r in responses} == {429}


def test_sandbox_unavailable_then_recovers(server: FaultServer) -> None:
    """503 while the sandbox runtime is unavailable, in the agents error shape, then 200."""
    responses = _serve(server, scenarios.sandbox_unavailable(times=2), n=3)
    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].json()["error"]["status"] == 503


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (scenarios.budget_exceeded, 429, "budget_exceeded"),
        (scenarios.credential_cap_exceeded, 422, "credential_cap_exceeded"),
        (scenarios.vault_coverage_missing, 422, "vault_coverage_missing"),
        (scenarios.agents_invalid_request, 400, "invalid_request"),
        (scenarios.agents_validation_error, 400, "validation_error"),
        (scenarios.agents_unauthorized, 401, "unauthorized"),
        (scenarios.agents_forbidden, 403, "forbidden"),
        (scenarios.agents_not_found, 404, "not_found"),
        (scenarios.agents_conflict, 409, "conflict"),
        (scenarios.stream_active, 409, "stream_active"),
        (scenarios.sandbox_error, 500, "sandbox_error"),
    ],
)
def test_agents_errors_have_code_message_status(
    server: FaultServer, make: Callable[[], list[Step]], status: int, code: str
) -> None:
    """Each agents-API scenario answers {"error": {"code", "message", "status"}}."""
    (response,) = _serve(server, make())
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["status"]) == (status, code, status)
    assert error["message"]


def test_agents_seed_messages_are_exact(server: FaultServer) -> None:
    """The two agents-API messages the seed quotes are reproduced verbatim."""
    (unauthorized,) = _serve(server, scenarios.agents_unauthorized())
    (invalid,) = _serve(server, scenarios.agents_invalid_request())
    assert unauthorized.json()["error"]["message"] == "Invalid or missing API key"
    assert invalid.json()["error"]["message"] == "sandboxId is required"


def test_budget_exceeded_status_is_configurable(server: FaultServer) -> None:
    """budget_exceeded can be served with another status."""
    (response,) = _serve(server, scenarios.budget_exceeded(status=402))
    assert response.status_code == 402


def test_generic_scenarios(server: FaultServer) -> None:
    """flaky, retry_after and dropped_then_ok fail as described, then succeed."""
    assert [r.status_code for r in _serve(server, scenarios.flaky(502, times=2), n=3)] == [
        502,
        502,
        200,
    ]
    first, second = _serve(server, scenarios.retry_after(2), n=2)
    assert (first.status_code, first.headers["Retry-After"], second.status_code) == (503, "2", 200)
    server.script("/d", scenarios.dropped_then_ok())
    with pytest.raises(requests.ConnectionError):
        requests.post(server.url("/d"), timeout=2)
    assert requests.post(server.url("/d"), timeout=2).status_code == 200


def test_times_must_be_positive() -> None:
    """A scenario that should fail zero times is a mistake reported at once."""
    with pytest.raises(ValueError, match="times"):
        scenarios.flaky(times=0)
