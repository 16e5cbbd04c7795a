"""aiohttp request and response bodies under RetryMiddleware, over real sockets.

Pitfall 1 (one-shot bodies never re-sent), seekable bodies rewound, pitfall 7
(body-phase errors reach the caller's read()) and pitfall 9 (a bounded peek
leaves every error body readable; the stream is at EOF after a middleware read).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from typing import TYPE_CHECKING

import aiohttp
import pytest

import errorkit
from errorkit import RetryPolicy
from errorkit.testing import FaultServer, reset_mid_body, respond, slow_body
from support.clients_aiohttp import agen_body, retry_session

if TYPE_CHECKING:
    import pathlib

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
BOUND = 64 * 1024
NOT_PROCESSED = {"Retry-After": "0"}  # a 503 with a hint: the server did not act on it


# -- pitfall 1: one-shot bodies ----------------------------------------------------------


async def test_async_generator_body_is_never_resent_empty(fault_server: FaultServer) -> None:
    """A POST with an async generator and a 503 the server did not act on: one hit, the 503."""
    fault_server.script("/p", [respond(503, headers=NOT_PROCESSED), respond(200)])
    async with (
        retry_session(dataclasses.replace(FAST, idempotency_key=True)) as session,
        session.post(fault_server.url("/p"), data=agen_body(b"0123456789")) as resp,
    ):
        assert resp.status == 503
        info = errorkit.error_of(resp)
    assert fault_server.hits("/p") == 1
    assert fault_server.requests("/p")[0].body == b"0123456789"
    assert info is not None
    assert info.status == 503


async def test_async_generator_body_raises_the_mapped_error(fault_server: FaultServer) -> None:
    """With raise_for_status=True the one-shot PUT's 503 is raised, after exactly one hit."""
    fault_server.script("/p", [respond(503), respond(200)])
    async with retry_session(FAST, raise_for_status=True) as session:
        with pytest.raises(errorkit.ServiceUnavailableError) as caught:
            await session.put(fault_server.url("/p"), data=agen_body(b"abc"))
    assert caught.value.attempts == 1
    assert fault_server.hits("/p") == 1


async def test_async_generator_body_through_a_307_is_refused(fault_server: FaultServer) -> None:
    """A 307 cannot replay a spent generator: ClientPayloadError, the target gets nothing."""
    fault_server.script("/r", [respond(307, headers={"Location": "/p"})])
    fault_server.script("/p", [respond(200)])
    async with retry_session(FAST) as session:
        with pytest.raises(aiohttp.ClientPayloadError):
            await session.post(fault_server.url("/r"), data=agen_body(b"abc"))
    assert (fault_server.hits("/r"), fault_server.hits("/p")) == (1, 0)


async def test_unseekable_file_body_is_not_resent(fault_server: FaultServer) -> None:
    """A pipe (tell() fails) is one-shot too: one hit, the caller gets the 503."""
    fault_server.script("/p", [respond(503), respond(200)])
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"piped")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        async with (
            retry_session(FAST) as session,
            session.put(fault_server.url("/p"), data=pipe) as resp,
        ):
            assert resp.status == 503
    assert [r.body for r in fault_server.requests("/p")] == [b"piped"]


# -- seekable bodies ---------------------------------------------------------------------


async def test_bytesio_body_is_rewound_to_where_it_started(fault_server: FaultServer) -> None:
    """A BytesIO positioned at offset 3 is sent from offset 3 on every attempt."""
    fault_server.script("/b", [respond(503), respond(503), respond(200)])
    body = io.BytesIO(b"0123456789")
    body.seek(3)
    async with (
        retry_session(FAST) as session,
        session.put(fault_server.url("/b"), data=body) as resp,
    ):
        assert resp.status == 200
    assert [r.body for r in fault_server.requests("/b")] == [b"3456789"] * 3


async def test_real_file_body_is_sent_whole_every_time(
    fault_server: FaultServer, tmp_path: pathlib.Path
) -> None:
    """An open file is re-sent whole (aiohttp rewinds it), well inside the read timeout."""
    path = tmp_path / "upload.bin"
    path.write_bytes(b"file-content" * 100)
    fault_server.script("/f", [respond(503), respond(200)])
    with path.open("rb") as file:
        async with (
            retry_session(FAST) as session,
            session.put(fault_server.url("/f"), data=file) as resp,
        ):
            assert resp.status == 200
    assert [r.body for r in fault_server.requests("/f")] == [b"file-content" * 100] * 2


# -- pitfall 9: error bodies stay readable -----------------------------------------------


