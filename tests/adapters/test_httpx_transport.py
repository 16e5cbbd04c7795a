"""`errorkit.httpx` over real loopback sockets: each test runs the sync and the async twin.

The tests follow the pitfalls of stack-mechanics.md that concern httpx (1, 2, 3, 6,
7, 8, 9, 12, 13, 14) plus the transport's own contract: inner transport options,
per-request policies, timeouts fitted to the deadline, and no cross-talk between
concurrent requests. Each asserts on what the server recorded and what the caller got.
"""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import errorkit
from errorkit import RetryPolicy
from errorkit.httpx import AsyncRetryTransport, RetryTransport
from errorkit.testing import (
    FaultServer,
    closed_port,
    drop,
    full_backlog,
    huge_body,
    instant_waits,
    reset_mid_body,
    respond,
    slow_body,
    stall,
)
from support.clients_httpx import Twin

if TYPE_CHECKING:
    from collections.abc import Iterator

    from errorkit.testing import InstantWaits

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
BOUND = 64 * 1024
MakeTwin = Callable[..., Twin]


def _pool_of(transport: RetryTransport | AsyncRetryTransport) -> Any:
    """The httpcore connection pool under the default inner transport."""
    inner = transport.transport
    assert isinstance(inner, (httpx.HTTPTransport, httpx.AsyncHTTPTransport))
    return inner._pool


