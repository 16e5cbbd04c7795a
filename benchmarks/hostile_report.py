"""Issue 11's before/after table: errorkit against hostile servers, stack by stack.

    python benchmarks/hostile_report.py [--src DIR] [--only deadline,bombs,secrets,text]
        [--json out.json] > report.md

A runner, not a test. The `FaultServer` always comes from this repository's
``src`` (an old checkout may lack ``bomb()`` and friends) and runs in this
process, with a stall limit of 3 s as in the outside review, so a call that
waits for the server reads about 3 s (or a multiple of it when retried). Each
call runs in a fresh child process (this file again, with ``--child``) whose
``PYTHONPATH`` is exactly `--src`, so the same script measures an old checkout
(errorkit's urllib3 client is ``errorkit.urllib3.PoolManager`` where that name
exists, else ``urllib3.PoolManager(retries=Retry(policy))``):

    git -C . worktree add /tmp/old 1e335f2
    python benchmarks/hostile_report.py --src /tmp/old/src > /tmp/hostile_before.md

The child builds the client first, then measures the call alone: its wall time
and its peak resident set growth (``/proc/self/clear_refs`` resets the peak,
``VmHWM`` reads it, as ``tests/support/child.py`` does). The calls leave the
body unread where the stack lets them (requests ``stream=True``, urllib3
``preload_content=False``, httpx ``client.stream()``, aiohttp without
``read()``); requests ``stream=False`` and urllib3 ``preload_content=True`` read
it, as their users get it. Stacks and modes are the columns; the groups:

* deadline: ``RetryPolicy(max_attempts=3, deadline=1.0)``; the figure is the
  seconds past the deadline and what the caller got. Target: <= 0.2 s.
* bombs: ``RetryPolicy(max_attempts=2, initial_delay=0.01)`` with
  ``raise_for_status`` (urllib3: ``raise_on_status``), beside the bare client;
  the figure is the call's peak growth. Target: < 50 MB, or no more than the
  bare client + 5 MB where the bare client decodes the whole body itself. Two
  bomb children run at once (peak memory is per process).
* secrets: credentials in the query and headers, against a closed port and a
  401 that echoes them back; the figure is how many of the six secrets appear
  in what errorkit writes or keeps (``str``, ``repr``, ``args``, the pickle, the
  formatted traceback, the ``errorkit`` logger at DEBUG, ``RetryEvent`` reprs,
  and ``errorkit explain`` of the echoed body, text and ``--json``). Target: 0.
  ``ErrorInfo.body`` and ``details`` keep the server's data raw for programs, as
  documented: what they hold is shown apart and not counted, and the pickle is
  searched with them left out.
* text: a 503 whose message holds a lone surrogate, a newline, ESC and U+202E;
  whether printing ``str(exc)`` to an ASCII stream or logging it to a strict
  UTF-8 stream raises, and whether ``str(exc)`` keeps a raw control. Target: no.

Every child has a hard timeout (it is killed with its process group) and the
whole run a budget of about 5 minutes: what the budget leaves out is marked
"not run". Progress goes to stderr, the Markdown to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import logging
import math
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, is_dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from errorkit import RetryPolicy
    from errorkit.testing import FaultServer, Step

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 1.0
DEADLINE_SLACK = 0.2
BOMB_LIMIT_MB = 50.0
BARE_SLACK_MB = 5.0
STALL_LIMIT = 3.0
STACK_TIMEOUT = 5.0  # each stack's own connect and read timeout: longer than the deadline
RUN_BUDGET = 285.0  # seconds for the whole run
BOMB_JOBS = 2  # bomb children run at once (peak memory is per process; 2 cores)
KILL_GRACE = 5.0
MIB = 1 << 20

SECRETS = tuple(f"SECRET{n}" for n in range(1, 7))
SECRET_QUERY = "?api_key=SECRET1&sig=SECRET2&subscription-key=SECRET3"  # noqa: S105 - fake
SECRET_HEADERS = {
    "Authorization": "Bearer SECRET4",
    "X-Api-Key": "SECRET5",
    "Cookie": "session=SECRET6",
}
HOSTILE_MESSAGE = "bad \ud800 input\nERROR forged log line \x1b[31mred\x1b[0m \u202eevil"
STACK_DISTRIBUTIONS = ("requests", "urllib3", "httpx", "httpcore", "aiohttp", "brotli", "zstandard")
GROUPS = ("deadline", "bombs", "secrets", "text")
RUN_ORDER = ("text", "secrets", "deadline", "bombs")

_MARK = "@@hostile-report@@"
_DROPPED_ENV_PREFIXES = ("COV_CORE_", "COVERAGE_")


class Job(TypedDict):
    """What one child does: one call of one stack, with or without errorkit."""

    kind: str  # "deadline", "bomb", "secrets" or "text": what is analysed after the call
    stack: str  # "requests", "urllib3", "httpx", "httpx-async" or "aiohttp"
    stream: bool  # leave the body unread: requests stream=True, urllib3 preload_content=False
    errorkit: bool
    policy: dict[str, Any]  # RetryPolicy keyword arguments
    raise_for_status: bool
    url: str
    headers: dict[str, str]
    marker: str  # text of the server's message: str(exc) shows it when errorkit read the body


# -- the child: one call, measured ---------------------------------------------------------


@dataclass
class Client:
    call: Callable[[], int]  # one request; returns the status
    close: Callable[[], None]
    label: str  # what was built, e.g. "urllib3.PoolManager(retries=Retry)"


class Capture(logging.Handler):
    """Every record it handles, formatted, and each error writing it to a strict UTF-8 stream.

    The stream stands for a log file: a record that cannot be written there is what
    a ``StreamHandler`` reports as "--- Logging error ---".
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
        self.lines: list[str] = []
        self.write_errors: list[str] = []
        self.events: list[str] = []  # repr() of each RetryEvent errorkit handed to on_retry

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            self.lines.append(line)
            self.stream.write(line + "\n")
            self.stream.flush()
        except Exception as exc:
            self.write_errors.append(type(exc).__name__)

    def on_retry(self, event: object) -> None:
        self.events.append(repr(event))


