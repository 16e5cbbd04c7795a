"""No-socket unit tests of `errorkit.httpx`: the exception table, body replay, decoding.

`httpx.MockTransport` pre-reads request bodies, so it never proves a replay; it
serves here only where what the inner transport receives is the point.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import importlib
import io
import socket
import ssl
import time
import zlib
from typing import IO, TYPE_CHECKING, Any, cast

import httpx
import pytest

from errorkit import RetryPolicy
from errorkit._stacks.deadline import CUT_SHORT, cut_at
from errorkit._stacks.httpx_bodies import Replay, decoded, keep_read, peek, socket_of
from errorkit.httpx import FLAVOR, AsyncRetryTransport, RetryTransport
from errorkit.testing import instant_waits
from errorkit.testing._steps import compressed_zeros

if TYPE_CHECKING:
    from collections.abc import Iterator

FAST = RetryPolicy(budget=None, initial_delay=0.0, throttle_delay=0.0, max_delay=0.0)


@pytest.mark.parametrize(
    ("exc_type", "sent", "timeout", "retryable"),
    [
        (httpx.ConnectError, False, False, True),
        (httpx.ConnectTimeout, False, True, True),
        (httpx.PoolTimeout, False, True, True),
        (httpx.ProxyError, False, False, True),
        (httpx.UnsupportedProtocol, False, False, False),
        (httpx.ReadTimeout, True, True, True),
        (httpx.WriteTimeout, True, True, True),
        (httpx.ReadError, True, False, True),
        (httpx.WriteError, True, False, True),
        (httpx.RemoteProtocolError, True, False, True),
        (httpx.LocalProtocolError, True, False, False),
        (httpx.CloseError, True, False, True),
    ],
)
def test_each_httpx_exception_maps_to_one_failure(
    exc_type: type[httpx.TransportError], sent: bool, timeout: bool, retryable: bool
) -> None:
    """The from-to table: whether the server may have acted, timeouts, and what repeats."""
    failure = FLAVOR.failure(exc_type("boom"))
    assert (failure.sent, failure.timeout, failure.retryable) == (sent, timeout, retryable)


def test_a_connect_error_caused_by_tls_is_not_retryable() -> None:
    """An ssl.SSLError anywhere in the cause chain marks the ConnectError as a TLS failure."""
    exc = httpx.ConnectError("handshake")
    try:
        raise exc from RuntimeError("httpcore")
    except httpx.ConnectError:
        pass
    assert exc.__cause__ is not None
    exc.__cause__.__cause__ = ssl.SSLCertVerificationError("bad certificate")
    failure = FLAVOR.failure(exc)
    assert (failure.sent, failure.retryable) == (False, False)


def _iterator_request(content: Any) -> httpx.Request:
    return httpx.Request("PUT", "http://h/", content=content)


@pytest.mark.parametrize(
    ("make", "replayable"),
    [
        (lambda: b"bytes", True),
        (lambda: "text", True),
        (lambda: None, True),
        (lambda: [b"a", b"b"], True),
        (lambda: io.BytesIO(b"file"), True),
        (lambda: (c for c in [b"a"]), False),
        (lambda: iter([b"a", b"b"]), False),
    ],
    ids=["bytes", "str", "none", "list", "bytesio", "generator", "iterator"],
)
def test_which_request_bodies_can_be_replayed(make: Any, replayable: bool) -> None:
    """ByteStream, lists and seekable files replay; generators and iterators do not."""
    assert Replay(_iterator_request(make()).stream, FLAVOR).replayable is replayable


def test_json_forms_and_seekable_multipart_replay_but_unseekable_multipart_does_not() -> None:
    """json=/data= are bytes; files= replays only when every file can seek."""
    assert Replay(httpx.Request("POST", "http://h/", json={"a": 1}).stream, FLAVOR).replayable
    assert Replay(httpx.Request("POST", "http://h/", data={"a": "1"}).stream, FLAVOR).replayable
    seekable = httpx.Request("POST", "http://h/", files={"f": io.BytesIO(b"x")})
    assert Replay(seekable.stream, FLAVOR).replayable

    class Unseekable(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    unseekable = httpx.Request("POST", "http://h/", files={"f": cast("IO[bytes]", Unseekable())})
    assert not Replay(unseekable.stream, FLAVOR).replayable


def test_an_async_file_whose_seek_is_a_coroutine_is_not_replayable() -> None:
    """An async file's seek cannot be awaited where the body is rewound: sent once."""

    class AsyncFile:
        async def aread(self, _size: int = -1) -> bytes:
            return b""

        async def seek(self, offset: int) -> int:
            return offset

        def tell(self) -> int:
            return 0

        def __aiter__(self) -> AsyncFile:
            return self

        async def __anext__(self) -> bytes:
            raise StopAsyncIteration

    request = httpx.Request("PUT", "http://h/", content=AsyncFile())
    assert not Replay(request.stream, FLAVOR).replayable


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", lambda data: importlib.import_module("brotli").compress(data)),
        ("identity", lambda data: data),
    ],
)
def test_decoded_reads_the_content_encoding(encoding: str, compress: Any) -> None:
    """A throwaway copy is decoded for the parser; the raw bytes are left alone."""
    raw = compress(b'{"error": "x"}')
    headers = httpx.Headers({"Content-Encoding": encoding})
    assert decoded(headers, raw, 1000) == b'{"error": "x"}'


