"""Drop-in fixes of issue 12, over real sockets against a FaultServer.

- requests: a redirect's body is not read inside ``adapter.send`` (requests' own
  ``test_redirect_with_wrong_gzipped_header``), and a 2xx body that does not decode
  fails as bare requests fails: same exception type and text, after the response
  hooks ran and the cookies were stored;
- aiohttp: a streaming tarfile member is a body that is sent (once) rather than an
  ``AttributeError`` (aiohttp's own ``test_post_data_tarfile_filelike``);
- `error_of` after the caller read an error body over ``max_body`` classifies the
  whole body, not the adapter's bounded peek.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import tarfile
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests

import errorkit
from errorkit import RetryPolicy
from errorkit.httpx import RetryTransport
from errorkit.requests import RetryAdapter
from errorkit.testing import FaultServer, reset_mid_body, respond
from support.clients_aiohttp import retry_session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
NOT_GZIP = {"Content-Encoding": "gzip"}


@contextlib.contextmanager
def _session(policy: RetryPolicy = FAST) -> Iterator[requests.Session]:
    """A requests session with errorkit's RetryAdapter on http://."""
    with requests.Session() as s:
        s.mount("http://", RetryAdapter(policy))
        yield s


@contextlib.contextmanager
def _bare() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


SESSIONS: dict[str, Callable[[], contextlib.AbstractContextManager[requests.Session]]] = {
    "bare": _bare,
    "errorkit": _session,
    "errorkit-deadline": lambda: _session(dataclasses.replace(FAST, deadline=10.0)),
}


# -- requests: redirect bodies and undecodable bodies ------------------------------------


@pytest.mark.parametrize("kind", SESSIONS)
def test_a_redirect_whose_body_claims_gzip_is_followed(
    fault_server: FaultServer, kind: str
) -> None:
    """A 302 whose body is labelled gzip but is not: followed to the 200, as bare requests does."""
    fault_server.script(
        "/from", [respond(302, headers={**NOT_GZIP, "Location": "/to"}, body=b"not gzip")]
    )
    fault_server.script("/to", [respond(200, body=b"arrived")])
    with SESSIONS[kind]() as s:
        r = s.get(fault_server.url("/from"), timeout=5)
    assert (r.status_code, r.content) == (200, b"arrived")
    assert [h.status_code for h in r.history] == [302]
    assert (fault_server.hits("/from"), fault_server.hits("/to")) == (1, 1)


def _failure(kind: str, url: str, **kwargs: Any) -> tuple[BaseException, list[int], dict[str, str]]:
    """What `GET url` raises, the statuses the response hook saw, and the cookies kept."""
    seen: list[int] = []
    with SESSIONS[kind]() as s:
        hooks = {"response": [lambda r, **_: seen.append(r.status_code)]}
        with pytest.raises(requests.RequestException) as caught:
            s.get(url, timeout=5, hooks=hooks, **kwargs)
        return caught.value, seen, s.cookies.get_dict()


@pytest.mark.parametrize(
    ("status", "kwargs"),
    [(200, {}), (503, {}), (302, {"allow_redirects": False})],
    ids=["200", "final-503", "302-not-followed"],
)
def test_a_body_that_does_not_decode_fails_as_in_bare_requests(
    fault_server: FaultServer, status: int, kwargs: dict[str, Any]
) -> None:
    """Bare requests and errorkit raise the same ContentDecodingError, same text, and
    both ran the response hook and stored the cookie first."""
    headers = {**NOT_GZIP, "Set-Cookie": "session=abc; Path=/"}
    fault_server.script("/bad", [respond(status, headers=headers, body=b"not gzip at all")])
    results = {kind: _failure(kind, fault_server.url("/bad"), **kwargs) for kind in SESSIONS}
    bare, seen, cookies = results.pop("bare")
    assert type(bare) is requests.exceptions.ContentDecodingError
    assert (seen, cookies) == ([status], {"session": "abc"})
    for kind, (exc, got_seen, got_cookies) in results.items():
        assert type(exc) is type(bare), kind
        assert str(exc) == str(bare), kind
        assert (got_seen, got_cookies) == (seen, cookies), kind


def test_a_2xx_body_cut_short_is_still_retried(fault_server: FaultServer) -> None:
    """stream=False: a 200 whose connection is reset mid-body is re-sent; the caller
    gets the whole second body, decoded by requests (gzip here)."""
    fault_server.script(
        "/cut",
        [
            reset_mid_body(200, body=b"x" * 1000, sent_bytes=100),
            respond(200, body=b"y" * 5000, gzip=True),
        ],
    )
    with _session() as s:
        r = s.get(fault_server.url("/cut"), timeout=5)
    assert (r.status_code, r.content) == (200, b"y" * 5000)
    assert fault_server.hits("/cut") == 2


def test_a_redirect_body_is_the_session_s_to_drain(fault_server: FaultServer) -> None:
    """A 301's (good) body stays unread in send: the redirect is followed and the
    final 200's body, 300 KB, reaches the caller whole."""
    fault_server.script("/a", [respond(301, headers={"Location": "/b"}, body=b"moved" * 1000)])
    fault_server.script("/b", [respond(200, body=b"z" * 300_000, chunked=8192)])
    with _session() as s:
        r = s.get(fault_server.url("/a"), timeout=5)
    assert r.history[0].content == b"moved" * 1000
    assert r.content == b"z" * 300_000


