"""`errorkit.requests.RetryAdapter` against servers that misbehave on purpose (issue 11).

Every case runs over a real socket against `FaultServer`, in both of requests'
modes where they differ (``stream=False``, its default, reads the body inside
errorkit's loop; ``stream=True`` leaves it to the caller), and asserts what the
caller got: the outcome, how long it took, the peak memory of the call (in a
fresh process, `support.child.run_child`), what the server received.

1. The deadline bounds the whole call: a dripped body, headers then a stall, no
   answer, a slow answer.
2. errorkit's own reads never inflate a compressed body: a discarded response is
   not decoded, and without streaming the final body is decoded once, as bare
   requests decodes it.
3. A peek that fails raises requests' exceptions, never urllib3's, and is a failed
   attempt like any other.
4. A peeked body stays whole for every way a caller reads it.
5. A body that cannot be rewound is not sent again: the caller gets the first outcome.
6. No credential of the request is kept in what errorkit raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import math
import pickle
import random
import shutil
import time
import traceback
from typing import TYPE_CHECKING, Any

import pytest
import requests
import urllib3

import errorkit
import errorkit.requests as module
from errorkit import RetryPolicy
from errorkit._stacks.deadline import cut_at
from errorkit.requests import RetryAdapter
from errorkit.testing import (
    FaultServer,
    bomb,
    closed_port,
    echo_request,
    reset_mid_body,
    respond,
    slow_body,
    stall,
)
from support.child import ChildResult, run_child

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from errorkit.testing import Step

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
DEADLINE = 0.6
#: How far past the deadline a call may return (the issue's aim is 0.2 s).
SLACK = 0.3
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["stream=False", "stream=True"])


@contextlib.contextmanager
def _session(policy: RetryPolicy = FAST, **adapter: Any) -> Iterator[requests.Session]:
    """A session with a RetryAdapter on http:// and a one-connection pool."""
    with requests.Session() as s:
        s.mount("http://", RetryAdapter(policy, pool_maxsize=1, pool_block=True, **adapter))
        yield s


def _instance_of_all(exc: BaseException, *classes: type[BaseException]) -> bool:
    """Whether `exc` is an instance of each of `classes` (errorkit's and the stack's)."""
    return all(isinstance(exc, cls) for cls in classes)


def _timed_failure(
    url: str, *, stream: bool, policy: RetryPolicy, **adapter: Any
) -> tuple[BaseException, float]:
    """Make one GET that must raise; the exception and the seconds it took."""
    with _session(policy, **adapter) as s:
        start = time.monotonic()
        with pytest.raises(requests.RequestException) as caught:
            s.get(url, timeout=5, stream=stream)
        return caught.value, time.monotonic() - start


# -- 1. the deadline bounds the whole call ---------------------------------------------

FAULTS: dict[str, Step] = {
    # 40 bytes at one every 0.2 s: 8 s, while no read ever waits as long as a timeout.
    "dripped-body": slow_body(503, b"x" * 40, interval=0.2),
    "headers-then-stall": slow_body(503, b"{}", interval=math.inf),
    "no-answer": stall(3.0),
    # The 503 comes just before the deadline; the retry it asks for runs into it.
    "slow-answer": respond(503, headers={"Retry-After": "0"}, delay=DEADLINE - 0.15),
}


@STREAM
@pytest.mark.parametrize("fault", FAULTS)
def test_the_deadline_bounds_the_call_whatever_the_server_does(
    fault_server: FaultServer, fault: str, stream: bool
) -> None:
    """deadline=0.6 returns an APITimeoutError naming the deadline by 0.9 s, in both modes."""
    fault_server.script("/d", [FAULTS[fault]])
    policy = dataclasses.replace(FAST, deadline=DEADLINE)
    exc, elapsed = _timed_failure(fault_server.url("/d"), stream=stream, policy=policy)
    assert isinstance(exc, errorkit.APITimeoutError)
    assert "deadline" in str(exc)
    assert elapsed < DEADLINE + SLACK
    assert not isinstance(exc, urllib3.exceptions.HTTPError)