def test_decoding_is_bounded_and_survives_corrupt_bodies() -> None:
    """A gzip bomb inflates only to about the bound; corrupt gzip gives what decoded so far."""
    bomb = gzip.compress(b"\0" * 50_000_000)
    headers = httpx.Headers({"Content-Encoding": "gzip"})
    assert len(decoded(headers, bomb, 1000)) == 1000
    assert decoded(headers, b"not gzip at all", 1000) == b""
    plain = b"hello world" * 100
    assert plain.startswith(decoded(headers, gzip.compress(plain)[:40], 1000))


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip"])
def test_a_bomb_decodes_to_the_bound_only(encoding: str) -> None:
    """64 MiB of zeros compressed (br: a few hundred bytes) decode to exactly the bound."""
    raw = compressed_zeros(encoding, 64 << 20)
    headers = httpx.Headers({"Content-Encoding": encoding})
    assert decoded(headers, raw, 65536) == b"\0" * 65536


def _peeked(body: bytes, bound: int, headers: dict[str, str] | None = None) -> httpx.Response:
    """A response whose body was peeked as the transport does (`bound` raw bytes)."""
    response = httpx.Response(503, headers=headers, stream=httpx.ByteStream(body))
    peek(response, bound, FLAVOR)
    return response


def test_keep_read_leaves_a_body_that_fits_read_as_httpx_would() -> None:
    """Raw and decoded within the bound: .content, .json(), and the stream consumed."""
    document = b'{"error": "small"}'
    for response in (
        _peeked(document, 100),
        _peeked(gzip.compress(document), 100, {"Content-Encoding": "gzip"}),
        _peeked(b"", 0),
    ):
        assert keep_read(response, 100)
        assert response.content in (document, b"")
        assert response.is_stream_consumed
    with pytest.raises(httpx.StreamConsumed):
        next(iter(response.iter_raw()))


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"x" * 101, None),  # the peek stopped before the end
        (gzip.compress(b"x" * 101), {"Content-Encoding": "gzip"}),  # inflates past the bound
        (b"opaque", {"Content-Encoding": "x-unknown"}),  # no decoded byte from raw ones
        (b"not gzip", {"Content-Encoding": "gzip"}),
    ],
    ids=["raw-too-long", "inflates", "unknown-coding", "undecodable"],
)
def test_keep_read_reads_nothing_more_when_the_body_does_not_fit(
    body: bytes, headers: dict[str, str] | None
) -> None:
    """Nothing is read or set: .content raises ResponseNotRead, the stream still replays."""
    response = _peeked(body, 100, headers)
    assert not keep_read(response, 100)
    with pytest.raises(httpx.ResponseNotRead):
        _ = response.content
    assert b"".join(response.iter_raw()) == body


def test_keep_read_ignores_a_stream_already_iterated_or_not_peeked() -> None:
    """Only a peeked stream that nobody read since holds the whole body."""
    response = _peeked(b"body", 100)
    assert b"".join(response.iter_raw()) == b"body"
    assert not keep_read(response, 100)
    assert not keep_read(httpx.Response(503, stream=httpx.ByteStream(b"body")), 100)


class _Stream:
    def __init__(self, extra: Any) -> None:
        self._extra = extra

    def get_extra_info(self, info: str) -> Any:
        if isinstance(self._extra, Exception):
            raise self._extra
        return self._extra if info == "socket" else None


def test_the_cut_socket_is_httpcores_http11_socket_or_none() -> None:
    """httpcore's HTTP/1.1 socket is cut; HTTP/2, foreign streams and no stream are not."""
    ours, theirs = socket.socketpair()
    with ours, theirs:

        def response(**extensions: Any) -> httpx.Response:
            return httpx.Response(503, extensions=extensions)

        assert socket_of(response(network_stream=_Stream(ours))) is ours
        assert socket_of(response(http_version=b"HTTP/2", network_stream=_Stream(ours))) is None
        assert socket_of(response()) is None
        assert socket_of(response(network_stream=object())) is None
        assert socket_of(response(network_stream=_Stream("not a socket"))) is None
        assert socket_of(response(network_stream=_Stream(RuntimeError("gone")))) is None


def test_a_timeout_once_the_deadline_came_is_the_deadlines() -> None:
    """A clipped timeout fired at the deadline names it; an earlier one or another error not."""
    past, future = time.monotonic() - 0.01, time.monotonic() + 60
    assert FLAVOR.failure_by(httpx.ReadTimeout("t"), past) is CUT_SHORT
    assert FLAVOR.failure_by(httpx.ConnectTimeout("t"), past) is CUT_SHORT
    assert FLAVOR.failure_by(httpx.ReadTimeout("t"), future) == FLAVOR.failure(
        httpx.ReadTimeout("t")
    )
    assert FLAVOR.failure_by(httpx.ReadError("e"), past) == FLAVOR.failure(httpx.ReadError("e"))


