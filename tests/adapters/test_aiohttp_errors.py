"""What callers of an aiohttp session with RetryMiddleware get, over real sockets.

Pitfall 6 (the server controls the sleep, within limits), pitfall 13 (a POST is
retried only when the server cannot have acted on it), pitfall 14 (exceptions are
errorkit's and aiohttp's at once), plus concurrency without cross-talk, retry
events and log lines without credentials, and a shared budget in an outage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import pickle
import time

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey, RequestInfo
from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

import errorkit
from errorkit import RetryBudget, RetryPolicy
from errorkit.aiohttp import _failure  # the one exception table, checked without sockets
from errorkit.testing import (
    FaultServer,
    InstantWaits,
    closed_port,
    drop,
    full_backlog,
    respond,
    stall,
)
from support.clients_aiohttp import acquired, retry_session

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)


# -- pitfall 6: server hints -------------------------------------------------------------


async def test_retry_after_above_the_cap_fails_at_once(fault_server: FaultServer) -> None:
    """Retry-After: 3600 over max_retry_after=60: no wait, one hit, the hint carried."""
    fault_server.script("/l", [respond(503, headers={"Retry-After": "3600"}), respond(200)])
    async with retry_session(FAST) as session:
        start = time.monotonic()
        async with session.get(fault_server.url("/l")) as resp:
            info = errorkit.error_of(resp)
            assert resp.status == 503
        assert time.monotonic() - start < 0.5
    assert fault_server.hits("/l") == 1
    assert info is not None
    assert info.retry_after == 3600


async def test_http_date_beyond_the_cap_fails_at_once(fault_server: FaultServer) -> None:
    """An HTTP-date two minutes ahead is over the 60 s cap: the 429 is returned at once."""
    now = time.time()
    headers = {
        "Date": email.utils.formatdate(now, usegmt=True),
        "Retry-After": email.utils.formatdate(now + 120, usegmt=True),
    }
    fault_server.script("/d", [respond(429, headers=headers), respond(200)])
    async with retry_session(FAST) as session:
        start = time.monotonic()
        async with session.get(fault_server.url("/d")) as resp:
            assert resp.status == 429
        assert time.monotonic() - start < 0.5
    assert fault_server.hits("/d") == 1


async def test_garbage_retry_after_falls_back_to_backoff(
    fault_server: FaultServer, instant_waits: InstantWaits
) -> None:
    """Retry-After: soon is no hint: the retry waits the policy's own backoff."""
    fault_server.script("/g", [respond(503, headers={"Retry-After": "soon"}), respond(200)])
    async with retry_session(FAST) as session, session.get(fault_server.url("/g")) as resp:
        assert resp.status == 200
    assert len(instant_waits.delays) == 1
    assert 0 <= instant_waits.delays[0] <= 1.0


async def test_retry_after_ms_sets_the_real_wait(fault_server: FaultServer) -> None:
    """retry-after-ms: 300 makes the real wall-clock wait about 0.3 s."""
    fault_server.script("/ms", [respond(429, headers={"retry-after-ms": "300"}), respond(200)])
    async with retry_session(FAST) as session:
        start = time.monotonic()
        async with session.get(fault_server.url("/ms")) as resp:
            assert resp.status == 200
        elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 0.5
    requests = fault_server.requests("/ms")
    assert requests[1].t - requests[0].t >= 0.3


# -- pitfall 13: POST safety by failure phase --------------------------------------------


async def test_post_is_retried_after_a_refused_connection() -> None:
    """Refused connects never reached a server: a POST makes all three attempts."""
    events: list[errorkit.RetryEvent] = []
    async with retry_session(dataclasses.replace(FAST, on_retry=events.append)) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.post(f"http://127.0.0.1:{closed_port()}/x", data=b"a")
    assert [e.attempt for e in events] == [1, 2]
    raised: BaseException = caught.value
    assert isinstance(raised, errorkit.APIConnectionError)
    assert not isinstance(raised, errorkit.APITimeoutError)
    assert raised.attempts == 3
    assert isinstance(raised.__cause__, aiohttp.ClientConnectorError)


