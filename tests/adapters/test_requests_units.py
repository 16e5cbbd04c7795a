"""requests adapter pieces without sockets: the exception table, body replay, timeouts."""

from __future__ import annotations

import http.client
import io
import socket
import ssl
from typing import Any

import pytest
import requests
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.timeout import Timeout

from errorkit.requests import (
    _NOT_REPLAYABLE,
    _body_start,
    _clip,
    _failure,
    _read_error,
    _Replayed,
    _socket_of,
)


def _wrapped(reason: Exception) -> MaxRetryError:
    return MaxRetryError(None, "/x", reason)  # type: ignore[arg-type]


NO_POOL: Any = None
REFUSED = requests.ConnectionError(_wrapped(NewConnectionError(NO_POOL, "refused")))
DNS = requests.ConnectionError(_wrapped(NameResolutionError("h", NO_POOL, socket.gaierror())))
CLOSED = requests.ConnectionError(_wrapped(ClosedPoolError(NO_POOL, "closed")))


@pytest.mark.parametrize(
    ("exc", "sent", "timeout", "retryable"),
    [
        (REFUSED, False, False, True),
        (DNS, False, False, True),
        (CLOSED, False, False, True),
        (requests.ConnectTimeout(_wrapped(ConnectTimeoutError("slow"))), False, True, True),
        (requests.exceptions.SSLError("bad certificate"), False, False, False),
        (requests.exceptions.ProxyError("proxy down"), False, False, True),
        (requests.ReadTimeout(ReadTimeoutError(NO_POOL, "/x", "read")), True, True, True),
        (requests.ConnectionError(ReadTimeoutError(NO_POOL, "/x", "mid-body")), True, True, True),
        (requests.exceptions.ChunkedEncodingError(ProtocolError("cut")), True, False, True),
        (requests.ConnectionError(ProtocolError("Connection aborted.")), True, False, True),
    ],
    ids=[
        "refused", "dns", "closed-pool", "connect-timeout", "tls", "proxy", "read-timeout",
        "mid-body-read-timeout", "body-cut-short", "aborted",
    ],
)  # fmt: skip
def test_exception_table(exc: BaseException, sent: bool, timeout: bool, retryable: bool) -> None:
    """Each requests failure maps to whether it was sent, a timeout, and retryable."""
    failure = _failure(exc)
    assert (failure.sent, failure.timeout, failure.retryable) == (sent, timeout, retryable)


def test_body_replay_detection() -> None:
    """Bytes and seekable files replay (files from their offset); iterators never do."""
    assert _body_start(None) is None
    assert _body_start(b"x") is None
    assert _body_start("x") is None
    f = io.BytesIO(b"0123")
    f.seek(2)
    assert _body_start(f) == 2
    assert _body_start(iter([b"a"])) is _NOT_REPLAYABLE

    class Broken(io.BytesIO):
        def tell(self) -> int:
            raise OSError("not seekable")

    assert _body_start(Broken()) is _NOT_REPLAYABLE

    class Unseekable(io.BytesIO):
        def seekable(self) -> bool:
            return False

    assert _body_start(Unseekable(b"x")) is _NOT_REPLAYABLE  # tell() alone is not enough


@pytest.mark.parametrize(
    ("timeout", "remaining", "expected"),
    [
        (None, 2.0, (2.0, 2.0)),
        (5.0, 2.0, 2.0),
        (1.0, 2.0, 1.0),
        ((3.0, 10.0), 2.0, (2.0, 2.0)),
        ((1.0, None), 2.0, (1.0, 2.0)),
        (0.5, -1.0, 0.001),
    ],
)
def test_timeouts_are_clipped_to_the_deadline(
    timeout: object, remaining: float, expected: object
) -> None:
    """The caller's timeout, in any form requests takes, never outlasts the deadline."""
    assert _clip(timeout, remaining) == expected


def test_a_urllib3_timeout_is_clipped_by_its_total() -> None:
    """A urllib3 Timeout keeps its connect and read parts; its total ends at the deadline."""
    clipped = _clip(Timeout(connect=3.0, read=10.0), 2.0)
    assert (clipped.total, clipped.connect_timeout) == (2.0, 2.0)
    assert _clip(Timeout(total=1.0), 2.0).total == 1.0
    original = Timeout(read=10.0)
    _clip(original, 2.0)
    assert original.total is None  # the caller's object is left alone


