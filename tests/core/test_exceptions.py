"""errorkit's exceptions: one per category, readable, safe to print, picklable, compatible."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
import pickle
import threading
import traceback
import warnings
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import urllib3
from aiohttp.client_reqrep import ConnectionKey
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from errorkit._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    class_for,
    describe,
    exception_for,
)
from errorkit._info import Category, ErrorInfo
from errorkit._loop import Failed
from errorkit._policy import TransportFailure
from errorkit._stacks.exceptions import build, compatible, status_error, transport_error

CLASSES: dict[Category, tuple[type[APIError], int | None]] = {
    Category.BAD_REQUEST: (BadRequestError, 400),
    Category.AUTHENTICATION: (AuthenticationError, 401),
    Category.PERMISSION: (PermissionDeniedError, 403),
    Category.NOT_FOUND: (NotFoundError, 404),
    Category.CONFLICT: (ConflictError, 409),
    Category.PAYLOAD_TOO_LARGE: (PayloadTooLargeError, 413),
    Category.UNPROCESSABLE: (UnprocessableEntityError, 422),
    Category.RATE_LIMITED: (RateLimitError, 429),
    Category.QUOTA_EXCEEDED: (QuotaExceededError, 429),
    Category.CLIENT: (APIStatusError, 418),
    Category.SERVER: (InternalServerError, 500),
    Category.UNAVAILABLE: (ServiceUnavailableError, 503),
    Category.CONNECTION: (APIConnectionError, None),
    Category.TIMEOUT: (APITimeoutError, None),
}

PARENTS: dict[type[APIError], type[BaseException]] = {
    APIError: Exception,
    APIStatusError: APIError,
    BadRequestError: APIStatusError,
    AuthenticationError: APIStatusError,
    PermissionDeniedError: APIStatusError,
    NotFoundError: APIStatusError,
    ConflictError: APIStatusError,
    PayloadTooLargeError: APIStatusError,
    UnprocessableEntityError: APIStatusError,
    RateLimitError: APIStatusError,
    QuotaExceededError: APIStatusError,
    InternalServerError: APIStatusError,
    ServiceUnavailableError: InternalServerError,
    APIConnectionError: APIError,
    APITimeoutError: APIConnectionError,
}


def make_info(category: Category = Category.RATE_LIMITED, **fields: Any) -> ErrorInfo:
    """An ErrorInfo of `category` with its usual status and a plain message."""
    fields.setdefault("status", CLASSES[category][1])
    fields.setdefault("message", "Something went wrong.")
    return ErrorInfo(category=category, **fields)


RATE_LIMITED = make_info(
    message="Too many requests. Please retry after 60 seconds.",
    code="rate_limit_exceeded",
    request_id="req_123",
    retry_after=60.0,
    retryable=True,
    body={"error": {"message": "Too many requests", "secret_field": "BODYSECRET"}},
)


def roundtrip(exc: APIError) -> APIError:
    """exc pickled and unpickled (our own objects: no untrusted data involved)."""
    clone: APIError = pickle.loads(pickle.dumps(exc))
    return clone


class Unpicklable:
    """A stand-in for a live response object that refuses to be pickled."""

    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle a live response")


@pytest.mark.parametrize(("cls", "parent"), PARENTS.items(), ids=lambda c: c.__name__)
def test_tree_matches_the_design(cls: type[APIError], parent: type[BaseException]) -> None:
    """Each exception class derives directly from the parent drawn in DESIGN.md."""
    assert parent in cls.__bases__


@pytest.mark.parametrize(("category", "expected"), CLASSES.items(), ids=str)
def test_one_class_per_category(category: Category, expected: tuple[type[APIError], int]) -> None:
    """exception_for maps every category to its own class and keeps info, status, response."""
    cls, status = expected
    info = make_info(category)
    response = object()
    exc = exception_for(info, response=response, attempts=2)
    assert type(exc) is cls
    assert exc.info is info
    assert exc.attempts == 2
    assert exc.response is response
    if isinstance(exc, APIStatusError):
        assert exc.status == status


@pytest.mark.parametrize(
    ("category", "status", "cls"),
    [
        (Category.TIMEOUT, 408, APIStatusError),
        (Category.TIMEOUT, None, APITimeoutError),
        (Category.CLIENT, 451, APIStatusError),
        ("unavailable", 503, ServiceUnavailableError),
        ("made_up", 499, APIStatusError),
        ("made_up", None, APIError),
    ],
)
def test_class_for_edges(category: str, status: int | None, cls: type[APIError]) -> None:
    """A 408 timeout is a status error; strings and unknown categories are accepted."""
    assert class_for(category, status) is cls


def test_str_is_one_informative_line() -> None:
    """str() names status, category, message, code, request id, wait and attempts."""
    exc = exception_for(RATE_LIMITED, attempts=3)
    assert str(exc) == (
        "429 rate_limited: Too many requests. Please retry after 60 seconds. "
        "(code=rate_limit_exceeded, request_id=req_123, retry after 60 s, after 3 attempts)"
    )
    assert exc.args == (str(exc),)


@pytest.mark.parametrize(
    ("info", "attempts", "expected"),
    [
        (
            make_info(Category.CONNECTION, message="connection refused"),
            1,
            "connection: connection refused",
        ),
        (
            make_info(Category.TIMEOUT, message="read timeout"),
            4,
            "timeout: read timeout (after 4 attempts)",
        ),
        (
            make_info(Category.SERVER, message="", type="api_error"),
            1,
            "500 server: (no message) (type=api_error)",
        ),
        (
            make_info(Category.UNAVAILABLE, message="busy", retry_after=0.25),
            1,
            "503 unavailable: busy (retry after 0.25 s)",
        ),
    ],
)
def test_str_variants(info: ErrorInfo, attempts: int, expected: str) -> None:
    """Without a status the category leads; empty parts are left out; fractions are short."""
    assert str(exception_for(info, attempts=attempts)) == expected


def test_server_text_is_escaped_and_bounded() -> None:
    """ANSI escapes and CR in server text are escaped, and a huge message is cut."""
    info = make_info(message="\x1b[31mred\r\nforged" + "x" * 10_000, code="c\x1bd")
    text = str(exception_for(info))
    assert "\x1b" not in text
    assert "\r" not in text
    assert "\\x1b[31mred" in text
    assert len(text) < 1200


def test_credentials_in_server_text_are_redacted() -> None:
    """A message echoing a keyed URL or a bearer token is shown without the secret."""
    info = make_info(
        Category.NOT_FOUND,
        message="No route for https://u:pw@h/v1/x?api_key=SEKRET1 (Bearer abcdefghijklmnopq)",
    )
    exc = exception_for(info)
    for shown in (str(exc), repr(exc)):
        assert "SEKRET1" not in shown
        assert "pw@" not in shown
        assert "abcdefghijklmnopq" not in shown


def test_repr_is_concise_and_leaves_out_body_and_response() -> None:
    """repr() shows the class and key fields, never the body or the response object."""
    response = requests.models.Response()
    response.headers["Authorization"] = "Bearer HEADERSECRET"
    exc = exception_for(RATE_LIMITED, response=response, attempts=3)
    text = repr(exc)
    assert text.startswith("RateLimitError(status=429, category='rate_limited'")
    assert "attempts=3" in text
    assert "BODYSECRET" not in text
    assert "HEADERSECRET" not in text
    assert len(text) < 300


def test_retry_after_property() -> None:
    """retry_after is the server's requested wait, or None."""
    assert exception_for(RATE_LIMITED).retry_after == 60.0
    assert exception_for(make_info(Category.SERVER)).retry_after is None


