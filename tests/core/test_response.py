"""error_of / raise_for_error read any stack's response without consuming its stream."""

from __future__ import annotations

import io
import json
import sys
import unittest.mock
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
import httpx2
import pytest
import requests
import urllib3
from multidict import CIMultiDict, CIMultiDictProxy

import errorkit
import errorkit._stacks.responses
from errorkit._exceptions import (
    APIStatusError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
)
from errorkit._info import Category, ErrorInfo
from errorkit._stacks.responses import body_of, error_of, raise_for_error, status_of

if TYPE_CHECKING:
    from collections.abc import Iterator

BODY = json.dumps({"error": {"message": "Slow down", "code": "rate_limit_exceeded"}}).encode()
HEADERS = {"Content-Type": "application/json", "Retry-After": "60"}
URL = "http://127.0.0.1/x"


class FakeAiohttpResponse(aiohttp.ClientResponse):
    """An aiohttp ClientResponse with only what errorkit reads (status, headers, _body) set.

    ``headers`` is a cached property of ``_headers`` (kept in ``_cache``).
    """

    def __init__(self, status: int, headers: dict[str, str], body: bytes | None) -> None:
        self._cache: dict[str, Any] = {}
        self.status = status
        self._headers = CIMultiDictProxy(CIMultiDict(headers))
        self._body = body


class Recorder:
    """Stands in for parse(): records its arguments and returns a fixed answer."""

    def __init__(self, answer: ErrorInfo | None) -> None:
        self.answer = answer
        self.calls: list[tuple[Any, Any, Any]] = []
        self.in_band: list[bool] = []

    def __call__(
        self,
        status: Any,
        headers: Any = None,
        body: Any = None,
        *,
        in_band: bool = False,
        max_body: int = 0,  # noqa: ARG002 - parse()'s
    ) -> ErrorInfo | None:
        self.calls.append((status, headers, body))
        self.in_band.append(in_band)
        return self.answer


RATE_LIMITED = ErrorInfo(status=429, category=Category.RATE_LIMITED, message="Slow down")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Replace parse() inside _response so these tests do not depend on the parser."""
    fake = Recorder(RATE_LIMITED)
    monkeypatch.setattr(errorkit._stacks.responses, "parse", fake)
    return fake


def requests_read(status: int = 429, body: bytes = BODY) -> requests.Response:
    """A requests Response whose body was read (stream=False), built without a network."""
    response = requests.models.Response()
    response.status_code = status
    response.headers.update(HEADERS)
    response._content = body
    response.raw = io.BytesIO(b"")
    return response


def requests_streamed(raw: io.BytesIO) -> requests.Response:
    """A requests Response with stream=True whose body nobody has read yet."""
    response = requests.models.Response()
    response.status_code = 503
    response.headers.update(HEADERS)
    response.raw = raw
    return response


def urllib3_preloaded(status: int = 429, body: bytes = BODY) -> urllib3.HTTPResponse:
    """A urllib3 response read eagerly (preload_content=True)."""
    return urllib3.HTTPResponse(body=body, status=status, headers=HEADERS, preload_content=True)


def httpx_read(status: int = 429, body: bytes = BODY) -> httpx.Response:
    """An httpx Response whose content is in memory."""
    return httpx.Response(status, headers=HEADERS, content=body, request=httpx.Request("GET", URL))


def httpx2_read(status: int = 429, body: bytes = BODY) -> httpx2.Response:
    """An httpx2 Response whose content is in memory."""
    request = httpx2.Request("GET", URL)
    return httpx2.Response(status, headers=HEADERS, content=body, request=request)


def httpx_unread() -> httpx.Response:
    """An httpx Response with a streaming body nobody has read yet."""

    def chunks() -> Iterator[bytes]:
        yield BODY

    return httpx.Response(503, headers=HEADERS, content=chunks(), request=httpx.Request("GET", URL))


@pytest.mark.parametrize(
    "make",
    [
        requests_read,
        urllib3_preloaded,
        httpx_read,
        httpx2_read,
        lambda: FakeAiohttpResponse(429, HEADERS, BODY),
    ],
    ids=["requests", "urllib3", "httpx", "httpx2", "aiohttp"],
)
def test_a_read_body_is_passed_to_parse(make: Any, recorder: Recorder) -> None:
    """For every stack, the status, the headers and the cached body reach parse()."""
    response = make()
    assert error_of(response) is RATE_LIMITED
    ((status, headers, body),) = recorder.calls
    assert status == 429
    assert body == BODY
    assert {name.lower(): value for name, value in headers.items()}["retry-after"] == "60"


def test_an_unread_requests_stream_is_not_consumed(recorder: Recorder) -> None:
    """With stream=True and nothing read, error_of classifies on status and headers only."""
    raw = io.BytesIO(BODY)
    response = requests_streamed(raw)
    error_of(response)
    assert recorder.calls[0][2] is None
    assert raw.tell() == 0
    assert response.content == BODY  # still there for the caller


def test_an_unread_urllib3_stream_is_not_consumed(recorder: Recorder) -> None:
    """A urllib3 response with preload_content=False keeps its body for the caller."""
    response = urllib3.HTTPResponse(
        body=io.BytesIO(BODY), status=503, headers=HEADERS, preload_content=False
    )
    error_of(response)
    assert recorder.calls[0][2] is None
    assert response.read() == BODY


def test_an_urllib3_body_read_through_data_is_used(recorder: Recorder) -> None:
    """Once the caller accessed .data, the cached body is used."""
    response = urllib3.HTTPResponse(
        body=io.BytesIO(BODY), status=503, headers=HEADERS, preload_content=False
    )
    assert response.data == BODY
    error_of(response)
    assert recorder.calls[0][2] == BODY


def test_an_unread_httpx_stream_is_not_consumed(recorder: Recorder) -> None:
    """An httpx response that was not read raises no ResponseNotRead and stays readable."""
    response = httpx_unread()
    error_of(response)
    assert recorder.calls[0][2] is None
    assert not response.is_stream_consumed
    assert response.read() == BODY


def test_an_unread_aiohttp_body_classifies_on_status_and_headers(recorder: Recorder) -> None:
    """Before `await resp.read()`, an aiohttp response's _body is None and is not touched."""
    error_of(FakeAiohttpResponse(503, HEADERS, None))
    assert recorder.calls[0][0] == 503
    assert recorder.calls[0][2] is None


