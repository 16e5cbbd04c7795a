"""Run the HTTP stacks' own test suites bare and with errorkit mounted by default.

    python compat/run.py [--stacks requests,aiohttp,httpx,httpx2,urllib3]
                         [--policy default|single|default,single] [--jobs N]
                         [--source NAME=DIR] [--cache DIR] [--timeout S] [--cap S]

Run it with this checkout's virtualenv: each stack is tested at the version
installed there. For each stack the runner

1. downloads its sdist (``pip download --no-binary :all: --no-deps NAME==VERSION``)
   and unpacks it into the cache. The sdists of requests, aiohttp, httpx and urllib3
   ship their tests; httpx2's does not (the package only), so its suite comes from a
   checkout of its repository at that version's tag, given as ``--source httpx2=DIR``;
   without one, httpx2 is reported "not run" and the other stacks run;
2. creates, once, a virtualenv in the cache with the stack at that version and the
   test requirements its sdist declares (see `_requirements`); errorkit comes from
   this checkout through ``PYTHONPATH``, so its own pytest plugin stays out;
3. runs the suite's files the review ran (``../shared/reviews/2026-12-stack-test-suites.md``,
   minus its deselections of tests aimed at non-loopback addresses) twice: bare, and
   with ``compat/plugin.py`` mounting errorkit under the chosen policy. Both runs load
   the plugin, which refuses any non-loopback connection or lookup and records each
   test's outcome;
4. writes ``compat/results/<stack>.md`` (counts, the tests that pass bare and fail
   mounted with their failure's first line, refused connections) and
   ``compat/results/summary.md``, and prints the summary.

Each test has a timeout (``--timeout``, pytest-timeout) and each run an overall cap
(``--cap``); a capped run is reported as such. The cache (default
``~/.cache/errorkit-compat``, outside the git tree) keeps the sdists and
virtualenvs between runs; delete it to start over.
"""

# ruff: noqa: INP001 - a script, not a package
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
RESULTS = HERE / "results"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "errorkit-compat"
FAILED = frozenset({"failed", "error"})


@dataclass(frozen=True)
class Stack:
    """One stack's suite: where its tests are and what to leave out."""

    name: str
    extras: str
    tests: tuple[str, ...]
    # node id -> why it is deselected in both runs
    deselect: dict[str, str] = field(default_factory=dict)
    pytest_args: tuple[str, ...] = ()
    # The suite's servers listen on fixed ports (httpx's on 8000): its runs go one at a time.
    fixed_ports: bool = False
    # Where the suite is when the sdist ships none: a checkout of this repository at
    # the installed version's tag, given as ``--source NAME=DIR``.
    repository: str = ""