def test_users_can_construct_exceptions() -> None:
    """APIStatusError(info, *, response=None, attempts=1) works as documented."""
    exc = NotFoundError(make_info(Category.NOT_FOUND), response="r", attempts=2)
    assert (exc.status, exc.response, exc.attempts) == (404, "r", 2)
    assert APIStatusError(make_info(Category.CLIENT)).attempts == 1


@pytest.mark.parametrize("attempts", [0, -1, True, 1.5])
def test_attempts_must_be_a_positive_int(attempts: Any) -> None:
    """attempts below 1 or not an int is a ValueError."""
    with pytest.raises(ValueError, match="attempts"):
        APIError(make_info(), attempts=attempts)


def test_info_must_be_an_error_info() -> None:
    """A message string instead of an ErrorInfo is a TypeError naming the problem."""
    with pytest.raises(TypeError, match="ErrorInfo"):
        APIError("boom")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", list(PARENTS), ids=lambda c: c.__name__)
def test_every_class_pickles(cls: type[APIError]) -> None:
    """Every class survives pickle and copy with its info and attempts; response becomes None."""
    exc = cls(RATE_LIMITED, response=Unpicklable(), attempts=3)
    for clone in (roundtrip(exc), copy.copy(exc), copy.deepcopy(exc)):
        assert type(clone) is cls
        assert clone.info == RATE_LIMITED
        assert clone.attempts == 3
        assert clone.response is None
        assert str(clone) == str(exc)
        assert clone.args == exc.args


