"""One scenario table, run against every client of every stack over real sockets.

Each test scripts a loopback `FaultServer`, makes one logical request through the
stack's client with errorkit plugged in, and asserts on what the server recorded
and what the caller got. Waits are made instant (and recorded) unless a test is
about wall time.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import errorkit
from errorkit import RetryBudget, RetryPolicy
from errorkit._clock import CLOCK
from errorkit.testing import FaultServer, closed_port, drop, full_backlog, respond, stall

if TYPE_CHECKING:
    from support.harness import Client

    from .conftest import MakeClient

# Short real waits keep the table fast; tests about a wait's length use instant_waits.
FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
ASYNC = {"httpx-async", "httpx2-async", "aiohttp"}


def _transport_error(stack: str) -> tuple[type[BaseException], ...]:
    if stack == "urllib3":
        import urllib3

        return (errorkit.APIConnectionError, urllib3.exceptions.HTTPError)
    return (errorkit.APIConnectionError,)


# -- recovery and giving up ---------------------------------------------------------


def test_transient_errors_recover(fault_server: FaultServer, make_client: MakeClient) -> None:
    """Two 503s then a 200: the caller gets the 200 after three server hits."""
    fault_server.script("/r", [respond(503), respond(503), respond(200, body=b"ok")])
    result = make_client(policy=FAST).request("GET", fault_server.url("/r"))
    assert (result.status, result.body, result.exception) == (200, b"ok", None)
    assert fault_server.hits("/r") == 3


def test_gives_up_after_max_attempts_with_the_last_response(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """A server that keeps failing gets exactly max_attempts hits; the caller gets its 500."""
    fault_server.script("/down", [respond(500, body={"error": "boom"})])
    result = make_client(policy=dataclasses.replace(FAST, max_attempts=4)).request(
        "GET", fault_server.url("/down")
    )
    assert result.status == 500
    assert fault_server.hits("/down") == 4
    assert result.info is not None
    assert result.info.message == "boom"


def test_non_retryable_errors_are_not_retried(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """The agents API's 422 credential_cap_exceeded is returned at once, classified."""
    body = {
        "error": {
            "code": "credential_cap_exceeded",
            "message": "Vault already has 20 active credentials",
            "status": 422,
        }
    }
    fault_server.script("/cap", [respond(422, body=body)])
    result = make_client(policy=FAST).request("POST", fault_server.url("/cap"))
    assert fault_server.hits("/cap") == 1
    assert result.status == 422
    assert result.info is not None
    assert result.info.category is errorkit.Category.UNPROCESSABLE
    assert result.info.code == "credential_cap_exceeded"
    assert not result.info.retryable


# -- server hints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "low", "high"),
    [
        ({"Retry-After": "2"}, None, 2.0, 2.3),
        ({"retry-after-ms": "250"}, None, 0.25, 0.3),
        (
            {},
            {
                "error": {
                    "code": "rate_limit_exceeded",
                    "message": "slow",
                    "status": 429,
                    "retryAfter": 3,
                }
            },
            3.0,
            3.35,
        ),
        ({"RateLimit": '"default";r=0;t=4'}, None, 4.0, 4.45),
    ],
    ids=["retry-after", "retry-after-ms", "body-retryAfter", "ratelimit"],
)
def test_server_hints_set_the_wait(
    fault_server: FaultServer,
    make_client: MakeClient,
    instant_waits: errorkit.testing.InstantWaits,
    headers: dict[str, str],
    body: Any,
    low: float,
    high: float,
) -> None:
    """A 429's hint (header or body field) is the floor of the wait, plus a small jitter."""
    fault_server.script("/h", [respond(429, headers=headers, body=body or b""), respond(200)])
    result = make_client(policy=FAST).request("GET", fault_server.url("/h"))
    assert result.status == 200
    assert fault_server.hits("/h") == 2
    assert len(instant_waits.delays) == 1
    assert low <= instant_waits.delays[0] <= high


def test_retry_after_http_date(
    fault_server: FaultServer,
    make_client: MakeClient,
    instant_waits: errorkit.testing.InstantWaits,
) -> None:
    """Retry-After as an HTTP-date 5 s ahead (by the server's Date) waits about 5 s."""
    now = time.time()
    headers = {
        "Date": email.utils.formatdate(now, usegmt=True),
        "Retry-After": email.utils.formatdate(now + 5, usegmt=True),
    }
    fault_server.script("/d", [respond(503, headers=headers), respond(200)])
    result = make_client(policy=FAST).request("GET", fault_server.url("/d"))
    assert result.status == 200
    assert 4.0 <= instant_waits.delays[0] <= 6.5


