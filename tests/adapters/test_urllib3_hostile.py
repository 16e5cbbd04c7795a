"""`errorkit.urllib3` against hostile servers (issue 11), over real loopback sockets.

What is proved, per the review rows for urllib3:

- 1a-1d: errorkit's `PoolManager` holds the policy's deadline from the first send,
  with urllib3's ``timeout=None`` and with a longer one: a body dripped byte by
  byte, a head then a stall, a silent server and a slow 503 all end by the
  deadline in an `APITimeoutError` naming it; redirects, a blocked pool and a POST
  count against the same deadline, and a shorter timeout of the caller's is kept;
- 2a, 2b: a retried decompression bomb costs what one costs bare urllib3 when
  urllib3 preloads (decodes) bodies, and nothing when it does not, measured as
  the peak memory of the call in a fresh process;
- 7a: the request's own credentials (query and Authorization) are in nothing the
  caller gets: args, repr, str, attributes, pickle, cause, formatted traceback;
- M4: a body with ``tell()`` but no working ``seek()`` is never re-sent: the caller
  gets the first real outcome, not ``UnrewindableBodyError``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import time
import traceback
from typing import TYPE_CHECKING

import pytest
import urllib3
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError

import errorkit
from errorkit import RetryBudget, RetryPolicy
from errorkit.testing import (
    FaultServer,
    bomb,
    closed_port,
    drop,
    echo_request,
    respond,
    slow_body,
    stall,
)
from errorkit.urllib3 import PoolManager, Retry
from support.child import run_child

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from errorkit.testing._steps import Step

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
#: The deadline of the 1a-1d matrix, and the bound its calls must return within.
DEADLINE = 1.0
BOUND = 1.2
#: A shorter deadline for the other timing tests, and how far past it they may return.
SHORT = 0.5
SLACK = 0.2

Managers = list[urllib3.PoolManager]


@pytest.fixture
def managers() -> Iterator[Managers]:
    """PoolManagers a test appends to; all are cleared after it."""
    made: Managers = []
    yield made
    for manager in made:
        manager.clear()


def _pool(made: Managers, policy: RetryPolicy = FAST, **kwargs: object) -> PoolManager:
    manager = PoolManager(policy, **kwargs)  # type: ignore[arg-type]
    made.append(manager)
    return manager


def _timed(call: Callable[[], object]) -> tuple[object, BaseException | None, float]:
    """Run `call`: what it returned, what it raised (one of them is None), and how long."""
    start = time.monotonic()
    try:
        result = call()
    except Exception as exc:
        return None, exc, time.monotonic() - start
    return result, None, time.monotonic() - start


def _assert_cut_at_deadline(raised: BaseException | None, deadline: float) -> None:
    """The error of an attempt cut at the deadline: errorkit's and urllib3's, naming it."""
    assert isinstance(raised, errorkit.APITimeoutError), repr(raised)
    assert isinstance(raised, MaxRetryError)  # what urllib3 code already catches
    assert isinstance(raised.reason, ReadTimeoutError)
    assert f"policy deadline ({deadline:g} s)" in str(raised)


# -- 1a-1d: the deadline bounds the whole call, from the first send -------------------

HOSTILE: dict[str, list[Step]] = {
    # 40 bytes, one every half second: no read waits long, the body takes 20 s.
    "dripped-body": [slow_body(503, b"x" * 40, interval=0.5)],
    "headers-then-stall": [slow_body(503, b"{}", interval=math.inf)],
    "no-answer": [stall(3)],
    # The 503 comes at 0.9 s; the retry it allows is still waiting at the deadline.
    "slow-answer": [respond(503, {"Retry-After": "0"}, delay=0.9)],
}


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["timeout-none", "timeout-5s"])
@pytest.mark.parametrize("fault", sorted(HOSTILE))
def test_the_deadline_bounds_the_call_from_the_first_send(
    fault_server: FaultServer, managers: Managers, fault: str, timeout: float | None
) -> None:
    """deadline=1.0: back within 1.2 s, whatever the server does and urllib3's timeout."""
    fault_server.script("/h", HOSTILE[fault])
    http = _pool(managers, dataclasses.replace(FAST, deadline=DEADLINE))
    result, raised, elapsed = _timed(
        lambda: http.request("GET", fault_server.url("/h"), timeout=timeout)
    )
    assert elapsed < BOUND
    if fault == "slow-answer" and result is not None:
        # A loaded machine may see the first 503 too late for a retry: it is returned.
        assert isinstance(result, urllib3.BaseHTTPResponse)
        assert (result.status, fault_server.hits("/h")) == (503, 1)
        return
    _assert_cut_at_deadline(raised, DEADLINE)
    assert fault_server.hits("/h") == (2 if fault == "slow-answer" else 1)


