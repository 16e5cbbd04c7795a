"""errorkit.urllib3.Retry over real sockets: the urllib3 pitfalls of stack-mechanics.md.

Every test drives a loopback `FaultServer` through a real urllib3 `PoolManager`, a
pool's own `urlopen`, or requests' `HTTPAdapter(max_retries=Retry(...))`, and
asserts on what the server recorded and what the caller got.
"""

from __future__ import annotations

import dataclasses
import email.utils
import io
import logging
import pickle
import threading
import time
from typing import TYPE_CHECKING

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    UnrewindableBodyError,
)

import errorkit
from errorkit import RetryBudget, RetryPolicy
from errorkit.testing import (
    FaultServer,
    closed_port,
    drop,
    full_backlog,
    huge_body,
    instant_waits,
    reset_mid_body,
    respond,
    stall,
)
from errorkit.urllib3 import Retry, request_headers

if TYPE_CHECKING:
    from collections.abc import Iterator

    from urllib3._base_connection import BaseHTTPConnection

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A fresh loopback FaultServer for one test."""
    with FaultServer() as fault_server:
        yield fault_server


def _manager(policy: RetryPolicy = FAST, **kwargs: object) -> urllib3.PoolManager:
    retry_kwargs = {
        k: kwargs.pop(k)
        for k in ("raise_on_status", "redirect", "raise_on_redirect")
        if k in kwargs
    }
    return urllib3.PoolManager(retries=Retry(policy, **retry_kwargs), **kwargs)  # type: ignore[arg-type]


def _session(policy: RetryPolicy = FAST, **retry_kwargs: object) -> requests.Session:
    session = requests.Session()
    session.mount(
        "http://",
        HTTPAdapter(max_retries=Retry(policy, **retry_kwargs), pool_maxsize=1, pool_block=True),  # type: ignore[arg-type]
    )
    return session


def _gen(data: bytes) -> Iterator[bytes]:
    yield data[:4]
    yield data[4:]


# -- pitfall 4: the final body stays intact ------------------------------------------


def test_final_body_intact_under_requests(server: FaultServer) -> None:
    """Under HTTPAdapter(max_retries=Retry) the final 503's body reaches r.content whole."""
    server.script("/e", [respond(503, body=12 * b"E")])
    r = _session().get(server.url("/e"), timeout=5)
    assert (r.status_code, r.content) == (503, 12 * b"E")
    assert server.hits("/e") == 3
    assert isinstance(r.raw.retries, Retry)
    assert len(r.raw.retries.history) == 2
    info = errorkit.error_of(r)
    assert info is not None
    assert info.status == 503


def test_final_body_intact_under_requests_stream(server: FaultServer) -> None:
    """With stream=True the caller still reads every byte of the final error body."""
    server.script("/e", [respond(503, body=12 * b"E")])
    r = _session().get(server.url("/e"), stream=True, timeout=5)
    assert b"".join(r.iter_content(4)) == 12 * b"E"


def test_final_data_intact_under_poolmanager(server: FaultServer) -> None:
    """Under a PoolManager the final 503's r.data is whole and error_of classifies it."""
    server.script("/e", [respond(503, body={"error": {"message": "try later"}})])
    r = _manager().request("GET", server.url("/e"), timeout=5)
    assert r.status == 503
    assert r.data == b'{"error":{"message":"try later"}}'
    assert server.hits("/e") == 3
    info = errorkit.error_of(r)
    assert info is not None
    assert info.message == "try later"


def test_final_body_intact_without_preload(server: FaultServer) -> None:
    """With preload_content=False the Retry never reads the body; the caller gets it all."""
    server.script("/e", [respond(503, body=12 * b"E")])
    r = _manager().request("GET", server.url("/e"), preload_content=False, timeout=5)
    assert r.read() == 12 * b"E"
    assert server.hits("/e") == 3