@dataclass
class Measured:
    seconds: float
    peak_growth_mb: float
    status: int | None
    error: Exception | None


def child_main() -> None:
    job: Job = json.loads(sys.stdin.read())
    capture = Capture()
    errorkit_logger = logging.getLogger("errorkit")
    errorkit_logger.addHandler(capture)
    errorkit_logger.setLevel(logging.DEBUG)
    policy = _policy(job, capture) if job["errorkit"] else None
    client = CLIENTS[job["stack"]](job, policy)
    try:
        measured = _measure(client.call)
        report: dict[str, Any] = {
            "seconds": measured.seconds,
            "peak_growth_mb": measured.peak_growth_mb,
            "status": measured.status,
            "error_type": None if measured.error is None else _error_name(measured.error),
            "client": client.label,
            "errorkit": job["errorkit"],
        }
        report.update(ANALYSES[job["kind"]](job, measured.error, capture))
    finally:
        client.close()
    sys.stdout.write(f"\n{_MARK}{json.dumps(report)}\n")


def _policy(job: Job, capture: Capture) -> RetryPolicy:
    from errorkit import RetryPolicy

    return RetryPolicy(**job["policy"], on_retry=capture.on_retry)


def _measure(call: Callable[[], int]) -> Measured:
    gc.collect()
    before = _rss()
    reset = _reset_peak()
    status: int | None = None
    error: Exception | None = None
    start = time.perf_counter()
    try:
        status = call()
    except Exception as exc:
        error = exc
    seconds = time.perf_counter() - start
    peak = max(_peak_rss(reset), before)
    return Measured(seconds, (peak - before) / MIB, status, error)


def _rss() -> int:
    try:
        with Path("/proc/self/statm").open() as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return _peak_rss(reset=False)


