"""pytest plugin for the compat runner: loopback only, errorkit mounted on demand.

Loaded into a stack's own test suite by ``compat/run.py`` (``-p plugin`` with this
directory on ``PYTHONPATH``). It does three things, driven by environment variables:

- ``ERRORKIT_COMPAT_POLICY``: ``default`` (``RetryPolicy()``) or ``single``
  (``RetryPolicy(max_attempts=1)``) mounts errorkit by default, the way a user
  would plug it in once for a whole program; empty or unset leaves the stacks bare:

  - every new ``requests.Session`` gets its own ``RetryAdapter`` per prefix;
  - ``urllib3.util.Retry.DEFAULT`` becomes ``errorkit.urllib3.Retry(policy)``;
  - the transports ``httpx.Client`` and ``httpx.AsyncClient`` build themselves
    (no ``transport=``/``mounts=`` given, env proxies included) are wrapped in
    ``RetryTransport`` / ``AsyncRetryTransport``, and those of ``httpx2.Client``
    and ``httpx2.AsyncClient`` in ``errorkit.httpx2``'s (one function for both);
  - every ``aiohttp.ClientSession`` gets ``RetryMiddleware`` first in its
    ``middlewares``.

  Each mount is made only if that stack is importable.
- Always, bare runs included: a connection or name lookup that would leave the
  loopback range is refused (``OSError(ENETUNREACH)`` / ``socket.gaierror``), and
  each refusal is recorded, so no traffic leaves 127.0.0.1.
- ``ERRORKIT_COMPAT_OUT``: a path; one JSON object per line is appended for each
  test (``{"test": nodeid, "outcome": ..., "message": first line}``) and for each
  refused connection (``{"blocked": address}``).
"""

# ruff: noqa: INP001 - loaded by module name from this folder, not a package
from __future__ import annotations

import errno
import importlib
import ipaddress
import json
import os
import socket
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

POLICY_ENV = "ERRORKIT_COMPAT_POLICY"
OUT_ENV = "ERRORKIT_COMPAT_OUT"

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})
_outcomes: dict[str, tuple[str, str]] = {}


# --- loopback only -------------------------------------------------------------------


def _record(entry: dict[str, str]) -> None:
    path = os.environ.get(OUT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:  # noqa: PTH123 - one line per event
            out.write(json.dumps(entry) + "\n")


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or address.is_unspecified or bool(mapped and mapped.is_loopback)


def _guard_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in {socket.AF_INET, socket.AF_INET6} and not _is_loopback(address[0]):
            _record({"blocked": f"connect {address[0]}:{address[1]}"})
            raise OSError(errno.ENETUNREACH, f"compat plugin: {address[0]} is not loopback")
        return original(sock, address)

    return connect


def _guard_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            _record({"blocked": f"getaddrinfo {host!r}"})
            raise socket.gaierror(socket.EAI_NONAME, f"compat plugin: {host!r} is not loopback")
        return original(host, *args, **kwargs)

    return getaddrinfo


def _block_outside() -> None:
    socket.socket.connect = _guard_connect(socket.socket.connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guard_connect(socket.socket.connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = _guard_getaddrinfo(socket.getaddrinfo)


# --- errorkit mounted by default -----------------------------------------------------


def _mount_requests(policy: Any) -> None:
    try:
        import requests
    except ImportError:
        return
    from errorkit.requests import RetryAdapter

    original = requests.Session.__init__

    def init(self: requests.Session) -> None:
        original(self)
        # One adapter per prefix, as requests itself mounts them.
        self.mount("https://", RetryAdapter(policy))
        self.mount("http://", RetryAdapter(policy))

    requests.Session.__init__ = init  # type: ignore[method-assign]


def _mount_urllib3(policy: Any) -> None:
    try:
        import urllib3.util.retry
    except ImportError:
        return
    from errorkit.urllib3 import Retry

    urllib3.util.retry.Retry.DEFAULT = Retry(policy)


def _wrap_built_transports(policy: Any, library: ModuleType, adapter: ModuleType) -> None:
    """Wrap the transports ``library.Client``/``AsyncClient`` build themselves.

    ``library`` is httpx or httpx2 and ``adapter`` errorkit's module for it
    (``errorkit.httpx`` / ``errorkit.httpx2``): the transport each client builds
    (no ``transport=``, and one per environment proxy) goes into the adapter's
    ``RetryTransport`` / ``AsyncRetryTransport``; a transport the caller passes
    stays as it is.
    """

    def wrapping(client: type, name: str, wrapper: type) -> None:
        original = getattr(client, name)

        def build(self: object, *args: Any, **kwargs: Any) -> Any:
            given = kwargs.get("transport")
            transport = original(self, *args, **kwargs)
            if given is not None:  # the caller's own transport stays as it is
                return transport
            return wrapper(policy, transport=transport)

        setattr(client, name, build)

    for name in ("_init_transport", "_init_proxy_transport"):
        wrapping(library.Client, name, adapter.RetryTransport)
        wrapping(library.AsyncClient, name, adapter.AsyncRetryTransport)


def _mount_httpx(policy: Any) -> None:
    for library, adapter in (("httpx", "errorkit.httpx"), ("httpx2", "errorkit.httpx2")):
        try:
            module = importlib.import_module(library)
        except ImportError:
            continue
        _wrap_built_transports(policy, module, importlib.import_module(adapter))


def _mount_aiohttp(policy: Any) -> None:
    try:
        import aiohttp
    except ImportError:
        return
    from errorkit.aiohttp import RetryMiddleware

    original = aiohttp.ClientSession.__init__

    def init(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        kwargs["middlewares"] = (RetryMiddleware(policy), *kwargs.get("middlewares", ()))
        original(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = init  # type: ignore[method-assign]


def _mount(mode: str) -> None:
    from errorkit import RetryPolicy

    policies = {"default": RetryPolicy(), "single": RetryPolicy(max_attempts=1)}
    if mode not in policies:
        raise pytest.UsageError(f"{POLICY_ENV}={mode!r}: use one of {sorted(policies)}")
    policy = policies[mode]
    for mount in (_mount_requests, _mount_urllib3, _mount_httpx, _mount_aiohttp):
        mount(policy)


# --- hooks ---------------------------------------------------------------------------


def pytest_configure() -> None:
    """Block non-loopback traffic, then mount errorkit if the environment asks."""
    _block_outside()
    mode = os.environ.get(POLICY_ENV, "")
    if mode:
        _mount(mode)


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep each test's worst outcome over its setup, call and teardown phases."""
    if report.when == "call" or report.failed or report.skipped:
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
        else:
            outcome = "passed"
        previous = _outcomes.get(report.nodeid)
        if previous is None or previous[0] in {"passed", "skipped", "xfailed"}:
            _outcomes[report.nodeid] = (outcome, _first_line(report) if report.failed else "")


def pytest_runtest_logfinish(nodeid: str) -> None:
    """Write the test's outcome once all its phases ran."""
    outcome, message = _outcomes.pop(nodeid, ("skipped", ""))
    _record({"test": nodeid, "outcome": outcome, "message": message})