def test_hint_above_max_retry_after_fails_at_once(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """Retry-After: 3600 over a 60 s cap: no wait at all, the 429 carries the 3600."""
    fault_server.script("/long", [respond(429, headers={"Retry-After": "3600"}), respond(200)])
    result = make_client(policy=dataclasses.replace(FAST, max_retry_after=60)).request(
        "GET", fault_server.url("/long")
    )
    assert fault_server.hits("/long") == 1
    assert result.status == 429
    assert result.info is not None
    assert result.info.retry_after == 3600


def test_server_says_do_not_retry(fault_server: FaultServer, make_client: MakeClient) -> None:
    """x-should-retry: false on a 503 is obeyed."""
    fault_server.script("/no", [respond(503, headers={"x-should-retry": "false"}), respond(200)])
    result = make_client(policy=FAST).request("GET", fault_server.url("/no"))
    assert (result.status, fault_server.hits("/no")) == (503, 1)


def test_deadline_is_never_overrun(fault_server: FaultServer, make_client: MakeClient) -> None:
    """With a 0.6 s deadline and 0.25 s hints, the request ends before 0.6 s of wall time."""
    fault_server.script("/slow", [respond(503, headers={"Retry-After": "0.25"})])
    client = make_client(policy=dataclasses.replace(FAST, max_attempts=10, deadline=0.6))
    result = client.request("GET", fault_server.url("/slow"))
    assert result.status == 503
    assert result.elapsed < 0.6 + 0.15  # the deadline plus one loopback round trip
    assert 2 <= fault_server.hits("/slow") <= 3


# -- method safety by failure phase ----------------------------------------------------


def test_post_is_retried_after_a_refused_connection(make_client: MakeClient, stack: str) -> None:
    """A refused connection never reached the server: even a POST is retried."""
    events: list[errorkit.RetryEvent] = []
    client = make_client(policy=dataclasses.replace(FAST, on_retry=events.append))
    result = client.request(
        "POST", f"http://127.0.0.1:{closed_port()}/x", body=b"a", body_kind="bytes"
    )
    assert isinstance(result.exception, _transport_error(stack))
    assert [e.attempt for e in events] == [1, 2]


def test_post_is_retried_after_a_connect_timeout(make_client: MakeClient, stack: str) -> None:
    """A connect that timed out never reached the server: a POST is retried, and the
    last timeout is what the caller sees."""
    events: list[errorkit.RetryEvent] = []
    client = make_client(policy=dataclasses.replace(FAST, on_retry=events.append))
    with full_backlog() as (host, port):
        result = client.request(
            "POST", f"http://{host}:{port}/x", body=b"a", body_kind="bytes", timeout=0.3
        )
    assert isinstance(result.exception, _transport_error(stack))
    assert [e.attempt for e in events] == [1, 2]
    assert all(e.reason is errorkit.Reason.NOT_SENT for e in events)


def test_get_is_retried_after_the_connection_drops(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """A dropped GET is idempotent: it is sent again and succeeds."""
    fault_server.script("/g", [drop(), respond(200, body=b"back")])
    result = make_client(policy=FAST).request("GET", fault_server.url("/g"))
    assert (result.status, result.body) == (200, b"back")
    assert fault_server.hits("/g") == 2


def test_keyboard_interrupt_in_a_wait_propagates_and_leaks_nothing(
    fault_server: FaultServer,
    make_client: MakeClient,
    stack: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C during the backoff stops at once; the discarded 503 was already released,
    so the one pooled connection serves the next request."""
    if stack in ASYNC:
        pytest.skip("async stacks prove cancellation with task.cancel() in their own tests")
    fault_server.script("/i", [respond(503, body=b"x" * 5000), respond(200, body=b"ok")])
    client = make_client(policy=FAST, pool_size=1)

    def interrupted(delay: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(CLOCK, "sleep", interrupted)
    with pytest.raises(KeyboardInterrupt):
        client.request("GET", fault_server.url("/i"))
    monkeypatch.undo()
    assert fault_server.hits("/i") == 1
    after = client.request("GET", fault_server.url("/i"), timeout=2)
    assert (after.status, after.body) == (200, b"ok")
    assert fault_server.connections_accepted == 1


def test_post_is_retried_after_a_429(fault_server: FaultServer, make_client: MakeClient) -> None:
    """A 429 rejected the POST before processing it: it is sent again, body intact."""
    fault_server.script("/p", [respond(429, headers={"Retry-After": "0"}), respond(201)])
    result = make_client(policy=FAST).request(
        "POST", fault_server.url("/p"), body=b"payload", body_kind="bytes"
    )
    assert result.status == 201
    assert [r.body for r in fault_server.requests("/p")] == [b"payload", b"payload"]


def test_post_is_not_retried_after_a_plain_503(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """A 503 without a hint may have been processed: a POST is not sent twice."""
    fault_server.script("/p", [respond(503), respond(201)])
    result = make_client(policy=FAST).request(
        "POST", fault_server.url("/p"), body=b"x", body_kind="bytes"
    )
    assert (result.status, fault_server.hits("/p")) == (503, 1)


def test_post_is_not_retried_after_the_connection_drops(
    fault_server: FaultServer, make_client: MakeClient, stack: str
) -> None:
    """A connection dropped after the request was read: the POST may have acted, one hit."""
    fault_server.script("/p", [drop(), respond(201)])
    result = make_client(policy=FAST).request(
        "POST", fault_server.url("/p"), body=b"x", body_kind="bytes"
    )
    assert fault_server.hits("/p") == 1
    assert isinstance(result.exception, _transport_error(stack))


def test_get_is_retried_after_a_read_timeout(
    fault_server: FaultServer, make_client: MakeClient, stack: str
) -> None:
    """A stalled GET times out and is retried (idempotent); the last timeout is raised."""
    fault_server.script("/stall", [stall(2.0)])
    result = make_client(policy=dataclasses.replace(FAST, max_attempts=2)).request(
        "GET", fault_server.url("/stall"), timeout=0.3
    )
    assert fault_server.hits("/stall") == 2
    assert isinstance(result.exception, _transport_error(stack))
    if stack != "urllib3":
        assert isinstance(result.exception, errorkit.APITimeoutError)


def test_idempotency_key_makes_a_post_retryable(
    fault_server: FaultServer, make_client: MakeClient, stack: str
) -> None:
    """idempotency_key=True sends one key on every attempt, and a plain 503 is retried."""
    fault_server.script("/k", [respond(503), respond(503), respond(201)])
    result = make_client(policy=dataclasses.replace(FAST, idempotency_key=True)).request(
        "POST", fault_server.url("/k"), body=b"x", body_kind="bytes"
    )
    assert result.status == 201
    keys = [r.header("Idempotency-Key") for r in fault_server.requests("/k")]
    assert len(keys) == 3
    assert keys[0]
    assert len(set(keys)) == 1


def test_a_callers_idempotency_key_is_kept(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """A key the caller set is never overwritten, and it makes the POST retryable."""
    fault_server.script("/k", [respond(503), respond(201)])
    result = make_client(policy=dataclasses.replace(FAST, idempotency_key=True)).request(
        "POST",
        fault_server.url("/k"),
        body=b"x",
        body_kind="bytes",
        headers={"Idempotency-Key": "mine-42"},
    )
    assert result.status == 201
    assert [r.header("Idempotency-Key") for r in fault_server.requests("/k")] == ["mine-42"] * 2


# -- request bodies ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "file"])
def test_replayable_bodies_are_sent_whole_every_time(
    fault_server: FaultServer, make_client: MakeClient, kind: str
) -> None:
    """Bytes and seekable bodies are rewound: every attempt carries the full body."""
    fault_server.script("/b", [respond(503), respond(200)])
    result = make_client(policy=FAST).request(
        "PUT",
        fault_server.url("/b"),
        body=b"0123456789",
        body_kind=kind,  # type: ignore[arg-type]
    )
    assert result.status == 200
    assert [r.body for r in fault_server.requests("/b")] == [b"0123456789"] * 2


def test_one_shot_bodies_are_never_sent_again(
    fault_server: FaultServer, make_client: MakeClient, stack: str
) -> None:
    """A generator body cannot be replayed: one hit, and the caller sees the real 503."""
    fault_server.script("/g", [respond(503), respond(200)])
    result = make_client(policy=FAST).request(
        "PUT", fault_server.url("/g"), body=b"0123456789", body_kind="oneshot"
    )
    assert fault_server.hits("/g") == 1
    assert fault_server.requests("/g")[0].body == b"0123456789"
    assert result.status == 503 or result.exception is not None


# -- connections -----------------------------------------------------------------------


def test_discarded_responses_are_released_to_the_pool(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """With a pool of one connection, two retried 503s with bodies reuse it: no leak, no hang."""
    big = b"x" * 5000
    fault_server.script("/pool", [respond(503, body=big), respond(503, body=big), respond(200)])
    client = make_client(policy=FAST, pool_size=1)
    first = client.request("GET", fault_server.url("/pool"))
    second = client.request("GET", fault_server.url("/pool"))
    assert (first.status, second.status) == (200, 200)
    assert fault_server.hits("/pool") == 4
    assert fault_server.connections_accepted == 1


# -- budget, events, logs, credentials ----------------------------------------------


def test_a_shared_budget_caps_retries_during_an_outage(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """One RetryBudget shared by two clients allows only its floor of retries in an outage."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.2, window=10.0)  # 2 retries per window
    policy = dataclasses.replace(FAST, max_attempts=3, budget=budget)
    fault_server.script("/out", [respond(503)])
    clients = [make_client(policy=policy), make_client(policy=policy)]
    for i in range(6):
        clients[i % 2].request("GET", fault_server.url("/out"))
    assert fault_server.hits("/out") == 6 + 2
    assert budget.stats().retries_refused >= 1


def test_the_budget_counts_every_logical_request_once(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """A first-attempt success, a recovered 503 and a final 404 are three requests, one retry.

    A success is counted on the adapter's short path, the others once the loop is planned.
    """
    budget = RetryBudget()
    client = make_client(policy=dataclasses.replace(FAST, budget=budget))
    fault_server.script("/ok", [respond(200, body=b"ok")])
    fault_server.script("/again", [respond(503), respond(200)])
    fault_server.script("/nf", [respond(404)])
    statuses = [client.request("GET", fault_server.url(p)).status for p in ("/ok", "/again", "/nf")]
    assert statuses == [200, 200, 404]
    assert budget.stats() == (3, 1, 0)
    assert fault_server.hits("/again") == 2


def test_on_retry_events_and_logs_never_show_credentials(
    fault_server: FaultServer, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry is an event and a log line; the key in the URL and the token never appear."""
    events: list[errorkit.RetryEvent] = []
    fault_server.script("/s", [respond(503), respond(503)])
    client = make_client(
        policy=dataclasses.replace(FAST, on_retry=events.append), raise_for_status=True
    )
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        result = client.request(
            "GET",
            fault_server.url("/s?api_key=SECRET123&q=1"),
            headers={"Authorization": "Bearer TOKEN456"},
        )
    assert [(e.attempt, e.reason) for e in events] == [
        (1, errorkit.Reason.RETRYABLE),
        (2, errorkit.Reason.RETRYABLE),
    ]
    assert all(e.info.status == 503 and e.method == "GET" for e in events)
    texts = [caplog.text, *(e.url for e in events), str(result.exception), repr(result.exception)]
    for text in texts:
        assert "SECRET123" not in text
        assert "TOKEN456" not in text
    assert len([r for r in caplog.records if r.getMessage().startswith("Retrying")]) == 2


def test_raise_for_status_raises_the_category_exception(
    fault_server: FaultServer, make_client: MakeClient, stack: str
) -> None:
    """raise_for_status=True raises NotFoundError after the attempt, body still readable."""
    fault_server.script("/nf", [respond(404, body={"error": "Agent not found"})])
    result = make_client(policy=FAST, raise_for_status=True).request("GET", fault_server.url("/nf"))
    assert isinstance(result.exception, errorkit.NotFoundError)
    assert result.exception.info.message == "Agent not found"
    assert result.body is not None
    assert json.loads(result.body) == {"error": "Agent not found"}
    assert fault_server.hits("/nf") == 1


def test_an_in_band_error_on_a_200_is_a_success_on_every_path(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """The 2xx rule: Slack's `ok: false` on a 200 is sent once, not raised, and error_of is None."""
    body = {"ok": False, "error": "ratelimited"}
    fault_server.script("/slack", [respond(200, body=body)])
    client = make_client(policy=FAST, raise_for_status=True)
    result = client.request("GET", fault_server.url("/slack"))
    assert (result.status, result.exception, result.info) == (200, None, None)
    assert result.body is not None
    assert json.loads(result.body) == body
    assert fault_server.hits("/slack") == 1


def test_one_client_shared_by_16_threads_has_no_cross_talk(
    fault_server: FaultServer, make_client: MakeClient, stack: str
) -> None:
    """16 threads through one client: each logical request gets its own attempts and key."""
    if stack in ASYNC:
        pytest.skip("async clients prove concurrency with tasks in their own tests")
    client: Client = make_client(
        policy=dataclasses.replace(FAST, idempotency_key=True), pool_size=16
    )
    for i in range(16):
        fault_server.script(f"/t{i}", [respond(503), respond(200)])
    results: dict[int, int | None] = {}

    def work(i: int) -> None:
        results[i] = client.request(
            "POST", fault_server.url(f"/t{i}"), body=b"x", body_kind="bytes"
        ).status

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert results == dict.fromkeys(range(16), 200)
    keys_per_path = {
        i: {r.header("Idempotency-Key") for r in fault_server.requests(f"/t{i}")} for i in range(16)
    }
    assert all(fault_server.hits(f"/t{i}") == 2 for i in range(16))
    assert all(len(keys) == 1 for keys in keys_per_path.values())
    assert len(set().union(*keys_per_path.values())) == 16