def test_the_deadline_bounds_a_success_body_read_for_the_caller(
    fault_server: FaultServer,
) -> None:
    """stream=False reads a 200's body for the caller: a dripped one is cut at the
    deadline, and the cut connection is not reused by the next request."""
    fault_server.script("/drip", [slow_body(200, b"x" * 40, interval=0.2)])
    fault_server.script("/ok", [respond(200, body=b"fine")])
    policy = dataclasses.replace(FAST, deadline=DEADLINE)
    with _session(policy) as s:
        start = time.monotonic()
        with pytest.raises(errorkit.APITimeoutError) as caught:
            s.get(fault_server.url("/drip"), timeout=5)
        elapsed = time.monotonic() - start
        assert s.get(fault_server.url("/ok"), timeout=5).content == b"fine"
    assert elapsed < DEADLINE + SLACK
    assert isinstance(caught.value, requests.Timeout)
    assert "deadline" in str(caught.value)
    assert fault_server.requests("/ok")[0].conn_id != fault_server.requests("/drip")[0].conn_id


def test_a_streamed_success_body_is_the_callers_to_read(fault_server: FaultServer) -> None:
    """stream=True: errorkit returns a 200 at its headers; its body is the caller's."""
    fault_server.script("/drip", [slow_body(200, b"x" * 40, interval=0.2)])
    with _session(dataclasses.replace(FAST, deadline=DEADLINE)) as s:
        start = time.monotonic()
        r = s.get(fault_server.url("/drip"), timeout=5, stream=True)
        elapsed = time.monotonic() - start
        r.close()
    assert r.status_code == 200
    assert elapsed < DEADLINE  # had errorkit read the body, the deadline would have cut it


def test_a_final_error_body_read_for_the_caller_is_cut_at_the_deadline(
    fault_server: FaultServer,
) -> None:
    """max_body=0 peeks nothing, so the final 503's body is read whole for the caller
    (stream=False) after the retries: that read is cut at the deadline too."""
    fault_server.script("/d", [slow_body(503, b"x" * 40, interval=0.2)])
    policy = dataclasses.replace(FAST, deadline=DEADLINE)
    exc, elapsed = _timed_failure(fault_server.url("/d"), stream=False, policy=policy, max_body=0)
    assert isinstance(exc, errorkit.APITimeoutError)
    assert "deadline" in str(exc)
    assert elapsed < DEADLINE + SLACK