def _pattern(n: int) -> bytes:
    return (bytes(range(256)) * (n // 256 + 1))[:n]


# -- pitfall 1 and 2: request bodies ------------------------------------------------


@pytest.mark.parametrize("kind", ["generator", "iterator"])
def test_one_shot_bodies_are_sent_once(
    fault_server: FaultServer, twin: MakeTwin, kind: str
) -> None:
    """Generators and plain iterators (sync or async) are never re-sent: 1 hit, the 503 back."""
    fault_server.script("/p", [respond(503, {"Retry-After": "0"}), respond(200)])
    client = twin(dataclasses.replace(FAST, idempotency_key=True))
    body = client.oneshot(b"0123456789") if kind == "generator" else client.iterator(b"0123456789")
    r = client.request("POST", fault_server.url("/p"), content=body)
    assert r.status_code == 503
    assert fault_server.hits("/p") == 1
    assert fault_server.requests("/p")[0].body == b"0123456789"


@pytest.mark.parametrize("kind", ["generator", "iterator", "file"])
def test_a_body_read_by_an_earlier_hop_is_never_sent_again(
    fault_server: FaultServer, twin: MakeTwin, hx: Any, kind: str
) -> None:
    """On a 307 hop a read one-shot or file body raises StreamConsumed; nothing reaches /to."""
    fault_server.script("/from", [respond(307, {"Location": "/to"})])
    fault_server.script("/to", [respond(200)])
    client = twin()
    if kind == "file" and client.is_async:
        from support.clients_httpx import AsyncSeekableFile

        body: Any = AsyncSeekableFile(b"0123456789")
    elif kind == "file":
        body = io.BytesIO(b"0123456789")
    else:
        body = client.oneshot(b"x") if kind == "generator" else client.iterator(b"xy")
    with pytest.raises(hx.StreamConsumed):
        client.request("POST", fault_server.url("/from"), content=body, follow_redirects=True)
    assert (fault_server.hits("/from"), fault_server.hits("/to")) == (1, 0)


def test_a_list_body_is_iterated_again(fault_server: FaultServer, twin: MakeTwin) -> None:
    """A list of chunks is re-iterable, so it is re-sent whole (sync client only takes it)."""
    client = twin()
    if client.is_async:
        pytest.skip("httpx's async client takes async iterables only")
    fault_server.script("/l", [respond(503), respond(200)])
    r = client.request("PUT", fault_server.url("/l"), content=[b"01234", b"56789"])
    assert r.status_code == 200
    assert [q.body for q in fault_server.requests("/l")] == [b"0123456789"] * 2


def test_a_file_body_is_rewound_to_its_starting_offset(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """A seekable file at offset 3 is rewound to 3 before the re-send: both bodies equal."""
    client = twin()
    data = b"###0123456789"
    if client.is_async:
        from support.clients_httpx import AsyncSeekableFile

        body: Any = AsyncSeekableFile(data)
    else:
        body = io.BytesIO(data)
    body.seek(3)
    fault_server.script("/f", [respond(503), respond(200)])
    start = time.monotonic()
    r = client.request(
        "PUT", fault_server.url("/f"), content=body, headers={"Content-Length": "10"}, timeout=2
    )
    assert r.status_code == 200
    assert [q.body for q in fault_server.requests("/f")] == [b"0123456789"] * 2
    assert time.monotonic() - start < 1.0


def test_a_real_file_and_a_multipart_upload_are_re_sent_whole(
    fault_server: FaultServer, twin: MakeTwin, tmp_path: Any
) -> None:
    """An open file (content=) and a files= upload both reach the server whole twice."""
    client = twin()
    path = tmp_path / "body.bin"
    path.write_bytes(b"file-body")
    fault_server.script("/m", [respond(503), respond(200)])
    with path.open("rb") as file:
        r = client.request("PUT", fault_server.url("/m"), files={"upload": file})
    assert r.status_code == 200
    bodies = [q.body for q in fault_server.requests("/m")]
    assert len(bodies) == 2
    assert b"file-body" in bodies[0]
    if client.is_async:
        return  # an open sync file is not an async body
    fault_server.script("/fo", [respond(503), respond(200)])
    with path.open("rb") as file:
        r = client.request("PUT", fault_server.url("/fo"), content=file)
    assert r.status_code == 200
    assert [q.body for q in fault_server.requests("/fo")] == [b"file-body"] * 2


class _Unseekable:
    """A file-like body that reads but cannot seek (a socket or pipe reader, say)."""

    def __init__(self, data: bytes) -> None:
        self._file = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._file)

    def seekable(self) -> bool:
        return False


def test_a_non_seekable_file_is_sent_once(fault_server: FaultServer, twin: MakeTwin) -> None:
    """A file that cannot seek is sent once: the real 503 comes back, never a raw h11 error."""
    client = twin(dataclasses.replace(FAST, idempotency_key=True))
    if client.is_async:
        pytest.skip("httpx's async client takes no sync file object")
    fault_server.script("/pipe", [respond(503), respond(200)])
    r = client.request("POST", fault_server.url("/pipe"), content=_Unseekable(b"0123456789"))
    assert r.status_code == 503
    assert fault_server.hits("/pipe") == 1
    assert fault_server.requests("/pipe")[0].body == b"0123456789"


# -- pitfall 3: connections ---------------------------------------------------------


def test_discarded_error_responses_return_their_connection(
    fault_server: FaultServer, twin: MakeTwin, hx: Any
) -> None:
    """Pool of one: two 503s with 5000-byte bodies then a 200 travel over one connection."""
    big = b"x" * 5000
    fault_server.script("/c", [respond(503, body=big), respond(503, body=big), respond(200)])
    client = twin(limits=hx.Limits(max_connections=1))
    r = client.request("GET", fault_server.url("/c"), timeout=hx.Timeout(5, pool=1))
    assert r.status_code == 200
    assert fault_server.hits("/c") == 3
    assert fault_server.connections_accepted == 1


def test_an_error_body_over_the_bound_is_closed_not_drained(
    fault_server: FaultServer, twin: MakeTwin, hx: Any
) -> None:
    """A discarded 3 MB error body costs its connection, never a hang or a full download."""
    fault_server.script(
        "/huge", [huge_body(3_000_000, 503), huge_body(3_000_000, 503), respond(200)]
    )
    client = twin(limits=hx.Limits(max_connections=1))
    start = time.monotonic()
    r = client.request("GET", fault_server.url("/huge"), timeout=hx.Timeout(5, pool=1))
    assert r.status_code == 200
    assert fault_server.connections_accepted == 3
    assert time.monotonic() - start < 3


# -- pitfall 6: the server controls the sleep ----------------------------------------


def test_retry_after_beyond_the_cap_fails_at_once(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """Retry-After: 3600 over max_retry_after=60: one hit, no wait, the 503 carries 3600."""
    fault_server.script("/ra", [respond(503, {"Retry-After": "3600"}), respond(200)])
    start = time.monotonic()
    r = twin(dataclasses.replace(FAST, max_retry_after=60)).request("GET", fault_server.url("/ra"))
    assert time.monotonic() - start < 0.5
    assert r.status_code == 503
    assert fault_server.hits("/ra") == 1
    info = errorkit.error_of(r)
    assert info is not None
    assert info.retry_after == 3600


def test_retry_after_ms_is_waited_for_real(fault_server: FaultServer, twin: MakeTwin) -> None:
    """retry-after-ms: 200 makes the client wait 0.2 s (wall time), then succeed."""
    fault_server.script("/ms", [respond(503, {"retry-after-ms": "200"}), respond(200)])
    start = time.monotonic()
    r = twin(dataclasses.replace(FAST, jitter=0.0)).request("GET", fault_server.url("/ms"))
    elapsed = time.monotonic() - start
    assert r.status_code == 200
    assert 0.2 <= elapsed < 0.6
    requests = fault_server.requests("/ms")
    assert requests[1].t - requests[0].t >= 0.2


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [("date+30", 29.0, 31.5), ("soon, maybe", 0.0, 0.06)],
    ids=["http-date", "garbage"],
)
def test_retry_after_date_and_garbage(
    fault_server: FaultServer,
    twin: MakeTwin,
    instant_waits: InstantWaits,
    value: str,
    low: float,
    high: float,
) -> None:
    """An HTTP-date 30 s ahead waits about 30 s; a garbage value falls back to backoff."""
    now = time.time()
    headers = {"Date": email.utils.formatdate(now, usegmt=True)}
    headers["Retry-After"] = (
        email.utils.formatdate(now + 30, usegmt=True) if value == "date+30" else value
    )
    fault_server.script("/rd", [respond(503, headers), respond(200)])
    r = twin().request("GET", fault_server.url("/rd"))
    assert r.status_code == 200
    assert len(instant_waits.delays) == 1
    assert low <= instant_waits.delays[0] <= high


# -- pitfall 7: body-phase errors ------------------------------------------------------


def test_a_success_body_cut_short_is_httpx_own_error_without_retry(
    fault_server: FaultServer, twin: MakeTwin, hx: Any
) -> None:
    """A 200 body reset mid-way raises httpx's error from the read, after one hit (pinned)."""
    fault_server.script("/cut", [reset_mid_body(200, body=100 * b"x", sent_bytes=10), respond(200)])
    with pytest.raises(hx.TransportError) as caught:
        twin().request("GET", fault_server.url("/cut"))
    assert not isinstance(caught.value, errorkit.APIError)
    assert fault_server.hits("/cut") == 1


def test_a_stalled_success_body_raises_read_timeout_without_retry(
    fault_server: FaultServer, twin: MakeTwin, hx: Any
) -> None:
    """A 200 body trickling slower than the read timeout raises httpx.ReadTimeout, one hit."""
    fault_server.script("/slow", [slow_body(200, b"x" * 10, interval=1.0), respond(200)])
    start = time.monotonic()
    with pytest.raises(hx.ReadTimeout):
        twin().request("GET", fault_server.url("/slow"), timeout=0.2)
    assert time.monotonic() - start < 1.0
    assert fault_server.hits("/slow") == 1


def test_an_error_body_cut_short_is_a_failed_attempt_and_retried(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """A 503 body reset inside the peek is a failed attempt: a GET is retried to the 200."""
    fault_server.script(
        "/ecut", [reset_mid_body(503, body=100 * b"x", sent_bytes=10), respond(200, body=b"ok")]
    )
    r = twin().request("GET", fault_server.url("/ecut"))
    assert (r.status_code, r.content) == (200, b"ok")
    assert fault_server.hits("/ecut") == 2


def test_a_stalled_error_body_is_a_timeout_and_retried(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """A 500 body stalling past the read timeout inside the peek: retried, then the 200."""
    fault_server.script("/eslow", [slow_body(500, b"x" * 10, interval=1.0), respond(200)])
    r = twin().request("GET", fault_server.url("/eslow"), timeout=0.2)
    assert r.status_code == 200
    assert fault_server.hits("/eslow") == 2


# -- pitfalls 8 and 9: the error body stays whole -------------------------------------


def test_an_inspected_error_response_keeps_elapsed_and_raw_bytes(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """A 30-byte 500: .elapsed is set, .content is whole, iter_raw yields all 30 bytes."""
    body = b'{"error": "thirty bytes long"}'
    assert len(body) == 30
    fault_server.script("/e", [respond(500, body=body)])
    client = twin(dataclasses.replace(FAST, max_attempts=1))
    r = client.request("GET", fault_server.url("/e"))
    assert r.content == body
    assert r.elapsed.total_seconds() > 0
    assert (r.http_version, r.reason_phrase) == ("HTTP/1.1", "Internal Server Error")
    info = errorkit.error_of(r)
    assert info is not None
    assert info.message == "thirty bytes long"
    streamed, raw = client.raw("GET", fault_server.url("/e"))
    assert raw == body
    assert streamed.elapsed.total_seconds() > 0


def test_a_gzip_error_body_is_decoded_once(fault_server: FaultServer, twin: MakeTwin) -> None:
    """A gzip 500: parse() sees JSON, .content is the plain body, iter_raw the gzip bytes."""
    body = b'{"error": "compressed"}'
    fault_server.script("/gz", [respond(500, body=body, gzip=True)])
    client = twin(dataclasses.replace(FAST, max_attempts=1))
    r = client.request("GET", fault_server.url("/gz"))
    assert r.content == body
    info = errorkit.error_of(r)
    assert info is not None
    assert info.message == "compressed"
    streamed, raw = client.raw("GET", fault_server.url("/gz"))
    assert gzip.decompress(raw) == body
    assert len(raw) == int(streamed.headers["content-length"])


@pytest.mark.parametrize(
    ("size", "chunked"),
    [(BOUND - 1, 0), (BOUND, 0), (BOUND + 1, 0), (200_000, 0), (200_000, 7)],
    ids=["bound-1", "bound", "bound+1", "200000", "chunked"],
)
def test_error_bodies_of_every_size_stay_whole(
    fault_server: FaultServer, twin: MakeTwin, size: int, chunked: int
) -> None:
    """Around the 64 KiB bound and far beyond, .content and iter_raw give the whole body."""
    body = _pattern(size)
    fault_server.script("/s", [respond(500, body=body, chunked=chunked)])
    client = twin(dataclasses.replace(FAST, max_attempts=1))
    assert client.request("GET", fault_server.url("/s")).content == body
    assert client.raw("GET", fault_server.url("/s"))[1] == body


def test_a_large_gzip_error_body_is_whole_and_classified(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """A 200 000-byte JSON body, gzip-compressed: classified from its head, read whole."""
    body = b'{"error": "big", "pad": "' + b"p" * 200_000 + b'"}'
    fault_server.script("/gzbig", [respond(500, body=body, gzip=True)])
    r = twin(dataclasses.replace(FAST, max_attempts=1)).request("GET", fault_server.url("/gzbig"))
    assert r.content == body
    assert errorkit.error_of(r) is not None


def test_success_responses_are_returned_untouched(fault_server: FaultServer) -> None:
    """A 200 from the inner transport comes back as is: its stream is not wrapped or read."""
    fault_server.script("/ok", [respond(200, body=b"fine")])
    with RetryTransport(FAST) as transport:
        inner = transport.transport
        seen: list[httpx.Response] = []
        original = inner.handle_request

        def spy(request: httpx.Request) -> httpx.Response:
            seen.append(original(request))
            return seen[-1]

        inner.handle_request = spy  # type: ignore[method-assign]
        response = transport.handle_request(httpx.Request("GET", fault_server.url("/ok")))
        assert response is seen[0]
        assert type(response.stream).__name__ == "ResponseStream"
        assert response.read() == b"fine"


# -- pitfall 12: cancellation and interrupts -----------------------------------------


async def test_cancelling_during_the_backoff_is_immediate_and_leaks_nothing(
    fault_server: FaultServer,
) -> None:
    """task.cancel() during a 2 s wait: CancelledError within 50 ms, no connection held."""
    import asyncio

    fault_server.script("/x", [respond(503, {"Retry-After": "2"}, body=b"busy")])
    transport = AsyncRetryTransport(FAST)
    async with httpx.AsyncClient(transport=transport) as client:
        task = asyncio.create_task(client.get(fault_server.url("/x")))
        while fault_server.hits("/x") < 1:  # noqa: ASYNC110 - the server runs in a thread
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # inside the wait now
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - start < 0.05
        assert fault_server.hits("/x") == 1
        pool = _pool_of(transport)
        assert all(c.is_idle() or c.is_closed() for c in pool.connections)


def test_a_keyboard_interrupt_in_the_wait_propagates_and_leaks_nothing(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync wait goes through CLOCK.sleep: an interrupt there escapes, pool left clean."""
    from errorkit._clock import CLOCK

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(CLOCK, "sleep", interrupted)
    fault_server.script("/k", [respond(503, body=b"busy"), respond(200)])
    transport = RetryTransport(FAST)
    with httpx.Client(transport=transport) as client:
        with pytest.raises(KeyboardInterrupt):
            client.get(fault_server.url("/k"))
        assert fault_server.hits("/k") == 1
        pool = _pool_of(transport)
        assert all(c.is_idle() or c.is_closed() for c in pool.connections)


# -- pitfall 13: a POST is retried only when the server cannot have acted on it ------


def test_a_refused_post_is_retried(twin: MakeTwin, hx: Any, instant_waits: InstantWaits) -> None:
    """Connection refused never reached a server: a POST is tried max_attempts times."""
    client = twin()
    with pytest.raises(errorkit.APIConnectionError) as caught:
        client.request("POST", f"http://127.0.0.1:{closed_port()}/p", content=b"x")
    assert caught.value.attempts == 3
    assert isinstance(caught.value, hx.ConnectError)
    assert isinstance(caught.value.__cause__, hx.ConnectError)
    assert len(instant_waits.delays) == 2


def test_a_post_hitting_a_full_backlog_is_retried_after_connect_timeouts(
    twin: MakeTwin,
    hx: Any,
) -> None:
    """A connect timeout means nothing was sent: the POST is retried, then APITimeoutError."""
    client = twin(dataclasses.replace(FAST, max_attempts=2))
    with full_backlog() as (host, port):
        start = time.monotonic()
        with pytest.raises(errorkit.APITimeoutError) as caught:
            client.request("POST", f"http://{host}:{port}/p", content=b"x", timeout=0.2)
    assert caught.value.attempts == 2
    assert isinstance(caught.value, hx.ConnectTimeout)
    assert 0.4 <= time.monotonic() - start < 1.5


def test_a_post_answered_429_is_retried(fault_server: FaultServer, twin: MakeTwin) -> None:
    """A 429 says the request was not processed: the POST is sent again with its body."""
    fault_server.script("/q", [respond(429, {"Retry-After": "0"}), respond(201)])
    r = twin().request("POST", fault_server.url("/q"), content=b"payload")
    assert r.status_code == 201
    assert [q.body for q in fault_server.requests("/q")] == [b"payload"] * 2


def test_a_post_dropped_after_it_was_read_is_not_retried(
    fault_server: FaultServer, twin: MakeTwin, hx: Any
) -> None:
    """The server read the POST then closed: one hit, APIConnectionError from the httpx error."""
    fault_server.script("/d", [drop(), respond(200)])
    with pytest.raises(errorkit.APIConnectionError) as caught:
        twin().request("POST", fault_server.url("/d"), content=b"x")
    assert fault_server.hits("/d") == 1
    assert caught.value.attempts == 1
    assert isinstance(caught.value.__cause__, hx.RemoteProtocolError)
    assert isinstance(caught.value, hx.RemoteProtocolError)


def test_a_post_that_times_out_reading_is_not_retried(
    fault_server: FaultServer, twin: MakeTwin, hx: Any
) -> None:
    """A stalled POST with a 1 s read timeout: one hit, APITimeoutError after about 1 s."""
    fault_server.script("/st", [stall(3), respond(200)])
    start = time.monotonic()
    with pytest.raises(errorkit.APITimeoutError) as caught:
        twin().request("POST", fault_server.url("/st"), content=b"x", timeout=1.0)
    assert 1.0 <= time.monotonic() - start < 1.8
    assert fault_server.hits("/st") == 1
    assert isinstance(caught.value, hx.ReadTimeout)


def test_idempotency_key_is_the_same_on_every_attempt(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """With idempotency_key=True a dropped POST is retried carrying one key throughout."""
    fault_server.script("/ik", [drop(), respond(503), respond(200)])
    r = twin(dataclasses.replace(FAST, idempotency_key=True)).request(
        "POST", fault_server.url("/ik"), content=b"x"
    )
    assert r.status_code == 200
    keys = {q.header("Idempotency-Key") for q in fault_server.requests("/ik")}
    assert fault_server.hits("/ik") == 3
    assert len(keys) == 1
    assert None not in keys


def test_a_callers_own_idempotency_key_is_kept(fault_server: FaultServer, twin: MakeTwin) -> None:
    """A key the caller set is sent unchanged on every attempt, and makes the POST retryable."""
    fault_server.script("/own", [drop(), respond(200)])
    r = twin(dataclasses.replace(FAST, idempotency_key=True)).request(
        "POST", fault_server.url("/own"), content=b"x", headers={"Idempotency-Key": "mine-1"}
    )
    assert r.status_code == 200
    assert [q.header("Idempotency-Key") for q in fault_server.requests("/own")] == ["mine-1"] * 2


# -- pitfall 14: exceptions -----------------------------------------------------------


def test_a_final_transport_failure_is_errorkit_and_httpx_at_once(twin: MakeTwin, hx: Any) -> None:
    """APIConnectionError is also httpx.ConnectError, with .request set and the cause kept."""
    client = twin(dataclasses.replace(FAST, max_attempts=1))
    url = f"http://127.0.0.1:{closed_port()}/x"
    with pytest.raises(hx.ConnectError) as caught:
        client.request("GET", url)
    exc = caught.value
    assert isinstance(exc, errorkit.APIConnectionError)
    assert isinstance(exc.__cause__, hx.ConnectError)
    assert str(caught.value.request.url) == url
    assert exc.info.category is errorkit.Category.CONNECTION


def test_raise_for_status_is_an_httpx_status_error_with_a_readable_body(
    fault_server: FaultServer, twin: MakeTwin, hx: Any
) -> None:
    """raise_for_status=True: RateLimitError that is an HTTPStatusError; body, request, elapsed."""
    body: dict[str, object] = {
        "error": {"code": "rate_limit_exceeded", "message": "slow down", "status": 429}
    }
    fault_server.script("/rl", [respond(429, {"Retry-After": "0"}, body=body)])
    client = twin(dataclasses.replace(FAST, max_attempts=2), raise_for_status=True)
    with pytest.raises(hx.HTTPStatusError) as caught:
        client.request("GET", fault_server.url("/rl"))
    exc = caught.value
    assert isinstance(exc, errorkit.RateLimitError)
    assert exc.attempts == 2
    assert exc.response.status_code == 429
    assert exc.response.json() == body
    assert exc.response.elapsed.total_seconds() > 0
    assert caught.value.request.url == fault_server.url("/rl")
    assert errorkit.error_of(exc.response) is exc.info
    assert fault_server.hits("/rl") == 2


@pytest.fixture
def not_tls() -> Iterator[str]:
    """A loopback server that answers any connection with plain HTTP bytes, then closes."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/tls"
    stop.set()
    thread.join()
    listener.close()


def test_a_tls_failure_is_not_retried(not_tls: str, twin: MakeTwin, hx: Any) -> None:
    """A TLS handshake that fails (ssl.SSLError under ConnectError) is not retried."""
    with pytest.raises(errorkit.APIConnectionError) as caught:
        twin().request("GET", not_tls)
    assert caught.value.attempts == 1
    assert isinstance(caught.value, hx.ConnectError)
    assert "SSL" in str(caught.value)  # httpx's own text, as without errorkit
    assert "TLS" in caught.value.info.message  # errorkit's classification


# -- the transport's own contract ------------------------------------------------------


def test_a_per_request_policy_overrides_the_transports(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """extensions={"errorkit": policy} decides for that request only."""
    fault_server.script("/o", [respond(503)])
    client = twin(dataclasses.replace(FAST, max_attempts=3))
    once = dataclasses.replace(FAST, max_attempts=1)
    assert (
        client.request("GET", fault_server.url("/o"), extensions={"errorkit": once}).status_code
        == 503
    )
    assert fault_server.hits("/o") == 1
    client.request("GET", fault_server.url("/o"))
    assert fault_server.hits("/o") == 1 + 3


def test_a_per_request_value_that_is_not_a_policy_is_refused(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """A wrong extensions["errorkit"] raises TypeError before anything is sent."""
    with pytest.raises(TypeError, match="RetryPolicy"):
        twin().request("GET", fault_server.url("/o"), extensions={"errorkit": 3})
    assert fault_server.hits("/o") == 0


def test_a_per_request_none_uses_the_transports_policy(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """extensions={"errorkit": None} is no override: the transport's policy retries."""
    fault_server.script("/o", [respond(503), respond(200)])
    client = twin(dataclasses.replace(FAST, max_attempts=2))
    r = client.request("GET", fault_server.url("/o"), extensions={"errorkit": None})
    assert r.status_code == 200
    assert fault_server.hits("/o") == 2


def test_the_deadline_shrinks_each_attempts_timeout(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """deadline=0.5 with a 5 s read timeout: a stalled GET fails after about 0.5 s, one hit."""
    fault_server.script("/dl", [stall(3)])
    start = time.monotonic()
    with pytest.raises(errorkit.APITimeoutError):
        twin(dataclasses.replace(FAST, deadline=0.5)).request(
            "GET", fault_server.url("/dl"), timeout=5
        )
    assert 0.4 <= time.monotonic() - start < 1.0
    assert fault_server.hits("/dl") == 1


def test_each_redirect_hop_has_its_own_attempts(fault_server: FaultServer, twin: MakeTwin) -> None:
    """A 307 is a success for the transport; the target's 503s are retried on their own hop."""
    fault_server.script("/a", [respond(307, {"Location": "/b"})])
    fault_server.script("/b", [respond(503), respond(503), respond(200, body=b"there")])
    r = twin().request("GET", fault_server.url("/a"), follow_redirects=True)
    assert (r.status_code, r.content) == (200, b"there")
    assert (fault_server.hits("/a"), fault_server.hits("/b")) == (1, 3)


def test_on_retry_events_and_log_lines_redact_the_url(
    fault_server: FaultServer, twin: MakeTwin, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry calls on_retry and logs on "errorkit"; an api_key in the query never shows."""
    events: list[Any] = []
    fault_server.script("/ev", [respond(503), respond(502), respond(200)])
    client = twin(dataclasses.replace(FAST, on_retry=events.append))
    with caplog.at_level("INFO", logger="errorkit"):
        r = client.request(
            "GET",
            fault_server.url("/ev?api_key=SECRET123"),
            headers={"Authorization": "Bearer TOK"},
        )
    assert r.status_code == 200
    assert [(e.attempt, e.info.status, e.method) for e in events] == [
        (1, 503, "GET"),
        (2, 502, "GET"),
    ]
    retries = [
        rec for rec in caplog.records if rec.name == "errorkit" and "Retrying" in rec.getMessage()
    ]
    assert len(retries) == 2
    for text in [caplog.text, *(e.url for e in events)]:
        assert "SECRET123" not in text
        assert "TOK" not in text


def test_sixteen_threads_share_one_transport_without_cross_talk(fault_server: FaultServer) -> None:
    """16 threads, one transport: each request's attempts, key and deadline are its own."""
    import threading

    transport = RetryTransport(
        dataclasses.replace(FAST, idempotency_key=True, deadline=10),
        limits=httpx.Limits(max_connections=16),
    )
    for i in range(16):
        fault_server.script(f"/t{i}", [respond(503)] * (i % 3) + [respond(200, body=str(i))])
    statuses: dict[int, tuple[int, bytes]] = {}
    with httpx.Client(transport=transport) as client:

        def work(i: int) -> None:
            r = client.post(fault_server.url(f"/t{i}"), content=b"%d" % i)
            statuses[i] = (r.status_code, r.content)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert statuses == {i: (200, str(i).encode()) for i in range(16)}
    _assert_no_cross_talk(fault_server, 16)


async def test_fifty_tasks_share_one_async_transport_without_cross_talk(
    fault_server: FaultServer,
) -> None:
    """50 tasks, one async transport: attempts, bodies and keys never leak between them."""
    import asyncio

    transport = AsyncRetryTransport(dataclasses.replace(FAST, idempotency_key=True, deadline=10))
    for i in range(50):
        fault_server.script(f"/t{i}", [respond(503)] * (i % 3) + [respond(200, body=str(i))])
    async with httpx.AsyncClient(transport=transport) as client:
        responses = await asyncio.gather(
            *(client.post(fault_server.url(f"/t{i}"), content=b"%d" % i) for i in range(50))
        )
    assert [(r.status_code, r.content) for r in responses] == [
        (200, str(i).encode()) for i in range(50)
    ]
    _assert_no_cross_talk(fault_server, 50)


def _assert_no_cross_talk(server: FaultServer, n: int) -> None:
    keys: set[str | None] = set()
    for i in range(n):
        records = server.requests(f"/t{i}")
        assert len(records) == i % 3 + 1
        assert {q.body for q in records} == {b"%d" % i}
        own = {q.header("Idempotency-Key") for q in records}
        assert len(own) == 1
        keys |= own
    assert len(keys) == n
    assert None not in keys


def test_instant_waits_make_long_hints_free(fault_server: FaultServer, twin: MakeTwin) -> None:
    """Under instant_waits a 30 s Retry-After is recorded, not slept."""
    fault_server.script("/iw", [respond(503, {"Retry-After": "30"}), respond(200)])
    start = time.monotonic()
    with instant_waits() as waits:
        r = twin().request("GET", fault_server.url("/iw"))
    assert r.status_code == 200
    assert waits.delays
    assert waits.delays[0] >= 30
    assert time.monotonic() - start < 1


def test_max_body_bounds_what_is_parsed_not_what_is_returned(
    fault_server: FaultServer, twin: MakeTwin
) -> None:
    """max_body=10: the peek takes 10 bytes, the caller still gets the whole body.

    Once the caller read it (the client reads a body it does not stream), error_of
    parses the whole body (the 10-byte peek itself: test_dropin_fixes.py).
    """
    body = b"0123456789abcdefghij"
    fault_server.script("/mb", [respond(500, body=body)])
    r = twin(dataclasses.replace(FAST, max_attempts=1), max_body=10).request(
        "GET", fault_server.url("/mb")
    )
    assert r.content == body
    info = errorkit.error_of(r)
    assert info is not None
    assert info.body == body.decode()