STACKS = {
    "requests": Stack(
        "requests",
        "socks",
        ("tests",),
        {
            "tests/test_requests.py::TestTimeout::test_connect_timeout": "connects to 10.255.255.1",
            "tests/test_requests.py::TestTimeout::test_total_timeout_connect": (
                "connects to 10.255.255.1"
            ),
        },
    ),
    "httpx": Stack(
        "httpx",
        "brotli,cli,http2,socks,zstd",
        ("tests",),
        {
            "tests/test_timeouts.py::test_connect_timeout": "connects to 10.255.255.1",
            "tests/client/test_proxies.py::test_async_proxy_close": "needs example.com",
            "tests/client/test_proxies.py::test_sync_proxy_close": "needs example.com",
        },
        fixed_ports=True,
    ),
    # httpx2's sdist holds only the package (its pyproject's sdist `include` is
    # "/httpx2" and "/CHANGELOG.md"). The suite is in its repository, a uv workspace:
    # tests/httpx2/ runs from the root, with the root pyproject.toml's pytest
    # configuration. From the repository's files: the same three `network` tests as
    # httpx's; its `addopts` (dropped, as for every stack) carries the import mode the
    # tests' `from tests.httpx2...` imports need; its server takes a free port
    # (conftest.py `server` fixture, `free_tcp_port_factory`), so no fixed_ports.
    "httpx2": Stack(
        "httpx2",
        "brotli,cli,http2,socks,ws,zstd",
        ("tests/httpx2",),
        {
            "tests/httpx2/test_timeouts.py::test_connect_timeout": "connects to 10.255.255.1",
            "tests/httpx2/client/test_proxies.py::test_async_proxy_close": "needs example.com",
            "tests/httpx2/client/test_proxies.py::test_sync_proxy_close": "needs example.com",
        },
        pytest_args=("--import-mode=importlib",),
        repository="https://github.com/pydantic/httpx2",
    ),
    "aiohttp": Stack(
        "aiohttp",
        "",
        (
            "tests/test_client_functional.py",
            "tests/test_client_session.py",
            "tests/test_client_middleware.py",
            "tests/test_client_middleware_digest_auth.py",
        ),
        pytest_args=("-m", "not dev_mode and not autobahn and not internal"),
    ),
    "urllib3": Stack(
        "urllib3",
        "brotli,zstd,socks,h2",
        (
            "test/test_retry.py",
            "test/test_connectionpool.py",
            "test/test_poolmanager.py",
            "test/test_proxymanager.py",
            "test/with_dummyserver/test_connectionpool.py",
            "test/with_dummyserver/test_poolmanager.py",
            "test/with_dummyserver/test_socketlevel.py",
            "test/with_dummyserver/test_chunked_transfer.py",
        ),
        {
            f"test/with_dummyserver/test_connectionpool.py::TestConnectionPoolTimeouts::{name}": (
                "connects to 240.0.0.0"
            )
            for name in (
                "test_connect_timeout",
                "test_total_applies_connect",
                "test_create_connection_timeout",
            )
        }
        | {
            "test/with_dummyserver/test_poolmanager.py::TestPoolManager::"
            "test_headers_http_multi_header_multipart": "hangs at random, bare too (the review)",
        },
    ),
}

# Test requirements a stack's sdist does not declare, or declares for tooling
# these runs do not use. Left out on purpose: aiodns (it resolves names below
# socket.getaddrinfo, where the plugin could not refuse them) and uvloop (the
# runs use the pure-Python event loop, as the review did).
_EXTRA = {
    # httpx's sdist has no requirements file: these are its repository's
    # requirements.txt test entries (chardet pinned as there). click<8.5 keeps
    # test_main passing bare.
    "httpx": [
        "pytest",
        "trio",
        "trustme",
        "uvicorn",
        "chardet==5.2.0",
        "cryptography",
        "click<8.5",
    ],
    "urllib3": ["trustme", "cryptography", "idna"],
}
# httpx2's `dev` group also holds its linting and packaging tools, and the
# workspace's own packages (httpx2 is pinned with its extras; httpcore2 stays, so
# its extras come too).
_SKIP_HTTPX2 = re.compile(r"^(coverage|ruff|twine|httpx2)\b", re.IGNORECASE)
_SKIP = re.compile(
    r"^(mypy|python-on-whales|pytest[-_]codspeed|pytest-cov|aiodns|uvloop|winloop|"
    r"setuptools-git|pkgconfig|wheel)\b",
    re.IGNORECASE,
)


def _log(message: str) -> None:
    sys.stderr.write(f"[compat {time.strftime('%H:%M:%S')}] {message}\n")


def _run(command: list[str], **kwargs: object) -> None:
    _log(" ".join(command))
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def _read_requirements(path: Path) -> list[str]:
    """The requirements of a pip requirements file, following ``-r`` includes."""
    found: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += _read_requirements(path.parent / line[3:].strip())
        elif not line.startswith("-"):
            found.append(line)
    return found


def _requirements(stack: Stack, source: Path) -> list[str]:
    """The stack's test requirements, read from its own files where it ships them."""
    if stack.name == "requests":
        declared = _read_requirements(source / "requirements-dev.txt")
    elif stack.name == "aiohttp":
        declared = _read_requirements(source / "requirements" / "test-common.in")
    elif stack.name == "urllib3":
        toml = importlib.import_module("tomllib")  # Python >= 3.11, as the runner needs
        groups = toml.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
        declared = [r for r in groups["dependency-groups"]["test"] if isinstance(r, str)]
    elif stack.name == "httpx2":
        toml = importlib.import_module("tomllib")
        groups = toml.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
        declared = [
            r
            for r in groups["dependency-groups"]["dev"]
            if isinstance(r, str) and not _SKIP_HTTPX2.match(r)
        ]
    else:
        declared = []
    wanted = [r for r in declared + _EXTRA.get(stack.name, []) if not _SKIP.match(r)]
    return [*wanted, "pytest-timeout"]


