"""`errorkit demo`: the seed APIs' errors, played against every installed stack.

A `FaultServer` on 127.0.0.1 replays the seed scenarios (OneCLI's validation and
authentication errors, the agents API's 429 with `retryAfter`, 500s that
recover, a 503 outage, one 429 that holds the requests right behind it back at
the rate-limit gate); each installed stack calls it with errorkit plugged in,
and a table per stack shows the attempts, the waits, the final outcome and the
exception raised. Waits are real, so a run takes about ten seconds.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from errorkit._policy import RetryEvent, RetryPolicy
from errorkit._stacks.responses import raise_for_error
from errorkit._text import escape_control
from errorkit.testing import FaultServer, RecordedRequest, dynamic, respond

STACKS = ("requests", "urllib3", "httpx", "httpx-async", "httpx2", "httpx2-async", "aiohttp")
_MODULE_OF = {"httpx-async": "httpx", "httpx2-async": "httpx2"}


@dataclass(frozen=True)
class Scenario:
    """One seed behaviour: what the server plays, what the client sends, what must happen."""

    name: str
    method: str
    path: str
    steps: list[Any]
    expect: tuple[int, int, str]
    """(server attempts, final status, exception raised or "-")."""
    body: bytes = b""
    followers: int = 0
    """Requests sent at once after the first one got its answer, through the same policy."""


def scenarios() -> list[Scenario]:
    """The seed scenarios, with the 429's `retryAfter` shortened from 60 s to 1 s."""
    agents_429 = {
        "error": {
            "code": "rate_limit_exceeded",
            "message": "Too many requests. Please retry after 60 seconds.",
            "status": 429,
            "retryAfter": 1,
        }
    }
    unavailable = {
        "error": {
            "code": "sandbox_error",
            "message": "Sandbox runtime is temporarily unavailable",
            "status": 503,
        }
    }
    server_error = {"error": {"message": "Internal error", "type": "server_error"}}
    return [
        Scenario("OneCLI 400 flat", "POST", "/v1/agents",
                 [respond(400, body={"error": "Label is required"})],
                 (1, 400, "BadRequestError"), b'{"label": ""}'),
        Scenario("OneCLI 401 envelope", "GET", "/v1/agents",
                 [respond(401, body={"error": {"message": "Invalid API key or token.",
                                               "type": "authentication_error"}})],
                 (1, 401, "AuthenticationError")),
        Scenario("agents 429 retryAfter", "GET", "/v1/sandboxes",
                 [respond(429, body=agents_429), respond(200, body={"data": []})],
                 (2, 200, "-")),
        Scenario("500, 500, 200", "GET", "/v1/secrets",
                 [respond(500, body=server_error), respond(500, body=server_error),
                  respond(200, body={"data": []})],
                 (3, 200, "-")),
        Scenario("503 outage", "GET", "/v1/threads", [respond(503, body=unavailable)],
                 (3, 503, "ServiceUnavailableError")),
        Scenario("POST on a 503", "POST", "/v1/vaults",
                 [respond(503, body=unavailable), respond(201)],
                 (1, 503, "ServiceUnavailableError"), b'{"name": "v"}'),
        # One 429 with retryAfter: 1 holds back the three requests sent right after it:
        # they wait at the rate-limit gate instead of collecting 429s of their own.
        Scenario("429 holds 3 others back", "GET", "/v1/runs",
                 [dynamic(_limited_for(1.0, agents_429))],
                 (5, 200, "-"), followers=3),
    ]  # fmt: skip


def _limited_for(seconds: float, body: dict[str, Any]) -> Callable[[RecordedRequest], Any]:
    """A server step: 429 with ``retryAfter`` for `seconds` after the first request, then 200."""
    opens: list[float] = []

    def choose(request: RecordedRequest) -> Any:
        if not opens:
            opens.append(request.t + seconds)
        if request.t < opens[0]:
            return respond(429, {"Retry-After": f"{opens[0] - request.t:.3f}"}, body=body)
        return respond(200, body={"data": []})

    return choose


@dataclass
class Row:
    """What one scenario did on one stack."""

    scenario: str
    attempts: int = 0
    waits: list[float] = field(default_factory=list)
    status: int | None = None
    exception: str = "-"
    seconds: float = 0.0
    ok: bool = False