def _reset_peak() -> bool:
    try:
        with Path("/proc/self/clear_refs").open("w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _peak_rss(reset: bool) -> int:
    if reset:
        with Path("/proc/self/status").open() as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def _error_name(exc: BaseException) -> str:
    """The errorkit class the caller would catch, else the stack's own class."""
    errorkit = sys.modules.get("errorkit")
    for cls in type(exc).__mro__:
        name: str = cls.__name__
        if errorkit is not None and getattr(errorkit, name, None) is cls:
            return name
    cls = type(exc)
    return f"{cls.__module__.partition('.')[0]}.{cls.__qualname__}"


# The clients: built before the measured call, one call each.


def _requests_client(job: Job, policy: RetryPolicy | None) -> Client:
    import requests

    session = requests.Session()
    label = "requests.Session"
    if policy is not None:
        from errorkit.requests import RetryAdapter

        session.mount("http://", RetryAdapter(policy, raise_for_status=job["raise_for_status"]))
        label += " + RetryAdapter"

    def call() -> int:
        response = session.get(
            job["url"], headers=job["headers"], timeout=STACK_TIMEOUT, stream=job["stream"]
        )
        response.close()
        return response.status_code

    return Client(call, session.close, label)


def _urllib3_client(job: Job, policy: RetryPolicy | None) -> Client:
    import urllib3

    if policy is None:
        http, label = urllib3.PoolManager(), "urllib3.PoolManager"
    else:
        import errorkit.urllib3

        pool_manager = getattr(errorkit.urllib3, "PoolManager", None)  # issue 11 adds it
        if pool_manager is not None:
            http = pool_manager(policy, raise_on_status=job["raise_for_status"])
            label = "errorkit.urllib3.PoolManager"
        else:
            retry = errorkit.urllib3.Retry(policy, raise_on_status=job["raise_for_status"])
            http, label = urllib3.PoolManager(retries=retry), "urllib3.PoolManager(retries=Retry)"

    def call() -> int:
        response = http.request(
            "GET",
            job["url"],
            headers=job["headers"],
            preload_content=not job["stream"],
            timeout=STACK_TIMEOUT,
        )
        response.close()
        return response.status

    return Client(call, http.clear, label)


def _httpx_client(job: Job, policy: RetryPolicy | None) -> Client:
    import httpx

    transport = None
    if policy is not None:
        from errorkit.httpx import RetryTransport

        transport = RetryTransport(policy, raise_for_status=job["raise_for_status"])
    client = httpx.Client(transport=transport, timeout=STACK_TIMEOUT)

    def call() -> int:
        with client.stream("GET", job["url"], headers=job["headers"]) as response:
            return response.status_code

    return Client(call, client.close, "httpx.Client.stream")


def _httpx_async_client(job: Job, policy: RetryPolicy | None) -> Client:
    import httpx

    transport = None
    if policy is not None:
        from errorkit.httpx import AsyncRetryTransport

        transport = AsyncRetryTransport(policy, raise_for_status=job["raise_for_status"])
    client = httpx.AsyncClient(transport=transport, timeout=STACK_TIMEOUT)
    loop = asyncio.new_event_loop()

    async def send() -> int:
        async with client.stream("GET", job["url"], headers=job["headers"]) as response:
            return response.status_code

    def close() -> None:
        loop.run_until_complete(client.aclose())
        loop.close()

    return Client(lambda: loop.run_until_complete(send()), close, "httpx.AsyncClient.stream")


def _aiohttp_client(job: Job, policy: RetryPolicy | None) -> Client:
    import aiohttp

    loop = asyncio.new_event_loop()

    async def open_session() -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=STACK_TIMEOUT, sock_read=STACK_TIMEOUT
        )
        if policy is None:
            return aiohttp.ClientSession(timeout=timeout)
        from errorkit.aiohttp import RetryMiddleware

        retry = RetryMiddleware(policy, raise_for_status=job["raise_for_status"])
        return aiohttp.ClientSession(timeout=timeout, middlewares=(retry,))

    session = loop.run_until_complete(open_session())

    async def send() -> int:
        async with session.get(job["url"], headers=job["headers"]) as response:
            return response.status

    def close() -> None:
        loop.run_until_complete(session.close())
        loop.close()

    return Client(lambda: loop.run_until_complete(send()), close, "aiohttp.ClientSession")


CLIENTS: dict[str, Callable[[Job, RetryPolicy | None], Client]] = {
    "requests": _requests_client,
    "urllib3": _urllib3_client,
    "httpx": _httpx_client,
    "httpx-async": _httpx_async_client,
    "aiohttp": _aiohttp_client,
}


# What each kind of job looks at after the call.


def _no_analysis(job: Job, error: Exception | None, capture: Capture) -> dict[str, Any]:
    return {}


def _deadline_analysis(job: Job, error: Exception | None, capture: Capture) -> dict[str, Any]:
    return {"names_deadline": error is not None and "deadline" in str(error).lower()}


def _secrets_analysis(job: Job, error: Exception | None, capture: Capture) -> dict[str, Any]:
    channels = {
        "log": "\n".join(capture.lines),
        "RetryEvent": "\n".join(capture.events),
    }
    kept = ""
    notes: list[str] = []
    if error is None:
        notes.append("no exception")
    else:
        channels.update(
            str=str(error),
            repr=repr(error),
            args=repr(error.args),
            traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
        )
        try:
            channels["pickle"], kept = _pickled(error)
        except Exception as exc:
            notes.append(f"does not pickle ({type(exc).__name__})")
    return {
        "found": secrets_in(channels),
        "kept_raw": sorted(secret for secret in SECRETS if secret in kept),
        "shows_message": error is not None and job["marker"] in str(error),
        "notes": notes,
    }