async def test_post_is_retried_after_a_connect_timeout() -> None:
    """A full backlog times the connect out before sending: the POST is retried, then raised."""
    timeout = aiohttp.ClientTimeout(total=10, sock_connect=0.2)
    with full_backlog() as (host, port):
        async with retry_session(
            dataclasses.replace(FAST, max_attempts=2), timeout=timeout
        ) as session:
            start = time.monotonic()
            with pytest.raises(aiohttp.ConnectionTimeoutError) as caught:
                await session.post(f"http://{host}:{port}/x", data=b"a")
            elapsed = time.monotonic() - start
    assert isinstance(caught.value, errorkit.APITimeoutError)
    assert caught.value.attempts == 2
    assert 0.4 <= elapsed < 1.0


async def test_post_is_retried_after_a_429_with_its_body(fault_server: FaultServer) -> None:
    """A 429 was not processed: the POST goes again with the same body."""
    fault_server.script("/p", [respond(429, headers={"Retry-After": "0"}), respond(201)])
    async with (
        retry_session(FAST) as session,
        session.post(fault_server.url("/p"), data=b"payload") as resp,
    ):
        assert resp.status == 201
    assert [r.body for r in fault_server.requests("/p")] == [b"payload", b"payload"]


async def test_post_stalled_past_sock_read_is_sent_once(fault_server: FaultServer) -> None:
    """A POST whose response stalls past sock_read=1 may have acted: one hit, APITimeoutError."""
    fault_server.script("/s", [stall(3), respond(201)])
    timeout = aiohttp.ClientTimeout(total=10, sock_read=1)
    async with retry_session(FAST, timeout=timeout) as session:
        start = time.monotonic()
        with pytest.raises(aiohttp.SocketTimeoutError) as caught:
            await session.post(fault_server.url("/s"), data=b"x")
        assert time.monotonic() - start < 1.5
        assert acquired(session) == 0
    assert isinstance(caught.value, errorkit.APITimeoutError)
    assert fault_server.hits("/s") == 1


async def test_idempotency_key_is_the_same_on_every_attempt(fault_server: FaultServer) -> None:
    """idempotency_key=True: a plain 503 POST is retried, one key on all three attempts."""
    fault_server.script("/k", [respond(503), respond(503), respond(201)])
    async with (
        retry_session(dataclasses.replace(FAST, idempotency_key=True)) as session,
        session.post(fault_server.url("/k"), data=b"x") as resp,
    ):
        assert resp.status == 201
    keys = [r.header("Idempotency-Key") for r in fault_server.requests("/k")]
    assert len(keys) == 3
    assert keys[0]
    assert len(set(keys)) == 1


async def test_dropped_post_with_a_key_is_retried(fault_server: FaultServer) -> None:
    """With an Idempotency-Key, even a POST dropped after it was read is sent again."""
    fault_server.script("/k", [drop(), respond(201)])
    async with (
        retry_session(dataclasses.replace(FAST, idempotency_key=True)) as session,
        session.post(fault_server.url("/k"), data=b"x") as resp,
    ):
        assert resp.status == 201
    assert fault_server.hits("/k") == 2


async def test_a_callers_key_is_never_overwritten(fault_server: FaultServer) -> None:
    """The caller's own Idempotency-Key is sent as is on every attempt."""
    fault_server.script("/k", [respond(503), respond(201)])
    async with (
        retry_session(dataclasses.replace(FAST, idempotency_key=True)) as session,
        session.post(
            fault_server.url("/k"), data=b"x", headers={"Idempotency-Key": "mine-42"}
        ) as resp,
    ):
        assert resp.status == 201
    assert [r.header("Idempotency-Key") for r in fault_server.requests("/k")] == ["mine-42"] * 2


async def test_get_gets_no_idempotency_key(fault_server: FaultServer) -> None:
    """An idempotent GET needs no key, so none is added."""
    fault_server.script("/k", [respond(200)])
    async with (
        retry_session(dataclasses.replace(FAST, idempotency_key=True)) as session,
        session.get(fault_server.url("/k")) as resp,
    ):
        assert resp.status == 200
    assert fault_server.requests("/k")[0].header("Idempotency-Key") is None


# -- pitfall 14: exception mapping -------------------------------------------------------


def _conn_key() -> ConnectionKey:
    return ConnectionKey("h", 443, True, True, None, None, None)  # noqa: FBT003