def _version(name: str) -> str:
    return importlib.metadata.version(name)


class NotRun(Exception):  # noqa: N818 - a stack not run, not an error of the runner
    """The stack's suite is not to be had here; the message says why."""


def prepare(stack: Stack, cache: Path, given: Path | None = None) -> tuple[Path, Path]:
    """Find the stack's suite and build its venv; (source dir, venv).

    The suite is ``given`` (``--source``, a checkout of the stack's repository at
    the installed version's tag) or else the stack's sdist, downloaded and unpacked.
    Raises `NotRun` if neither holds the suite's tests.
    """
    version = _version(stack.name)
    if given is not None:
        source = given.resolve()
        where = str(source)
    else:
        sdists = cache / "sdists"
        sdists.mkdir(parents=True, exist_ok=True)
        archive = sdists / f"{stack.name}-{version}.tar.gz"
        if not archive.exists():
            _run([
                sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                "--dest", str(sdists), f"{stack.name}=={version}",
            ])  # fmt: skip
        source = cache / "src" / f"{stack.name}-{version}"
        if not source.exists():
            with tarfile.open(archive) as tar:
                tar.extractall(cache / "src", filter="data")
        where = f"the sdist {archive.name}"
    if not all((source / tests).exists() for tests in stack.tests):
        hint = (
            f"its suite is in {stack.repository}: pass --source {stack.name}=DIR, "
            f"a checkout of its tag for {version}"
            if stack.repository
            else "fetch the repository's tag"
        )
        raise NotRun(f"{where} has no {stack.tests[0]}; {hint}")
    pinned = (
        f"{stack.name}[{stack.extras}]=={version}" if stack.extras else f"{stack.name}=={version}"
    )
    wanted = [pinned, *_requirements(stack, source)]
    digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
    venv = cache / "venvs" / f"{stack.name}-{version}-{digest}"
    if not (venv / "ok").exists():
        _run([sys.executable, "-m", "venv", "--clear", str(venv)])
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *wanted])
        (venv / "ok").write_text("\n".join(wanted) + "\n", encoding="utf-8")
    return source, venv


@dataclass
class Run:
    """One run of a suite: its outcomes by test id, what was refused, how it ended."""

    outcomes: dict[str, tuple[str, str]]
    blocked: list[str]
    seconds: float
    capped: bool
    exit_code: int