def test_raising_from_keeps_the_cause() -> None:
    """Raised `from` a stack exception, the cause is kept for tracebacks."""
    original = OSError("connection refused")
    with pytest.raises(APIConnectionError) as caught:
        raise exception_for(make_info(Category.CONNECTION)) from original
    assert caught.value.__cause__ is original


@given(
    message=st.text(),
    code=st.one_of(st.none(), st.text()),
    request_id=st.one_of(st.none(), st.text()),
    retry_after=st.one_of(st.none(), st.floats(allow_nan=True)),
    status=st.one_of(st.none(), st.integers(100, 999)),
    category=st.sampled_from(Category),
)
def test_describe_never_raises_and_shows_no_control_characters(
    *,
    message: str,
    code: str | None,
    request_id: str | None,
    retry_after: float | None,
    status: int | None,
    category: Category,
) -> None:
    """Whatever the server sent, str() is bounded and holds no raw escape or CR."""
    info = ErrorInfo(
        status=status,
        category=category,
        message=message,
        code=code,
        request_id=request_id,
        retry_after=retry_after,
    )
    text = describe(info, 2)
    assert "\x1b" not in text
    assert "\r" not in text
    assert len(text) < 8000
    repr(exception_for(info))


# --- stack-compatible classes -------------------------------------------------


def test_compatible_is_built_once_and_named() -> None:
    """compatible() caches one class per pair, named after both bases."""
    cls = compatible(RateLimitError, requests.HTTPError)
    assert cls is compatible(RateLimitError, requests.HTTPError)
    assert cls.__module__ == "errorkit._stacks.exceptions"
    assert cls.__qualname__ == "RateLimitError[requests.HTTPError]"
    assert cls.__name__ == "RateLimitError"
    assert issubclass(cls, RateLimitError)
    assert issubclass(cls, requests.HTTPError)
    # A transport error is the stack's own, raised after errorkit's attempts: its name.
    timeout = compatible(APITimeoutError, httpx.ReadTimeout)
    assert (timeout.__module__, timeout.__qualname__) == ("httpx", "ReadTimeout")
    assert issubclass(timeout, APITimeoutError)
    assert compatible(APITimeoutError, asyncio.TimeoutError).__qualname__ == "TimeoutError"


def test_compatible_is_one_class_under_a_thread_race() -> None:
    """Threads racing to build the same pair all get the same class."""
    results: list[type] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(compatible(ConflictError, httpx.HTTPStatusError))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1


def test_compatible_rejects_wrong_classes_and_reuses_existing_subclasses() -> None:
    """Non-errorkit or non-exception classes are refused; a base already inherited is a no-op."""
    with pytest.raises(TypeError):
        compatible(ValueError, requests.HTTPError)  # type: ignore[type-var]
    with pytest.raises(TypeError):
        compatible(RateLimitError, int)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compatible(RateLimitError, APIError)
    assert compatible(RateLimitError, Exception) is RateLimitError
    exc = build(RateLimitError, Exception, RATE_LIMITED, attempts=2)
    assert type(exc) is RateLimitError
    assert exc.attempts == 2


