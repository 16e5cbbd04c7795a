"""requests-only behaviour of `errorkit.requests.RetryAdapter`, over real sockets.

Covers stack-mechanics pitfalls 2, 7, 9, 14 and 15 for requests: rewinding at an
offset, body-phase errors inside the loop, bounded peeks that leave streamed bodies
whole, exception mapping, and session accounting across redirect hops.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from typing import TYPE_CHECKING

import pytest
import requests

import errorkit
from errorkit import RetryPolicy
from errorkit.requests import RetryAdapter
from errorkit.testing import (
    FaultServer,
    InstantWaits,
    closed_port,
    reset_mid_body,
    respond,
    slow_body,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
BOUND = 64 * 1024


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A session with a RetryAdapter on http:// and a one-connection pool."""
    with requests.Session() as s:
        s.mount("http://", RetryAdapter(FAST, pool_maxsize=1, pool_block=True))
        yield s


def test_max_retries_is_refused() -> None:
    """urllib3 retries underneath would multiply attempts: the argument is refused."""
    with pytest.raises(TypeError, match="max_attempts"):
        RetryAdapter(max_retries=3)


def test_a_file_body_is_rewound_to_where_it_started(
    fault_server: FaultServer, session: requests.Session
) -> None:
    """A file positioned at offset 4 is re-sent from offset 4 on every attempt."""
    fault_server.script("/f", [respond(503), respond(200)])
    body = io.BytesIO(b"HEAD0123456789")
    body.seek(4)
    r = session.put(fault_server.url("/f"), data=body, timeout=2)
    assert r.status_code == 200
    assert [x.body for x in fault_server.requests("/f")] == [b"0123456789"] * 2


def test_a_body_cut_short_is_retried_when_not_streaming(
    fault_server: FaultServer, session: requests.Session
) -> None:
    """With stream=False the body is read inside the loop: a reset mid-body is retried."""
    fault_server.script(
        "/cut", [reset_mid_body(200, body=b"x" * 100, sent_bytes=10), respond(200, body=b"ok")]
    )
    r = session.get(fault_server.url("/cut"), timeout=2)
    assert (r.status_code, r.content) == (200, b"ok")
    assert fault_server.hits("/cut") == 2