def test_an_adapter_info_is_returned_as_is(recorder: Recorder) -> None:
    """A response an errorkit adapter already parsed is not parsed again."""
    response = requests_read()
    info = ErrorInfo(status=429, category=Category.QUOTA_EXCEEDED, message="quota")
    response._errorkit_info = info  # type: ignore[attr-defined]
    assert error_of(response) is info
    assert recorder.calls == []


LONG_BODY = json.dumps(
    {
        "error": {
            "message": "Too long",
            "type": "invalid_request_error",
            "param": "x" * 200_000,
            "code": "context_length_exceeded",
        }
    }
).encode()


def _peeked(response: Any, bound: int = 64 * 1024) -> ErrorInfo:
    """Leave on `response` what an adapter leaves after a `bound`-byte peek of LONG_BODY."""
    info = errorkit.parse(400, HEADERS, LONG_BODY[: bound + 1], max_body=bound)
    assert info is not None
    assert (info.format, info.code) == ("text", None)  # a JSON body cut short is text
    response._errorkit_info = info
    return info


@pytest.mark.parametrize(
    "make",
    [requests_read, httpx_read, httpx2_read, lambda s, b: FakeAiohttpResponse(s, HEADERS, b)],
    ids=["requests", "httpx", "httpx2", "aiohttp"],
)
def test_a_body_read_whole_since_the_peek_is_parsed_again_once(make: Any) -> None:
    """Once the caller read the whole body, error_of parses it all, once, and keeps that."""
    response = make(400, LONG_BODY)
    _peeked(response)
    info = error_of(response)
    assert info is not None
    assert (info.format, info.code, info.message) == (
        "openai",
        "context_length_exceeded",
        "Too long",
    )
    assert error_of(response) is info
    assert response._errorkit_info is info


def test_a_long_body_without_an_adapter_is_parsed_whole_once(recorder: Recorder) -> None:
    """No adapter: a cached error body over MAX_BODY is parsed whole, once; a short one
    is parsed at each call, as before."""
    long = requests_read(400, LONG_BODY)
    for _ in range(3):
        assert error_of(long) is RATE_LIMITED
    short = requests_read(400)
    error_of(short)
    error_of(short)
    assert [body for _, _, body in recorder.calls] == [LONG_BODY, BODY, BODY]


def test_a_long_body_without_an_adapter_end_to_end() -> None:
    """The 200 KB OpenAI error of the SDK review, read without an adapter: its code."""
    info = error_of(FakeAiohttpResponse(400, HEADERS, LONG_BODY))
    assert info is not None
    assert (info.format, info.code) == ("openai", "context_length_exceeded")