def requests_response(status: int = 429) -> requests.Response:
    """A requests Response built without a network, with a prepared request attached."""
    response = requests.models.Response()
    response.status_code = status
    response._content = b'{"error": "slow down"}'
    response.request = requests.Request("GET", "http://127.0.0.1/x").prepare()
    response.raw = io.BytesIO(b"")
    return response


def test_requests_http_error_compatible() -> None:
    """The raised error is a requests.HTTPError with .response and .request, and errorkit's str."""
    response = requests_response()
    exc = build(
        RateLimitError,
        requests.HTTPError,
        RATE_LIMITED,
        response=response,
        attempts=3,
        foreign_kwargs={"response": response},
    )
    with pytest.raises(requests.HTTPError) as caught:
        raise exc
    raised: object = caught.value
    assert raised is exc
    assert isinstance(exc, (RateLimitError, requests.RequestException, OSError))
    assert exc.response is response
    assert isinstance(raised, requests.HTTPError)
    assert raised.request is response.request
    assert str(exc) == describe(RATE_LIMITED, 3)
    assert exc.args == (str(exc),)  # one message argument: no "[Errno ...]" formatting
    assert exc.info is RATE_LIMITED


def test_httpx_status_error_compatible() -> None:
    """The raised error is an httpx.HTTPStatusError with its request and response."""
    request = httpx.Request("GET", "http://127.0.0.1/x")
    response = httpx.Response(503, request=request, content=b"upstream down")
    info = make_info(Category.UNAVAILABLE, message="upstream down")
    exc = build(
        ServiceUnavailableError,
        httpx.HTTPStatusError,
        info,
        response=response,
        foreign_kwargs={"request": request, "response": response},
    )
    assert isinstance(exc, httpx.HTTPStatusError)
    assert isinstance(exc, InternalServerError)
    assert exc.request is request
    assert exc.response is response
    assert exc.status == 503
    assert str(exc) == "503 unavailable: upstream down"


def aiohttp_request_info() -> aiohttp.RequestInfo:
    """An aiohttp RequestInfo carrying an Authorization header that must not leak."""
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": "Bearer REQSECRET"}))
    return aiohttp.RequestInfo(URL("http://127.0.0.1/x"), "GET", headers)


def test_aiohttp_client_response_error_compatible() -> None:
    """The raised error is an aiohttp.ClientResponseError with its fields, and errorkit's str."""
    request_info = aiohttp_request_info()
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": "60"}))
    response = object()
    exc = build(
        RateLimitError,
        aiohttp.ClientResponseError,
        RATE_LIMITED,
        response=response,
        attempts=3,
        foreign_args=(request_info, ()),
        foreign_kwargs={"status": 429, "message": RATE_LIMITED.message, "headers": headers},
    )
    foreign: object = exc
    assert isinstance(foreign, aiohttp.ClientResponseError)
    assert (foreign.status, foreign.message, foreign.headers) == (
        429,
        RATE_LIMITED.message,
        headers,
    )
    assert foreign.request_info is request_info
    assert foreign.history == ()
    assert exc.response is response
    assert str(exc) == describe(RATE_LIMITED, 3)
    assert "REQSECRET" not in repr(exc)


def status_errors() -> list[APIError]:
    """One stack-compatible status error per stack, holding live stack objects."""
    requests_resp = requests_response()
    request = httpx.Request("GET", "http://127.0.0.1/x")
    httpx_resp = httpx.Response(429, request=request, content=b"slow")
    return [
        build(
            RateLimitError,
            requests.HTTPError,
            RATE_LIMITED,
            response=requests_resp,
            attempts=3,
            foreign_kwargs={"response": requests_resp},
        ),
        build(
            RateLimitError,
            httpx.HTTPStatusError,
            RATE_LIMITED,
            response=httpx_resp,
            attempts=3,
            foreign_kwargs={"request": request, "response": httpx_resp},
        ),
        build(
            RateLimitError,
            aiohttp.ClientResponseError,
            RATE_LIMITED,
            response=Unpicklable(),
            attempts=3,
            foreign_args=(aiohttp_request_info(), ()),
            foreign_kwargs={"status": 429, "message": "slow", "headers": CIMultiDict()},
        ),
    ]