def run_suite(  # noqa: PLR0913 - one run is described by all of these
    stack: Stack, source: Path, venv: Path, policy: str, out_dir: Path, *, timeout: int, cap: int
) -> Run:
    """Run the suite once (``policy`` "" for bare) and read back what the plugin recorded."""
    label = policy or "bare"
    record = out_dir / f"{stack.name}-{label}.jsonl"
    record.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(CHECKOUT / "src"), str(HERE)]),
        "ERRORKIT_COMPAT_POLICY": policy,
        "ERRORKIT_COMPAT_OUT": str(record),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    command = [
        str(venv / "bin" / "pytest"), "-p", "plugin", "-p", "no:cacheprovider",
        "-o", "addopts=", "-q", "--no-header", "-rN", f"--timeout={timeout}",
        *stack.pytest_args, *stack.tests,
    ]  # fmt: skip
    for node in stack.deselect:
        command += ["--deselect", node]
    log = out_dir / f"{stack.name}-{label}.log"
    _log(f"{stack.name} {label}: running ({log})")
    started = time.monotonic()
    capped = False
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(  # noqa: S603 - the venv's own pytest
            command, cwd=source, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            exit_code = process.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            capped = True
            os.killpg(process.pid, signal.SIGKILL)
            exit_code = process.wait()
    outcomes: dict[str, tuple[str, str]] = {}
    blocked: list[str] = []
    if record.exists():
        for line in record.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if "blocked" in entry:
                blocked.append(entry["blocked"])
            else:
                outcomes[entry["test"]] = (entry["outcome"], entry["message"])
    seconds = time.monotonic() - started
    if not outcomes:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        _log(f"{stack.name} {label}: no test ran; the log ends:\n" + "\n".join(tail))
    _log(f"{stack.name} {label}: {_counts(outcomes)} in {seconds:.0f} s, exit {exit_code}")
    return Run(outcomes, blocked, seconds, capped, exit_code)


def _counts(outcomes: dict[str, tuple[str, str]]) -> str:
    tally: dict[str, int] = {}
    for outcome, _ in outcomes.values():
        tally[outcome] = tally.get(outcome, 0) + 1
    order = ("passed", "failed", "error", "skipped", "xfailed")
    short = {"passed": "p", "failed": "f", "error": "e", "skipped": "s", "xfailed": "xf"}
    return f"{len(outcomes)}: " + " ".join(f"{tally[o]}{short[o]}" for o in order if tally.get(o))


def new_failures(bare: Run, mounted: Run) -> list[tuple[str, str]]:
    """The tests that pass bare and fail (or error) mounted, with the first line."""
    return sorted(
        (test, message)
        for test, (outcome, message) in mounted.outcomes.items()
        if outcome in FAILED and bare.outcomes.get(test, ("",))[0] == "passed"
    )


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _run_row(label: str, run: Run) -> str:
    cells = (
        label,
        _counts(run.outcomes),
        f"{run.seconds:.0f}",
        str(run.capped),
        str(run.exit_code),
    )
    return "| " + " | ".join(cells) + " |"


def report(stack: Stack, policy: str, bare: Run, mounted: Run) -> tuple[str, str]:
    """The stack's results page and its summary row."""
    version = _version(stack.name)
    new = new_failures(bare, mounted)
    lines = [
        f"# {stack.name} {version}: its own tests, bare and with errorkit mounted ({policy})",
        "",
        (
            f"Command: `python compat/run.py --stacks {stack.name} --policy {policy}`; "
            f"files: {', '.join(f'`{t}`' for t in stack.tests)}."
        ),
        "",
        "| run | tests | seconds | capped | exit |",
        "|---|---|---|---|---|",
        _run_row("bare", bare),
        _run_row(policy, mounted),
        "",
        f"## Pass bare, fail with errorkit ({len(new)})",
        "",
    ]
    lines += [f"- `{test}`: {_escape(message)}" for test, message in new] or ["None."]
    lines += ["", "## Deselected in both runs", ""]
    lines += [f"- `{node}`: {why}" for node, why in stack.deselect.items()] or ["None."]
    refused = sorted(set(bare.blocked + mounted.blocked))
    lines += ["", f"## Non-loopback connections refused by the plugin ({len(refused)})", ""]
    lines += [f"- `{entry}`" for entry in refused] or ["None."]
    row = (
        f"| {stack.name} {version} | {policy} | {_counts(bare.outcomes)} "
        f"| {_counts(mounted.outcomes)} | {len(new)} |"
    )
    return "\n".join(lines) + "\n", row


def not_run_report(stack: Stack, policy: str, reason: str) -> tuple[str, str]:
    """The results page and summary row of a stack whose suite was not to be had."""
    version = _version(stack.name)
    lines = [
        f"# {stack.name} {version}: not run ({policy})",
        "",
        f"Not run: {reason}.",
        "",
        "## Deselected in both runs (once run)",
        "",
    ]
    lines += [f"- `{node}`: {why}" for node, why in stack.deselect.items()] or ["None."]
    short = "no suite in the sdist" if reason.startswith("the sdist") else "no suite in --source"
    row = f"| {stack.name} {version} | {policy} | not run: {short} | - | - |"
    return "\n".join(lines) + "\n", row


def _prepare_all(
    stacks: list[Stack], cache: Path, sources: dict[str, Path]
) -> tuple[dict[str, tuple[Path, Path]], dict[str, str]]:
    """`prepare` each stack: (source dir and venv by stack, why not by stack not run)."""
    prepared: dict[str, tuple[Path, Path]] = {}
    not_run: dict[str, str] = {}
    for stack in stacks:
        try:
            prepared[stack.name] = prepare(stack, cache, sources.get(stack.name))
        except NotRun as reason:  # noqa: PERF203 - once per stack
            _log(f"{stack.name}: not run: {reason}")
            not_run[stack.name] = str(reason)
    return prepared, not_run


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, prepare every stack, run the suites, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", default="requests,aiohttp,httpx,httpx2,urllib3")
    parser.add_argument(
        "--policy", default="default", help="default, single or both: default,single"
    )
    parser.add_argument("--jobs", type=int, default=2, help="suite runs at once (default 2)")
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a checkout of NAME's repository at the installed version's tag, for its suite",
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per test")
    parser.add_argument("--cap", type=int, default=3600, help="seconds per suite run")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.stacks.split(",") if name.strip()]
    unknown = sorted(set(names) - set(STACKS))
    if unknown:
        parser.error(f"unknown stacks {unknown}: choose from {sorted(STACKS)}")
    stacks = [STACKS[name] for name in names]
    policies = [policy.strip() for policy in args.policy.split(",") if policy.strip()]
    if not policies or set(policies) - {"default", "single"}:
        parser.error(f"--policy {args.policy}: use default, single or default,single")
    sources: dict[str, Path] = {}
    for entry in args.source:
        name, _, directory = entry.partition("=")
        if name not in STACKS or not directory:
            parser.error(f"--source {entry}: use NAME=DIR, NAME from {sorted(STACKS)}")
        sources[name] = Path(directory)
    prepared, not_run = _prepare_all(stacks, args.cache, sources)
    out_dir = args.cache / "runs"
    out_dir.mkdir(parents=True, exist_ok=True)

    locks = {stack.name: threading.Lock() for stack in stacks}

    def one(job: tuple[Stack, str]) -> Run:
        stack, policy = job
        source, venv = prepared[stack.name]
        with locks[stack.name] if stack.fixed_ports else contextlib.nullcontext():
            return run_suite(
                stack, source, venv, policy, out_dir, timeout=args.timeout, cap=args.cap
            )

    # Policy by policy, so that the runs of a fixed_ports stack, which wait for each
    # other, are spread between the other stacks' runs.
    jobs = [
        (stack, policy)
        for policy in ("", *policies)
        for stack in stacks
        if stack.name not in not_run
    ]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(one, jobs))
    runs = {(stack.name, policy): run for (stack, policy), run in zip(jobs, done, strict=True)}
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for stack in stacks:
        for policy in policies:
            if stack.name in not_run:
                page, row = not_run_report(stack, policy, not_run[stack.name])
            else:
                page, row = report(stack, policy, runs[stack.name, ""], runs[stack.name, policy])
            name = stack.name if policy == "default" else f"{stack.name}-{policy}"
            (RESULTS / f"{name}.md").write_text(page, encoding="utf-8")
            rows.append(row)
    summary = _write_summary(rows)
    sys.stdout.write(summary)
    return 0


def _write_summary(rows: list[str]) -> str:
    """Merge `rows` into ``results/summary.md`` (one row per stack and policy)."""
    path = RESULTS / "summary.md"
    header = [
        "# Compat runner: the stacks' own suites with errorkit mounted",
        "",
        (
            "Written by `compat/run.py`; one row per stack and policy, from its last run. "
            "Tests: total: passed (p), failed (f), error (e), skipped (s), xfailed (xf)."
        ),
        "",
        "| stack | policy | bare | mounted | pass bare, fail mounted |",
        "|---|---|---|---|---|",
    ]
    kept: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines()[len(header) :]:
            if line.startswith("| "):
                kept[" | ".join(line.split(" | ")[:2])] = line
    for row in rows:
        kept[" | ".join(row.split(" | ")[:2])] = row
    text = "\n".join(header + sorted(kept.values())) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    raise SystemExit(main())
