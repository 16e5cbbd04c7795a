"""errorkit.urllib3.Retry without sockets: construction, new(), the failure table, bodies."""

from __future__ import annotations

import dataclasses
import email.utils
import io
import pickle
import time
from typing import TYPE_CHECKING, Any

import pytest
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    EmptyPoolError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.response import HTTPResponse

import errorkit
from errorkit import RetryBudget, RetryPolicy
from errorkit._stacks.urllib3_urlopen import body_replayable
from errorkit.testing import instant_waits
from errorkit.urllib3 import Retry, _clipped, _failure, request_headers

if TYPE_CHECKING:
    from collections.abc import Iterator

POLICY = RetryPolicy(budget=None, initial_delay=0.5, jitter=0.0)
DEFAULT = urllib3.Timeout.DEFAULT_TIMEOUT


def _response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> HTTPResponse:
    return HTTPResponse(
        body=io.BytesIO(body), headers=headers or {}, status=status, preload_content=True
    )


def _pool() -> urllib3.HTTPConnectionPool:
    return urllib3.HTTPConnectionPool("127.0.0.1", 9)


# -- construction and new() -------------------------------------------------------------


def test_default_policy_and_drop_in_outcome() -> None:
    """Retry() with no argument follows RetryPolicy() and returns final responses."""
    retry = Retry()
    assert retry.policy == RetryPolicy(budget=retry.policy.budget, gate=retry.policy.gate)
    assert retry.raise_on_status is False
    assert retry.attempts == 0


def test_refuses_a_non_policy_first_argument() -> None:
    """Retry(3), urllib3's habit, is refused with a pointer to max_attempts."""
    with pytest.raises(TypeError, match="max_attempts"):
        Retry(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "setting"),
    [
        ("total", 5, "max_attempts"),
        ("connect", 2, "max_attempts"),
        ("read", 2, "max_attempts"),
        ("status", 2, "max_attempts"),
        ("other", 0, "max_attempts"),
        ("status_forcelist", [503], "classification"),
        ("allowed_methods", ["GET"], "idempotency_key"),
        ("backoff_factor", 0.5, "initial_delay"),
        ("backoff_max", 5, "max_delay"),
        ("backoff_jitter", 0.1, "jitter"),
        ("respect_retry_after_header", False, "max_retry_after"),
        ("retry_after_max", 10, "max_retry_after"),
    ],
)
def test_refuses_urllib3_counting_knobs(name: str, value: object, setting: str) -> None:
    """A knob the policy owns raises TypeError naming the policy setting to use instead."""
    kwargs: dict[str, Any] = {name: value}
    with pytest.raises(TypeError, match=setting):
        Retry(POLICY, **kwargs)


def test_keeps_urllib3_redirect_knobs() -> None:
    """redirect, raise_on_redirect and remove_headers_on_redirect keep urllib3's meaning."""
    retry = Retry(POLICY, redirect=2, raise_on_redirect=False, remove_headers_on_redirect=["X-A"])
    copy = retry.new()
    assert (copy.redirect, copy.raise_on_redirect) == (2, False)
    assert copy.remove_headers_on_redirect == frozenset({"x-a"})


def test_new_keeps_policy_and_request_state() -> None:
    """new(), which urllib3 calls from increment, keeps the policy and the attempt count."""
    retry = Retry(POLICY, raise_on_status=True)
    nxt = retry.increment("GET", "/p", response=_response(503), _pool=_pool())
    assert nxt.policy is POLICY
    assert nxt.attempts == 1
    later = nxt.new()
    assert (later.policy, later.attempts, later.raise_on_status) == (POLICY, 1, True)


def test_increment_never_mutates_the_shared_instance() -> None:
    """Two increments leave the configured instance as it was: no counter, no history."""
    retry = Retry(POLICY)
    first = retry.increment("GET", "/p", response=_response(503), _pool=_pool())
    second = first.increment("GET", "/p", response=_response(503), _pool=_pool())
    assert (retry.attempts, retry.history, retry.get_backoff_time()) == (0, (), 0.0)
    assert (first.attempts, second.attempts) == (1, 2)
    assert [h.status for h in second.history] == [503, 503]


def test_third_failure_exhausts_three_attempts() -> None:
    """After max_attempts failures increment raises MaxRetryError(ResponseError)."""
    retry = Retry(POLICY).increment("GET", "/p", response=_response(503), _pool=_pool())
    retry = retry.increment("GET", "/p", response=_response(503), _pool=_pool())
    with pytest.raises(MaxRetryError) as caught:
        retry.increment("GET", "/p", response=_response(503), _pool=_pool())
    assert isinstance(caught.value.reason, ResponseError)
    assert isinstance(caught.value, errorkit.ServiceUnavailableError)
    assert caught.value.attempts == 3