@pytest.mark.parametrize("exc", status_errors(), ids=lambda e: type(e).__qualname__)
def test_compatible_status_errors_pickle(exc: APIError) -> None:
    """A compatible error unpickles into the same built class with info and attempts intact."""
    clone = roundtrip(exc)
    assert type(clone) is type(exc)
    assert clone.info == exc.info
    assert clone.attempts == 3
    assert clone.response is None
    assert str(clone) == str(exc)
    assert isinstance(clone, type(exc).__bases__[1])  # still the stack's own error
    assert type(copy.deepcopy(exc)) is type(exc)


def connector_error() -> aiohttp.ClientConnectorError:
    """The exception aiohttp raises for a refused connection."""
    key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)  # noqa: FBT003
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))


@pytest.mark.parametrize(
    ("cls", "original"),
    [
        (APIConnectionError, requests.ConnectionError("refused")),
        (APITimeoutError, requests.ReadTimeout("read timed out")),
        (APITimeoutError, requests.ConnectTimeout("connect timed out")),
        (APIConnectionError, httpx.ConnectError("refused")),
        (APITimeoutError, httpx.ReadTimeout("read timed out")),
        (APIConnectionError, aiohttp.ServerDisconnectedError()),
        (APIConnectionError, connector_error()),
        (APITimeoutError, aiohttp.SocketTimeoutError("read timed out")),
        (APITimeoutError, asyncio.TimeoutError()),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__,
)
def test_transport_errors_stay_catchable_as_the_stacks_own(
    cls: type[APIError], original: BaseException
) -> None:
    """A transport error keeps the stack's class (built from its args), name, str and repr.

    errorkit's view is in `.info` and `.attempts`; the text says how many attempts
    were made. A stack error with no text (a bare TimeoutError) gets errorkit's.
    """
    category = Category.TIMEOUT if cls is APITimeoutError else Category.CONNECTION
    info = make_info(category, message="no response")
    exc = build(cls, type(original), info, attempts=2, foreign_args=original.args)
    assert isinstance(exc, type(original))
    assert isinstance(exc, cls)
    assert type(exc).__name__ == type(original).__name__
    own = str(original)
    expected = f"{own} (after 2 attempts)" if own else f"{category}: no response (after 2 attempts)"
    assert str(exc) == expected
    if original.args:  # else errorkit's text is its one argument
        assert repr(exc) == repr(original)
    once = build(cls, type(original), info, attempts=1, foreign_args=original.args)
    assert str(once) == (own or f"{category}: no response")
    clone = roundtrip(exc)
    assert type(clone) is type(exc)
    assert (clone.info, clone.attempts) == (info, 2)
    assert str(clone) == str(exc)


# --- the request's own credentials never stay in what errorkit builds ---------------

SECRETS = ("QSECRET", "PWSECRET", "PROXYPW", "AUTHSECRET")


def leaks(exc: BaseException) -> list[str]:
    """The secrets found in an exception's args, attributes, repr, traceback or pickle."""
    chain = "".join(traceback.format_exception(exc))
    seen = " ".join([repr(exc.args), repr(vars(exc)), repr(exc), str(exc), chain])
    pickled = pickle.dumps(exc)
    return [s for s in SECRETS if s in seen or s.encode() in pickled]


def test_a_requests_transport_error_hides_the_query_in_args_cause_and_pickle() -> None:
    """requests' ConnectionError(MaxRetryError) keeps its types, but not the URL's secrets."""
    no_pool: Any = None  # no live pool or connection needed
    inner = urllib3.exceptions.MaxRetryError(
        no_pool,
        "/v1/x?subscription-key=QSECRET&page=2",
        urllib3.exceptions.NewConnectionError(no_pool, "Failed to establish a new connection"),
    )
    original = requests.ConnectionError(inner)
    failure = TransportFailure(sent=False, description="connection refused")
    exc = transport_error(Failed(original, failure), 2)
    exc.__cause__ = original
    assert isinstance(exc, requests.ConnectionError)
    assert exc.args[0] is inner  # the stack's own object, scrubbed in place
    assert inner.url == "/v1/x?subscription-key=***&page=2"
    assert leaks(exc) == []
    clone = roundtrip(exc)
    assert type(clone) is type(exc)
    assert str(clone) == str(exc)


def test_a_urllib3_status_error_hides_the_url_attribute() -> None:
    """urllib3's MaxRetryError keeps `url`, redacted, in memory and in its pickle."""
    info = make_info(Category.UNAVAILABLE, status=503, message="down")
    exc = status_error(
        info,
        urllib3.exceptions.MaxRetryError,
        response=None,
        attempts=3,
        foreign_args=(None, "https://u:PWSECRET@h/x?authorization=AUTHSECRET", None),
    )
    assert isinstance(exc, urllib3.exceptions.MaxRetryError)
    assert exc.url == "https://***@h/x?authorization=***"
    assert leaks(exc) == []
    clone = roundtrip(exc)
    assert type(clone) is type(exc)
    assert clone.url == exc.url


def test_an_aiohttp_connector_error_hides_the_proxy_credentials() -> None:
    """The connection key's proxy URL userinfo and proxy_auth are hidden; its str still works."""
    with warnings.catch_warnings():  # aiohttp 3.14 deprecates BasicAuth, still used for proxies
        warnings.simplefilter("ignore", DeprecationWarning)
        proxy_auth = aiohttp.BasicAuth("user", "PROXYPW")
    key = ConnectionKey(
        host="127.0.0.1",
        port=1,
        is_ssl=False,
        ssl=True,
        proxy=URL("http://user:PROXYPW@proxy:3128"),
        proxy_auth=proxy_auth,
        proxy_headers_hash=None,
    )
    original = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    exc = transport_error(Failed(original, TransportFailure(sent=False)), 1)
    exc.__cause__ = original
    assert isinstance(exc, aiohttp.ClientConnectorError)
    assert str(original) == "Cannot connect to host 127.0.0.1:1 ssl:default [refused]"
    assert leaks(exc) == []


def test_build_redacts_text_arguments_and_keyword_arguments() -> None:
    """A str argument or keyword holding a credential is stored redacted; live objects are kept."""
    request = httpx.Request("GET", "http://127.0.0.1/x")
    exc = build(
        APIConnectionError,
        httpx.ConnectError,
        make_info(Category.CONNECTION, message="refused"),
        foreign_args=("connect to http://127.0.0.1/x?api_key=QSECRET failed",),
        foreign_kwargs={"request": request},
    )
    assert exc.args == ("connect to http://127.0.0.1/x?api_key=*** failed",)
    assert exc.request is request  # type: ignore[attr-defined]
    assert leaks(exc) == []


def test_str_of_an_exception_is_one_line_whatever_the_server_sent() -> None:
    """Newlines, bidi controls and lone surrogates in a message, code or type are escaped."""
    info = make_info(
        Category.SERVER,
        status=500,
        message="line one\nINFO forged line \u202e\u200f\u061c\ud800",
        type="t\x1b\u2066",
    )
    text = str(exception_for(info))
    assert "\n" not in text
    assert text.encode("utf-8")
    assert text == (
        "500 server: line one\\nINFO forged line \\u202e\\u200f\\u061c\\ud800 (type=t\\x1b\\u2066)"
    )


def test_an_echoed_credential_in_the_body_stays_in_memory_but_not_in_the_pickle() -> None:
    """`ErrorInfo.body` keeps the server's data raw for programs; a pickle leaves the process."""
    body = {"error": "bad key", "echo": {"authorization": "Bearer AUTHSECRET-0123456789"}}
    info = dataclasses.replace(
        make_info(Category.AUTHENTICATION, status=401, message="bad key"),
        body=body,
        details=({"password": "PWSECRET"},),
    )
    exc = exception_for(info, attempts=1)
    assert exc.info.body is body  # untouched in memory
    clone = roundtrip(exc)
    assert not any(s.encode() in pickle.dumps(exc) for s in SECRETS)
    assert clone.info.body == {"error": "bad key", "echo": {"authorization": "***"}}
    assert (clone.info.status, clone.info.message, clone.attempts) == (401, "bad key", 1)