Call = Callable[[str, str, bytes, RetryPolicy], int]
"""(method, url, body, policy) -> final status; raises errorkit's exception."""


def _call_requests(method: str, url: str, body: bytes, policy: RetryPolicy) -> int:
    import requests

    from errorkit.requests import RetryAdapter

    with requests.Session() as session:
        session.mount("http://", RetryAdapter(policy, raise_for_status=True))
        return session.request(method, url, data=body or None, timeout=5).status_code


def _call_urllib3(method: str, url: str, body: bytes, policy: RetryPolicy) -> int:
    from errorkit.urllib3 import PoolManager

    with PoolManager(policy) as pool:
        response = pool.request(method, url, body=body or None, timeout=5.0)
        raise_for_error(response)
        return int(response.status)


def _httpx_calls(library: str) -> tuple[Call, Call]:
    """The sync and async calls of httpx or httpx2 (`library`), through errorkit's transports."""

    def sync(method: str, url: str, body: bytes, policy: RetryPolicy) -> int:
        lib = importlib.import_module(library)
        adapter = importlib.import_module(f"errorkit.{library}")
        transport = adapter.RetryTransport(policy, raise_for_status=True)
        with lib.Client(transport=transport, timeout=5) as client:
            return int(client.request(method, url, content=body or None).status_code)

    def asynchronous(method: str, url: str, body: bytes, policy: RetryPolicy) -> int:
        lib = importlib.import_module(library)
        adapter = importlib.import_module(f"errorkit.{library}")

        async def go() -> int:
            transport = adapter.AsyncRetryTransport(policy, raise_for_status=True)
            async with lib.AsyncClient(transport=transport, timeout=5) as client:
                return int((await client.request(method, url, content=body or None)).status_code)

        return asyncio.run(go())

    return sync, asynchronous


_call_httpx, _call_httpx_async = _httpx_calls("httpx")
_call_httpx2, _call_httpx2_async = _httpx_calls("httpx2")


def _call_aiohttp(method: str, url: str, body: bytes, policy: RetryPolicy) -> int:
    import aiohttp

    from errorkit.aiohttp import RetryMiddleware

    async def go() -> int:
        middleware = RetryMiddleware(policy, raise_for_status=True)
        async with (
            aiohttp.ClientSession(middlewares=(middleware,)) as session,
            session.request(method, url, data=body or None) as response,
        ):
            await response.read()
            return response.status

    return asyncio.run(go())


CALLS: dict[str, Call] = {
    "requests": _call_requests,
    "urllib3": _call_urllib3,
    "httpx": _call_httpx,
    "httpx-async": _call_httpx_async,
    "httpx2": _call_httpx2,
    "httpx2-async": _call_httpx2_async,
    "aiohttp": _call_aiohttp,
}


def installed(stack: str) -> bool:
    """Whether `stack`'s library can be imported here."""
    return importlib.util.find_spec(_MODULE_OF.get(stack, stack)) is not None


def play(server: FaultServer, stack: str, scenario: Scenario) -> Row:
    """Run one scenario on one stack against a freshly scripted server."""
    server.reset()
    server.script(scenario.path, scenario.steps)
    row = Row(scenario.name)

    def on_retry(event: RetryEvent) -> None:
        row.waits.append(event.delay)

    policy = RetryPolicy(on_retry=on_retry, budget=None)
    call = functools.partial(
        CALLS[stack], scenario.method, server.url(scenario.path), scenario.body, policy
    )
    start = time.monotonic()
    if scenario.followers:
        _with_followers(server, scenario, call, row)
    else:
        _record(row, call)
    row.seconds = time.monotonic() - start
    row.attempts = server.hits(scenario.path)
    row.ok = (row.attempts, row.status, row.exception) == scenario.expect
    return row


def _record(row: Row, call: Callable[[], int]) -> None:
    """Make the call; note its final status, or the exception it raised."""
    status: int | None
    try:
        status = call()
    except Exception as exc:  # noqa: BLE001 - the demo shows whatever was raised
        row.exception = type(exc).__name__
        status = getattr(getattr(exc, "info", None), "status", None)
    if row.status is None or status != 200:
        row.status = status  # the worst of the calls is shown


