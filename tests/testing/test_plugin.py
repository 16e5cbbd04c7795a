"""The pytest plugin, exercised through pytester: fixtures, marker and configuration."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

# hypothesis's plugin would re-import hypothesis (about 1 s) in every inner run.
ARGS = ("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest", "-q")

# Inner tests use urllib only: pytester's in-process runs restore sys.modules between
# runs, and a re-imported requests or httpx no longer matches its own classes.
HELPER = """
import urllib.error, urllib.request

def status(url, data=None):
    try:
        with urllib.request.urlopen(url, data=data, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
"""


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester with an ini pinning pytest-asyncio's loop scope, and an urllib helper."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(inner_helper=HELPER)
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*ARGS, *args)


def test_fault_server_is_clean_per_test_and_shared_per_session(pytester: pytest.Pytester) -> None:
    """Two tests get the same running server (one port) with no script or record leaking."""
    pytester.makepyfile(
        """
        from errorkit.testing import respond
        from inner_helper import status

        PORTS = []

        def test_first(fault_server):
            PORTS.append(fault_server.port)
            fault_server.script("/p", [respond(201)])
            assert status(fault_server.url("/p")) == 201
            assert fault_server.hits("/p") == 1

        def test_second(fault_server, fault_server_session):
            assert fault_server is fault_server_session
            PORTS.append(fault_server.port)
            assert fault_server.hits() == 0
            assert fault_server.connections_accepted == 0
            assert status(fault_server.url("/p")) == 404
            assert PORTS[0] == PORTS[1]
        """
    )
    _run(pytester).assert_outcomes(passed=2)


def test_marker_scripts_the_server(pytester: pytest.Pytester) -> None:
    """`fault_script` markers script paths (list or varargs form, per method), and the
    test's own marker wins over a class marker for the same path."""
    pytester.makepyfile(
        """
        import pytest
        from errorkit.testing import respond
        from inner_helper import status

        @pytest.mark.fault_script("/a", [respond(503), respond(200)])
        @pytest.mark.fault_script("/b", respond(201), respond(202))
        @pytest.mark.fault_script("/c", steps=[respond(204)], method="POST")
        def test_declared(fault_server):
            get = lambda p: status(fault_server.url(p))
            assert [get("/a"), get("/a"), get("/b"), get("/b")] == [503, 200, 201, 202]
            assert status(fault_server.url("/c"), data=b"x") == 204
            assert get("/c") == 404

        @pytest.mark.fault_script("/x", [respond(500)])
        class TestOverride:
            @pytest.mark.fault_script("/x", [respond(299)])
            def test_closest_wins(self, fault_server):
                assert status(fault_server.url("/x")) == 299

            def test_class_marker(self, fault_server):
                assert status(fault_server.url("/x")) == 500
        """
    )
    _run(pytester, "--strict-markers").assert_outcomes(passed=3)


def test_marker_misuse_is_an_error(pytester: pytest.Pytester) -> None:
    """A fault_script marker without steps errors the test with the usage text."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.fault_script("/only-a-path")
        def test_bad(fault_server):
            pass
        """
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fault_script(path, steps, method=None)*"])


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    """`pytest --markers` lists fault_script, so --strict-markers accepts it."""
    result = _run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.fault_script(path, steps, method=None)*"])


def test_config_fixture_can_be_overridden_in_conftest(pytester: pytest.Pytester) -> None:
    """A session-scoped `fault_server_config` in conftest.py configures the server."""
    pytester.makeconftest(
        """
        import pytest
        from errorkit.testing import FaultServerConfig, respond

        @pytest.fixture(scope="session")
        def fault_server_config():
            return FaultServerConfig(max_body_bytes=10, default=respond(418))
        """
    )
    pytester.makepyfile(
        """
        from inner_helper import status

        def test_configured(fault_server):
            assert fault_server.config.max_body_bytes == 10
            assert status(fault_server.url("/any")) == 418
            assert status(fault_server.url("/any"), data=b"x" * 11) == 413
        """
    )
    _run(pytester).assert_outcomes(passed=1)


def test_instant_waits_fixture_restores_the_clock(pytester: pytest.Pytester) -> None:
    """The `instant_waits` fixture records waits in its test and restores the clock after,
    even when the test fails."""
    pytester.makepyfile(
        """
        import time
        from errorkit._clock import CLOCK

        def test_waits(instant_waits):
            start = time.monotonic()
            CLOCK.sleep(60)
            assert time.monotonic() - start < 0.5
            assert instant_waits.delays == [60]
            assert instant_waits.total == 60

        def test_failing_test_still_restores(instant_waits):
            raise RuntimeError("boom")

        def test_after():
            assert CLOCK.sleep is time.sleep
            assert CLOCK.monotonic is time.monotonic
        """
    )
    _run(pytester).assert_outcomes(passed=2, failed=1)


def test_async_tests_can_use_the_fixtures(pytester: pytest.Pytester) -> None:
    """An asyncio test talks to fault_server over asyncio streams while instant_waits
    makes its waits instant."""
    pytester.makepyfile(
        """
        import asyncio, time
        import pytest
        from errorkit._clock import CLOCK
        from errorkit.testing import respond

        async def get_status(server, path):
            reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(f"GET {path} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n".encode())
            line = await asyncio.wait_for(reader.readline(), 2)
            writer.close()
            await writer.wait_closed()
            return int(line.split()[1])

        @pytest.mark.asyncio
        @pytest.mark.fault_script("/a", [respond(503), respond(200)])
        async def test_async(fault_server, instant_waits):
            start = time.monotonic()
            first = await get_status(fault_server, "/a")
            await CLOCK.asleep(5)
            second = await get_status(fault_server, "/a")
            assert (first, second) == (503, 200)
            assert instant_waits.delays == [5]
            assert time.monotonic() - start < 2
        """
    )
    _run(pytester).assert_outcomes(passed=1)


def test_session_server_threads_are_gone_after_the_run(pytester: pytest.Pytester) -> None:
    """After an inner session, none of the session server's threads remain."""
    pytester.makepyfile(
        """
        def test_uses(fault_server):
            assert fault_server.running
        """
    )

    def server_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("errorkit-faultserver")}

    before = server_threads()  # this outer session's own server may already run
    _run(pytester).assert_outcomes(passed=1)
    assert server_threads() <= before


def test_toolkit_imports_neither_pytest_nor_the_plugin() -> None:
    """`import errorkit.testing` in a fresh interpreter loads no pytest and no plugin."""
    code = (
        "import sys, errorkit.testing\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pytest', '_pytest'))"
        " or m.endswith('pytest_plugin')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