def _pickled(error: Exception) -> tuple[str, str]:
    """The pickle of `error` without its ErrorInfo's body and details, and theirs apart.

    `ErrorInfo.body` and `details` keep the server's data raw, for programs (as its
    docstring says), and a pickled exception carries its `info`: what they hold is
    told apart from what the rest of the exception keeps.
    """
    info = getattr(error, "info", None)
    if not is_dataclass(info) or isinstance(info, type):
        return pickle.dumps(error).decode("latin-1"), ""
    raw = pickle.dumps((getattr(info, "body", None), getattr(info, "details", ())))
    setattr(error, "info", replace(info, body=None, details=()))  # noqa: B010
    try:
        return pickle.dumps(error).decode("latin-1"), raw.decode("latin-1")
    finally:
        setattr(error, "info", info)  # noqa: B010


def _text_analysis(job: Job, error: Exception | None, capture: Capture) -> dict[str, Any]:
    if error is None:
        return {"notes": ["no exception"]}
    app = logging.getLogger("hostile_report.app")  # the caller's own logger
    app.addHandler(capture)
    app.setLevel(logging.DEBUG)
    app.propagate = False
    app.error("request failed: %s", error)
    app.error("request failed", exc_info=error)
    ascii_stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    print_error = None
    try:
        print(error, file=ascii_stream)
        ascii_stream.flush()
    except Exception as exc:
        print_error = type(exc).__name__
    text = str(error)
    raw = sorted({f"U+{ord(char):04X}" for char in text if not char.isprintable()})
    return {
        "print_error": print_error,
        "log_errors": capture.write_errors,
        "raw_controls": raw,
        "shows_message": job["marker"] in text,
        "notes": [],
    }


ANALYSES: dict[str, Callable[[Job, Exception | None, Capture], dict[str, Any]]] = {
    "deadline": _deadline_analysis,
    "bomb": _no_analysis,
    "secrets": _secrets_analysis,
    "text": _text_analysis,
}


def secrets_in(channels: dict[str, str]) -> dict[str, list[str]]:
    """For each channel that shows any, the SECRETn strings found in it."""
    found = {name: [s for s in SECRETS if s in text] for name, text in channels.items()}
    return {name: secrets for name, secrets in found.items() if secrets}


# -- the parent: the server, the children, the tables --------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    stack: str
    stream: bool = False

    @property
    def bare_decodes(self) -> bool:
        """Whether the bare client decodes the whole body of the response it returns."""
        return self.stack in {"requests", "urllib3"} and not self.stream


COLUMNS = (
    Column("requests", "requests", "requests"),
    Column("requests-stream", "requests stream=True", "requests", stream=True),
    Column("urllib3", "urllib3 preload", "urllib3"),
    Column("urllib3-stream", "urllib3 preload=False", "urllib3", stream=True),
    Column("httpx", "httpx", "httpx"),
    Column("httpx-async", "httpx async", "httpx-async"),
    Column("aiohttp", "aiohttp", "aiohttp"),
)


@dataclass
class Cell:
    text: str
    passed: bool | None  # None: no target (a bare client) or not measured
    data: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        verdict = {True: "PASS ", False: "FAIL ", None: ""}[self.passed]
        return (verdict + self.text).replace("|", "\\|")


@dataclass
class Row:
    case: str
    label: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Group:
    name: str
    title: str
    note: str
    columns: list[tuple[str, str]]  # (key, title)
    rows: list[Row] = field(default_factory=list)


@dataclass
class Outcome:
    """A child's report, or why there is none."""

    report: dict[str, Any] | None = None
    problem: str | None = None
    skipped: bool = False  # the run budget was spent before it started