def test_body_hint_used_when_preloaded(server: FaultServer) -> None:
    """A preloaded body's retryAfter sets the wait: body hints work under a PoolManager."""
    body: dict[str, object] = {
        "error": {"code": "rate_limit_exceeded", "message": "slow", "retryAfter": 3}
    }
    server.script("/b", [respond(429, body=body), respond(200)])
    with instant_waits() as waits:
        r = _manager().request("GET", server.url("/b"), timeout=5)
    assert r.status == 200
    assert 3.0 <= waits.delays[0] <= 3.35


# -- pitfall 5: new() and one instance shared by threads --------------------------


def test_policy_and_attempts_survive_two_increments(server: FaultServer) -> None:
    """503, 503, 200: the final response's Retry still has the policy and 2 attempts."""
    server.script("/p", [respond(503), respond(503), respond(200, body=b"ok")])
    retry = Retry(FAST)
    r = urllib3.PoolManager(retries=retry).request("GET", server.url("/p"), timeout=5)
    assert (r.status, r.data, server.hits("/p")) == (200, b"ok", 3)
    assert isinstance(r.retries, Retry)
    assert r.retries.policy is FAST
    assert r.retries.attempts == 2
    assert [h.status for h in r.retries.history] == [503, 503]
    assert (retry.attempts, retry.history) == (0, ())


def test_deadline_start_survives_increments(server: FaultServer) -> None:
    """The deadline counts from the first callback across new(): the fourth attempt is cut."""
    server.script("/d", [respond(503, headers={"Retry-After": "0.3"})])
    policy = dataclasses.replace(FAST, deadline=0.8, jitter=0.0, max_attempts=10)
    with instant_waits() as waits:
        r = _manager(policy).request("GET", server.url("/d"), timeout=5)
    assert r.status == 503
    assert server.hits("/d") == 3
    assert len(waits.delays) == 2


def test_deadline_is_never_overrun(server: FaultServer) -> None:
    """Real waits of 0.4 s under a 1 s deadline: three attempts, done within the second."""
    server.script("/d", [respond(503, headers={"Retry-After": "0.4"})])
    policy = dataclasses.replace(FAST, deadline=1.0, max_attempts=10)
    start = time.monotonic()
    r = _manager(policy).request("GET", server.url("/d"), timeout=5)
    elapsed = time.monotonic() - start
    assert r.status == 503
    assert server.hits("/d") == 3
    assert 0.8 <= elapsed < 1.1  # the waits fit in 1 s; the first attempt precedes the clock