def test_is_retry_passes_every_error_status_to_increment() -> None:
    """is_retry answers True for any status >= 400, False below, whatever the method."""
    retry = Retry(POLICY)
    assert all(retry.is_retry("POST", status) for status in (400, 404, 429, 500, 503))
    assert not any(retry.is_retry("GET", status) for status in (200, 204, 302, 304))


def test_budget_counts_each_logical_request_once() -> None:
    """A success counts one request in is_retry; a failed first attempt counts in increment."""
    budget = RetryBudget()
    retry = Retry(RetryPolicy(budget=budget))
    retry.is_retry("GET", 200)
    assert retry.is_retry("GET", 503)
    nxt = retry.increment("GET", "/p", response=_response(503), _pool=_pool())
    nxt.is_retry("GET", 200)  # the retry's success: the same logical request
    assert budget.stats().requests == 2
    assert budget.stats().retries_allowed == 1


def test_pickles_inside_a_requests_adapter() -> None:
    """An HTTPAdapter carrying the Retry survives pickling with its policy settings."""
    adapter = HTTPAdapter(max_retries=Retry(RetryPolicy(max_attempts=5)))
    copy = pickle.loads(pickle.dumps(adapter))
    assert isinstance(copy.max_retries, Retry)
    assert copy.max_retries.policy.max_attempts == 5


# -- the waits ---------------------------------------------------------------------


def test_sleep_waits_the_decided_delay_through_errorkits_clock() -> None:
    """sleep() waits exactly the policy's delay, via the clock that instant_waits swaps."""
    nxt = Retry(POLICY).increment("GET", "/p", response=_response(500), _pool=_pool())
    assert nxt.get_backoff_time() == 0.5
    with instant_waits() as waits:
        nxt.sleep(_response(503, headers={"Retry-After": "3600"}))
    assert waits.delays == [0.5]


@pytest.mark.parametrize(
    ("value", "waited"),
    [("5", [5.0]), ("0", []), (None, []), ("soon", []), ("3600", [])],
)
def test_a_redirect_retry_after_is_waited_within_the_policy(
    value: str | None, waited: list[float]
) -> None:
    """sleep_for_retry (before a redirect) waits a Retry-After up to max_retry_after only."""
    headers = {} if value is None else {"Retry-After": value}
    with instant_waits() as waits:
        slept = Retry(POLICY).sleep_for_retry(_response(302, headers=headers))
    assert waits.delays == waited
    assert slept is bool(waited)


def test_a_redirect_wait_stops_at_the_deadline() -> None:
    """A hop with 2 s left waits 2 s of a redirect's Retry-After: 30."""
    retry = Retry(dataclasses.replace(POLICY, deadline=10.0, max_retry_after=60.0))
    with instant_waits() as waits:
        started = retry._from_first_send()  # the PoolManager's stamp
        waits.sleep(8.0)
        waits.clear()
        assert started.sleep_for_retry(_response(302, headers={"Retry-After": "30"}))
    assert waits.delays == [pytest.approx(2.0, abs=0.01)]


def test_redirects_are_capped_at_three_as_urllib3s_default() -> None:
    """Retry() follows as many redirects as urllib3's default Retry(3)."""
    assert Retry(POLICY).redirect == 3


@pytest.mark.parametrize(("value", "expected"), [("7", 7.0), (" 0 ", 0.0), (None, 30.0)])
def test_parse_retry_after_reads_seconds_and_dates(value: str | None, expected: float) -> None:
    """parse_retry_after reads delta-seconds and HTTP-dates with errorkit's parser."""
    text = value or email.utils.formatdate(time.time() + 30, usegmt=True)
    assert Retry(POLICY).parse_retry_after(text) == pytest.approx(expected, abs=1.5)


def test_parse_retry_after_rejects_garbage() -> None:
    """A value that is neither seconds nor a date raises InvalidHeader, as urllib3 does."""
    with pytest.raises(InvalidHeader):
        Retry(POLICY).parse_retry_after("soon")


