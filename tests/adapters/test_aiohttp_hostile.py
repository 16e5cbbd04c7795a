"""RetryMiddleware against servers that misbehave on purpose (issue 11), over real sockets.

- the policy deadline bounds the whole call, error-body reads included, and an
  outside cancellation still goes through unchanged;
- errorkit's reads never make aiohttp inflate a compressed error body past
  `max_body` (peak memory measured in a fresh process, `support.child`), and a
  body put back after such a read stays whole for the caller;
- a response head aiohttp's parser refuses is a transport failure, retried by
  the policy, raised as `APIConnectionError`;
- no credential of the request in what errorkit raises: args, request info,
  repr, pickle, traceback, its cause;
- a body that cannot be sent again whole (a multipart form with a pipe, a
  partly read pipe) is sent once, and the caller gets that first outcome.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import logging
import math
import os
import pickle
import time
import traceback
from typing import TYPE_CHECKING

import aiohttp
import pytest

import errorkit
from errorkit import RetryPolicy
from errorkit.aiohttp import _replayable  # replayability by parts, checked without sockets
from errorkit.testing import (
    FaultServer,
    Step,
    bomb,
    closed_port,
    drop,
    header_flood,
    respond,
    slow_body,
    stall,
)
from support.child import run_child
from support.clients_aiohttp import acquired, retry_session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
DEADLINE = 0.5
SLACK = 0.2  # how far past the deadline a call may return
BOUND = 64 * 1024


# -- the deadline bounds the whole call --------------------------------------------------

HOSTILE_SLOW = {
    # A 40-byte JSON 503 whose body arrives one byte every half second (20 s in all).
    "body-dripped": slow_body(503, b'{"error": "busy"}'.ljust(40), interval=0.5),
    "headers-then-stall": slow_body(503, b'{"error": "busy"}', interval=math.inf),
    "no-answer": stall(),
}


@pytest.mark.parametrize("raise_for_status", [False, True], ids=["returned", "raised"])
@pytest.mark.parametrize("step", list(HOSTILE_SLOW.values()), ids=list(HOSTILE_SLOW))
async def test_the_deadline_bounds_the_whole_call(
    fault_server: FaultServer, step: Step, raise_for_status: bool
) -> None:
    """deadline=0.5, no socket timeouts: APITimeoutError naming the deadline by 0.7 s,
    whether the server drips the error body, stalls after its head or never answers."""
    fault_server.script("/slow", [step])
    timeout = aiohttp.ClientTimeout(total=10)
    policy = dataclasses.replace(FAST, deadline=DEADLINE)
    async with retry_session(policy, raise_for_status=raise_for_status, timeout=timeout) as session:
        start = time.monotonic()
        with pytest.raises(errorkit.APITimeoutError) as caught:
            await session.get(fault_server.url("/slow"))
        elapsed = time.monotonic() - start
        assert acquired(session) == 0
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK
    assert "deadline" in str(caught.value)
    assert isinstance(caught.value, asyncio.TimeoutError)  # aiohttp's face: a timeout
    assert fault_server.hits("/slow") == caught.value.attempts == 1


async def test_a_dripped_error_body_that_ends_in_time_is_classified(
    fault_server: FaultServer,
) -> None:
    """A 404 body dripped in 0.2 s, deadline 1 s: read whole, classified from the body."""
    fault_server.script(
        "/drip", [slow_body(404, {"error": "Agent not found"}, chunk=10, interval=0.05)]
    )
    policy = dataclasses.replace(FAST, deadline=1.0)
    async with retry_session(policy) as session, session.get(fault_server.url("/drip")) as resp:
        info = errorkit.error_of(resp)
        assert await resp.json() == {"error": "Agent not found"}
    assert info is not None
    assert info.message == "Agent not found"


async def test_an_outside_cancellation_passes_through_a_deadline_read(
    fault_server: FaultServer,
) -> None:
    """task.cancel() while errorkit reads a dripped 503 body under a 5 s deadline:
    CancelledError within 50 ms, not an errorkit error, and no connection kept."""
    fault_server.script("/drip", [slow_body(503, b"x" * 40, interval=0.5)])
    policy = dataclasses.replace(FAST, deadline=5.0)
    async with retry_session(policy) as session:
        task = asyncio.create_task(session.get(fault_server.url("/drip")))
        await asyncio.sleep(0.3)  # the head is in; errorkit is reading the body
        assert not task.done()
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - start < 0.05
        assert acquired(session) == 0
    assert fault_server.hits("/drip") == 1


async def test_an_outside_timeout_is_not_turned_into_the_deadline(
    fault_server: FaultServer,
) -> None:
    """asyncio.wait_for(..., 0.3) around a call with a 5 s deadline: the caller's own
    TimeoutError at 0.3 s, not an APITimeoutError."""
    fault_server.script("/drip", [slow_body(503, b"x" * 40, interval=0.5)])
    policy = dataclasses.replace(FAST, deadline=5.0)
    async with retry_session(policy) as session:
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError) as caught:  # builtin TimeoutError on 3.11+
            await asyncio.wait_for(session.get(fault_server.url("/drip")), 0.3)
        assert time.monotonic() - start < 0.3 + SLACK
        assert acquired(session) == 0
    assert not isinstance(caught.value, errorkit.APIError)


# -- bounded decompression -----------------------------------------------------------------

#: What a child process runs: one GET through RetryMiddleware, two attempts, body unread.
CHILD_SETUP = """
import asyncio
from errorkit import RetryPolicy
from support.clients_aiohttp import status_or_error
POLICY = RetryPolicy(max_attempts=2, budget=None, initial_delay=0.01, max_delay=0.01)
"""
CHILD_CALL = "RESULT = asyncio.run(status_or_error(URL, POLICY, raise_for_status=RAISE))"

BOMBS = {
    # 1.6 KB of br (Content-Length far under max_body) that inflates to 1 GiB.
    "br-1GiB": ("br", 1 << 30, False),
    "br-1GiB-chunked": ("br", 1 << 30, True),
    # 61 KB of gzip, under the 64 KiB bound, that inflates to 60 MiB.
    "gzip-60MiB": ("gzip", 60 << 20, False),
    "gzip-60MiB-chunked": ("gzip", 60 << 20, True),
    "zstd-1GiB": ("zstd", 1 << 30, False),
}


@pytest.fixture(scope="module")
def bomb_steps() -> dict[str, Step]:
    """The bombs, built once for the module (br of 1 GiB takes about a second)."""
    return {
        name: bomb(503, encoding=encoding, decoded_bytes=size, chunked=chunked)
        for name, (encoding, size, chunked) in BOMBS.items()
    }


@pytest.mark.parametrize("raise_for_status", [False, True], ids=["returned", "raised"])
@pytest.mark.parametrize("name", list(BOMBS))
def test_a_decompression_bomb_costs_little_memory(
    fault_server: FaultServer, bomb_steps: dict[str, Step], name: str, raise_for_status: bool
) -> None:
    """A 503 bomb, retried once: the call's peak RSS grows by under 50 MB (it was
    +3 GB for br and +190 MB for the 61 KB gzip when errorkit called read())."""
    fault_server.script("/bomb", [bomb_steps[name]])
    result = run_child(
        CHILD_CALL,
        setup=CHILD_SETUP,
        variables={"URL": fault_server.url("/bomb"), "RAISE": raise_for_status},
    )
    assert result.error is None, result.traceback
    if raise_for_status:
        assert result.result == "ServiceUnavailableError[aiohttp.ClientResponseError]"
    else:
        assert result.result == 503
    assert result.peak_growth_mb < 50
    assert fault_server.hits("/bomb") == 2


async def test_a_body_that_decodes_past_the_bound_stays_whole(fault_server: FaultServer) -> None:
    """1 KB of gzip (Content-Length under the bound) that decodes to 1 MiB: errorkit
    stops after the bound and puts what it read back, so the caller reads all 1 MiB."""
    size = 1 << 20
    fault_server.script("/z", [bomb(500, encoding="gzip", decoded_bytes=size)])
    async with retry_session(dataclasses.replace(FAST, max_attempts=1)) as session:
        async with session.get(fault_server.url("/z")) as resp:
            assert resp.content_length is not None
            assert resp.content_length < BOUND
            before = errorkit.error_of(resp)
            assert await resp.read() == bytes(size)
        async with session.get(fault_server.url("/z")) as resp:
            streamed = [chunk async for chunk in resp.content.iter_chunked(BOUND)]
    assert b"".join(streamed) == bytes(size)
    assert before is not None
    assert (before.status, before.category) == (500, errorkit.Category.SERVER)


# -- aiohttp's protocol errors -------------------------------------------------------------

MALFORMED = {
    "5000-headers": header_flood(503, 5000),
    "8KB-header-line": header_flood(503, 1, value_bytes=8192),
    "NUL-in-a-header": respond(503, headers={"X-Bad": "a\x00b"}),
}


@pytest.mark.parametrize("step", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_head_aiohttp_refuses_is_retried_as_a_connection_error(
    fault_server: FaultServer, step: Step
) -> None:
    """aiohttp's parser refuses the head (its ClientResponseError 400): a transport
    failure, retried three times for a GET, then APIConnectionError saying why."""
    fault_server.script("/bad", [step])
    async with retry_session(FAST) as session:
        with pytest.raises(errorkit.APIConnectionError) as caught:
            await session.get(fault_server.url("/bad"))
        assert acquired(session) == 0
    error: BaseException = caught.value
    assert not isinstance(error, errorkit.APITimeoutError)
    assert isinstance(error, aiohttp.ClientResponseError)  # except clauses already written
    assert caught.value.attempts == 3
    assert str(error).startswith("400, message=")  # aiohttp's own text, as without errorkit
    assert str(error).endswith("(after 3 attempts)")
    assert caught.value.info.message == "malformed response"
    assert isinstance(error.__cause__, aiohttp.ClientResponseError)
    assert fault_server.hits("/bad") == 3


async def test_a_refused_head_is_not_resent_for_a_post(fault_server: FaultServer) -> None:
    """The request was sent: a POST without an idempotency key goes out once."""
    fault_server.script("/bad", [header_flood(503, 5000), respond(200)])
    async with retry_session(FAST) as session:
        with pytest.raises(errorkit.APIConnectionError):
            await session.post(fault_server.url("/bad"), data=b"x")
    assert fault_server.hits("/bad") == 1


async def test_a_response_error_of_an_inner_middleware_passes_through(
    fault_server: FaultServer,
) -> None:
    """A ClientResponseError raised for a real response (an inner middleware's
    raise_for_status) is not a transport failure: raised as it is, once."""

    async def strict(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        response = await handler(req)
        response.raise_for_status()
        return response

    fault_server.script("/e", [respond(503)])
    async with retry_session(FAST, inner=(strict,)) as session:
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await session.get(fault_server.url("/e"))
    assert not isinstance(caught.value, errorkit.APIError)
    assert caught.value.status == 503
    assert fault_server.hits("/e") == 1


# -- no credential in what errorkit raises -------------------------------------------------

SECRET = "SECRET"
#: The Basic header aiohttp builds from ``user:SECRET@`` in a URL.
BASIC = base64.b64encode(f"user:{SECRET}".encode()).decode()
SECRET_HEADERS = {
    "Authorization": f"Bearer {SECRET}",
    "Cookie": f"session={SECRET}",
    "X-Api-Key": SECRET,
    "api-key": SECRET,
    "x-goog-api-key": SECRET,
    "Ocp-Apim-Subscription-Key": SECRET,
}


def everything_shown(exc: BaseException) -> Iterator[tuple[str, str]]:
    """(where, text) for every place an exception errorkit raised shows or keeps text.

    Except `.response`: aiohttp's live response, the caller's as a returned one is
    (its own ``request_info`` is aiohttp's business, as on any response).
    """
    yield "str", str(exc)
    yield "repr", repr(exc)
    yield "args", repr(exc.args)
    yield "traceback", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    yield "pickle", pickle.dumps(exc).decode("latin-1")
    for where, value in (("", exc), ("cause.", exc.__cause__)):
        if value is None:
            continue
        yield f"{where}args", repr(value.args)
        yield f"{where}vars", repr({k: v for k, v in vars(value).items() if k != "response"})
        infos = [getattr(value, "request_info", None)]
        infos += [hop.request_info for hop in getattr(value, "history", ())]
        for info in filter(None, infos):
            yield f"{where}request_info", f"{info!r} {dict(info.headers)!r} {info.real_url}"


def assert_no_secret(exc: BaseException) -> None:
    found = [where for where, text in everything_shown(exc) if SECRET in text or BASIC in text]
    assert found == []


def secret_requests(port: int) -> dict[str, tuple[str, dict[str, str]]]:
    """URL and headers of each kind of request that carries secrets, to `port` on 127.0.0.1."""
    base = f"http://127.0.0.1:{port}"
    return {
        "query": (f"{base}/s?api_key={SECRET}&sig={SECRET}&q=1", {}),
        "userinfo": (f"http://user:{SECRET}@127.0.0.1:{port}/s", {}),
        "headers": (f"{base}/s", SECRET_HEADERS),
    }


def _port(server: FaultServer) -> int:
    return int(server.url("/").rsplit(":", 1)[1].split("/")[0])


@pytest.mark.parametrize("kind", ["query", "userinfo", "headers"])
async def test_a_status_error_holds_no_secret_of_the_request(
    fault_server: FaultServer, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """raise_for_status=True, a 503 retried once: the error's args, request info
    (URL, real URL, headers), repr, pickle and traceback, and the log, show no secret."""
    url, headers = secret_requests(_port(fault_server))[kind]
    fault_server.script("/s", [respond(503, body={"error": "busy"})])
    policy = dataclasses.replace(FAST, max_attempts=2)
    async with retry_session(policy, raise_for_status=True) as session:
        with (
            caplog.at_level(logging.DEBUG, logger="errorkit"),
            pytest.raises(errorkit.ServiceUnavailableError) as caught,
        ):
            await session.get(url, headers=headers)
    assert_no_secret(caught.value)
    assert SECRET not in caplog.text
    raised: BaseException = caught.value
    assert isinstance(raised, aiohttp.ClientResponseError)
    assert raised.request_info.url.path == "/s"
    sent = fault_server.requests("/s")[0]
    if kind == "headers":  # redacted, not dropped
        assert raised.request_info.headers["Authorization"] == "Bearer ***"
        assert sent.header("Authorization") == f"Bearer {SECRET}"
    if kind == "userinfo":
        assert raised.request_info.headers["Authorization"] == "Basic ***"
        assert sent.header("Authorization") == f"Basic {BASIC}"
    assert fault_server.hits("/s") == 2


@pytest.mark.parametrize("kind", ["query", "userinfo", "headers"])
async def test_a_connection_error_holds_no_secret_of_the_request(kind: str) -> None:
    """A closed port: the APIConnectionError and its cause show no secret."""
    url, headers = secret_requests(closed_port())[kind]
    async with retry_session(dataclasses.replace(FAST, max_attempts=1)) as session:
        with pytest.raises(errorkit.APIConnectionError) as caught:
            await session.get(url, headers=headers)
    assert_no_secret(caught.value)


@pytest.mark.parametrize("kind", ["query", "userinfo", "headers"])
async def test_a_malformed_head_error_holds_no_secret_of_the_request(
    fault_server: FaultServer, kind: str
) -> None:
    """A head aiohttp refuses: its ClientResponseError carried the request's headers;
    the raised error and its cause hold a redacted copy."""
    url, headers = secret_requests(_port(fault_server))[kind]
    fault_server.script("/s", [header_flood(503, 5000)])
    async with retry_session(dataclasses.replace(FAST, max_attempts=1)) as session:
        with pytest.raises(errorkit.APIConnectionError) as caught:
            await session.get(url, headers=headers)
    assert_no_secret(caught.value)
    raised: BaseException = caught.value
    assert isinstance(raised, aiohttp.ClientResponseError)
    assert raised.request_info.url.path == "/s"


# -- bodies that cannot be sent again whole ------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[io.BufferedReader]:
    """A pipe holding b"piped content" and then its end: a file that cannot seek."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"piped content")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as file:
        yield file


def form_with(file: object) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("note", "hello")
    form.add_field("upload", file, filename="upload.bin")
    return form


async def test_a_multipart_upload_with_a_pipe_is_sent_once(
    fault_server: FaultServer, pipe: io.BufferedReader
) -> None:
    """A form holding a pipe and a 503 the server did not act on: one hit with the
    whole form, and the caller gets the 503 (not aiohttp's "already consumed")."""
    fault_server.script("/up", [respond(503, headers={"Retry-After": "0"}), respond(200)])
    async with (
        retry_session(dataclasses.replace(FAST, idempotency_key=True)) as session,
        session.post(fault_server.url("/up"), data=form_with(pipe)) as resp,
    ):
        assert resp.status == 503
    [sent] = fault_server.requests("/up")
    assert b"piped content" in sent.body
    assert b"hello" in sent.body


async def test_a_multipart_upload_with_a_pipe_raises_the_first_error(
    fault_server: FaultServer, pipe: io.BufferedReader
) -> None:
    """The same PUT, dropped by the server: the first transport error, after one hit
    (neither errorkit nor aiohttp's own retry sends it again)."""
    fault_server.script("/up", [drop(), respond(200)])
    async with retry_session(FAST) as session:
        with pytest.raises(errorkit.APIConnectionError) as caught:
            await session.put(fault_server.url("/up"), data=form_with(pipe))
    assert caught.value.attempts == 1
    assert fault_server.hits("/up") == 1


async def test_a_multipart_upload_of_replayable_parts_is_resent_whole(
    fault_server: FaultServer,
) -> None:
    """A form whose file is a BytesIO read 3 bytes in: both attempts send the same
    form, the file from where it stood."""
    file = io.BytesIO(b"0123456789")
    file.read(3)
    fault_server.script("/up", [respond(503), respond(200)])
    async with (
        retry_session(FAST) as session,
        session.put(fault_server.url("/up"), data=form_with(file)) as resp,
    ):
        assert resp.status == 200
    first, second = (r.body for r in fault_server.requests("/up"))
    assert first == second
    assert b"3456789" in first
    assert b"0123456789" not in first


async def test_a_partly_read_pipe_is_sent_once(
    fault_server: FaultServer, pipe: io.BufferedReader
) -> None:
    """A pipe already read 6 bytes in, as the whole body: the rest goes out once."""
    assert pipe.read(6) == b"piped "
    fault_server.script("/up", [respond(503), respond(200)])
    async with (
        retry_session(FAST) as session,
        session.put(fault_server.url("/up"), data=pipe) as resp,
    ):
        assert resp.status == 503
    assert [r.body for r in fault_server.requests("/up")] == [b"content"]


@pytest.mark.parametrize(
    ("make", "replayable"),
    [
        (lambda pipe: form_with(io.BytesIO(b"x"))(), True),
        (lambda pipe: form_with(pipe)(), False),
        (lambda pipe: _nested(aiohttp.BytesPayload(b"x")), True),
        (lambda pipe: _nested(aiohttp.get_payload(pipe)), False),
    ],
    ids=["form-bytesio", "form-pipe", "nested-bytes", "nested-pipe"],
)
def test_a_multipart_body_is_replayable_when_every_part_is(
    pipe: io.BufferedReader, make: Callable[[io.BufferedReader], object], replayable: bool
) -> None:
    """Decided before anything is sent, part by part, nested multiparts included."""
    assert _replayable(make(pipe)) is replayable


def _nested(part: aiohttp.Payload) -> aiohttp.MultipartWriter:
    inner = aiohttp.MultipartWriter("mixed")
    inner.append_payload(part)
    outer = aiohttp.MultipartWriter("form-data")
    outer.append_payload(aiohttp.BytesPayload(b"head"))
    outer.append(inner)
    return outer