def test_one_instance_shared_by_threads(server: FaultServer) -> None:
    """8 threads x 5 POSTs on one Retry: each request has its own attempts and key."""
    budget = RetryBudget(min_per_second=100.0)
    policy = dataclasses.replace(FAST, budget=budget, idempotency_key=True)
    http = urllib3.PoolManager(retries=Retry(policy), maxsize=8, block=True)
    paths = [f"/t{t}-{n}" for t in range(8) for n in range(5)]
    for path in paths:
        server.script(path, [respond(500), respond(200, body=path.encode())])
    results: dict[str, tuple[int, bytes, int]] = {}

    def worker(mine: list[str]) -> None:
        for path in mine:
            headers = request_headers(policy, "POST")
            r = http.request("POST", server.url(path), body=b"x", headers=headers, timeout=5)
            results[path] = (r.status, r.data, r.retries.attempts)  # type: ignore[union-attr]

    threads = [threading.Thread(target=worker, args=(paths[t * 5 : t * 5 + 5],)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {path: (200, path.encode(), 1) for path in paths}
    keys = [{rec.header("Idempotency-Key") for rec in server.requests(path)} for path in paths]
    assert all(len(k) == 1 for k in keys)  # the same key on both attempts of a request
    assert len(set().union(*keys)) == len(paths)  # and a different key per request
    assert budget.stats().requests == len(paths)
    assert budget.stats().retries_allowed == len(paths)


# -- pitfall 6: the server does not control the sleep ------------------------------


def test_retry_after_above_cap_fails_at_once(server: FaultServer) -> None:
    """Retry-After: 3600 over max_retry_after: one hit, no wait, the 503 returned."""
    server.script("/h", [respond(503, headers={"Retry-After": "3600"}), respond(200)])
    start = time.monotonic()
    r = _manager().request("GET", server.url("/h"), timeout=5)
    assert time.monotonic() - start < 0.5
    assert (r.status, server.hits("/h")) == (503, 1)
    info = errorkit.error_of(r)
    assert info is not None
    assert info.retry_after == 3600


def test_http_date_beyond_cap_fails_at_once(server: FaultServer) -> None:
    """A Retry-After date two minutes ahead, over a 60 s cap: one hit, at once."""
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    server.script("/h", [respond(503, headers={"Retry-After": later}), respond(200)])
    start = time.monotonic()
    r = _manager().request("GET", server.url("/h"), timeout=5)
    assert time.monotonic() - start < 0.5
    assert (r.status, server.hits("/h")) == (503, 1)


def test_http_date_within_cap_waits_until_then(server: FaultServer) -> None:
    """A Retry-After date 5 s ahead waits about 5 s (virtual time), then succeeds."""
    now = time.time()
    headers = {
        "Date": email.utils.formatdate(now, usegmt=True),
        "Retry-After": email.utils.formatdate(now + 5, usegmt=True),
    }
    server.script("/h", [respond(503, headers=headers), respond(200)])
    with instant_waits() as waits:
        r = _manager().request("GET", server.url("/h"), timeout=5)
    assert r.status == 200
    assert 4.0 <= waits.delays[0] <= 6.5


def test_garbage_retry_after_falls_back_to_backoff(server: FaultServer) -> None:
    """An unreadable Retry-After is ignored: the policy's backoff applies, not urllib3's."""
    server.script("/h", [respond(503, headers={"Retry-After": "soon"}), respond(200)])
    policy = dataclasses.replace(FAST, initial_delay=0.2, max_delay=1.0, jitter=0.0)
    with instant_waits() as waits:
        r = _manager(policy).request("GET", server.url("/h"), timeout=5)
    assert r.status == 200
    assert waits.delays == [0.2]


def test_retry_after_ms_sets_the_wait(server: FaultServer) -> None:
    """retry-after-ms: 1500, which urllib3 ignores, sets a 1.5 s wait."""
    server.script("/h", [respond(429, headers={"retry-after-ms": "1500"}), respond(200)])
    with instant_waits() as waits:
        r = _manager().request("GET", server.url("/h"), timeout=5)
    assert r.status == 200
    assert 1.5 <= waits.delays[0] <= 1.7


def test_no_auto_retry_of_503_retry_after_beyond_policy(server: FaultServer) -> None:
    """urllib3 alone retries 503+Retry-After three times; errorkit's Retry follows the policy."""
    server.script("/h", [respond(503, headers={"Retry-After": "1"})])
    start = time.monotonic()
    r = _manager(dataclasses.replace(FAST, max_attempts=1)).request(
        "GET", server.url("/h"), timeout=5
    )
    assert time.monotonic() - start < 0.5
    assert (r.status, server.hits("/h")) == (503, 1)


# -- pitfalls 1 and 2: request bodies --------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_generator_body_is_never_resent(server: FaultServer, method: str) -> None:
    """A generator body and 503 then 200: one hit with the whole body, the 503 returned."""
    server.script("/g", [respond(503, headers={"Retry-After": "0"}), respond(200)])
    r = _manager().request(method, server.url("/g"), body=_gen(b"0123456789"), timeout=5)
    assert (r.status, server.hits("/g")) == (503, 1)
    assert server.requests("/g")[0].body == b"0123456789"


def test_generator_body_is_never_resent_under_requests(server: FaultServer) -> None:
    """The same through requests' HTTPAdapter: one hit, and the caller sees the 503."""
    server.script("/g", [respond(503, headers={"Retry-After": "0"}), respond(200)])
    r = _session().put(server.url("/g"), data=_gen(b"0123456789"), timeout=5)
    assert (r.status_code, server.hits("/g")) == (503, 1)
    assert server.requests("/g")[0].body == b"0123456789"


def test_generator_body_not_sent_to_a_307_target(server: FaultServer) -> None:
    """A 307 after a generator body is not followed: the target gets no empty request."""
    server.script("/from", [respond(307, headers={"Location": "/to"})])
    server.script("/to", [respond(200)])
    with pytest.raises(MaxRetryError) as caught:
        _manager().request("POST", server.url("/from"), body=_gen(b"0123456789"), timeout=5)
    assert isinstance(caught.value.reason, ResponseError)
    assert (server.hits("/from"), server.hits("/to")) == (1, 0)


def test_file_body_not_sent_empty_across_a_poolmanager_307(server: FaultServer) -> None:
    """urllib3's PoolManager loses a file's offset on a 307; the redirect is refused instead."""
    server.script("/from", [respond(307, headers={"Location": "/to"})])
    server.script("/to", [respond(200)])
    r = _manager(raise_on_redirect=False).request(
        "PUT", server.url("/from"), body=io.BytesIO(b"0123456789"), timeout=5
    )
    assert r.status == 307
    assert (server.hits("/from"), server.hits("/to")) == (1, 0)


class _FailingTell(io.BytesIO):
    def tell(self) -> int:
        raise OSError("tell() failed")


def test_a_307_after_a_file_whose_tell_failed_raises_as_urllib3_does(server: FaultServer) -> None:
    """urllib3 refuses to rewind such a file itself (UnrewindableBodyError): errorkit lets it."""
    server.script("/from", [respond(307, headers={"Location": "/to"})])
    server.script("/to", [respond(200)])
    errors = []
    for retries in (urllib3.Retry(3), Retry(FAST)):
        with urllib3.connection_from_url(server.url("/")) as pool:
            with pytest.raises(UnrewindableBodyError) as caught:
                pool.urlopen("PUT", "/from", body=_FailingTell(b"data"), retries=retries)
            errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert (server.hits("/from"), server.hits("/to")) == (2, 0)


def test_303_after_a_generator_body_is_followed(server: FaultServer) -> None:
    """A 303 turns the POST into a bodiless GET, so it is followed as urllib3 would."""
    server.script("/from", [respond(303, headers={"Location": "/to"})])
    server.script("/to", [respond(200, body=b"done")])
    r = _manager().request("POST", server.url("/from"), body=_gen(b"0123456789"), timeout=5)
    assert (r.status, r.data) == (200, b"done")
    assert server.requests("/to")[0].method == "GET"


def test_unsent_generator_is_retried_after_refused_connects() -> None:
    """A refused connect never starts the generator, so the POST is retried whole."""
    events: list[errorkit.RetryEvent] = []
    policy = dataclasses.replace(FAST, on_retry=events.append)
    url = f"http://127.0.0.1:{closed_port()}/g"
    with pytest.raises(MaxRetryError) as caught:
        _manager(policy).request("POST", url, body=_gen(b"0123456789"), timeout=5)
    assert isinstance(caught.value.reason, NewConnectionError)
    assert [event.reason for event in events] == [errorkit.Reason.NOT_SENT] * 2


class _FirstConnectRefused(urllib3.HTTPConnectionPool):
    """A pool whose first connection goes to a closed port, the next ones to the server."""

    refused = False

    def _new_conn(self) -> BaseHTTPConnection:
        conn = super()._new_conn()
        if not self.refused:
            self.refused = True
            conn.port = closed_port()
        return conn


def test_generator_spent_by_a_retry_is_not_sent_again(server: FaultServer) -> None:
    """Refused, then sent and 503: the generator went out once, so no third attempt."""
    server.script("/g", [respond(503, headers={"Retry-After": "0"}), respond(200)])
    with _FirstConnectRefused(server.host, server.port, retries=Retry(FAST)) as pool:
        r = pool.urlopen("POST", "/g", body=_gen(b"0123456789"))
    assert (r.status, server.hits("/g")) == (503, 1)
    assert server.requests("/g")[0].body == b"0123456789"


@pytest.mark.parametrize("offset", [0, 4])
def test_file_body_rewound_to_its_offset(server: FaultServer, offset: int) -> None:
    """A BytesIO at offset k is re-sent from k: both recorded bodies are equal, no hang."""
    server.script("/f", [respond(503, headers={"Retry-After": "0"}), respond(200)])
    body = io.BytesIO(b"XXXX0123456789"[4 - offset :])
    body.seek(offset)
    start = time.monotonic()
    r = _manager().request("PUT", server.url("/f"), body=body, timeout=2)
    assert time.monotonic() - start < 1.0
    assert r.status == 200
    assert [rec.body for rec in server.requests("/f")] == [b"0123456789"] * 2


def test_file_body_rewound_under_requests(server: FaultServer) -> None:
    """Through requests the same file body is rewound by urllib3 and sent whole twice."""
    server.script("/f", [respond(503, headers={"Retry-After": "0"}), respond(200)])
    r = _session().put(server.url("/f"), data=io.BytesIO(b"0123456789"), timeout=2)
    assert r.status_code == 200
    assert [rec.body for rec in server.requests("/f")] == [b"0123456789"] * 2


# -- pitfall 3: discarded responses go back to the pool -----------------------------


def test_pool_of_one_reuses_its_connection(server: FaultServer) -> None:
    """Three requests, each 503, 503, 200 with 5000-byte bodies: one TCP connection."""
    for n in range(3):
        bad = respond(503, body=5000 * b"x")
        server.script(f"/c{n}", [bad, bad, respond(200, body=b"ok")])
    http = _manager(maxsize=1, block=True)
    for n in range(3):
        r = http.request("GET", server.url(f"/c{n}"), timeout=5, pool_timeout=2)
        assert (r.status, r.data) == (200, b"ok")
    assert server.hits() == 9
    assert server.connections_accepted == 1


def test_pool_of_one_reuses_its_connection_under_requests(server: FaultServer) -> None:
    """Under requests with pool_maxsize=1 and pool_block=True: one connection, no hang."""
    for n in range(3):
        bad = respond(503, body=5000 * b"x")
        server.script(f"/c{n}", [bad, bad, respond(200, body=b"ok")])
    session = _session()
    for n in range(3):
        r = session.get(server.url(f"/c{n}"), timeout=5)
        assert (r.status_code, r.content) == (200, b"ok")
    assert server.connections_accepted == 1


def test_large_discarded_body_is_closed_not_drained_under_requests(server: FaultServer) -> None:
    """Two 3 MB 503s under requests are closed, not read through: a reconnect each, no hang."""
    server.script("/big", [huge_body(3_000_000, 503), huge_body(3_000_000, 503), respond(200)])
    r = _session().get(server.url("/big"), timeout=5)
    assert (r.status_code, server.hits("/big")) == (200, 3)
    assert server.connections_accepted == 3


def test_large_final_body_stays_whole_under_requests(server: FaultServer) -> None:
    """The last 3 MB error response is returned to the caller whole, never drained."""
    server.script("/big", [huge_body(3_000_000, 503)])
    r = _session().get(server.url("/big"), timeout=5)
    assert (r.status_code, len(r.content), server.hits("/big")) == (503, 3_000_000, 3)


# -- pitfall 13: POST safety by failure phase ---------------------------------------


def test_post_retried_after_refused_connection() -> None:
    """A refused POST was never sent: it is retried to max_attempts, then MaxRetryError."""
    url = f"http://127.0.0.1:{closed_port()}/p"
    with pytest.raises(MaxRetryError) as caught:
        _manager().request("POST", url, body=b"x", timeout=5)
    assert isinstance(caught.value.reason, NewConnectionError)
    assert isinstance(caught.value, errorkit.APIConnectionError)
    assert caught.value.attempts == 3
    assert caught.value.__cause__ is caught.value.reason


def test_post_retried_after_connect_timeout() -> None:
    """A POST whose connect timed out was never sent: retried, then APITimeoutError."""
    with full_backlog() as (host, port):
        timeout = urllib3.Timeout(connect=0.2, read=2)
        with pytest.raises(MaxRetryError) as caught:
            _manager().request("POST", f"http://{host}:{port}/p", body=b"x", timeout=timeout)
    assert isinstance(caught.value.reason, ConnectTimeoutError)
    assert isinstance(caught.value, errorkit.APITimeoutError)
    assert caught.value.attempts == 3


@pytest.mark.parametrize(
    "refusal",
    [respond(429), respond(503, headers={"Retry-After": "0"})],
    ids=["429", "503-retry-after"],
)
def test_post_retried_after_a_refusal_status(server: FaultServer, refusal: object) -> None:
    """A 429, or a 503 that says when to come back, was not processed: the POST is retried."""
    server.script("/p", [refusal, respond(200)])  # type: ignore[list-item]
    r = _manager().request("POST", server.url("/p"), body=b"x", timeout=5)
    assert (r.status, server.hits("/p")) == (200, 2)


def test_post_not_retried_after_drop(server: FaultServer) -> None:
    """A POST whose connection dropped after the request was read hits once; error unwrapped."""
    server.script("/p", [drop(), respond(200)])
    with pytest.raises(ProtocolError):
        _manager().request("POST", server.url("/p"), body=b"x", timeout=5)
    assert server.hits("/p") == 1


def test_post_not_retried_after_read_timeout(server: FaultServer) -> None:
    """A POST that stalled past the read timeout hits once and raises ReadTimeoutError."""
    server.script("/p", [stall(3), respond(200)])
    start = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        _manager().request("POST", server.url("/p"), body=b"x", timeout=urllib3.Timeout(read=0.5))
    assert time.monotonic() - start < 1.5
    assert server.hits("/p") == 1


def test_get_retried_after_drop(server: FaultServer) -> None:
    """The same drop on a GET is retried: two hits, then the 200."""
    server.script("/p", [drop(), respond(200)])
    r = _manager().request("GET", server.url("/p"), timeout=5)
    assert (r.status, server.hits("/p")) == (200, 2)


def test_post_with_idempotency_key_retried_with_the_same_key(server: FaultServer) -> None:
    """With request_headers' key a dropped POST is retried, the same key on every attempt."""
    policy = dataclasses.replace(FAST, idempotency_key=True)
    server.script("/p", [drop(), drop(), respond(201)])
    headers = request_headers(policy, "POST", {"Content-Type": "application/json"})
    r = _manager(policy).request("POST", server.url("/p"), body=b"{}", headers=headers, timeout=5)
    assert (r.status, server.hits("/p")) == (201, 3)
    keys = {rec.header("Idempotency-Key") for rec in server.requests("/p")}
    assert keys == {headers["Idempotency-Key"]}


def test_post_with_callers_own_key_is_retried(server: FaultServer) -> None:
    """A key the caller set is seen by the Retry, which then retries a dropped POST."""
    server.script("/p", [drop(), respond(200)])
    headers = {"Idempotency-Key": "caller-key-1"}
    r = _manager().request("POST", server.url("/p"), body=b"x", headers=headers, timeout=5)
    assert (r.status, server.hits("/p")) == (200, 2)
    assert [rec.header("idempotency-key") for rec in server.requests("/p")] == ["caller-key-1"] * 2


def test_post_retried_after_429_under_requests(server: FaultServer) -> None:
    """Under requests' HTTPAdapter the same rules apply: a 429 POST is retried."""
    server.script("/p", [respond(429), respond(200)])
    r = _session().post(server.url("/p"), data=b"x", timeout=5)
    assert (r.status_code, server.hits("/p")) == (200, 2)


# -- pitfall 14: what the caller gets after the last attempt --------------------


def test_transport_failure_keeps_urllib3_contract(server: FaultServer) -> None:
    """A GET that keeps stalling ends in MaxRetryError(ReadTimeoutError), an APITimeoutError."""
    server.script("/s", [stall(2)])
    with pytest.raises(MaxRetryError) as caught:
        _manager().request("GET", server.url("/s"), timeout=urllib3.Timeout(read=0.2))
    assert isinstance(caught.value.reason, ReadTimeoutError)
    assert isinstance(caught.value, errorkit.APITimeoutError)
    assert server.hits("/s") == 3


def test_final_errors_pickle(server: FaultServer) -> None:
    """The MaxRetryError-compatible errorkit exceptions survive pickling (process pools)."""
    server.script("/e", [respond(404, body=b"gone")])
    with pytest.raises(errorkit.NotFoundError) as status_error:
        _manager(raise_on_status=True).request("GET", server.url("/e"), timeout=5)
    url = f"http://127.0.0.1:{closed_port()}/p"
    with pytest.raises(MaxRetryError) as transport_error:
        _manager().request("GET", url, timeout=5)
    for exc in (status_error.value, transport_error.value):
        copy = pickle.loads(pickle.dumps(exc))
        assert (type(copy), str(copy)) == (type(exc), str(exc))
        assert isinstance(copy, MaxRetryError)


def test_transport_failure_under_requests_keeps_requests_types() -> None:
    """Under requests a refused GET ends in requests.ConnectionError, as without errorkit."""
    url = f"http://127.0.0.1:{closed_port()}/p"
    with pytest.raises(requests.ConnectionError) as caught:
        _session().get(url, timeout=5)
    inner = caught.value.args[0]
    assert isinstance(inner, errorkit.APIConnectionError)
    assert isinstance(inner, MaxRetryError)


def test_raise_on_status_raises_errorkit_and_urllib3_error(server: FaultServer) -> None:
    """raise_on_status=True: the final 503 raises ServiceUnavailableError, a MaxRetryError."""
    server.script("/e", [respond(503, body=12 * b"E")])
    with pytest.raises(errorkit.ServiceUnavailableError) as caught:
        _manager(raise_on_status=True).request("GET", server.url("/e"), timeout=5)
    exc = caught.value
    assert (exc.attempts, exc.status) == (3, 503)
    assert exc.response.data == 12 * b"E"
    assert isinstance(exc, MaxRetryError)
    assert isinstance(exc.reason, ResponseError)


def test_raise_on_status_under_requests_is_retry_error(server: FaultServer) -> None:
    """Under requests raise_on_status=True surfaces as requests' RetryError, as before."""
    server.script("/e", [respond(404)])
    with pytest.raises(requests.exceptions.RetryError) as caught:
        _session(raise_on_status=True).get(server.url("/e"), timeout=5)
    assert isinstance(caught.value.args[0], errorkit.NotFoundError)
    assert server.hits("/e") == 1


def test_truncated_body_retried_when_preloaded(server: FaultServer) -> None:
    """With preload_content a body cut short is a ProtocolError inside urlopen: retried."""
    server.script("/t", [reset_mid_body(200, body=100 * b"x", sent_bytes=10), respond(200)])
    r = _manager().request("GET", server.url("/t"), timeout=5)
    assert (r.status, server.hits("/t")) == (200, 2)


# -- per-call retries, redirects, budget, logging ---------------------------------


def test_per_call_urlopen_retries(server: FaultServer) -> None:
    """A pool's urlopen(..., retries=Retry(policy)) follows the policy too."""
    server.script("/u", [respond(502), respond(200, body=b"ok")])
    with urllib3.HTTPConnectionPool(server.host, server.port) as pool:
        r = pool.urlopen("GET", "/u", retries=Retry(FAST))
    assert (r.status, r.data, server.hits("/u")) == (200, b"ok", 2)


def test_each_redirect_hop_has_its_own_attempts(server: FaultServer) -> None:
    """302 to a target failing twice: the target hop gets its full three attempts."""
    server.script("/a", [respond(302, headers={"Location": "/b"})])
    server.script("/b", [respond(503), respond(503), respond(200, body=b"ok")])
    r = _manager().request("GET", server.url("/a"), timeout=5)
    assert (r.status, r.data) == (200, b"ok")
    assert (server.hits("/a"), server.hits("/b")) == (1, 3)


@pytest.mark.parametrize(("hops", "followed"), [(3, True), (4, False)])
def test_redirects_are_capped_as_urllib3s_default(
    server: FaultServer, hops: int, followed: bool
) -> None:
    """Three redirects are followed, a fourth is urllib3's MaxRetryError, as with Retry(3)."""
    for n in range(hops):
        server.script(f"/r{n}", [respond(302, headers={"Location": f"/r{n + 1}"})])
    server.script(f"/r{hops}", [respond(200, body=b"end")])

    def outcome(http: urllib3.PoolManager) -> bytes | None:
        try:
            return http.request("GET", server.url("/r0"), timeout=5).data
        except MaxRetryError:
            return None

    outcomes = [outcome(urllib3.PoolManager()), outcome(_manager())]
    assert outcomes == ([b"end", b"end"] if followed else [None, None])


def test_a_redirect_retry_after_is_waited_as_urllib3_does(server: FaultServer) -> None:
    """A pool following a 303 with Retry-After: 2 waits 2 s first; one of an hour, not at all.

    (urllib3's pool waits a redirect's Retry-After; its PoolManager, which follows
    redirects itself, never does: errorkit does the same.)
    """
    server.script("/wait", [respond(303, headers={"Location": "/to", "Retry-After": "2"})])
    server.script("/long", [respond(303, headers={"Location": "/to", "Retry-After": "3600"})])
    server.script("/to", [respond(200, body=b"here")])
    with instant_waits() as waits, urllib3.connection_from_url(server.url("/")) as pool:
        for path in ("/wait", "/long"):
            r = pool.urlopen("GET", path, retries=Retry(FAST), timeout=5)
            assert r.data == b"here"
        assert _manager().request("GET", server.url("/wait"), timeout=5).data == b"here"
    assert waits.delays == [2.0]
    assert server.hits("/to") == 3


def test_shared_budget_caps_retries_across_managers_and_threads(server: FaultServer) -> None:
    """Two PoolManagers and four threads sharing one budget: one retry in all, 9 hits."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0)
    policy = dataclasses.replace(FAST, budget=budget, max_attempts=5)
    managers = [_manager(policy), _manager(policy)]
    server.script("/o", [respond(503)])

    def worker(http: urllib3.PoolManager) -> None:
        for _ in range(2):
            http.request("GET", server.url("/o"), timeout=5)

    threads = [threading.Thread(target=worker, args=(managers[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert server.hits("/o") == 9
    assert budget.stats().requests == 8
    assert budget.stats().retries_allowed == 1


def test_retries_logged_and_reported_without_credentials(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry logs once and calls on_retry with a redacted URL; no secret leaks."""
    events: list[errorkit.RetryEvent] = []
    policy = dataclasses.replace(FAST, on_retry=events.append)
    server.script("/k", [respond(503), respond(200)])
    url = server.url("/k?api_key=SECRET123&x=1")
    headers = {"Authorization": "Bearer SECRET456", "Cookie": "session=SECRET789"}
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        r = _manager(policy).request("GET", url, headers=headers, timeout=5)
    assert r.status == 200
    assert len(events) == 1
    event = events[0]
    assert (event.attempt, event.method, event.info.status) == (1, "GET", 503)
    assert event.url.startswith(server.url("/k?"))
    retries = [
        rec for rec in caplog.records if rec.name == "errorkit" and "Retrying" in rec.message
    ]
    assert len(retries) == 1
    shown = caplog.text + repr(events) + repr(r.retries)
    assert "SECRET" not in shown