@pytest.mark.parametrize(
    ("exc", "sent", "timeout", "retryable"),
    [
        (aiohttp.ClientConnectorError(_conn_key(), OSError(111, "refused")), False, False, True),
        (aiohttp.ClientConnectorDNSError(_conn_key(), OSError(-2, "no name")), False, False, True),
        (
            aiohttp.ClientConnectorCertificateError(_conn_key(), ValueError("bad cert")),
            False,
            False,
            False,
        ),
        (aiohttp.ClientConnectorSSLError(_conn_key(), OSError(1, "ssl")), False, False, False),
        (aiohttp.ConnectionTimeoutError("connect"), False, True, True),
        (aiohttp.SocketTimeoutError("read"), True, True, True),
        (aiohttp.ServerDisconnectedError(), True, False, True),
        (aiohttp.ClientOSError(32, "Can not write request body"), True, False, True),
        (ConnectionResetError(104, "reset"), True, False, True),
    ],
    ids=[
        "refused",
        "dns",
        "certificate",
        "ssl",
        "connect-timeout",
        "read-timeout",
        "disconnected",
        "write-failed",
        "bare-oserror",
    ],
)
def test_exception_table(exc: BaseException, sent: bool, timeout: bool, retryable: bool) -> None:
    """Each aiohttp failure maps to whether it was sent, was a timeout, and is retryable."""
    failure = _failure(exc)
    assert failure is not None
    assert (failure.sent, failure.timeout, failure.retryable) == (sent, timeout, retryable)


def test_total_timeout_is_not_a_transport_failure() -> None:
    """A plain TimeoutError (ClientTimeout.total fired) maps to nothing: it is re-raised."""
    assert _failure(TimeoutError()) is None
    assert _failure(asyncio.TimeoutError()) is None


def test_a_refused_head_is_a_transport_failure_but_not_other_response_errors() -> None:
    """aiohttp's ClientResponseError from its parser (cause: HttpProcessingError) is a
    failure after sending; one raised for a real response maps to nothing (re-raised)."""
    info = RequestInfo(URL("http://h/x"), "GET", CIMultiDictProxy(CIMultiDict()))
    refused = aiohttp.ClientResponseError(info, (), status=400, message="Too many headers")
    refused.__cause__ = HttpProcessingError(code=400, message="Too many headers")
    failure = _failure(refused)
    assert failure is not None
    assert (failure.sent, failure.timeout, failure.retryable) == (True, False, True)
    assert _failure(aiohttp.ClientResponseError(info, (), status=503)) is None


async def test_raise_for_status_is_also_a_client_response_error(fault_server: FaultServer) -> None:
    """raise_for_status=True: NotFoundError and ClientResponseError, body readable."""
    fault_server.script("/nf", [respond(404, body={"error": "Agent not found"})])
    async with retry_session(FAST, raise_for_status=True) as session:
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await session.get(fault_server.url("/nf"))
    aio = caught.value  # the aiohttp face of the exception
    assert (aio.status, aio.message) == (404, "Not Found")
    assert aio.request_info.url.path == "/nf"
    assert aio.headers is not None
    assert aio.headers["Content-Type"] == "application/json"
    ours: BaseException = caught.value  # and errorkit's face
    assert isinstance(ours, errorkit.NotFoundError)
    assert (ours.status, ours.attempts) == (404, 1)
    assert ours.info.message == "Agent not found"
    assert await ours.response.json() == {"error": "Agent not found"}
    assert fault_server.hits("/nf") == 1


async def test_raise_for_status_after_retries_counts_attempts(fault_server: FaultServer) -> None:
    """A 503 every time: ServiceUnavailableError after 3 attempts, still a ClientResponseError."""
    fault_server.script("/u", [respond(503, body=b"down")])
    async with retry_session(FAST, raise_for_status=True) as session:
        with pytest.raises(errorkit.ServiceUnavailableError) as caught:
            await session.get(fault_server.url("/u"))
        assert acquired(session) == 0
    raised: BaseException = caught.value
    assert isinstance(raised, aiohttp.ClientResponseError)
    assert caught.value.attempts == 3
    assert await caught.value.response.read() == b"down"