@pytest.mark.parametrize(
    ("exc", "raised", "timeout", "description"),
    [
        (TimeoutError("timed out"), requests.ConnectionError, True, "read timeout"),
        (ssl.SSLError("bad record mac"), requests.exceptions.SSLError, False, "TLS"),
        (
            ConnectionResetError("reset"),
            requests.exceptions.ChunkedEncodingError,
            False,
            "cut short",
        ),
        (
            http.client.IncompleteRead(b"", 10),
            requests.exceptions.ChunkedEncodingError,
            False,
            "cut short",
        ),
    ],
    ids=["timeout", "tls", "reset", "incomplete"],
)
def test_a_failed_peek_raises_what_iter_content_raises(
    exc: BaseException, raised: type[BaseException], timeout: bool, description: str
) -> None:
    """A body read errorkit makes below urllib3 fails as requests' iter_content would."""
    error = _read_error(exc, requests.Response())
    assert type(error) is raised
    assert isinstance(error.args[0], (ReadTimeoutError, ProtocolError, SSLError))
    failure = _failure(error)
    assert failure.timeout is timeout
    assert description in (failure.description or "")


def test_no_socket_is_found_in_a_response_not_read_from_one() -> None:
    """Nothing to cut: a mock's raw body, or none at all."""
    assert _socket_of(None) is None
    assert _socket_of(io.BytesIO(b"x")) is None


class _Inner:
    """Stands in for the http.client response under urllib3: a body, read to its end."""

    def __init__(self, data: bytes) -> None:
        self.stream_data = io.BytesIO(data)
        self.closed = False

    def read(self, amt: int | None = None) -> bytes:
        return self.stream_data.read(amt)

    def read1(self, amt: int = -1) -> bytes:
        return self.stream_data.read1(amt)

    def isclosed(self) -> bool:
        return self.closed or self.stream_data.tell() == len(self.stream_data.getbuffer())

    def close(self) -> None:
        self.closed = True


def test_replayed_gives_the_peeked_bytes_first() -> None:
    """A peeked prefix comes back first, in any read size, then the rest; a read that
    the prefix cannot fill goes on to the real body, as a buffered read would."""
    fp = _Replayed(_Inner(b"CDEF"), b"AB")
    assert fp.read(1) == b"A"
    assert fp.read(3) == b"BCD"
    assert fp.read(None) == b"EF"
    fp2 = _Replayed(_Inner(b"CDEF"), b"AB")
    assert fp2.read1(10) == b"AB"
    assert fp2.read1(10) == b"CDEF"
    fp3 = _Replayed(_Inner(b"CD"), b"AB")
    buffer = bytearray(3)
    assert fp3.readinto(buffer) == 3
    assert bytes(buffer) == b"ABC"


def test_replayed_is_closed_only_once_the_prefix_is_read() -> None:
    """urllib3 stops reading at isclosed(): never while peeked bytes are left."""
    inner = _Inner(b"")
    fp = _Replayed(inner, b"AB")
    assert fp.received
    assert not fp.isclosed()
    assert not fp.closed
    assert fp.read(2) == b"AB"
    assert fp.isclosed()
    fp.close()
    assert inner.closed


def test_replayed_passes_the_rest_to_the_real_response() -> None:
    """fileno() and flush() are the real response's; an inner file without
    isclosed() is done once closed."""
    with socket.socket() as sock:
        inner = sock.makefile("rb")
        fp = _Replayed(inner, b"")
        assert fp.readable()
        assert fp.fileno() == sock.fileno()
        fp.flush()
        before = fp.received
        fp.close()
        assert (before, fp.received, inner.closed) == (False, True, True)


def test_replayed_hides_the_chunk_reader() -> None:
    """No ``fp`` attribute: urllib3 must not parse chunks itself after a peek."""
    assert not hasattr(_Replayed(_Inner(b""), b""), "fp")