@pytest.mark.parametrize(
    ("size", "chunked"),
    [
        (BOUND - 1, False),
        (BOUND, False),
        (BOUND + 1, False),
        (200_000, False),
        (5_000, True),
        (200_000, True),
    ],
    ids=["bound-1", "bound", "bound+1", "200000", "chunked-small", "chunked-large"],
)
async def test_error_bodies_are_fully_readable(
    fault_server: FaultServer, size: int, chunked: bool
) -> None:
    """Whatever its size or framing, the final error body read by the caller is the whole body."""
    body = bytes(range(256)) * (size // 256) + b"e" * (size % 256)
    fault_server.script("/e", [respond(400, body=body, chunked=4 if chunked else False)])
    async with retry_session(FAST) as session, session.get(fault_server.url("/e")) as resp:
        assert resp.status == 400
        assert await resp.read() == body
        assert await resp.text(encoding="latin-1") == body.decode("latin-1")


async def test_small_error_body_leaves_the_stream_at_eof(fault_server: FaultServer) -> None:
    """After the middleware's read(), read()/json() work but resp.content is exhausted."""
    fault_server.script("/e", [respond(404, body={"error": "Agent not found"})])
    async with retry_session(FAST) as session, session.get(fault_server.url("/e")) as resp:
        assert await resp.content.read() == b""  # pinned: the stream was read to its end
        assert [chunk async for chunk in resp.content.iter_chunked(10)] == []
        assert await resp.json() == {"error": "Agent not found"}
        assert json.loads(await resp.read()) == {"error": "Agent not found"}
        info = errorkit.error_of(resp)
    assert info is not None
    assert info.message == "Agent not found"


async def test_large_error_body_is_left_untouched_for_the_stream(fault_server: FaultServer) -> None:
    """Over the bound the middleware reads nothing: the caller streams every byte itself."""
    body = b"z" * (BOUND + 10)
    fault_server.script("/e", [respond(400, body=body)])
    async with retry_session(FAST) as session, session.get(fault_server.url("/e")) as resp:
        assert getattr(resp, "_errorkit_info", None) is None
        streamed = b"".join([chunk async for chunk in resp.content.iter_chunked(4096)])
    assert streamed == body


async def test_chunked_error_body_is_classified_once_the_caller_read_it(
    fault_server: FaultServer,
) -> None:
    """A chunked JSON error is classified on its status first, and in full after read()."""
    fault_server.script("/e", [respond(404, body={"error": "Agent not found"}, chunked=2)])
    async with retry_session(FAST) as session, session.get(fault_server.url("/e")) as resp:
        before = errorkit.error_of(resp)
        await resp.read()
        after = errorkit.error_of(resp)
    assert before is not None
    assert after is not None
    assert before.status == after.status == 404
    assert after.message == "Agent not found"


async def test_gzip_error_body_is_decoded_once(fault_server: FaultServer) -> None:
    """A gzip-encoded error body is read decoded, and classified from the decoded text."""
    fault_server.script("/z", [respond(400, body={"error": "zipped"}, gzip=True)])
    async with retry_session(FAST) as session, session.get(fault_server.url("/z")) as resp:
        assert await resp.json() == {"error": "zipped"}
        info = errorkit.error_of(resp)
    assert info is not None
    assert info.message == "zipped"


# -- pitfall 7: body-phase errors --------------------------------------------------------


async def test_success_body_cut_short_fails_at_the_callers_read(fault_server: FaultServer) -> None:
    """A 200 whose body is cut short is not retried: read() raises ClientPayloadError, one hit."""
    fault_server.script("/c", [reset_mid_body(200, body=b"x" * 100, sent_bytes=10), respond(200)])
    async with retry_session(FAST) as session, session.get(fault_server.url("/c")) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert fault_server.hits("/c") == 1


async def test_success_body_stall_times_out_at_the_callers_read(fault_server: FaultServer) -> None:
    """A 200 whose body stalls past sock_read raises at read(), outside the retry loop."""
    fault_server.script("/s", [slow_body(200, body=b"abcdef", chunk=1, interval=0.5)])
    timeout = aiohttp.ClientTimeout(total=10, sock_read=0.2)
    async with (
        retry_session(FAST, timeout=timeout) as session,
        session.get(fault_server.url("/s")) as resp,
    ):
        with pytest.raises(aiohttp.SocketTimeoutError):
            await resp.read()
    assert fault_server.hits("/s") == 1


async def test_error_body_cut_short_inside_the_bound_is_retried(fault_server: FaultServer) -> None:
    """A 503 whose (small) body is cut short is read inside the loop, so the GET is retried."""
    fault_server.script(
        "/c", [reset_mid_body(503, body=b"x" * 100, sent_bytes=10), respond(200, body=b"ok")]
    )
    async with retry_session(FAST) as session, session.get(fault_server.url("/c")) as resp:
        assert (resp.status, await resp.read()) == (200, b"ok")
    assert fault_server.hits("/c") == 2