def test_a_body_not_read_since_the_peek_keeps_the_peek_s_info(recorder: Recorder) -> None:
    """Without a cached body there is nothing more to parse, and nothing is read."""
    response = httpx_unread()
    info = _peeked(response)
    assert error_of(response) is info
    assert recorder.calls == []
    assert not response.is_stream_consumed


def test_an_info_that_saw_the_whole_body_is_not_parsed_again(recorder: Recorder) -> None:
    """A JSON document, or a text as long as the cached body: the adapter's info stands."""
    whole = requests_read(400)
    json_info = ErrorInfo(status=400, category=Category.BAD_REQUEST, message="m", body={"e": 1})
    whole._errorkit_info = json_info  # type: ignore[attr-defined]
    text = requests_read(400, b"plain text")
    text_info = ErrorInfo(status=400, category=Category.BAD_REQUEST, message="m", body="plain text")
    text._errorkit_info = text_info  # type: ignore[attr-defined]
    assert error_of(whole) is json_info
    assert error_of(text) is text_info
    assert recorder.calls == []


def test_a_reparse_happens_at_most_once(recorder: Recorder) -> None:
    """Even when the second parse is text again (a long non-ASCII page), parse runs once."""
    response = requests_read(400, ("é" * 100_000).encode())
    recorder.answer = ErrorInfo(status=400, category=Category.BAD_REQUEST, message="m", body="é")
    response._errorkit_info = recorder.answer  # type: ignore[attr-defined]
    for _ in range(3):
        error_of(response)
    assert len(recorder.calls) == 1


def test_a_foreign_errorkit_info_attribute_is_ignored(recorder: Recorder) -> None:
    """An `_errorkit_info` that is not an ErrorInfo (a mock's auto-attribute) is ignored."""
    response = requests_read()
    response._errorkit_info = "not an ErrorInfo"  # type: ignore[attr-defined]
    assert error_of(response) is RATE_LIMITED
    assert len(recorder.calls) == 1


class SlackResponse:
    """What slack_sdk's SlackResponse offers: a status, headers and the parsed JSON."""

    def __init__(self, status_code: int, data: dict[str, Any]) -> None:
        self.status_code = status_code
        self.headers = {"content-type": "application/json", "x-slack-req-id": "req-1"}
        self.data = data


@pytest.mark.parametrize(
    "wrapper",
    [
        SlackResponse(200, {"ok": False, "error": "channel_not_found"}),
        SlackResponse(429, {"ok": False, "error": "ratelimited"}),
        type("Fake", (), {"status": 503, "headers": {}, "_body": b"busy"})(),
        {"status": 503},
        object(),
    ],
    ids=["slack-200", "slack-429", "duck", "dict", "object"],
)
def test_an_object_of_no_stack_is_a_type_error(wrapper: object, recorder: Recorder) -> None:
    """An SDK wrapper (or anything not a stack's response) is refused, success or not,
    with a message naming the stacks read and what to call instead."""
    for call in (error_of, raise_for_error):
        with pytest.raises(TypeError) as caught:
            call(wrapper)
        message = str(caught.value)
        assert "requests, urllib3, httpx, httpx2 and aiohttp" in message
        assert type(wrapper).__qualname__ in message
        assert "errorkit.parse(status, headers, body)" in message
    assert recorder.calls == []


def test_the_message_s_advice_for_a_slack_response_works() -> None:
    """The call the TypeError proposes for a SlackResponse classifies its in-band error."""
    r = SlackResponse(200, {"ok": False, "error": "channel_not_found"})
    info = errorkit.parse(r.status_code, r.headers, json.dumps(r.data), in_band=True)
    assert info is not None
    assert (info.code, info.category, info.request_id) == (
        "channel_not_found",
        Category.NOT_FOUND,
        "req-1",
    )


def test_a_mock_with_a_stack_spec_and_a_subclass_are_read(recorder: Recorder) -> None:
    """isinstance decides: a subclass of a stack's response, or a spec'd mock, is one."""

    class Mine(httpx.Response):
        pass

    assert error_of(Mine(429, headers=HEADERS, content=BODY)) is RATE_LIMITED
    mock = unittest.mock.Mock(spec=requests.Response, status_code=503, headers={}, _content=b"")
    assert error_of(mock) is RATE_LIMITED


def test_a_stack_never_imported_is_not_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """error_of looks stacks up in sys.modules only: a missing one is skipped, not imported."""
    monkeypatch.delitem(sys.modules, "httpx2")
    with pytest.raises(TypeError):
        error_of(object())
    assert "httpx2" not in sys.modules
    assert error_of(httpx_read(200)) is None