def test_a_shorter_timeout_of_the_caller_is_kept(
    fault_server: FaultServer, managers: Managers
) -> None:
    """timeout=0.15 under a 1 s deadline: three read timeouts of 0.15 s, not one of 1 s."""
    fault_server.script("/s", [stall(3)])
    http = _pool(managers, dataclasses.replace(FAST, deadline=DEADLINE, max_attempts=3))
    _, raised, elapsed = _timed(lambda: http.request("GET", fault_server.url("/s"), timeout=0.15))
    assert isinstance(raised, errorkit.APITimeoutError)
    assert "read timeout" in str(raised)  # the caller's timeout ended it, not the deadline
    assert fault_server.hits("/s") == 3
    assert 0.45 <= elapsed < 0.45 + SLACK + 0.2


def test_a_redirect_counts_against_the_same_deadline(
    fault_server: FaultServer, managers: Managers
) -> None:
    """A 302 after 0.3 s, then a target that never answers: cut 0.5 s after the first send.

    A deadline started afresh for the target would end the call at 0.8 s.
    """
    fault_server.script("/from", [respond(302, {"Location": "/to"}, delay=0.3)])
    fault_server.script("/to", [stall(3)])
    http = _pool(managers, dataclasses.replace(FAST, deadline=SHORT))
    _, raised, elapsed = _timed(lambda: http.request("GET", fault_server.url("/from")))
    _assert_cut_at_deadline(raised, SHORT)
    assert elapsed < SHORT + SLACK
    assert (fault_server.hits("/from"), fault_server.hits("/to")) == (1, 1)


def test_waiting_for_a_pooled_connection_ends_at_the_deadline(
    fault_server: FaultServer, managers: Managers
) -> None:
    """maxsize=1, block=True, its connection held: the next request is never sent."""
    fault_server.script("/held", [respond(200, body=b"held")])
    fault_server.script("/next", [respond(200)])
    http = _pool(managers, dataclasses.replace(FAST, deadline=SHORT), maxsize=1, block=True)
    held = http.request("GET", fault_server.url("/held"), preload_content=False)
    try:
        _, raised, elapsed = _timed(lambda: http.request("GET", fault_server.url("/next")))
    finally:
        held.release_conn()
    assert isinstance(raised, errorkit.APITimeoutError)
    assert isinstance(raised, MaxRetryError)
    assert f"no time left before the policy deadline ({SHORT:g} s)" in str(raised)
    assert elapsed < SHORT + SLACK
    assert fault_server.hits("/next") == 0


def test_a_post_cut_at_the_deadline_raises_the_timeout_not_a_bare_read_error(
    fault_server: FaultServer, managers: Managers
) -> None:
    """A POST is never retried after it was sent, but its cut still ends in APITimeoutError."""
    fault_server.script("/p", [stall(3)])
    http = _pool(managers, dataclasses.replace(FAST, deadline=SHORT))
    _, raised, elapsed = _timed(lambda: http.request("POST", fault_server.url("/p"), body=b"{}"))
    _assert_cut_at_deadline(raised, SHORT)
    assert elapsed < SHORT + SLACK
    assert fault_server.hits("/p") == 1