# -- aiohttp: a streaming tarfile member as the body ----------------------------------------

TAR_DATA = b"This is a tar file payload text file."


def _tar_member() -> io.BufferedReader:
    """A member of a tarfile opened as a stream (``r|``): tell() works, seekable() raises."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name="payload1.txt")
        info.size = len(TAR_DATA)
        tf.addfile(info, io.BytesIO(TAR_DATA))
    buf.seek(0)
    stream = tarfile.open(fileobj=buf, mode="r|")  # noqa: SIM115 - read by the request
    member = stream.extractfile(next(iter(stream)))
    assert member is not None
    with pytest.raises(AttributeError):
        member.seekable()
    return member  # type: ignore[return-value]


async def test_a_streaming_tarfile_member_is_sent(fault_server: FaultServer) -> None:
    """The tarfile member goes out whole, as with bare aiohttp."""
    fault_server.script("/t", [respond(200)])
    async with (
        retry_session(FAST) as session,
        session.post(fault_server.url("/t"), data=_tar_member()) as resp,
    ):
        assert resp.status == 200
    assert fault_server.requests("/t")[0].body == TAR_DATA


async def test_a_streaming_tarfile_member_is_not_sent_twice(fault_server: FaultServer) -> None:
    """It cannot be rewound: a 503 the server did not act on, keyed, is not re-sent."""
    fault_server.script("/t", [respond(503, headers={"Retry-After": "0"}), respond(200)])
    policy = dataclasses.replace(FAST, idempotency_key=True)
    async with (
        retry_session(policy) as session,
        session.post(fault_server.url("/t"), data=_tar_member()) as resp,
    ):
        assert resp.status == 503
    assert fault_server.hits("/t") == 1
    assert fault_server.requests("/t")[0].body == TAR_DATA


# -- error_of after the caller read an error body over max_body -----------------------------

LONG_ERROR = json.dumps(
    {
        "error": {
            "message": "This model's maximum context length is 128000 tokens.",
            "type": "invalid_request_error",
            "param": "messages" + " " * 200_000,
            "code": "context_length_exceeded",
        }
    }
).encode()  # about 200 KB, as in the SDK review


def _check_whole(info: errorkit.ErrorInfo | None) -> None:
    assert info is not None
    assert (info.status, info.code, info.type) == (
        400,
        "context_length_exceeded",
        "invalid_request_error",
    )


def test_httpx_error_body_read_by_the_caller_is_parsed_whole(fault_server: FaultServer) -> None:
    """httpx: the transport peeked 64 KiB; after read(), error_of gives the JSON's code."""
    fault_server.script("/e", [respond(400, body=LONG_ERROR)])
    with (
        httpx.Client(transport=RetryTransport(FAST)) as client,
        client.stream("GET", fault_server.url("/e")) as r,
    ):
        before = errorkit.error_of(r)
        assert before is not None
        assert (before.format, before.code) == ("text", None)
        r.read()
        _check_whole(errorkit.error_of(r))
        assert errorkit.error_of(r) is errorkit.error_of(r)


def test_max_body_bounds_the_peek_until_the_caller_reads_the_body(
    fault_server: FaultServer,
) -> None:
    """max_body=10: error_of gives the 10-byte peek's parse, then the whole body once read."""
    body = b"0123456789abcdefghij"
    fault_server.script("/mb", [respond(500, body=body)])
    policy = dataclasses.replace(FAST, max_attempts=1)
    with (
        httpx.Client(transport=RetryTransport(policy, max_body=10)) as client,
        client.stream("GET", fault_server.url("/mb")) as r,
    ):
        before = errorkit.error_of(r)
        assert before is not None
        assert before.body == "0123456789"
        assert r.read() == body
        after = errorkit.error_of(r)
        assert after is not None
        assert after.body == body.decode()


def test_requests_error_body_read_by_the_caller_is_parsed_whole(fault_server: FaultServer) -> None:
    """requests: stream=True, then .content; error_of classifies the whole body."""
    fault_server.script("/e", [respond(400, body=LONG_ERROR, chunked=16384)])
    with _session() as s:
        r = s.get(fault_server.url("/e"), timeout=5, stream=True)
        before = errorkit.error_of(r)
        assert before is not None
        assert before.code is None
        assert r.content == LONG_ERROR
        _check_whole(errorkit.error_of(r))
        plain = s.get(fault_server.url("/e"), timeout=5)  # stream=False: read by requests
        _check_whole(errorkit.error_of(plain))


async def test_aiohttp_error_body_read_by_the_caller_is_parsed_whole(
    fault_server: FaultServer,
) -> None:
    """aiohttp: after ``await resp.read()``, error_of classifies the whole body."""
    fault_server.script("/e", [respond(400, body=LONG_ERROR)])
    async with retry_session(FAST) as session, session.get(fault_server.url("/e")) as resp:
        assert await resp.read() == LONG_ERROR
        _check_whole(errorkit.error_of(resp))
