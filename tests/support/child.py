"""Run a snippet of client code in a fresh Python process and measure it.

Peak memory is a property of a process, so a test that bounds what a client call
costs (a decompression bomb, a huge body) runs that call in a child: `run_child`
starts ``sys.executable`` with a prelude that runs `setup` (imports, clients), then
measures the snippet alone. It reports:

- ``peak_growth_mb``: the peak resident set size during the snippet minus the
  resident set size just before it, in MiB (2**20 bytes), so imports do not count.
  On Linux the peak is reset just before the snippet (``/proc/self/clear_refs``) and
  read from ``VmHWM``; elsewhere it is ``ru_maxrss``, so a peak reached during
  `setup` may show through.
- ``seconds``: the snippet's wall time.
- ``result``: what the snippet assigned to ``RESULT`` (JSON; anything else as repr).
- ``error``: ``repr()`` of the exception the snippet raised, or None.

The child imports errorkit from this checkout's ``src`` and the test helpers as
``support.*``; it is not measured for coverage (the coverage variables are removed
from its environment, so tracing inflates neither its time nor its memory).

    result = run_child(
        "RESULT = requests.get(URL, timeout=5).status_code",
        setup="import requests",
        variables={"URL": server.url("/bomb")},
    )
    assert result.error is None and result.peak_growth_mb < 50
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

_ROOT = Path(__file__).resolve().parents[2]
_PATHS = (_ROOT / "src", _ROOT / "tests")
_MARK = "@@errorkit-child-result@@"
_KILL_GRACE = 5.0  # how long to wait for the pipes to close after killing the child
_DROPPED_ENV_PREFIXES = ("COV_CORE_", "COVERAGE_")

_PRELUDE = f"""
import json, os, resource, sys, time, traceback
payload = json.loads(sys.stdin.read())
namespace = {{"__name__": "__child__", **payload["variables"]}}
exec(compile(payload["setup"], "<setup>", "exec"), namespace)

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20

def current_rss():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except OSError:
        return None

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False

def peak_rss(reset):
    if reset:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024

before = current_rss()
reset = before is not None and reset_peak()
if before is None:
    before = peak_rss(False)
error = error_type = trace = None
start = time.perf_counter()
try:
    exec(compile(payload["code"], "<snippet>", "exec"), namespace)
except BaseException as exc:
    error = repr(exc)
    error_type = f"{{type(exc).__module__}}.{{type(exc).__qualname__}}"
    trace = traceback.format_exc()
seconds = time.perf_counter() - start
peak = max(peak_rss(reset), before)
report = {{
    "peak_growth_mb": (peak - before) / MIB,
    "rss_before_mb": before / MIB,
    "peak_mb": peak / MIB,
    "seconds": seconds,
    "result": namespace.get("RESULT"),
    "error": error,
    "error_type": error_type,
    "traceback": trace,
    "peak_was_reset": reset,
}}
sys.stdout.flush()
print("\\n{_MARK}" + json.dumps(report, default=repr), flush=True)
"""


@dataclass(frozen=True, slots=True)
class ChildResult:
    """What one `run_child` call measured (see the module docstring)."""

    peak_growth_mb: float
    seconds: float
    result: object
    error: str | None
    error_type: str | None = None
    traceback: str | None = None
    rss_before_mb: float = 0.0
    peak_mb: float = 0.0
    peak_was_reset: bool = False
    stdout: str = ""
    stderr: str = ""


class ChildFailedError(AssertionError):
    """The child died, timed out or printed no report: the test fails with its output."""

    def __init__(self, message: str, *, pid: int, stdout: str, stderr: str) -> None:
        super().__init__(
            f"{message}\n--- child stdout ---\n{stdout}\n--- child stderr ---\n{stderr}"
        )
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr


class ChildTimeoutError(ChildFailedError):
    """The child ran past its timeout and was killed (with its whole process group)."""


def run_child(
    code: str,
    *,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    variables: Mapping[str, object] | None = None,
    setup: str = "",
) -> ChildResult:
    """Run `code` in a fresh interpreter after `setup`, with `variables` as globals.

    `variables` must be JSON values (a URL, a size). `env` is added to this process's
    environment. The child is killed, with every process it started, once `timeout`
    seconds pass; that raises `ChildTimeoutError`. A child that dies without a report
    raises `ChildFailedError`; an exception in `setup` counts as dying. An exception
    in `code` is reported in `ChildResult.error`, not raised.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0, got {timeout!r}")
    names = dict(variables or {})
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"variable names must be identifiers, got {name!r}")
    payload = json.dumps({"code": code, "setup": setup, "variables": names})
    with subprocess.Popen(
        [sys.executable, "-c", _PRELUDE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
        env=_child_env(env),
        start_new_session=True,  # its own process group, so a kill reaches grandchildren
    ) as child:
        try:
            stdout, stderr = child.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            stdout, stderr = _leftovers(child)
            raise ChildTimeoutError(
                f"child {child.pid} ran past its {timeout} s timeout and was killed",
                pid=child.pid,
                stdout=stdout,
                stderr=stderr,
            ) from None
    head, mark, report = stdout.rpartition(_MARK)
    if not mark or child.returncode != 0:
        raise ChildFailedError(
            f"child {child.pid} exited with {child.returncode} and no report",
            pid=child.pid,
            stdout=stdout,
            stderr=stderr,
        )
    fields = json.loads(report)
    return ChildResult(**fields, stdout=head.removesuffix("\n"), stderr=stderr)


def _child_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_DROPPED_ENV_PREFIXES)
    }
    paths = [str(path) for path in _PATHS]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def _kill_group(child: subprocess.Popen[str]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended in between
        pass
    except (AttributeError, PermissionError):  # pragma: no cover - no process groups
        child.kill()


def _leftovers(child: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        stdout, stderr = child.communicate(timeout=_KILL_GRACE)
    except subprocess.TimeoutExpired:  # pragma: no cover - a pipe held open elsewhere
        return "", "(the child's pipes stayed open after the kill)"
    return stdout or "", stderr or ""
