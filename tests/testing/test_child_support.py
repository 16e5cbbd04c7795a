"""`support.child.run_child`: measuring a snippet in a fresh process, bounded in time."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from errorkit.testing import FaultServer, respond
from support.child import ChildFailedError, ChildTimeoutError, run_child

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    """Whether `pid` has ended (a zombie waiting for a reaper counts as ended)."""
    try:
        with Path(f"/proc/{pid}/stat").open() as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:  # pragma: no cover - no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def test_peak_growth_of_a_100_mib_allocation_is_about_100_mib() -> None:
    """Touching 100 MiB in the snippet shows as about 100 MiB of peak growth."""
    result = run_child("data = b'\\x01' * (100 << 20)\nRESULT = len(data)")
    assert result.error is None
    assert result.result == 100 << 20
    assert 95 <= result.peak_growth_mb <= 115
    assert result.peak_mb >= result.rss_before_mb + 95


def test_a_peak_freed_before_the_end_still_counts() -> None:
    """The peak is a high-water mark: memory freed inside the snippet still shows."""
    result = run_child("data = b'\\x01' * (60 << 20)\ndel data\nRESULT = 'freed'")
    assert result.result == "freed"
    assert 55 <= result.peak_growth_mb <= 75


def test_setup_and_imports_do_not_count() -> None:
    """What `setup` imports and allocates happens before the measurement starts."""
    result = run_child(
        "RESULT = len(kept)",
        setup="import errorkit, requests, httpx\nkept = b'\\x01' * (50 << 20)",
    )
    assert result.error is None
    assert result.result == 50 << 20
    assert result.peak_growth_mb < 5
    assert result.rss_before_mb > 50


def test_variables_reach_the_snippet_and_a_client_call_is_measured() -> None:
    """`variables` are the snippet's globals: here a FaultServer URL the child calls."""
    with FaultServer() as server:
        server.script("/v1/x", respond(503, body={"error": "busy"}))
        result = run_child(
            "RESULT = urllib3.request('GET', URL, retries=False).status",
            setup="import urllib3",
            variables={"URL": server.url("/v1/x")},
        )
        assert server.hits("/v1/x") == 1
    assert result.error is None
    assert result.result == 503
    assert 0 <= result.seconds < 5
    assert result.peak_growth_mb < 10


def test_a_snippet_exception_is_reported_not_raised() -> None:
    """An exception in the snippet comes back as its repr, type and traceback."""
    result = run_child("RESULT = 'partial'\nraise ValueError('boom: 42')")
    assert result.error == "ValueError('boom: 42')"
    assert result.error_type == "builtins.ValueError"
    assert result.traceback is not None
    assert "<snippet>" in result.traceback
    assert result.result == "partial"


def test_the_snippet_output_and_odd_results_are_kept() -> None:
    """What the snippet prints is kept apart from the report; non-JSON results are repr'd."""
    result = run_child("print('hello')\nimport sys\nprint('warn', file=sys.stderr)\nRESULT = {1}")
    assert result.stdout == "hello\n"
    assert "warn" in result.stderr
    assert result.result == "{1}"


def test_the_child_imports_this_checkout_and_the_test_helpers() -> None:
    """PYTHONPATH gives the child ``src`` (errorkit) and ``tests`` (``support.*``)."""
    result = run_child("import errorkit, support.child\nRESULT = errorkit.__file__")
    assert result.error is None
    assert isinstance(result.result, str)
    assert Path(result.result).is_relative_to(ROOT / "src")


def test_env_is_added_and_coverage_variables_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """`env` reaches the child; coverage's subprocess variables do not."""
    monkeypatch.setenv("COV_CORE_SOURCE", "errorkit")
    monkeypatch.setenv("COVERAGE_PROCESS_START", "pyproject.toml")
    result = run_child(
        "import os\nRESULT = [os.environ.get(n) for n in NAMES]",
        env={"ERRORKIT_CHILD_TEST": "1"},
        variables={"NAMES": ["ERRORKIT_CHILD_TEST", "COV_CORE_SOURCE", "COVERAGE_PROCESS_START"]},
    )
    assert result.result == ["1", None, None]


def test_a_timeout_kills_the_child_and_its_children() -> None:
    """Past `timeout` the whole process group is killed and the test fails clearly."""
    code = (
        "import subprocess, sys, time\n"
        "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(grandchild.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    with pytest.raises(ChildTimeoutError, match=r"ran past its 1\.5 s timeout") as caught:
        run_child(code, timeout=1.5)
    assert time.monotonic() - start < 5
    grandchild = int(caught.value.stdout.split()[0])
    for _ in range(200):  # bounded: the kill is immediate; reaping may take a moment
        if _gone(caught.value.pid) and _gone(grandchild):
            break
        time.sleep(0.01)
    assert _gone(caught.value.pid)
    assert _gone(grandchild)


def test_a_child_that_dies_fails_with_its_output() -> None:
    """A child that exits without a report (or fails in setup) raises with its stderr."""
    with pytest.raises(ChildFailedError, match="exited with 3 and no report"):
        run_child("import os\nos._exit(3)")
    with pytest.raises(ChildFailedError, match="ZeroDivisionError"):
        run_child("RESULT = 1", setup="1 / 0")


def test_bad_arguments_are_refused() -> None:
    """A timeout must be positive and variable names identifiers."""
    with pytest.raises(ValueError, match="timeout"):
        run_child("pass", timeout=0)
    with pytest.raises(ValueError, match="identifiers"):
        run_child("pass", variables={"not a name": 1})


def test_the_child_runs_this_interpreter() -> None:
    """The child is `sys.executable`, so it sees the same installed stacks."""
    assert run_child("import sys\nRESULT = sys.executable").result == sys.executable