@pytest.mark.parametrize("kind", ["PoolManager", "Retry"])
def test_an_unread_error_body_is_closed_not_drained_under_a_deadline(
    fault_server: FaultServer, managers: Managers, kind: str
) -> None:
    """preload_content=False, a 503 whose 40 bytes drip for 20 s: the retry does not wait."""
    fault_server.script("/d", [slow_body(503, b"x" * 40, interval=0.5), respond(200, body=b"ok")])
    policy = dataclasses.replace(FAST, deadline=DEADLINE)
    http = _pool(managers, policy) if kind == "PoolManager" else _plain(managers, policy)
    r = http.request("GET", fault_server.url("/d"), preload_content=False, timeout=5)
    assert (r.status, r.read()) == (200, b"ok")
    assert fault_server.hits("/d") == 2
    assert fault_server.connections_accepted == 2  # the 503's connection was dropped


def _plain(made: Managers, policy: RetryPolicy) -> urllib3.PoolManager:
    manager = urllib3.PoolManager(retries=Retry(policy))
    made.append(manager)
    return manager


def test_without_a_deadline_it_is_urllib3_with_errorkit_retries(
    fault_server: FaultServer, managers: Managers
) -> None:
    """503, 503, 200: retried as by Retry; retries=False on a call is urllib3's own."""
    fault_server.script("/r", [respond(503), respond(503), respond(200, body=b"ok")])
    http = _pool(managers)
    r = http.request("GET", fault_server.url("/r"), timeout=5)
    assert (r.status, r.data, fault_server.hits("/r")) == (200, b"ok", 3)
    assert isinstance(r.retries, Retry)
    assert r.retries.attempts == 2
    assert http.policy is FAST
    fault_server.script("/once", [respond(503)])
    assert http.request("GET", fault_server.url("/once"), retries=False).status == 503
    assert fault_server.hits("/once") == 1
    with pytest.raises(TypeError, match="retries"):
        PoolManager(FAST, retries=3)


def test_a_fast_answer_under_a_deadline_is_returned_whole(
    fault_server: FaultServer, managers: Managers
) -> None:
    """The deadline changes nothing for a server that answers: 503 then 200, body intact."""
    fault_server.script("/f", [respond(503), respond(200, body=b"x" * 100_000, chunked=4)])
    http = _pool(managers, dataclasses.replace(FAST, deadline=5.0))
    r = http.request("GET", fault_server.url("/f"))
    assert (r.status, r.data, fault_server.hits("/f")) == (200, b"x" * 100_000, 2)


@pytest.mark.parametrize("deadline", [None, 5.0], ids=["no-deadline", "deadline"])
def test_the_budget_counts_the_same_with_a_deadline(
    fault_server: FaultServer, managers: Managers, deadline: float | None
) -> None:
    """Stamping the start at the first send counts each request (and redirect hop) once."""
    budget = RetryBudget(min_per_second=100.0)
    fault_server.script("/a", [respond(503), respond(200)])
    fault_server.script("/b", [respond(200)])
    fault_server.script("/r", [respond(302, {"Location": "/b"})])
    http = _pool(managers, dataclasses.replace(FAST, budget=budget, deadline=deadline))
    for path in ("/a", "/b", "/r"):
        assert http.request("GET", fault_server.url(path)).status == 200
    stats = budget.stats()
    assert (stats.requests, stats.retries_allowed) == (4, 1)  # /r and /b are two requests


# -- 2a, 2b: bounded decompression ------------------------------------------------------

_SETUP = """
import urllib3
from errorkit import RetryBudget, RetryPolicy
from errorkit.urllib3 import PoolManager, Retry
POLICY = RetryPolicy(budget=None, max_attempts=2, initial_delay=0.01, max_delay=0.02)
CLIENTS = {
    "bare": urllib3.PoolManager(retries=False),
    "PoolManager": PoolManager(POLICY),
    "Retry": urllib3.PoolManager(retries=Retry(POLICY)),
}
"""
_CALL = """
r = CLIENTS[WHO].request("GET", URL, preload_content=PRELOAD, timeout=30)
RESULT = [r.status, len(r.data) if PRELOAD else None]
"""


