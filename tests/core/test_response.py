"""error_of / raise_for_error read any stack's response without consuming its stream."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests
import urllib3
from multidict import CIMultiDict, CIMultiDictProxy

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


class FakeAiohttpResponse:
    """The attributes errorkit reads from an aiohttp ClientResponse (status, headers, _body)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes | None) -> None:
        self.status = status
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self._body = body


class Recorder:
    """Stands in for parse(): records its arguments and returns a fixed answer."""

    def __init__(self, answer: ErrorInfo | None) -> None:
        self.answer = answer
        self.calls: list[tuple[Any, Any, Any]] = []
        self.in_band: list[bool] = []

    def __call__(
        self, status: Any, headers: Any = None, body: Any = None, *, in_band: bool = False
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
        lambda: FakeAiohttpResponse(429, HEADERS, BODY),
    ],
    ids=["requests", "urllib3", "httpx", "aiohttp"],
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


def test_a_foreign_errorkit_info_attribute_is_ignored(recorder: Recorder) -> None:
    """An `_errorkit_info` that is not an ErrorInfo (a mock's auto-attribute) is ignored."""
    response = requests_read()
    response._errorkit_info = "not an ErrorInfo"  # type: ignore[attr-defined]
    assert error_of(response) is RATE_LIMITED
    assert len(recorder.calls) == 1


def test_a_non_response_is_a_type_error() -> None:
    """An object without a status is refused with a clear TypeError."""
    with pytest.raises(TypeError, match="no status"):
        error_of(object())
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
    [requests_read, urllib3_preloaded, httpx_read, lambda s, b: FakeAiohttpResponse(s, {}, b)],
    ids=["requests", "urllib3", "httpx", "aiohttp"],
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
    "make", [requests_read, urllib3_preloaded, httpx_read], ids=["requests", "urllib3", "httpx"]
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
