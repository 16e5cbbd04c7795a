"""Worker processes of a fleet, for the tests that share state through a real Redis.

Each worker is a fresh ``spawn`` process (as a fleet's processes are: nothing shared
but Redis and the server) that builds its own policy on its own `RedisBackend`,
reports ready once its backend sees the whole fleet, waits for the parent's go,
makes its calls through errorkit's requests adapter and reports what it got.
Every wait is bounded.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

WAIT = 20.0  # longest any step of a worker or of the parent waits


@dataclass(frozen=True)
class Job:
    """What one worker does: `calls` GETs of `url`, through a policy of `kind`."""

    redis_url: str | None  # None: no backend (the per-process control)
    url: str
    calls: int = 1
    kind: str = "gate"  # "gate": the gate on the backend; "budget": the budget on it
    members: int = 4  # the fleet size the worker waits to see before reporting ready
    skew: float = 0.0  # seconds added to this process's clocks (time, monotonic)
    group: int = 0  # the parent starts group 0, then group 1
    settings: dict[str, Any] = field(default_factory=dict)


def _skew_clocks(seconds: float) -> None:
    """Make this process's clocks disagree with every other host's by `seconds`."""
    real_time, real_monotonic = time.time, time.monotonic
    time.time = lambda: real_time() + seconds
    time.monotonic = lambda: real_monotonic() + seconds


def _policy(job: Job, backend: Any) -> Any:
    import errorkit

    if job.kind == "gate":
        gate = errorkit.RateLimitGate(backend=backend) if backend else errorkit.RateLimitGate()
        return errorkit.RetryPolicy(gate=gate, budget=None, **job.settings), gate
    budget = (
        errorkit.RetryBudget(backend=backend, **job.settings["budget"])
        if backend
        else errorkit.RetryBudget(**job.settings["budget"])
    )
    policy = errorkit.RetryPolicy(
        gate=None, budget=budget, **{k: v for k, v in job.settings.items() if k != "budget"}
    )
    return policy, budget


def _wait_for_fleet(backend: Any, shared: Any, members: int) -> None:
    """Until the backend's view of `shared` counts the whole fleet (bounded)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        backend.sync()
        fleet: Any = getattr(shared, "_fleet", None)
        seen = getattr(fleet, "members", fleet)
        if seen == members:
            return
        time.sleep(0.02)
    raise TimeoutError(f"the fleet of {members} never showed in Redis")


def worker(job: Job, ready: Any, groups: Any, results: Any) -> None:
    if job.skew:
        _skew_clocks(job.skew)
    import requests

    from errorkit.requests import RetryAdapter

    backend = None
    if job.redis_url is not None:
        from errorkit.redis import RedisBackend

        backend = RedisBackend.from_url(job.redis_url)
    policy, shared = _policy(job, backend)
    if backend is not None:
        _wait_for_fleet(backend, shared, job.members)
    session = requests.Session()
    session.mount("http://", RetryAdapter(policy=policy))
    ready.put(obj=True)
    if not groups[job.group].wait(WAIT):
        results.put(("error", "no go"))
        return
    outcomes = [_call(session, job.url) for _ in range(job.calls)]
    spent = getattr(shared, "retries_allowed", None)
    results.put(("done", outcomes, spent))
    session.close()
    if backend is not None:
        backend.close()


def _call(session: Any, url: str) -> object:
    """The status of one GET, or the name of the exception it raised."""
    try:
        return session.get(url, timeout=10).status_code
    except Exception as exc:  # reported to the parent, which asserts on it
        return type(exc).__name__


@dataclass
class Fleet:
    """The parent's handle on running workers."""

    groups: tuple[Any, Any]
    results: Any
    size: int

    def start(self, group: int = 0) -> None:
        self.groups[group].set()

    def outcomes(self) -> list[tuple[Any, ...]]:
        """Each worker's report: ("done", outcomes, retries granted), bounded."""
        return [self.results.get(timeout=WAIT * 2) for _ in range(self.size)]


@contextmanager
def fleet(jobs: list[Job]) -> Iterator[Fleet]:
    """Start one process per job; yields once every one is ready (its backend attached)."""
    ctx = mp.get_context("spawn")
    ready, results, groups = ctx.Queue(), ctx.Queue(), (ctx.Event(), ctx.Event())
    procs = [ctx.Process(target=worker, args=(job, ready, groups, results)) for job in jobs]
    for proc in procs:
        proc.start()
    try:
        for _ in jobs:
            ready.get(timeout=WAIT * 2)
        yield Fleet(groups, results, len(jobs))
    finally:
        for event in groups:
            event.set()
        for proc in procs:
            proc.join(timeout=WAIT)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
