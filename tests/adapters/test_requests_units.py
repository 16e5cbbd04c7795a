"""requests adapter pieces without sockets: the exception table, body replay, timeouts."""

from __future__ import annotations

import io
import socket
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
)

from errorkit.requests import _NOT_REPLAYABLE, _body_start, _clip, _failure, _PrefixedRaw


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


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.stream_data = io.BytesIO(data)
        self.closed = False

    def read(self, amt: int | None = None, **_: object) -> bytes:
        return self.stream_data.read(amt)

    def close(self) -> None:
        self.closed = True


def test_prefixed_raw_replays_the_peeked_bytes_first() -> None:
    """A peeked prefix comes back first, in any read size, then the rest; other
    attributes reach the real raw response."""
    raw = _PrefixedRaw(_Raw(b"CDEF"), b"AB")
    assert raw.read(1) == b"A"
    assert raw.read(5) == b"B"
    assert raw.read(None) == b"CDEF"
    raw2 = _PrefixedRaw(_Raw(b"CDEF"), b"AB")
    assert b"".join(raw2.stream(3)) == b"ABCDEF"
    raw2.close()
    assert raw2.closed is True