def _peak(server: FaultServer, path: str, who: str, *, preload: bool) -> float:
    """Peak RSS growth (MiB) of one call by client `who`, in a fresh process."""
    before = server.hits(path)
    variables = {"URL": server.url(path), "WHO": who, "PRELOAD": preload}
    child = run_child(_CALL, setup=_SETUP, variables=variables, timeout=60)
    assert child.error is None, child.traceback
    assert isinstance(child.result, list)
    assert child.result[0] == 503
    assert server.hits(path) - before == (1 if who == "bare" else 2)
    return child.peak_growth_mb


@pytest.mark.parametrize(
    ("encoding", "decoded_mib"), [("gzip", 60), ("br", 64)], ids=["gzip-60MiB", "br-64MiB"]
)
def test_a_retried_preloaded_bomb_costs_what_one_costs_bare(
    fault_server: FaultServer, encoding: str, decoded_mib: int
) -> None:
    """preload_content=True decodes every attempt's body; errorkit holds one at a time.

    Bare urllib3 (one attempt) peaks at about twice the decoded size; two attempts
    under errorkit used to add a whole decoded body on top (the first attempt's,
    still referenced while the second preloaded).
    """
    fault_server.script("/bomb", bomb(encoding=encoding, decoded_bytes=decoded_mib << 20))
    bare = _peak(fault_server, "/bomb", "bare", preload=True)
    for who in ("PoolManager", "Retry"):
        assert _peak(fault_server, "/bomb", who, preload=True) < bare + decoded_mib / 2, who


@pytest.mark.parametrize(
    ("encoding", "decoded_mib"), [("gzip", 60), ("br", 1024)], ids=["gzip-60MiB", "br-1GiB"]
)
def test_a_retried_bomb_is_never_decoded_without_preload(
    fault_server: FaultServer, encoding: str, decoded_mib: int
) -> None:
    """preload_content=False: two attempts, nothing decoded by errorkit, well under 50 MB."""
    fault_server.script("/bomb", bomb(encoding=encoding, decoded_bytes=decoded_mib << 20))
    for who in ("PoolManager", "Retry"):
        assert _peak(fault_server, "/bomb", who, preload=False) < 50, who


# -- 7a: the request's own credentials ---------------------------------------------------

QUERY_WITH_KEYS = "?api_key=SECRET&sig=SECRET"
AUTH_HEADERS = {"Authorization": "Bearer SECRET"}


def _views(exc: BaseException, *, pickled: BaseException | None = None) -> dict[str, str]:
    """Every text a caller can get from `exc`; `pickled` is what is pickled (default `exc`)."""
    cause = exc.__cause__
    reason = getattr(exc, "reason", None)
    return {
        "args": repr(exc.args),
        "repr": repr(exc),
        "str": str(exc),
        "attributes": repr({k: v for k, v in vars(exc).items() if k != "response"}),
        "reason": f"{reason!r} {getattr(reason, 'url', '')!r} {getattr(reason, 'args', '')!r}",
        "cause": f"{cause!r} {cause} {getattr(cause, 'url', '')!r}",
        "traceback": "".join(traceback.format_exception(exc)),
        "pickle": pickle.dumps(exc if pickled is None else pickled).decode("latin-1"),
    }


def _leaks(views: dict[str, str]) -> list[str]:
    return [name for name, text in views.items() if "SECRET" in text]


@pytest.mark.parametrize("kind", ["PoolManager", "Retry"])
def test_no_secret_after_a_refused_connection(managers: Managers, kind: str) -> None:
    """A closed port: APIConnectionError / MaxRetryError, the query and header nowhere."""
    http = _pool(managers) if kind == "PoolManager" else _plain(managers, FAST)
    url = f"http://127.0.0.1:{closed_port()}/x{QUERY_WITH_KEYS}"
    with pytest.raises(errorkit.APIConnectionError) as caught:
        http.request("GET", url, headers=AUTH_HEADERS, timeout=2)
    assert isinstance(caught.value, MaxRetryError)
    assert _leaks(_views(caught.value)) == []