def _with_followers(
    server: FaultServer, scenario: Scenario, call: Callable[[], int], row: Row
) -> None:
    """The first call, then `followers` more at once as soon as the server answered it."""
    first = threading.Thread(target=_record, args=(row, call))
    first.start()
    deadline = time.monotonic() + 5.0
    while not server.hits(scenario.path) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # the first answer is back: its wait has closed the gate
    others = [threading.Thread(target=_record, args=(row, call)) for _ in range(scenario.followers)]
    for thread in others:
        thread.start()
    for thread in (first, *others):
        thread.join(timeout=10.0)


def run_demo(stacks: Sequence[str] | None = None, *, as_json: bool = False) -> int:
    """Play every scenario on every requested, installed stack; print the tables."""
    chosen = list(stacks or STACKS)
    unknown = [s for s in chosen if s not in CALLS]
    if unknown:
        print(
            f"errorkit: unknown stack {unknown[0]!r}; choose from {', '.join(STACKS)}",
            file=sys.stderr,
        )
        return 2
    results: dict[str, list[Row] | str] = {}
    with FaultServer() as server, _Progress(chosen, as_json) as advance:
        for stack in chosen:
            if not installed(stack):
                results[stack] = "not installed"
                advance(stack, len(scenarios()))
                continue
            rows: list[Row] = []
            for scenario in scenarios():
                rows.append(play(server, stack, scenario))
                advance(stack, 1)
            results[stack] = rows
    if as_json:
        print(
            json.dumps(
                {s: r if isinstance(r, str) else [vars(x) for x in r] for s, r in results.items()},
                indent=2,
            )
        )
    else:
        _print_tables(results)
    failed = [
        (stack, row.scenario)
        for stack, rows in results.items()
        if not isinstance(rows, str)
        for row in rows
        if not row.ok
    ]
    for stack, name in failed:
        print(f"errorkit: {stack} did not behave as expected in {name!r}", file=sys.stderr)
    return 1 if failed else 0


class _Progress:
    """A rich progress bar on a terminal; nothing when output is JSON or rich is absent."""

    def __init__(self, stacks: list[str], quiet: bool) -> None:
        self.total = len(stacks) * len(scenarios())
        self.quiet = quiet
        self.bar: Any = None

    def __enter__(self) -> Callable[[str, int], None]:
        if not self.quiet:
            try:
                from rich.progress import Progress
            except ImportError:
                return self._plain
            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("playing the seed scenarios", total=self.total)
        return self._advance

    def _advance(self, stack: str, n: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=n, description=f"{stack:<12}")

    def _plain(self, stack: str, n: int) -> None:
        print(f"  {stack}: {n} scenario(s) played", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_tables(results: dict[str, list[Row] | str]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        for stack, rows in results.items():
            print(f"\n== {stack}")
            for row in rows if not isinstance(rows, str) else []:
                print("  " + " | ".join(_cells(row)))
            if isinstance(rows, str):
                print(f"  {rows}")
        return
    console = Console(highlight=False)
    for stack, rows in results.items():
        if isinstance(rows, str):
            console.print(Text(f"{stack}: {rows}", style="yellow"))
            continue
        seconds = sum(row.seconds for row in rows)
        table = Table(title=f"{stack} ({seconds:.1f} s)", title_justify="left")
        table.add_column("scenario", overflow="fold")
        table.add_column("hits", justify="right")
        table.add_column("waits (s)", overflow="fold")
        table.add_column("final")
        table.add_column("raised", no_wrap=True)
        table.add_column("", no_wrap=True, min_width=4)
        for row in rows:
            table.add_row(*(Text(cell) for cell in _cells(row)))
        console.print(table)


def _cells(row: Row) -> list[str]:
    waits = ", ".join(f"{w:.2f}" for w in row.waits) or "-"
    final = str(row.status) if row.status is not None else "no response"
    return [
        escape_control(row.scenario),
        str(row.attempts),
        waits,
        final,
        escape_control(row.exception),
        "ok" if row.ok else "FAIL",
    ]