@pytest.fixture
def arms(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Every `cut_at` the sync transport's peek arms, by its seconds."""
    armed: list[float | None] = []

    @contextlib.contextmanager
    def counting(sock: socket.socket | None, seconds: float | None) -> Iterator[Any]:
        armed.append(seconds)
        with cut_at(sock, seconds) as cut:
            yield cut

    monkeypatch.setattr("errorkit._stacks.httpx_bodies.cut_at", counting)
    return armed


@pytest.mark.parametrize(
    ("deadline", "statuses", "expected_arms"),
    [(None, [503, 503, 200], 0), (5.0, [200], 0), (5.0, [503, 503, 200], 2)],
    ids=["no-deadline", "deadline-success", "deadline-errors"],
)
def test_the_cut_is_armed_once_per_error_attempt_and_only_under_a_deadline(
    arms: list[float | None], deadline: float | None, statuses: list[int], expected_arms: int
) -> None:
    """No deadline: nothing armed; a success: nothing; each peeked error: one arm."""
    replies = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(replies), content=b"{}")

    transport = RetryTransport(
        dataclasses.replace(FAST, deadline=deadline), transport=httpx.MockTransport(handler)
    )
    with instant_waits():
        assert transport.handle_request(httpx.Request("GET", "http://h/")).status_code == 200
    assert len(arms) == expected_arms
    assert all(seconds is not None and 0 < seconds <= 5.0 for seconds in arms)


def test_attempt_timeouts_shrink_to_the_deadline_and_are_restored() -> None:
    """Each attempt's timeouts are cut to the time left; the request keeps its own after."""
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(503 if len(seen) < 2 else 200)

    transport = RetryTransport(
        dataclasses.replace(FAST, deadline=2.0), transport=httpx.MockTransport(handler)
    )
    request = httpx.Request(
        "GET",
        "http://h/",
        extensions={"timeout": {"connect": 5.0, "read": None, "write": 1.0, "pool": 5.0}},
    )
    original = request.extensions
    with instant_waits():
        assert transport.handle_request(request).status_code == 200
    assert all(t["connect"] is not None and t["connect"] <= 2.0 for t in seen)
    assert all(t["read"] is not None and t["read"] <= 2.0 for t in seen)
    assert all(t["write"] == 1.0 for t in seen)
    assert request.extensions is original
    assert original["timeout"]["connect"] == 5.0


def test_a_raised_responses_elapsed_spans_every_attempt_and_wait() -> None:
    """raise_for_status after a 2 s Retry-After: .elapsed counts from the first attempt."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, headers={"Retry-After": "2"}, content=b"busy")

    transport = RetryTransport(
        dataclasses.replace(FAST, max_attempts=2, jitter=0.0),
        transport=httpx.MockTransport(handler),
        raise_for_status=True,
    )
    with instant_waits() as waits, pytest.raises(httpx.HTTPStatusError) as caught:
        transport.handle_request(httpx.Request("GET", "http://h/"))
    assert len(calls) == 2
    assert waits.delays == [pytest.approx(2.0, abs=0.2)]
    assert caught.value.response.elapsed.total_seconds() >= waits.delays[0]
    assert caught.value.response.content == b"busy"


def test_close_and_context_managers_reach_the_inner_transport() -> None:
    """close(), aclose() and both kinds of with blocks close the wrapped transport."""
    closed: list[str] = []

    class Inner(httpx.BaseTransport):
        def close(self) -> None:
            closed.append("sync")

    class AsyncInner(httpx.AsyncBaseTransport):
        async def aclose(self) -> None:
            closed.append("async")

    with RetryTransport(transport=Inner()):
        pass
    with httpx.Client(transport=RetryTransport(transport=Inner())):
        pass

    async def main() -> None:
        async with AsyncRetryTransport(transport=AsyncInner()):
            pass
        async with httpx.AsyncClient(transport=AsyncRetryTransport(transport=AsyncInner())):
            pass

    asyncio.run(main())
    assert closed == ["sync", "sync", "async", "async"]


def test_reprs_name_the_policy_and_never_a_request() -> None:
    """The transports' reprs show their configuration only."""
    assert repr(RetryTransport(FAST)).startswith("RetryTransport(policy=RetryPolicy(")
    assert repr(AsyncRetryTransport(FAST)).startswith("AsyncRetryTransport(policy=RetryPolicy(")


def test_the_default_transport_is_httpx_own() -> None:
    """Without transport=, the twins wrap HTTPTransport and AsyncHTTPTransport."""
    assert isinstance(RetryTransport().transport, httpx.HTTPTransport)
    assert isinstance(AsyncRetryTransport().transport, httpx.AsyncHTTPTransport)