def test_a_body_cut_short_surfaces_at_read_when_streaming(
    fault_server: FaultServer, session: requests.Session
) -> None:
    """With stream=True a success body is the caller's to read: the error comes at read."""
    fault_server.script("/cut", [reset_mid_body(200, body=b"x" * 100, sent_bytes=10)])
    r = session.get(fault_server.url("/cut"), timeout=2, stream=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = r.content
    assert fault_server.hits("/cut") == 1


def test_a_streamed_success_after_a_retry_is_left_unread(
    fault_server: FaultServer, session: requests.Session
) -> None:
    """stream=True, a 503 then a 200: the retried success's body is still the caller's to read."""
    fault_server.script("/s", [respond(503, body=b"busy"), respond(200, body=b"y" * 1000)])
    r = session.get(fault_server.url("/s"), timeout=2, stream=True)
    assert r.status_code == 200
    assert not r._content_consumed  # type: ignore[attr-defined]
    assert r.raw.read(1000) == b"y" * 1000
    assert fault_server.hits("/s") == 2


def test_a_stall_mid_body_is_a_timeout_error_catchable_both_ways(
    fault_server: FaultServer,
) -> None:
    """A read timeout in the middle of a body ends as APITimeoutError, also a requests error."""
    fault_server.script("/slow", [slow_body(200, body=b"x" * 50, chunk=5, interval=1.0)])
    with requests.Session() as s:
        s.mount("http://", RetryAdapter(dataclasses.replace(FAST, max_attempts=2)))
        with pytest.raises(errorkit.APITimeoutError) as caught:
            s.get(fault_server.url("/slow"), timeout=0.3)
    assert isinstance(caught.value, requests.ConnectionError)
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert caught.value.attempts == 2
    assert fault_server.hits("/slow") == 2


def test_refused_connection_is_api_connection_error_and_connection_error() -> None:
    """A refused connection after all attempts is APIConnectionError and requests'
    ConnectionError, with the original as its cause."""
    with requests.Session() as s:
        s.mount("http://", RetryAdapter(FAST))
        with pytest.raises(errorkit.APIConnectionError) as caught:
            s.get(f"http://127.0.0.1:{closed_port()}/", timeout=1)
    assert isinstance(caught.value, requests.ConnectionError)
    assert caught.value.info.category is errorkit.Category.CONNECTION
    assert caught.value.attempts == 3


@pytest.mark.parametrize("size", [BOUND - 1, BOUND, BOUND + 1, 200_000])
@pytest.mark.parametrize("chunked", [False, True])
def test_streamed_error_bodies_stay_whole_after_the_peek(
    fault_server: FaultServer, session: requests.Session, size: int, chunked: bool
) -> None:
    """A final error body of any size is whole for the caller after errorkit's bounded peek."""
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    fault_server.script("/big", [respond(400, body=body, chunked=4 if chunked else 0)])
    r = session.get(fault_server.url("/big"), timeout=5, stream=True)
    assert b"".join(r.iter_content(8192)) == body
    assert errorkit.error_of(r) is not None
    assert fault_server.hits("/big") == 1


def test_gzip_error_body_is_decoded_once(
    fault_server: FaultServer, session: requests.Session
) -> None:
    """A gzip-encoded JSON error is classified from its decoded text and read back decoded."""
    fault_server.script("/gz", [respond(404, body={"error": "Agent not found"}, gzip=True)])
    for stream in (False, True):
        r = session.get(fault_server.url("/gz"), timeout=2, stream=stream)
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.json() == {"error": "Agent not found"}
        info = errorkit.error_of(r)
        assert info is not None
        assert info.message == "Agent not found"


def test_raise_for_status_gives_an_http_error_with_a_readable_body(
    fault_server: FaultServer,
) -> None:
    """raise_for_status=True raises RateLimitError, which is also requests.HTTPError."""
    fault_server.script("/rl", [respond(429, headers={"Retry-After": "3600"}, body="slow down")])
    with requests.Session() as s:
        s.mount("http://", RetryAdapter(FAST, raise_for_status=True))
        with pytest.raises(requests.HTTPError) as caught:
            s.get(fault_server.url("/rl"), timeout=2)
    exc = caught.value
    assert isinstance(exc, errorkit.RateLimitError)
    assert exc.response is not None
    assert exc.response.text == "slow down"
    assert exc.info.retry_after == 3600
    assert exc.attempts == 1


def test_redirect_hops_each_get_their_own_attempts_and_one_hook_call(
    fault_server: FaultServer, session: requests.Session, instant_waits: InstantWaits
) -> None:
    """A 302 to a flaky target: hooks fire once per hop, the target hop retries on its
    own, and r.elapsed includes the (virtual) waits."""
    fault_server.script("/a", [respond(302, headers={"Location": "/b"})])
    fault_server.script("/b", [respond(503), respond(503), respond(200, body=b"done")])
    seen: list[int] = []

    def hook(r: requests.Response, *args: object, **kwargs: object) -> None:
        seen.append(r.status_code)

    r = session.get(fault_server.url("/a"), hooks={"response": hook}, timeout=2)
    assert (r.status_code, r.content) == (200, b"done")
    assert seen == [302, 200]
    assert (fault_server.hits("/a"), fault_server.hits("/b")) == (1, 3)
    assert [h.status_code for h in r.history] == [302]
    assert len(instant_waits.delays) == 2


def test_elapsed_includes_real_waits(fault_server: FaultServer) -> None:
    """r.elapsed spans every attempt and wait of the hop, as requests times adapter.send."""
    fault_server.script("/w", [respond(503, headers={"Retry-After": "0.2"}), respond(200)])
    with requests.Session() as s:
        s.mount("http://", RetryAdapter(FAST))
        r = s.get(fault_server.url("/w"), timeout=2)
    assert r.status_code == 200
    assert r.elapsed.total_seconds() >= 0.2


def test_cookies_from_discarded_attempts_are_dropped(
    fault_server: FaultServer, session: requests.Session
) -> None:
    """Only the returned response's cookies reach the session (documented behaviour)."""
    fault_server.script(
        "/c",
        [respond(503, headers={"Set-Cookie": "early=1"}),
         respond(200, headers={"Set-Cookie": "final=2"})],
    )  # fmt: skip
    session.get(fault_server.url("/c"), timeout=2)
    assert session.cookies.get("final") == "2"
    assert session.cookies.get("early") is None


def test_the_adapter_survives_pickling(fault_server: FaultServer) -> None:
    """A pickled adapter keeps its policy settings and still retries."""
    adapter = RetryAdapter(dataclasses.replace(FAST, max_attempts=4), raise_for_status=True)
    clone = pickle.loads(pickle.dumps(adapter))
    assert clone.policy.max_attempts == 4
    assert clone.raise_for_status is True
    fault_server.script("/p", [respond(503), respond(200)])
    with requests.Session() as s:
        s.mount("http://", clone)
        assert s.get(fault_server.url("/p"), timeout=2).status_code == 200
    assert fault_server.hits("/p") == 2


def test_success_path_does_not_parse(
    fault_server: FaultServer, session: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2xx answer is returned without running the error parser."""
    import errorkit.requests as module

    calls: list[int] = []
    monkeypatch.setattr(module, "parse", lambda *a, **k: calls.append(1))
    fault_server.script("/ok", [respond(200, body=b"fine")])
    assert session.get(fault_server.url("/ok"), timeout=2).content == b"fine"
    assert calls == []