def test_the_success_path_arms_one_cut_only_with_a_deadline(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No deadline: no cut armed; a deadline: one per stream=False success, none to
    return a stream=True one."""
    armed: list[float | None] = []

    def counting(sock: Any, seconds: float | None) -> Any:
        if sock is not None and seconds is not None:  # what cut_at arms
            armed.append(seconds)
        return cut_at(sock, seconds)

    monkeypatch.setattr(module, "cut_at", counting)
    fault_server.script("/ok", [respond(200, body=b"fine")])
    with _session(FAST) as s:
        assert s.get(fault_server.url("/ok"), timeout=5).content == b"fine"
    assert armed == []
    with _session(dataclasses.replace(FAST, deadline=5.0)) as s:
        assert s.get(fault_server.url("/ok"), timeout=5).content == b"fine"
        assert len(armed) == 1
        assert s.get(fault_server.url("/ok"), timeout=5, stream=True).content == b"fine"
    assert len(armed) == 1


def test_an_error_body_peeked_whole_is_read_for_the_caller_without_a_cut(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three small 503s under a deadline: one cut per peek, none for the final body
    read for the caller (stream=False), which comes from memory."""
    armed: list[float | None] = []

    def counting(sock: Any, seconds: float | None) -> Any:
        if sock is not None and seconds is not None:
            armed.append(seconds)
        return cut_at(sock, seconds)

    monkeypatch.setattr(module, "cut_at", counting)
    fault_server.script("/busy", [respond(503, body={"error": {"message": "busy"}})])
    with _session(dataclasses.replace(FAST, deadline=5.0)) as s:
        r = s.get(fault_server.url("/busy"), timeout=5)
    assert (r.status_code, r.json()) == (503, {"error": {"message": "busy"}})
    assert fault_server.hits("/busy") == 3
    assert len(armed) == 3


# -- 2. bounded decompression ----------------------------------------------------------

_CHILD_SETUP = """
import requests
from errorkit import RetryPolicy
from errorkit._stacks.deadline import cut_at
from errorkit.requests import RetryAdapter

errorkit = requests.Session()
errorkit.mount(
    "http://", RetryAdapter(RetryPolicy(budget=None, initial_delay=0.01, max_delay=0.02))
)
bare = requests.Session()
"""

#: A 1.6 KB brotli body that inflates to 1 GiB, and 61 KB of gzip that inflates to
#: 60 MiB: its Content-Length is under errorkit's 64 KiB.
BOMBS = {
    "br-1GiB": ("br", 1 << 30),
    "gzip-60MiB": ("gzip", 60 << 20),
}


def _call_in_child(session: str, url: str, *, stream: bool) -> ChildResult:
    code = f"r = {session}.get(URL, stream={stream}, timeout=30)\nRESULT = r.status_code"
    result = run_child(code, setup=_CHILD_SETUP, variables={"URL": url}, timeout=90)
    assert result.error is None, result.traceback
    return result


@pytest.mark.parametrize("name", BOMBS)
def test_a_streamed_bomb_costs_no_memory_over_three_attempts(
    fault_server: FaultServer, name: str
) -> None:
    """stream=True: three 503 bombs are peeked and discarded undecoded, under 50 MB."""
    encoding, size = BOMBS[name]
    step = bomb(503, encoding=encoding, decoded_bytes=size)
    assert len(step.body) < 64 * 1024
    fault_server.script("/bomb", [step])
    result = _call_in_child("errorkit", fault_server.url("/bomb"), stream=True)
    assert result.result == 503
    assert fault_server.hits("/bomb") == 3
    assert result.peak_growth_mb < 50


@pytest.mark.parametrize(
    ("encoding", "size"), [("gzip", 60 << 20), ("br", 128 << 20)], ids=["gzip-60MiB", "br-128MiB"]
)
def test_without_streaming_a_bomb_is_decoded_once_as_bare_requests_does(
    fault_server: FaultServer, encoding: str, size: int
) -> None:
    """stream=False: requests decodes the body it returns; errorkit adds no decode of
    its own, so three attempts cost what bare requests' one does."""
    fault_server.script("/bomb", [bomb(503, encoding=encoding, decoded_bytes=size)])
    bare = _call_in_child("bare", fault_server.url("/bomb"), stream=False)
    ours = _call_in_child("errorkit", fault_server.url("/bomb"), stream=False)
    assert (bare.result, ours.result) == (503, 503)
    assert fault_server.hits("/bomb") == 1 + 3
    assert bare.peak_growth_mb > size / (1 << 20)  # the premise: bare decoded it all
    assert ours.peak_growth_mb < bare.peak_growth_mb * 1.1 + 10


def test_a_discarded_response_goes_back_to_the_pool_only_when_peeked_whole(
    fault_server: FaultServer,
) -> None:
    """A 503 whose body the peek received whole (a 61 KB gzip bomb) leaves its
    connection for the retry; one longer than max_body is closed unread."""
    small = bomb(503, encoding="gzip", decoded_bytes=60 << 20)
    fault_server.script("/small", [small, respond(200, body=b"ok")])
    fault_server.script("/long", [respond(503, body=b"x" * 3000), respond(200, body=b"ok")])
    with _session(FAST, max_body=1024) as s:
        assert s.get(fault_server.url("/long"), timeout=5).content == b"ok"
    with _session(FAST) as s:
        assert s.get(fault_server.url("/small"), timeout=5).content == b"ok"
    assert len({r.conn_id for r in fault_server.requests("/small")}) == 1
    assert len({r.conn_id for r in fault_server.requests("/long")}) == 2


def test_a_final_error_body_longer_than_max_body_is_whole_without_streaming(
    fault_server: FaultServer,
) -> None:
    """stream=False: the final 503 is read whole for the caller past the peek."""
    body = random.Random(7).randbytes(200_000)
    fault_server.script("/big", [respond(503, body=body)])
    with _session(dataclasses.replace(FAST, deadline=10.0)) as s:
        r = s.get(fault_server.url("/big"), timeout=5)
    assert (r.status_code, r.content) == (503, body)
    assert fault_server.hits("/big") == 3


# -- 3. no urllib3 exception out of a peek ---------------------------------------------


@STREAM
@pytest.mark.parametrize("deadline", [None, 10.0], ids=["no-deadline", "deadline"])
@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed-early"])
def test_an_error_body_cut_short_is_a_retried_connection_failure(
    fault_server: FaultServer, stream: bool, deadline: float | None, reset: bool
) -> None:
    """A 503 reset (or closed) mid-body fails the attempt as requests' own
    ChunkedEncodingError; after the retries, an APIConnectionError that is one too."""
    step = reset_mid_body(503, body=b"x" * 1000, sent_bytes=100, reset=reset)
    fault_server.script("/cut", [step])
    policy = dataclasses.replace(FAST, deadline=deadline)
    exc, _ = _timed_failure(fault_server.url("/cut"), stream=stream, policy=policy)
    assert isinstance(exc, errorkit.APIConnectionError)
    assert isinstance(exc, requests.exceptions.ChunkedEncodingError)
    assert isinstance(exc.__cause__, requests.exceptions.ChunkedEncodingError)
    assert not isinstance(exc, urllib3.exceptions.HTTPError)
    assert exc.attempts == 3
    assert fault_server.hits("/cut") == 3


@STREAM
def test_a_stalled_error_body_is_a_retried_read_timeout(
    fault_server: FaultServer, stream: bool
) -> None:
    """A 503 body that stalls past the read timeout: requests' ConnectionError, as
    iter_content raises it, then an APITimeoutError after the retries."""
    fault_server.script("/slow", [slow_body(503, body=b"x" * 50, chunk=5, interval=1.0)])
    policy = dataclasses.replace(FAST, max_attempts=2)
    with _session(policy) as s, pytest.raises(errorkit.APITimeoutError) as caught:
        s.get(fault_server.url("/slow"), timeout=0.3, stream=stream)
    exc = caught.value
    assert _instance_of_all(exc, requests.ConnectionError)
    assert isinstance(exc.__cause__, requests.ConnectionError)
    assert not isinstance(exc, urllib3.exceptions.HTTPError)
    assert exc.attempts == 2
    assert fault_server.hits("/slow") == 2


@pytest.mark.parametrize("deadline", [None, 10.0], ids=["no-deadline", "deadline"])
def test_a_success_body_that_does_not_decode_raises_as_bare_requests(
    fault_server: FaultServer, deadline: float | None
) -> None:
    """A 200 labelled gzip that is not: requests' ContentDecodingError, not retried."""
    step = respond(200, headers={"Content-Encoding": "gzip"}, body=b"not gzip at all")
    fault_server.script("/bad", [step])
    with (
        _session(dataclasses.replace(FAST, deadline=deadline)) as s,
        pytest.raises(requests.exceptions.ContentDecodingError),
    ):
        s.get(fault_server.url("/bad"), timeout=5)
    assert fault_server.hits("/bad") == 1


# -- 4. a peeked body stays whole ------------------------------------------------------


def _copied(r: requests.Response) -> bytes:
    out = io.BytesIO()
    shutil.copyfileobj(r.raw, out)
    return out.getvalue()


READS: dict[str, Callable[[requests.Response], bytes]] = {
    "raw.read()": lambda r: r.raw.read(),
    "raw.read(decode_content=True)": lambda r: r.raw.read(decode_content=True),
    "copyfileobj(raw)": _copied,
    "raw.stream()": lambda r: b"".join(r.raw.stream(8192)),
    "iter_content()": lambda r: b"".join(r.iter_content(8192)),
    "content": lambda r: r.content,
}


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("read", READS)
def test_a_peeked_gzip_body_reads_as_bare_requests_gives_it(
    fault_server: FaultServer, read: str, chunked: bool
) -> None:
    """After errorkit peeked a 250 KB gzip error body, every way of reading it gives
    what bare requests gives: compressed from raw reads, decoded from iter_content."""
    body = random.Random(11).randbytes(250_000)
    fault_server.script("/gz", [respond(400, body=body, gzip=True, chunked=4 if chunked else 0)])
    with requests.Session() as bare:
        plain = bare.get(fault_server.url("/gz"), timeout=5, stream=True)
        expected, expected_tell = READS[read](plain), plain.raw.tell()
    with _session(FAST) as s:
        r = s.get(fault_server.url("/gz"), timeout=5, stream=True)
        assert errorkit.error_of(r) is not None
        got = READS[read](r)
        tell = r.raw.tell()
    assert got == expected
    assert got == body or gzip.decompress(got) == body
    # Bytes off the wire; bare urllib3's own chunk parser (which a peeked body no
    # longer goes through) does not count them.
    assert tell == expected_tell or (chunked and expected_tell == 0)


# -- 5. a body that cannot be rewound is not sent again --------------------------------


def test_an_urllib3_response_as_the_body_is_sent_once(fault_server: FaultServer) -> None:
    """An urllib3 response can tell() but not seek(): the caller gets the 503."""
    fault_server.script("/src", [respond(200, body=b"payload" * 100)])
    fault_server.script("/up", [respond(503, body="busy"), respond(200)])
    with urllib3.PoolManager() as pool:
        source = pool.request("GET", fault_server.url("/src"), preload_content=False)
        with _session(FAST) as s:
            r = s.put(fault_server.url("/up"), data=source, timeout=5)
        source.release_conn()
    assert (r.status_code, r.text) == (503, "busy")
    assert fault_server.hits("/up") == 1
    assert fault_server.requests("/up")[0].body == b"payload" * 100


class _NoRewind(io.BytesIO):
    """A file that says it is seekable and can tell(), but whose seek() fails."""

    def seek(self, offset: int, whence: int = 0) -> int:  # noqa: ARG002 - it always fails
        raise io.UnsupportedOperation("seek")


def test_a_file_whose_seek_fails_is_sent_once(fault_server: FaultServer) -> None:
    """A seek that fails when errorkit rewinds makes the body not replayable: the
    caller gets the first real outcome, not io.UnsupportedOperation."""
    fault_server.script("/up", [respond(503, body="busy"), respond(200)])
    with _session(FAST) as s:
        r = s.put(fault_server.url("/up"), data=_NoRewind(b"data"), timeout=5)
    assert (r.status_code, r.text) == (503, "busy")
    assert fault_server.hits("/up") == 1


# -- 6. no secret in what errorkit raises ----------------------------------------------

SECRET = "SECRET"


def _shown(exc: BaseException, *, with_pickle: bool = True) -> dict[str, str]:
    """Every text of `exc` a program or a person sees."""
    texts = {
        "args": repr(exc.args),
        "repr": repr(exc),
        "str": str(exc),
        "cause": str(exc.__cause__),
        "cause repr": repr(exc.__cause__),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    if with_pickle:
        texts["pickle"] = repr(pickle.dumps(exc))
        texts["unpickled args"] = repr(pickle.loads(pickle.dumps(exc)).args)
    return texts


def test_a_refused_request_keeps_none_of_its_secrets() -> None:
    """Connection refused: no query secret or Authorization value in args, repr, the
    pickle, the chained cause or the traceback."""
    url = f"http://127.0.0.1:{closed_port()}/x?api_key={SECRET}&sig={SECRET}"
    headers = {"Authorization": f"Bearer {SECRET}"}
    with _session(FAST) as s, pytest.raises(errorkit.APIConnectionError) as caught:
        s.get(url, headers=headers, timeout=1)
    assert isinstance(caught.value, requests.ConnectionError)
    leaks = [name for name, text in _shown(caught.value).items() if SECRET in text]
    assert leaks == []


@STREAM
def test_a_401_that_echoes_the_secrets_shows_none_of_them(
    fault_server: FaultServer, stream: bool
) -> None:
    """raise_for_status=True on a 401 that quotes the request's credentials back:
    args, repr, str and the traceback show none of them.

    The pickle is left out: it carries `ErrorInfo` whole, and `ErrorInfo.body` keeps
    the raw body for programs by design.
    """
    fault_server.script("/e", [echo_request(401)])
    url = fault_server.url(f"/e?api_key={SECRET}&sig={SECRET}")
    headers = {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET}
    with (
        _session(FAST, raise_for_status=True) as s,
        pytest.raises(errorkit.AuthenticationError) as caught,
    ):
        s.get(url, headers=headers, timeout=5, stream=stream)
    assert _instance_of_all(caught.value, requests.HTTPError)
    assert SECRET in fault_server.requests("/e")[0].target  # the premise: it was sent
    shown = _shown(caught.value, with_pickle=False)
    shown["info"] = repr(caught.value.info)
    leaks = [name for name, text in shown.items() if SECRET in text]
    assert leaks == []