# -- the failure table -----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "sent", "timeout", "retryable"),
    [
        (NameResolutionError("h", None, OSError("x")), False, False, True),  # type: ignore[arg-type]
        (NewConnectionError(None, "refused"), False, False, True),  # type: ignore[arg-type]
        (ConnectTimeoutError(None, "timed out"), False, True, True),
        (ClosedPoolError(None, "closed"), False, False, True),  # type: ignore[arg-type]
        (EmptyPoolError(None, "empty"), False, False, True),  # type: ignore[arg-type]
        (SSLError("bad certificate"), False, False, False),
        (ReadTimeoutError(None, "/p", "read timed out"), True, True, True),  # type: ignore[arg-type]
        (ProtocolError("Connection aborted."), True, False, True),
        (OSError("other"), True, False, True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_failure_table(error: Exception, sent: bool, timeout: bool, retryable: bool) -> None:
    """Each urllib3 exception maps to whether it was sent, timed out and can be retried."""
    failure = _failure(error)
    assert (failure.sent, failure.timeout, failure.retryable) == (sent, timeout, retryable)


def test_tls_failure_is_not_retried_even_for_get() -> None:
    """An SSLError stops at once as a MaxRetryError that is also an APIConnectionError."""
    error = SSLError("certificate verify failed")
    with pytest.raises(MaxRetryError) as caught:
        Retry(POLICY).increment("GET", "/p", error=error, _pool=_pool())
    assert caught.value.reason is error
    assert isinstance(caught.value, errorkit.APIConnectionError)
    assert caught.value.__cause__ is error


# -- bodies and idempotency keys -----------------------------------------------------


def _gen() -> Iterator[bytes]:
    yield b"a"


def _started_gen() -> Iterator[bytes]:
    gen = _gen()
    next(gen)
    return gen


class _TellsButCannotSeek(io.RawIOBase):
    """A pipe-like body: ``tell()`` works, ``seekable()`` is False (as a urllib3 response)."""

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0


def _closed_file() -> io.BytesIO:
    closed = io.BytesIO(b"x")
    closed.close()
    return closed


@pytest.mark.parametrize(
    ("body", "body_pos", "replayable"),
    [
        (None, None, True),
        (b"bytes", None, True),
        ("text", None, True),
        (bytearray(b"x"), None, True),
        ([b"a", b"b"], None, True),
        (io.BytesIO(b"x"), 0, True),
        (io.BytesIO(b"x"), None, False),
        (_gen(), None, True),  # never started: the connection failed before the body
        (_started_gen(), None, False),
        (iter([b"a"]), None, False),
        (_TellsButCannotSeek(), 0, False),  # urllib3 would raise UnrewindableBodyError
        (_closed_file(), 0, False),  # seekable() raises ValueError
    ],
    ids=[
        "none",
        "bytes",
        "str",
        "bytearray",
        "list",
        "file-with-pos",
        "file-no-pos",
        "fresh-generator",
        "started-generator",
        "iterator",
        "tells-cannot-seek",
        "closed-file",
    ],
)
def test_body_replayable(body: object, body_pos: object, replayable: bool) -> None:
    """Only bodies urllib3 sends whole again count as replayable."""
    assert body_replayable(body, body_pos) is replayable


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (DEFAULT, (3.0, 7.0, 2.0)),  # the pool's default, clipped
        (None, (None, None, 2.0)),  # no timeout: the time left is the only bound
        (5.0, (5.0, 5.0, 2.0)),
        (urllib3.Timeout(connect=1.0, read=9.0, total=10.0), (1.0, 9.0, 2.0)),
        (urllib3.Timeout(total=0.5), (DEFAULT, DEFAULT, 0.5)),  # already shorter: kept
    ],
    ids=["pool-default", "none", "float", "timeout-total-longer", "timeout-total-shorter"],
)
def test_clipped_timeout_keeps_shorter_bounds(timeout: Any, expected: tuple[Any, ...]) -> None:
    """Each attempt's total is at most the time left; the caller's own values are kept."""
    default = urllib3.Timeout(connect=3.0, read=7.0)
    clipped = _clipped(timeout, default, 2.0)
    assert (clipped._connect, clipped._read, clipped.total) == expected
    assert default.total is None  # the pool's default is never changed
    connect = clipped.connect_timeout
    assert isinstance(connect, float)
    assert connect <= 2.0


def test_request_headers_adds_one_key_for_post() -> None:
    """With idempotency_key=True a POST gets a key; the caller's other headers are kept."""
    policy = RetryPolicy(idempotency_key=True)
    headers = request_headers(policy, "post", {"Accept": "application/json"})
    assert headers["Accept"] == "application/json"
    assert len(headers["Idempotency-Key"]) >= 16
    assert request_headers(policy, "POST")["Idempotency-Key"] != headers["Idempotency-Key"]


def test_request_headers_never_overwrites_nor_adds_needlessly() -> None:
    """A caller's key is kept, GET gets none, and a policy without the option adds none."""
    policy = RetryPolicy(idempotency_key=True)
    assert request_headers(policy, "POST", {"idempotency-key": "mine"}) == {
        "idempotency-key": "mine"
    }
    assert request_headers(policy, "GET") == {}
    assert request_headers(RetryPolicy(), "POST") == {}