class Runner:
    """Runs the children against `src`, inside one budget for the whole run."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.started = time.monotonic()
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_DROPPED_ENV_PREFIXES)
        }
        self.env["PYTHONPATH"] = str(src)
        self.env["PYTHONIOENCODING"] = "utf-8"

    def left(self) -> float:
        return RUN_BUDGET - (time.monotonic() - self.started)

    def child(self, job: Job, timeout: float) -> Outcome:
        """Run `job` in a fresh child of this file."""
        limit = min(timeout, self.left())
        if limit < 1:
            return Outcome(problem="not run (run budget spent)", skipped=True)
        args = [sys.executable, str(Path(__file__).resolve()), "--child"]
        code, stdout, stderr = self.command(args, json.dumps(job), limit)
        if code is None:
            return Outcome(problem=f"killed after {limit:.0f} s")
        _, mark, report = stdout.rpartition(_MARK)
        if not mark or code != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            return Outcome(problem=f"child failed: {last[:120]}")
        return Outcome(report=json.loads(report))

    def command(
        self, args: Sequence[str], stdin: str, timeout: float
    ) -> tuple[int | None, str, str]:
        """(exit code or None when killed at `timeout`, stdout, stderr) of `args`."""
        with subprocess.Popen(  # noqa: S603 - sys.executable with this script's own arguments
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            errors="replace",
            env=self.env,
            start_new_session=True,  # its own process group, so the kill reaches all of it
        ) as child:
            try:
                stdout, stderr = child.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # it ended in between
                    os.killpg(child.pid, signal.SIGKILL)
                stdout, stderr = child.communicate(timeout=KILL_GRACE)
                return None, stdout or "", stderr or ""
        return child.returncode, stdout, stderr


def _job(kind: str, column: Column, url: str, **settings: Any) -> Job:
    """A `Job` for `column`; `settings` override the defaults (errorkit's default policy)."""
    defaults: dict[str, Any] = {
        "kind": kind,
        "stack": column.stack,
        "stream": column.stream,
        "errorkit": True,
        "policy": {},
        "raise_for_status": False,
        "url": url,
        "headers": {},
        "marker": "",
    }
    return cast("Job", {**defaults, **settings})


def _progress(group: str, case: str, column: str, outcome: Outcome) -> None:
    if outcome.report is None:
        shown = outcome.problem
    else:
        report = outcome.report
        shown = f"{report['seconds']:.2f} s, {report['peak_growth_mb']:+.0f} MB"
    print(f"{group} {case} {column}: {shown}", file=sys.stderr, flush=True)


def _unmeasured(outcome: Outcome, *, target: bool = True) -> Cell:
    passed = None if outcome.skipped or not target else False
    return Cell(outcome.problem or "?", passed)


def _outcome_text(report: dict[str, Any]) -> str:
    if report["error_type"] is not None:
        return str(report["error_type"])
    return f"status {report['status']}"


# Group 1: the deadline.


def deadline_group(runner: Runner, server: FaultServer) -> Group:
    from errorkit.testing import respond, slow_body, stall

    cases: list[tuple[str, str, Step]] = [
        ("1a", "503 body dripped 1 B / 0.5 s (6 B)", slow_body(503, b"busy!\n", interval=0.5)),
        ("1b", "accepted, never answered", stall()),
        ("1c", "503 headers, then stall", slow_body(503, b"{}", interval=math.inf)),
        ("1d", "503 after 0.9 s, Retry-After: 0", respond(503, {"Retry-After": "0"}, delay=0.9)),
    ]
    group = Group(
        "deadline",
        f"Deadline: seconds past deadline={DEADLINE} (max_attempts=3)",
        f"Target: returns within {DEADLINE_SLACK} s of the deadline. A call that waited for "
        f"the server reads about +{STALL_LIMIT - DEADLINE:.0f} s: the server gives up after "
        f"{STALL_LIMIT:.0f} s, and 1a's 6-byte body takes that long to drip. Then what the "
        "caller got: an exception (noted when its message does not name the deadline), or "
        "the final status; the body is left unread where the stack lets it be.",
        [(column.key, column.title) for column in COLUMNS],
    )
    policy = {"max_attempts": 3, "deadline": DEADLINE}
    for case, label, step in cases:
        row = Row(case, label)
        for column in COLUMNS:
            path = f"/deadline/{case}/{column.key}"
            server.script(path, [step])
            outcome = runner.child(_job("deadline", column, server.url(path), policy=policy), 20)
            _progress("deadline", case, column.key, outcome)
            row.cells[column.key] = _deadline_cell(outcome)
        group.rows.append(row)
    return group


def _deadline_cell(outcome: Outcome) -> Cell:
    report = outcome.report
    if report is None:
        return _unmeasured(outcome)
    past = report["seconds"] - DEADLINE
    unnamed = report["error_type"] is not None and not report["names_deadline"]
    return Cell(
        f"{past:+.2f} s, {_outcome_text(report)}" + (" (deadline not named)" if unnamed else ""),
        past <= DEADLINE_SLACK,
        {"past_deadline": past, **report},
    )


# Group 2: decompression bombs.


def bombs_group(runner: Runner, server: FaultServer) -> Group:
    from errorkit.testing import bomb

    print("building the bombs...", file=sys.stderr, flush=True)
    bombs = [
        ("2a", "br", bomb(503, encoding="br")),
        ("2b", "gzip, with Content-Length", bomb(503, encoding="gzip", decoded_bytes=60 * MIB)),
        ("2c", "gzip chunked", bomb(503, encoding="gzip", chunked=True)),
        ("2d", "zstd", bomb(503, encoding="zstd")),
    ]
    cases: list[tuple[str, str, Step]] = [
        (case, f"503 {name}, {_size(len(step.body))} -> {_size(step.decoded_bytes)}", step)
        for case, name, step in bombs
    ]
    columns: list[tuple[str, str]] = []
    for column in COLUMNS:
        columns += [(column.key, column.title), (f"{column.key}-bare", "bare")]
    group = Group(
        "bombs",
        "Decompression bombs: peak RSS growth of the call (max_attempts=2, raise_for_status)",
        f"Target: < {BOMB_LIMIT_MB:.0f} MB; where the bare client decodes the whole body "
        f"itself (requests stream=False, urllib3 preload) no more than bare + "
        f"{BARE_SLACK_MB:.0f} MB. Each 'bare' column is the stack alone, one attempt. "
        f"{BOMB_JOBS} calls run at once, so the seconds shown are only indicative.",
        columns,
    )
    policy = {"max_attempts": 2, "initial_delay": 0.01}
    jobs: dict[tuple[str, str], Job] = {}
    for case, _, step in cases:
        for column in COLUMNS:
            path = f"/bombs/{case}/{column.key}"
            server.script(path, [step])
            url = server.url(path)
            jobs[case, f"{column.key}-bare"] = _job("bomb", column, url, errorkit=False)
            jobs[case, column.key] = _job("bomb", column, url, policy=policy, raise_for_status=True)

    def run(key: tuple[str, str]) -> Outcome:
        outcome = runner.child(jobs[key], 90)
        _progress("bombs", *key, outcome)
        return outcome

    # Peak memory is per process: BOMB_JOBS children at once measure what one alone does.
    with ThreadPoolExecutor(BOMB_JOBS) as pool:
        outcomes = dict(zip(jobs, pool.map(run, jobs), strict=True))
    for case, label, _ in cases:
        row = Row(case, label)
        for column in COLUMNS:
            bare = outcomes[case, f"{column.key}-bare"]
            row.cells[column.key] = _bomb_cell(outcomes[case, column.key], bare, column)
            bare_cell = _unmeasured(bare, target=False)
            if bare.report is not None:
                bare_cell = Cell(_megabytes(bare.report), None, bare.report)
            row.cells[f"{column.key}-bare"] = bare_cell
        group.rows.append(row)
    return group


def _size(n_bytes: int) -> str:
    """`n_bytes` as people write sizes: 1.6 KB, 61 KB, 60 MiB, 1 GiB."""
    if n_bytes >= MIB and n_bytes % MIB == 0:
        return f"{n_bytes // MIB} MiB" if n_bytes < 1 << 30 else f"{n_bytes >> 30} GiB"
    if n_bytes >= 1_000_000:
        return f"{n_bytes / 1e6:.1f} MB"
    return f"{n_bytes / 1e3:.2g} KB" if n_bytes < 10_000 else f"{n_bytes / 1e3:.0f} KB"


def _megabytes(report: dict[str, Any]) -> str:
    return f"{report['peak_growth_mb']:+.0f} MB, {report['seconds']:.1f} s"


def _bomb_cell(outcome: Outcome, bare: Outcome, column: Column) -> Cell:
    report = outcome.report
    if report is None:
        return _unmeasured(outcome)
    growth = report["peak_growth_mb"]
    if column.bare_decodes and bare.report is not None:
        passed = growth <= bare.report["peak_growth_mb"] + BARE_SLACK_MB or growth < BOMB_LIMIT_MB
    else:
        passed = growth < BOMB_LIMIT_MB
    return Cell(_megabytes(report), passed, report)


# Group 3: secrets.


def secrets_group(runner: Runner, server: FaultServer) -> Group:
    from errorkit.testing import closed_port, echo_request

    echo = echo_request(401, echo_body=True)
    group = Group(
        "secrets",
        "Secrets: how many of the 6 secrets errorkit writes or keeps",
        "The URL carries api_key, sig and subscription-key, the headers Authorization "
        "(Bearer), X-Api-Key and Cookie: SECRET1 to SECRET6. Looked for in str, repr, args, "
        "the pickle, the formatted traceback, the errorkit logger at DEBUG, RetryEvent reprs "
        "and (3ii) `errorkit explain` of the echoed body, text and --json; the channels "
        "holding any are named. `ErrorInfo.body` and `details` keep the server's data raw "
        "for programs (documented), so what they alone hold is shown apart, uncounted, and "
        "the pickle is looked at without them. max_attempts=2, raise_for_status. Target: 0.",
        [(column.key, column.title) for column in COLUMNS],
    )
    refused = Row("3i", "connection refused (closed port)")
    echoed = Row("3ii", "401 echoing the request's credentials back")
    refused_url = f"http://127.0.0.1:{closed_port()}/v1/secret{SECRET_QUERY}"
    settings: dict[str, Any] = {
        "policy": {"max_attempts": 2, "initial_delay": 0.01},
        "raise_for_status": True,
        "headers": SECRET_HEADERS,
        "marker": "Invalid credentials",  # how echo_request's message starts
    }
    for column in COLUMNS:
        outcome = runner.child(_job("secrets", column, refused_url, **settings), 30)
        _progress("secrets", refused.case, column.key, outcome)
        refused.cells[column.key] = _secrets_cell(outcome, {}, [])
        path = f"/secrets/{column.key}"
        server.script(path, [echo])
        outcome = runner.child(
            _job("secrets", column, server.url(path) + SECRET_QUERY, **settings), 30
        )
        _progress("secrets", echoed.case, column.key, outcome)
        recorded = server.requests(path)
        answer = echo.choose(recorded[-1]) if recorded else None
        shown, problems = _explain(runner, getattr(answer, "body", None))
        echoed.cells[column.key] = _secrets_cell(outcome, shown, problems)
    group.rows += [refused, echoed]
    return group


def _explain(runner: Runner, body: bytes | None) -> tuple[dict[str, str], list[str]]:
    """What `errorkit explain` showed of the echoed body (text and ``--json``), and failures."""
    shown: dict[str, str] = {}
    problems: list[str] = []
    if body is None:
        return shown, ["nothing recorded to explain"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "body.json"
        path.write_bytes(body)
        base = [sys.executable, "-m", "errorkit", "explain", "--status", "401"]
        base += ["-H", "Content-Type: application/json", "--body", f"@{path}"]
        for name, extra in (("explain", []), ("explain --json", ["--json"])):
            code, stdout, stderr = runner.command(
                [*base, *extra], "", max(1, min(30, runner.left()))
            )
            shown[name] = f"{stdout}\n{stderr}"
            if code != 0:
                problems.append(f"{name} {'killed' if code is None else f'exits {code}'}")
    return shown, problems


def _secrets_cell(outcome: Outcome, explained: dict[str, str], problems: list[str]) -> Cell:
    report = outcome.report
    if report is None:
        return _unmeasured(outcome)
    found: dict[str, list[str]] = {**report["found"], **secrets_in(explained)}
    secrets = sorted({secret for names in found.values() for secret in names})
    notes = [*report["notes"], *problems]
    if report["kept_raw"]:
        notes.append(f"ErrorInfo.body: {len(report['kept_raw'])}")
    if report["shows_message"] is False and explained:
        notes.append("echo not read")
    shown = str(len(secrets))
    if found:
        shown += " in " + ", ".join(sorted(found))
    if notes:
        shown += f" ({'; '.join(notes)})"
    data = {**report, "found": found, "secrets": secrets, "notes": notes}
    return Cell(shown, not secrets, data)


# Group 4: text shown to a person.


def text_group(runner: Runner, server: FaultServer) -> Group:
    from errorkit.testing import respond

    group = Group(
        "text",
        "Text: a 503 message with a lone surrogate, a newline, ESC and U+202E",
        "max_attempts=2, raise_for_status. Logging: the errorkit logger's records and "
        "the caller's `log.error('%s', exc)` and `log.error(..., exc_info=exc)`, written to "
        "a strict UTF-8 stream. Target: nothing raises, no raw control in str(exc).",
        [(column.key, column.title) for column in COLUMNS],
    )
    rows = [
        Row("4a", "print(str(exc)) to an ASCII stream"),
        Row("4b", "logging to a strict UTF-8 stream"),
        Row("4c", "str(exc) holds a raw control or surrogate"),
    ]
    step = respond(503, body={"error": {"message": HOSTILE_MESSAGE, "code": "hostile"}})
    settings: dict[str, Any] = {
        "policy": {"max_attempts": 2, "initial_delay": 0.01},
        "raise_for_status": True,
        "marker": "forged log line",  # a printable part of the message
    }
    for column in COLUMNS:
        path = f"/text/{column.key}"
        server.script(path, [step])
        job = _job("text", column, server.url(path), **settings)
        outcome = runner.child(job, 30)
        _progress("text", "4", column.key, outcome)
        for row, cell in zip(rows, _text_cells(outcome), strict=True):
            row.cells[column.key] = cell
    group.rows += rows
    return group


def _text_cells(outcome: Outcome) -> list[Cell]:
    report = outcome.report
    if report is None:
        return [_unmeasured(outcome)] * 3
    if report["notes"]:
        return [Cell(f"{', '.join(report['notes'])}: {_outcome_text(report)}", False, report)] * 3
    printing = report["print_error"]
    errors = report["log_errors"]
    raw = report["raw_controls"]
    cells = [
        Cell(f"raises {printing}" if printing else "no", not printing, report),
        Cell(
            f"raises {', '.join(sorted(set(errors)))} ({len(errors)} records)" if errors else "no",
            not errors,
            report,
        ),
        Cell(f"yes: {' '.join(raw)}" if raw else "no", not raw, report),
    ]
    if not report["shows_message"]:
        for cell in cells:
            cell.text += " (message not read)"
    return cells


RUNNERS: dict[str, Callable[[Runner, FaultServer], Group]] = {
    "deadline": deadline_group,
    "bombs": bombs_group,
    "secrets": secrets_group,
    "text": text_group,
}


# -- output ----------------------------------------------------------------------------------


def environment(src: Path) -> dict[str, Any]:
    return {
        "src": str(src),
        "commit": _commit(src),
        "python": sys.version.split()[0],
        "versions": {name: _version(name) for name in STACK_DISTRIBUTIONS},
        "stall_limit": STALL_LIMIT,
    }


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _commit(src: Path) -> str | None:
    """The short commit of `src`, with "+ uncommitted changes" when its files differ."""
    git = shutil.which("git")
    if git is None:
        return None
    head = subprocess.run(  # noqa: S603 - git with fixed arguments
        [git, "-C", str(src), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        return None
    status = subprocess.run(  # noqa: S603 - git with fixed arguments
        [git, "-C", str(src), "status", "--porcelain", "--untracked-files=no", "--", "."],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = " + uncommitted changes" if status.stdout.strip() else ""
    return head.stdout.strip() + dirty


def markdown(env: dict[str, Any], groups: Sequence[Group], seconds: float) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in env["versions"].items())
    lines = [
        f"# errorkit against hostile servers: `{env['src']}` ({env['commit'] or 'no commit'})",
        "",
        (
            f"Python {env['python']}; {versions}. FaultServer (this repository's) on "
            f"127.0.0.1 with a {env['stall_limit']:.0f} s stall limit; each call in a fresh "
            f"process; one run, {seconds:.0f} s."
        ),
    ]
    clients = sorted(
        {
            cell.data["client"]
            for group in groups
            for row in group.rows
            for cell in row.cells.values()
            if cell.data.get("errorkit") and "urllib3" in cell.data["client"]
        }
    )
    if clients:
        lines.append(f"errorkit's urllib3 client: {', '.join(clients)}.")
    for group in groups:
        lines += ["", f"## {group.title}", "", group.note, ""]
        lines.append("| # | case | " + " | ".join(title for _, title in group.columns) + " |")
        lines.append("|---" * (len(group.columns) + 2) + "|")
        for row in group.rows:
            cells = [
                row.cells[key].markdown() if key in row.cells else "" for key, _ in group.columns
            ]
            lines.append(f"| {row.case} | {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def as_json(env: dict[str, Any], groups: Sequence[Group], seconds: float) -> dict[str, Any]:
    return {
        **env,
        "seconds": seconds,
        "groups": [
            {
                "name": group.name,
                "title": group.title,
                "columns": group.columns,
                "rows": [
                    {
                        "case": row.case,
                        "label": row.label,
                        "cells": {
                            key: {"text": cell.text, "passed": cell.passed, **cell.data}
                            for key, cell in row.cells.items()
                        },
                    }
                    for row in group.rows
                ],
            }
            for group in groups
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--src", type=Path, default=ROOT / "src", help="the errorkit src the clients import"
    )
    parser.add_argument(
        "--only", default=",".join(GROUPS), help="comma list of " + ",".join(GROUPS)
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main()
        return 0
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}: choose from {', '.join(GROUPS)}")
    src = args.src.resolve()
    if not (src / "errorkit" / "__init__.py").is_file():
        parser.error(f"{src} holds no errorkit package")
    sys.path.insert(0, str(ROOT / "src"))  # the server is always this repository's
    from errorkit.testing import FaultServer, FaultServerConfig

    runner = Runner(src)
    with FaultServer(FaultServerConfig(stall_limit=STALL_LIMIT)) as server:
        # The cheap groups first, so that a spent run budget costs only bomb cells.
        done = {name: RUNNERS[name](runner, server) for name in RUN_ORDER if name in chosen}
    groups = [done[name] for name in GROUPS if name in done]
    seconds = time.monotonic() - runner.started
    env = environment(src)
    sys.stdout.write(markdown(env, groups, seconds))
    if args.json is not None:
        args.json.write_text(json.dumps(as_json(env, groups, seconds), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
