"""openai, anthropic and stripe, as docs/integrations.md plugs errorkit in, over real sockets.

Each test builds the client with the documentation's own lines (`docblocks.run`),
against the session's FaultServer, with the SDK's retries at what the page says,
and asserts what the server received and what the caller got. errorkit's waits
are instant (`instant_waits`); the SDK's own waits are real, so a test that lets
the SDK re-send takes about a second.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest

import errorkit
from errorkit.testing import FaultServer, InstantWaits, respond
from integrations.docblocks import run

if TYPE_CHECKING:
    from collections.abc import Iterator

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
stripe = pytest.importorskip("stripe")

OPENAI_503 = {"error": {"message": "The server is overloaded.", "type": "server_error"}}
OPENAI_429 = {
    "error": {"message": "Rate limit reached.", "type": "requests", "code": "rate_limit_exceeded"}
}
ANTHROPIC_429 = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
ANTHROPIC_529 = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
STRIPE_503 = {"error": {"type": "api_error", "message": "Service unavailable."}}
STRIPE_409 = {
    "error": {"type": "invalid_request_error", "code": "lock_timeout", "message": "Locked."}
}
MODELS = {"object": "list", "data": []}


def counts(server: FaultServer, path: str) -> list[str | None]:
    """The x-stainless-retry-count of every hit on `path`."""
    return [r.header("x-stainless-retry-count") for r in server.requests(path)]


@pytest.fixture
def docs_openai(fault_server: FaultServer) -> Iterator[dict[str, Any]]:
    names = run("openai", fault_server.base_url)
    yield names
    names["client"].close()  # type: ignore[attr-defined]


@pytest.fixture
def docs_anthropic(fault_server: FaultServer) -> Iterator[dict[str, Any]]:
    names = run("anthropic", fault_server.base_url)
    yield names
    names["client"].close()  # type: ignore[attr-defined]


# -- openai ---------------------------------------------------------------------------


def test_openai_gets_three_hits_for_a_persistent_503_and_raises_its_own_error(
    fault_server: FaultServer, docs_openai: dict[str, Any], instant_waits: InstantWaits
) -> None:
    """errorkit's 3 attempts, then x-should-retry: false: openai raises without re-sending."""
    fault_server.script("/v1/models", respond(503, body=OPENAI_503))
    with pytest.raises(openai.InternalServerError) as caught:
        docs_openai["client"].models.list()
    assert counts(fault_server, "/v1/models") == ["0", "0", "0"]
    response = caught.value.response
    assert response.headers["x-should-retry"] == "false"
    assert errorkit.error_of(response).category is errorkit.Category.UNAVAILABLE  # type: ignore[union-attr]


def test_openai_succeeds_through_errorkits_retries(
    fault_server: FaultServer, docs_openai: dict[str, Any], instant_waits: InstantWaits
) -> None:
    fault_server.script(
        "/v1/models", [respond(503, body=OPENAI_503), respond(503), respond(200, body=MODELS)]
    )
    assert docs_openai["client"].models.list().data == []
    assert fault_server.hits("/v1/models") == 3


def test_openai_waits_a_retry_after_once_per_retry(
    fault_server: FaultServer, docs_openai: dict[str, Any], instant_waits: InstantWaits
) -> None:
    """A 429 with Retry-After: 1 throughout: errorkit waits 1 s twice; openai waits nothing."""
    fault_server.script("/v1/chat/completions", respond(429, {"Retry-After": "1"}, body=OPENAI_429))
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as caught:
        docs_openai["client"].chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert time.monotonic() - started < 1.0  # no real wait by the SDK
    assert fault_server.hits("/v1/chat/completions") == 3
    # The hint is the floor of each wait; the second may back off longer (429: base 1 s,
    # full jitter, so up to 2 s).
    first, second = instant_waits.delays
    assert 1.0 <= first <= 1.1
    assert 1.0 <= second <= 2.0
    info = errorkit.error_of(caught.value.response)
    assert info is not None
    assert (info.category, info.code) == (errorkit.Category.RATE_LIMITED, "rate_limit_exceeded")


def test_openai_re_sends_of_a_post_errorkit_does_not_retry_are_its_attempts(
    fault_server: FaultServer, docs_openai: dict[str, Any]
) -> None:
    """A POST 503 without a hint: errorkit does not re-send it, openai does, twice: 3 hits."""
    fault_server.script("/v1/chat/completions", respond(503, body=OPENAI_503))
    with pytest.raises(openai.InternalServerError) as caught:
        docs_openai["client"].chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert counts(fault_server, "/v1/chat/completions") == ["0", "1", "2"]
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_openai_async_gets_three_hits_for_a_persistent_503(
    fault_server: FaultServer, docs_openai: dict[str, Any], instant_waits: InstantWaits
) -> None:
    fault_server.script("/v1/models", respond(503, body=OPENAI_503))

    async def call() -> None:
        async with docs_openai["aclient"] as aclient:
            await aclient.models.list()

    with pytest.raises(openai.InternalServerError):
        asyncio.run(call())
    assert counts(fault_server, "/v1/models") == ["0", "0", "0"]