@pytest.mark.parametrize("kind", ["PoolManager", "Retry"])
def test_no_secret_in_a_read_error_raised_unwrapped(
    fault_server: FaultServer, managers: Managers, kind: str
) -> None:
    """A POST whose read stalls is not repeated: urllib3's ReadTimeoutError, scrubbed."""
    fault_server.script("/stall", [stall(3)])
    http = _pool(managers) if kind == "PoolManager" else _plain(managers, FAST)
    url = fault_server.url("/stall") + QUERY_WITH_KEYS
    with pytest.raises(ReadTimeoutError) as caught:
        http.request("POST", url, body=b"{}", headers=AUTH_HEADERS, timeout=0.3)
    assert not isinstance(caught.value, errorkit.APIError)  # urllib3's contract: unwrapped
    assert _leaks(_views(caught.value)) == []
    assert fault_server.hits("/stall") == 1


def test_no_secret_after_a_post_cut_at_the_deadline(
    fault_server: FaultServer, managers: Managers
) -> None:
    """The same POST under a deadline: the cut's APITimeoutError carries no secret either."""
    fault_server.script("/stall", [stall(3)])
    http = _pool(managers, dataclasses.replace(FAST, deadline=SHORT))
    url = fault_server.url("/stall") + QUERY_WITH_KEYS
    with pytest.raises(errorkit.APITimeoutError) as caught:
        http.request("POST", url, body=b"{}", headers=AUTH_HEADERS)
    assert _leaks(_views(caught.value)) == []


def _echoed_401(server: FaultServer, made: Managers) -> errorkit.APIError:
    server.script("/echo", [echo_request(401)])
    http = _pool(made, raise_on_status=True)
    with pytest.raises(errorkit.AuthenticationError) as caught:
        http.request("GET", server.url("/echo") + QUERY_WITH_KEYS, headers=AUTH_HEADERS)
    assert isinstance(caught.value, MaxRetryError)
    assert caught.value.info.body is not None  # the echo: the credentials, quoted back
    return caught.value


def test_no_secret_in_a_status_error_for_a_server_that_echoes_them(
    fault_server: FaultServer, managers: Managers
) -> None:
    """raise_on_status=True, a 401 quoting the request back: nothing but ErrorInfo.body has it.

    ``ErrorInfo.body`` keeps the server's data raw, for programs (its docstring);
    the pickle is checked without it here, and whole in the next test.
    """
    exc = _echoed_401(fault_server, managers)
    without_body = copy.copy(exc)
    without_body.info = dataclasses.replace(exc.info, body=None)
    assert _leaks(_views(exc, pickled=without_body)) == []
    assert "SECRET" in repr(exc.info.body)  # kept raw for programs in this process


def test_no_secret_in_the_pickle_of_a_status_error_for_an_echo(
    fault_server: FaultServer, managers: Managers
) -> None:
    """The whole pickle of the 401's exception, ErrorInfo included."""
    exc = _echoed_401(fault_server, managers)
    assert "SECRET" not in pickle.dumps(exc).decode("latin-1")


# -- M4: a body that tells but cannot seek -----------------------------------------------


@pytest.mark.parametrize("kind", ["PoolManager", "Retry"])
@pytest.mark.parametrize("fault", ["503", "dropped"])
def test_a_body_that_cannot_seek_is_never_resent(
    fault_server: FaultServer, managers: Managers, kind: str, fault: str
) -> None:
    """A urllib3 response uploaded as a PUT body: the first outcome, not UnrewindableBodyError."""
    fault_server.script("/src", [respond(200, body=b"payload")])
    fault_server.script("/up", [respond(503) if fault == "503" else drop(), respond(200)])
    source = urllib3.PoolManager(retries=False)
    managers.append(source)
    body = source.request("GET", fault_server.url("/src"), preload_content=False)
    assert body.tell() == 0
    assert not body.seekable()
    http = _pool(managers) if kind == "PoolManager" else _plain(managers, FAST)
    url = fault_server.url("/up")
    if fault == "503":
        r = http.request("PUT", url, body=body, timeout=5)
        assert r.status == 503
    else:
        with pytest.raises(ProtocolError):  # unwrapped: the request must not be repeated
            http.request("PUT", url, body=body, timeout=5)
    assert fault_server.hits("/up") == 1
    assert fault_server.requests("/up")[0].body == b"payload"