def test_a_response_without_a_status_is_a_type_error() -> None:
    """A stack's object without a status is refused with a clear TypeError."""
    with pytest.raises(TypeError, match="no status"):
        error_of(unittest.mock.Mock(spec=requests.Response, status_code=None))
    with pytest.raises(TypeError):
        status_of(type("Fake", (), {"status": True})())


def test_body_of_accepts_text_and_buffers() -> None:
    """A cached body may be str, bytearray or memoryview; anything else means unread."""
    assert body_of(type("R", (), {"_body": "text"})()) == "text"
    assert body_of(type("R", (), {"_body": bytearray(b"ab")})()) == b"ab"
    assert body_of(type("R", (), {"_content": False, "_body": None})()) is None


def test_raise_for_error_raises_the_mapped_exception(recorder: Recorder) -> None:
    """raise_for_error raises exception_for(info) carrying the response and attempts."""
    response = httpx_read()
    with pytest.raises(RateLimitError) as caught:
        raise_for_error(response, attempts=3)
    assert caught.value.response is response
    assert caught.value.attempts == 3
    assert caught.value.info is RATE_LIMITED


def test_raise_for_error_returns_none_on_success(recorder: Recorder) -> None:
    """When parse() reports a success, raise_for_error returns None."""
    recorder.answer = None
    assert raise_for_error(httpx_read(503, b"{}")) is None  # type: ignore[func-returns-value]


@pytest.mark.parametrize(
    "make",
    [
        requests_read,
        urllib3_preloaded,
        httpx_read,
        httpx2_read,
        lambda s, b: FakeAiohttpResponse(s, {}, b),
    ],
    ids=["requests", "urllib3", "httpx", "httpx2", "aiohttp"],
)
def test_a_success_body_is_never_parsed_by_default(make: Any, recorder: Recorder) -> None:
    """A 2xx is a success without a look at its body, however large, unless in_band is asked."""
    large = json.dumps({"items": list(range(20_000))}).encode()  # ~100 KiB of JSON
    response = make(200, large)
    assert error_of(response) is None
    assert raise_for_error(response) is None  # type: ignore[func-returns-value]
    assert recorder.calls == []


def test_in_band_is_passed_to_parse_for_a_success(recorder: Recorder) -> None:
    """error_of(..., in_band=True) and raise_for_error(..., in_band=True) ask parse() to look."""
    response = httpx_read(200, b'{"ok": false, "error": "ratelimited"}')
    assert error_of(response, in_band=True) is RATE_LIMITED
    with pytest.raises(RateLimitError):
        raise_for_error(response, in_band=True)
    assert recorder.in_band == [True, True]


# --- with the real parser -----------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [requests_read, urllib3_preloaded, httpx_read, httpx2_read],
    ids=["requests", "urllib3", "httpx", "httpx2"],
)
def test_end_to_end_rate_limit(make: Any) -> None:
    """A 429 JSON error with Retry-After parses to rate_limited with the message and the wait."""
    info = error_of(make())
    assert info is not None
    assert info.category is Category.RATE_LIMITED
    assert info.message == "Slow down"
    assert info.code == "rate_limit_exceeded"
    assert info.retry_after == 60.0


def test_end_to_end_in_band_errors_are_reported_only_when_asked() -> None:
    """A Slack `ok: false` on a 200 is a success by default and an error with in_band=True."""
    slack = b'{"ok": false, "error": "channel_not_found"}'
    for response in (requests_read(200, slack), httpx_read(200, slack)):
        assert error_of(response) is None
        info = error_of(response, in_band=True)
        assert info is not None
        assert (info.status, info.code, info.format) == (200, "channel_not_found", "slack")
        with pytest.raises(NotFoundError):
            raise_for_error(response, in_band=True)


def test_end_to_end_success_is_none() -> None:
    """A 200 response is not an error for any stack."""
    assert error_of(requests_read(200, b'{"ok": true}')) is None
    assert error_of(httpx_read(200, b'{"ok": true}')) is None
    assert error_of(FakeAiohttpResponse(200, {}, b"")) is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [(404, NotFoundError), (503, ServiceUnavailableError), (418, APIStatusError)],
)
def test_end_to_end_raise_for_error(status: int, cls: type[APIStatusError]) -> None:
    """raise_for_error maps an empty-bodied error status to its exception class."""
    response = urllib3_preloaded(status, b"")
    with pytest.raises(cls) as caught:
        raise_for_error(response)
    assert caught.value.status == status