# -- anthropic ------------------------------------------------------------------------


def test_anthropic_gets_three_hits_for_a_persistent_429(
    fault_server: FaultServer, docs_anthropic: dict[str, Any], instant_waits: InstantWaits
) -> None:
    fault_server.script("/v1/messages", respond(429, {"retry-after": "1"}, body=ANTHROPIC_429))
    with pytest.raises(anthropic.RateLimitError):
        docs_anthropic["client"].messages.create(
            model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert counts(fault_server, "/v1/messages") == ["0", "0", "0"]
    assert len(instant_waits.delays) == 2


def test_anthropic_does_not_sleep_a_retry_after_above_max_retry_after(
    fault_server: FaultServer, docs_anthropic: dict[str, Any], instant_waits: InstantWaits
) -> None:
    """anthropic alone would sleep an hour; errorkit stops it at once, the wait in the error."""
    fault_server.script("/v1/messages", respond(429, {"retry-after": "3600"}, body=ANTHROPIC_429))
    started = time.monotonic()
    with pytest.raises(anthropic.RateLimitError) as caught:
        docs_anthropic["client"].messages.create(
            model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert time.monotonic() - started < 1.0
    assert fault_server.hits("/v1/messages") == 1
    assert instant_waits.delays == []
    info = errorkit.error_of(caught.value.response)
    assert info is not None
    assert info.retry_after == 3600.0


def test_anthropic_overloaded_posts_are_re_sent_by_the_sdk_only(
    fault_server: FaultServer, docs_anthropic: dict[str, Any]
) -> None:
    """529 on a POST: errorkit does not re-send it; anthropic's two re-sends make 3 hits."""
    fault_server.script("/v1/messages", respond(529, body=ANTHROPIC_529))
    with pytest.raises(anthropic.APIStatusError) as caught:
        docs_anthropic["client"].messages.create(
            model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert counts(fault_server, "/v1/messages") == ["0", "1", "2"]
    info = errorkit.error_of(caught.value.response)
    assert info is not None
    assert info.category is errorkit.Category.UNAVAILABLE


def test_anthropic_async_gets_three_hits_for_a_persistent_503(
    fault_server: FaultServer, docs_anthropic: dict[str, Any], instant_waits: InstantWaits
) -> None:
    fault_server.script("/v1/models", respond(503))

    async def call() -> None:
        async with docs_anthropic["aclient"] as aclient:
            await aclient.models.list()

    with pytest.raises(anthropic.InternalServerError):
        asyncio.run(call())
    assert counts(fault_server, "/v1/models") == ["0", "0", "0"]


# -- stripe ---------------------------------------------------------------------------


@pytest.fixture
def docs_stripe(fault_server: FaultServer) -> Iterator[Any]:
    names = run("stripe", fault_server.base_url)
    yield names["client"]
    names["session"].close()  # type: ignore[attr-defined]


def test_stripe_gets_three_hits_for_a_persistent_503_on_a_post(
    fault_server: FaultServer, docs_stripe: Any, instant_waits: InstantWaits
) -> None:
    """max_network_retries=2: errorkit's 3 attempts with one key, then Stripe-Should-Retry."""
    fault_server.script("/v1/customers", respond(503, body=STRIPE_503))
    started = time.monotonic()
    with pytest.raises(stripe.APIError):
        docs_stripe.v1.customers.create(params={"email": "a@example.com"})
    assert time.monotonic() - started < 0.5  # stripe's own backoff never ran
    keys = [r.header("Idempotency-Key") for r in fault_server.requests("/v1/customers")]
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert keys[0]


def test_stripe_gets_three_hits_for_a_persistent_503_on_a_get(
    fault_server: FaultServer, docs_stripe: Any, instant_waits: InstantWaits
) -> None:
    fault_server.script("/v1/customers/cus_1", respond(503, body=STRIPE_503))
    with pytest.raises(stripe.APIError):
        docs_stripe.v1.customers.retrieve("cus_1")
    assert fault_server.hits("/v1/customers/cus_1") == 3


def test_stripe_lock_timeouts_are_re_sent_by_stripe_as_attempts_of_one_call(
    fault_server: FaultServer, docs_stripe: Any
) -> None:
    """409 lock_timeout: errorkit does not retry a conflict, stripe does: 3 hits, one key."""
    fault_server.script("/v1/customers", respond(409, body=STRIPE_409))
    with pytest.raises(stripe.APIError) as caught:  # stripe raises APIError for a 409
        docs_stripe.v1.customers.create(params={"email": "a@example.com"})
    keys = [r.header("Idempotency-Key") for r in fault_server.requests("/v1/customers")]
    assert len(keys) == 3
    assert len(set(keys)) == 1
    info = errorkit.parse(caught.value.http_status, caught.value.headers, caught.value.http_body)
    assert info is not None
    assert (info.category, info.code) == (errorkit.Category.CONFLICT, "lock_timeout")


def test_openai_told_to_retry_more_still_stops_at_max_attempts(
    fault_server: FaultServer, docs_openai: dict[str, Any]
) -> None:
    """max_retries=5 on a POST 503: the SDK's re-sends count, so the third is the last."""
    fault_server.script("/v1/chat/completions", respond(503, body=OPENAI_503))
    client = docs_openai["client"].with_options(max_retries=5)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert counts(fault_server, "/v1/chat/completions") == ["0", "1", "2"]


def test_openai_async_re_sends_count_in_their_task(
    fault_server: FaultServer, docs_openai: dict[str, Any]
) -> None:
    """The async client's re-sends run in the caller's task: the same three, then stop."""
    fault_server.script("/v1/chat/completions", respond(503, body=OPENAI_503))

    async def call() -> None:
        async with docs_openai["aclient"].with_options(max_retries=5) as aclient:
            await aclient.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )

    with pytest.raises(openai.InternalServerError):
        asyncio.run(call())
    assert counts(fault_server, "/v1/chat/completions") == ["0", "1", "2"]


def test_openai_gets_a_local_429_while_the_gate_is_closed(
    fault_server: FaultServer, docs_openai: dict[str, Any], instant_waits: InstantWaits
) -> None:
    """After a 429 asking 120 s (above max_retry_after), the next call is not sent at all:
    openai gets a local 429 that says so, and raises its own RateLimitError at once."""
    fault_server.script("/v1/models", respond(429, {"Retry-After": "120"}, body=OPENAI_429))
    client = docs_openai["client"]
    with pytest.raises(openai.RateLimitError):
        client.models.list()
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    assert time.monotonic() - started < 0.5  # no SDK retry, no wait
    assert fault_server.hits("/v1/models") == 1
    response = caught.value.response
    assert response.headers["x-errorkit-local"] == "gate"
    assert response.headers["x-should-retry"] == "false"
    info = errorkit.error_of(response)
    assert info is not None
    assert info.category is errorkit.Category.RATE_LIMITED
    assert info.retry_after == 120.0


def test_openai_gets_a_local_503_when_the_throttle_rejects_its_call(
    fault_server: FaultServer, instant_waits: InstantWaits
) -> None:
    """After a call whose 3 attempts got 503s, the throttle (always rejecting while the
    server accepts nothing) does not send the next call: openai gets a local 503 with
    its stop header and raises InternalServerError at once, with no re-send."""
    import httpx2

    import errorkit.httpx2

    throttle = errorkit.AdaptiveThrottle(random=lambda: 0.0)
    transport = errorkit.httpx2.RetryTransport(errorkit.RetryPolicy(throttle=throttle))
    client = openai.OpenAI(
        api_key="sk-test",
        base_url=fault_server.url("/v1"),
        http_client=httpx2.Client(transport=transport),
    )
    fault_server.script("/v1/models", respond(503, body=OPENAI_503))
    try:
        with pytest.raises(openai.InternalServerError):
            client.models.list()
        assert fault_server.hits("/v1/models") == 3
        with pytest.raises(openai.InternalServerError) as caught:
            client.models.list()
    finally:
        client.close()
    assert fault_server.hits("/v1/models") == 3  # the second call never went out
    response = caught.value.response
    assert (response.status_code, response.headers["x-errorkit-local"]) == (503, "throttle")
    assert response.headers["x-should-retry"] == "false"
    assert "throttled locally" in str(caught.value)


def test_stripe_gets_a_local_429_while_the_gate_is_closed(
    fault_server: FaultServer, docs_stripe: Any, instant_waits: InstantWaits
) -> None:
    body = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Slow"}}
    fault_server.script("/v1/customers/cus_1", respond(429, {"Retry-After": "120"}, body=body))
    with pytest.raises(stripe.RateLimitError):
        docs_stripe.v1.customers.retrieve("cus_1")
    with pytest.raises(stripe.RateLimitError) as caught:
        docs_stripe.v1.customers.retrieve("cus_1")
    assert fault_server.hits("/v1/customers/cus_1") == 1
    assert caught.value.headers["x-errorkit-local"] == "gate"