async def test_raise_for_status_reads_a_small_chunked_body(fault_server: FaultServer) -> None:
    """A chunked error body that fits the bound is classified and stays readable."""
    fault_server.script("/c", [respond(409, body={"error": "taken"}, chunked=2)])
    async with retry_session(FAST, raise_for_status=True) as session:
        with pytest.raises(errorkit.ConflictError) as caught:
            await session.get(fault_server.url("/c"))
    assert caught.value.info.message == "taken"
    assert await caught.value.response.json() == {"error": "taken"}


async def test_raise_for_status_closes_a_long_chunked_body(fault_server: FaultServer) -> None:
    """A chunked error body over the bound is not kept: the response is closed, nothing leaks."""
    fault_server.script("/c", [respond(400, body=b"y" * 100_000, chunked=8)])
    async with retry_session(FAST, raise_for_status=True) as session:
        with pytest.raises(errorkit.BadRequestError) as caught:
            await session.get(fault_server.url("/c"))
        assert acquired(session) == 0
    with pytest.raises(aiohttp.ClientConnectionError):
        await caught.value.response.read()


async def test_transport_errors_pickle_and_print_without_the_url_secret() -> None:
    """The final transport error pickles, and neither str() nor repr() shows the API key."""
    url = f"http://127.0.0.1:{closed_port()}/x?api_key=SECRET123"
    async with retry_session(dataclasses.replace(FAST, max_attempts=1)) as session:
        with pytest.raises(errorkit.APIConnectionError) as caught:
            await session.get(url)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, errorkit.APIConnectionError)
    for text in (str(caught.value), repr(caught.value)):
        assert "SECRET123" not in text


# -- concurrency, events, logs, budget ---------------------------------------------------


async def test_fifty_tasks_share_one_session_without_cross_talk(
    fault_server: FaultServer,
) -> None:
    """50 concurrent POSTs: each retries its own 503 once, with its own key on both attempts."""
    for i in range(50):
        fault_server.script(f"/t{i}", [respond(503), respond(200, body=str(i).encode())])
    async with retry_session(dataclasses.replace(FAST, idempotency_key=True), limit=20) as session:

        async def one(i: int) -> bytes:
            async with session.post(fault_server.url(f"/t{i}"), data=b"x") as resp:
                return await resp.read()

        bodies = await asyncio.gather(*(one(i) for i in range(50)))
    assert bodies == [str(i).encode() for i in range(50)]
    keys = [
        {r.header("Idempotency-Key") for r in fault_server.requests(f"/t{i}")} for i in range(50)
    ]
    assert all(fault_server.hits(f"/t{i}") == 2 for i in range(50))
    assert all(len(k) == 1 for k in keys)
    assert len(set().union(*keys)) == 50


async def test_retry_events_and_log_lines_are_redacted(
    fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry is one event and one log line; the URL key and the token never appear."""
    events: list[errorkit.RetryEvent] = []
    fault_server.script("/s", [respond(503), respond(503), respond(200)])
    async with retry_session(dataclasses.replace(FAST, on_retry=events.append)) as session:
        with caplog.at_level(logging.DEBUG, logger="errorkit"):
            async with session.get(
                fault_server.url("/s?api_key=SECRET123&q=1"),
                headers={"Authorization": "Bearer TOKEN456"},
            ) as resp:
                assert resp.status == 200
    assert [(e.attempt, e.method, e.info.status) for e in events] == [
        (1, "GET", 503),
        (2, "GET", 503),
    ]
    assert fault_server.requests("/s")[0].header("Authorization") == "Bearer TOKEN456"
    for text in (caplog.text, *(e.url for e in events)):
        assert "SECRET123" not in text
        assert "TOKEN456" not in text
    assert len([r for r in caplog.records if r.getMessage().startswith("Retrying")]) == 2


async def test_a_shared_budget_caps_retries_in_an_outage(fault_server: FaultServer) -> None:
    """Two sessions share a budget of 2 retries: 6 failing requests make 6 + 2 hits."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.2, window=10.0)
    policy = dataclasses.replace(FAST, budget=budget)
    fault_server.script("/out", [respond(503)])
    async with retry_session(policy) as first, retry_session(policy) as second:
        for i in range(6):
            async with (first if i % 2 else second).get(fault_server.url("/out")) as resp:
                assert resp.status == 503
    assert fault_server.hits("/out") == 8
    assert budget.stats().retries_refused >= 1
