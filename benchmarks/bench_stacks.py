"""errorkit against the bare client and the usual alternatives, stack by stack.

    python benchmarks/bench_stacks.py [--quick] [--json out.json]
        [--only overhead|amplification|partial_outage] [--stacks requests,httpx,...]

Three measures, all against a FaultServer in a child process on 127.0.0.1:

* overhead: median time per successful request over keep-alive, for the bare
  client, errorkit's adapter and the alternatives, interleaved round by round
  (variant order shuffled each round); the ratio is the median over rounds of
  each round's time divided by the bare client's time in that same round. 60
  rounds of 100 requests per variant (formerly 15 of 300: shorter rounds pair
  each variant with the bare client more closely in time), each block on a new
  client (so a new connection) and preceded by a full garbage collection, the
  same for every variant;
* amplification: server attempts per logical request during a full outage
  (every answer a 503), errorkit's default policy and budget against the
  alternatives configured for 3 attempts;
* partial outage: success rate and p50/p99 latency with a seeded 20 % of 503s.

Every loop is bounded by a request count.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import importlib
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from _serverproc import reset, server_process, stats
from errorkit.testing import instant_waits

RETRY_STATUSES = (429, 500, 502, 503, 504)
Sender = Callable[[str], int]
"""url -> status; one logical request (async variants run their own loop)."""


#: The variant whose hook (adapter, transport, middleware) does nothing but hand the
#: request on: what plugging anything into the stack costs, errorkit or not.
EMPTY_HOOK = "empty hook"
#: errorkit with its policy's rate-limit gate off (`errorkit` rows have it on, the default).
NO_GATE = "errorkit, no gate"


def _no_gate() -> Any:
    from errorkit import RetryPolicy

    return RetryPolicy(gate=None)


#: errorkit with its gate and budget shared through a `RedisBackend` (a real
#: redis-server, started for the run): a success must wait for no Redis round trip.
ON_REDIS = "errorkit, on Redis"
_BACKEND: list[Any] = []


def _on_redis() -> Any:
    from errorkit import RateLimitGate, RetryBudget, RetryPolicy
    from errorkit.redis import RedisBackend
    from errorkit.testing.redis_server import RedisServer

    if not _BACKEND:
        server = RedisServer().start()
        atexit.register(server.stop)
        _BACKEND.append(RedisBackend.from_url(server.url))
    backend = _BACKEND[0]
    return RetryPolicy(gate=RateLimitGate(backend=backend), budget=RetryBudget(backend=backend))


@dataclass
class Variant:
    stack: str
    name: str
    make: Callable[[], tuple[Sender, Callable[[], None]]]
    """-> (send, close)."""
    is_async: bool = False


# -- sync variants -------------------------------------------------------------------------


def _requests_session(adapter: Any | None) -> tuple[Sender, Callable[[], None]]:
    import requests

    session = requests.Session()
    if adapter is not None:
        session.mount("http://", adapter)
    return (lambda url: session.get(url, timeout=5).status_code), session.close


def _requests_variants() -> list[Variant]:
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    from errorkit.requests import RetryAdapter

    def u3_retry() -> Retry:
        return Retry(
            total=2, backoff_factor=0.1, status_forcelist=RETRY_STATUSES, raise_on_status=False
        )

    class EmptyAdapter(HTTPAdapter):
        """The stack's hook with nothing in it: the floor any adapter pays."""

        def send(self, *args: Any, **kwargs: Any) -> Any:
            return super().send(*args, **kwargs)

    return [
        Variant("requests", "bare", lambda: _requests_session(None)),
        Variant("requests", EMPTY_HOOK, lambda: _requests_session(EmptyAdapter())),
        Variant("requests", "errorkit", lambda: _requests_session(RetryAdapter())),
        Variant("requests", NO_GATE, lambda: _requests_session(RetryAdapter(_no_gate()))),
        Variant("requests", ON_REDIS, lambda: _requests_session(RetryAdapter(_on_redis()))),
        Variant(
            "requests",
            "urllib3 Retry",
            lambda: _requests_session(HTTPAdapter(max_retries=u3_retry())),
        ),
        Variant("requests", "tenacity", _requests_tenacity),
    ]


def _requests_tenacity() -> tuple[Sender, Callable[[], None]]:
    import requests
    import tenacity

    session = requests.Session()
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_exponential_jitter(initial=0.1),
        retry=tenacity.retry_if_result(lambda r: r.status_code in RETRY_STATUSES),
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
    )
    return (lambda url: retrying(session.get, url, timeout=5).status_code), session.close


def _urllib3_variants() -> list[Variant]:
    import urllib3

    from errorkit.urllib3 import PoolManager
    from errorkit.urllib3 import Retry as ErrorkitRetry

    def pool(manager: Any) -> tuple[Sender, Callable[[], None]]:
        return (lambda url: int(manager.request("GET", url, timeout=5.0).status)), manager.clear

    return [
        Variant("urllib3", "bare", lambda: pool(urllib3.PoolManager(retries=False))),
        # errorkit's PoolManager: its gate holds first attempts, and a used-up limit
        # on a success closes it; the Retry alone in urllib3's own manager runs
        # only after a failure.
        Variant("urllib3", "errorkit", lambda: pool(PoolManager())),
        Variant("urllib3", NO_GATE, lambda: pool(PoolManager(_no_gate()))),
        Variant(
            "urllib3",
            "errorkit Retry, urllib3's manager",
            lambda: pool(urllib3.PoolManager(retries=ErrorkitRetry())),
        ),
        Variant(
            "urllib3",
            "urllib3 Retry",
            lambda: pool(
                urllib3.PoolManager(
                    retries=urllib3.Retry(
                        total=2,
                        backoff_factor=0.1,
                        status_forcelist=RETRY_STATUSES,
                        raise_on_status=False,
                    )
                )
            ),
        ),
    ]


def _sync_client(library: str, transport: Any | None) -> tuple[Sender, Callable[[], None]]:
    """A client of httpx or httpx2 (`library`) over `transport` (None: the library's own)."""
    module = importlib.import_module(library)
    c = module.Client(transport=transport, timeout=5)
    return (lambda url: int(c.get(url).status_code)), c.close


def _empty_transport(library: str) -> Any:
    """A transport that hands every request to the library's own: the floor of the hook."""
    module = importlib.import_module(library)

    class EmptyTransport(module.BaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.inner = module.HTTPTransport()

        def handle_request(self, request: Any) -> Any:
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    return EmptyTransport()


def _empty_async_transport(library: str) -> Any:
    module = importlib.import_module(library)

    class EmptyAsyncTransport(module.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.inner = module.AsyncHTTPTransport()

        async def handle_async_request(self, request: Any) -> Any:
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    return EmptyAsyncTransport()


def _httpx_variants() -> list[Variant]:
    import httpx_retries

    from errorkit.httpx import RetryTransport

    def alternative() -> Any:
        return httpx_retries.RetryTransport(retry=httpx_retries.Retry(total=2, backoff_factor=0.1))

    return [
        Variant("httpx", "bare", lambda: _sync_client("httpx", None)),
        Variant("httpx", EMPTY_HOOK, lambda: _sync_client("httpx", _empty_transport("httpx"))),
        Variant("httpx", "errorkit", lambda: _sync_client("httpx", RetryTransport())),
        Variant("httpx", NO_GATE, lambda: _sync_client("httpx", RetryTransport(_no_gate()))),
        Variant("httpx", ON_REDIS, lambda: _sync_client("httpx", RetryTransport(_on_redis()))),
        Variant("httpx", "httpx-retries", lambda: _sync_client("httpx", alternative())),
    ]


def _httpx2_variants() -> list[Variant]:
    from errorkit.httpx2 import RetryTransport

    return [
        Variant("httpx2", "bare", lambda: _sync_client("httpx2", None)),
        Variant("httpx2", EMPTY_HOOK, lambda: _sync_client("httpx2", _empty_transport("httpx2"))),
        Variant("httpx2", "errorkit", lambda: _sync_client("httpx2", RetryTransport())),
        Variant("httpx2", NO_GATE, lambda: _sync_client("httpx2", RetryTransport(_no_gate()))),
    ]


# -- async variants: each `send` runs a coroutine on the variant's own loop ----------------


class _Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.close()


def _async_client(
    library: str, make_transport: Callable[[], Any] | None
) -> tuple[Sender, Callable[[], None]]:
    """An AsyncClient of httpx or httpx2 on its own loop, over `make_transport()`."""
    module = importlib.import_module(library)
    loop = _Loop()

    async def build() -> Any:
        return module.AsyncClient(transport=make_transport() if make_transport else None, timeout=5)

    c = loop.run(build())

    async def get(url: str) -> int:
        return int((await c.get(url)).status_code)

    def close() -> None:
        loop.run(c.aclose())
        loop.close()

    return (lambda url: int(loop.run(get(url)))), close


def _httpx_async_variants() -> list[Variant]:
    import httpx_retries

    from errorkit.httpx import AsyncRetryTransport

    def alternative() -> Any:
        return httpx_retries.RetryTransport(retry=httpx_retries.Retry(total=2, backoff_factor=0.1))

    return [
        Variant("httpx-async", "bare", lambda: _async_client("httpx", None), True),
        Variant(
            "httpx-async",
            EMPTY_HOOK,
            lambda: _async_client("httpx", lambda: _empty_async_transport("httpx")),
            True,
        ),
        Variant(
            "httpx-async", "errorkit", lambda: _async_client("httpx", AsyncRetryTransport), True
        ),
        Variant(
            "httpx-async",
            NO_GATE,
            lambda: _async_client("httpx", lambda: AsyncRetryTransport(_no_gate())),
            True,
        ),
        Variant("httpx-async", "httpx-retries", lambda: _async_client("httpx", alternative), True),
    ]


def _httpx2_async_variants() -> list[Variant]:
    from errorkit.httpx2 import AsyncRetryTransport

    return [
        Variant("httpx2-async", "bare", lambda: _async_client("httpx2", None), True),
        Variant(
            "httpx2-async",
            EMPTY_HOOK,
            lambda: _async_client("httpx2", lambda: _empty_async_transport("httpx2")),
            True,
        ),
        Variant(
            "httpx2-async", "errorkit", lambda: _async_client("httpx2", AsyncRetryTransport), True
        ),
        Variant(
            "httpx2-async",
            NO_GATE,
            lambda: _async_client("httpx2", lambda: AsyncRetryTransport(_no_gate())),
            True,
        ),
    ]


async def _empty_middleware(req: Any, handler: Any) -> Any:
    return await handler(req)


def _aiohttp_variants() -> list[Variant]:
    import aiohttp
    import aiohttp_retry

    from errorkit.aiohttp import RetryMiddleware

    def session(kind: str) -> tuple[Sender, Callable[[], None]]:
        loop = _Loop()

        async def build() -> Any:
            middlewares: tuple[Any, ...] = ()
            if kind == "errorkit":
                middlewares = (RetryMiddleware(),)
            elif kind == NO_GATE:
                middlewares = (RetryMiddleware(_no_gate()),)
            elif kind == ON_REDIS:
                middlewares = (RetryMiddleware(_on_redis()),)
            elif kind == EMPTY_HOOK:
                middlewares = (_empty_middleware,)
            s = aiohttp.ClientSession(middlewares=middlewares)
            if kind == "aiohttp-retry":
                options = aiohttp_retry.ExponentialRetry(
                    attempts=3, start_timeout=0.1, statuses=set(RETRY_STATUSES)
                )
                return s, aiohttp_retry.RetryClient(client_session=s, retry_options=options)
            return s, s

        s, c = loop.run(build())

        async def get(url: str) -> int:
            async with c.get(url) as r:
                await r.read()
                return int(r.status)

        def close() -> None:
            loop.run(s.close())
            loop.close()

        return (lambda url: int(loop.run(get(url)))), close

    return [
        Variant("aiohttp", "bare", lambda: session("bare"), True),
        Variant("aiohttp", EMPTY_HOOK, lambda: session(EMPTY_HOOK), True),
        Variant("aiohttp", "errorkit", lambda: session("errorkit"), True),
        Variant("aiohttp", NO_GATE, lambda: session(NO_GATE), True),
        Variant("aiohttp", ON_REDIS, lambda: session(ON_REDIS), True),
        Variant("aiohttp", "aiohttp-retry", lambda: session("aiohttp-retry"), True),
    ]


def variants() -> list[Variant]:
    """Every variant of every stack, bare first within each stack."""
    return [
        *_requests_variants(),
        *_urllib3_variants(),
        *_httpx_variants(),
        *_httpx_async_variants(),
        *_httpx2_variants(),
        *_httpx2_async_variants(),
        *_aiohttp_variants(),
    ]


# -- the three measures --------------------------------------------------------------------


#: Requests each new client sends, untimed, before its timed block.
WARM_UP = 10


def _round(
    group: list[Variant],
    url: str,
    per_round: int,
    rng: random.Random,
    samples: dict[int, list[float]],
) -> None:
    """One round of one stack's variants: a new client each (so a new connection and
    server thread: a connection that happens to be served faster favours no
    variant), `WARM_UP` untimed requests, then `per_round` timed requests each,
    interleaved request by request in a shuffled order, so that every variant's
    requests meet the same moments of the machine's load."""
    built = [(v, *v.make()) for v in group]
    try:
        for _, send, _ in built:
            for _ in range(WARM_UP):
                send(url)
        rng.shuffle(built)
        totals = dict.fromkeys((id(v) for v, _, _ in built), 0.0)
        gc.collect()
        clock = time.perf_counter
        for _ in range(per_round):
            for v, send, _ in built:
                start = clock()
                send(url)
                totals[id(v)] += clock() - start
        for key, total in totals.items():
            samples[key].append(total / per_round * 1e6)
    finally:
        for _, _, close in built:
            close()


def overhead(
    base: str, rounds: int, per_round: int, stacks: set[str] | None = None
) -> list[dict[str, Any]]:
    """Median µs per successful request, per variant, interleaved across rounds.

    Every variant gets the same treatment: 50 warm-up requests once, then in each
    round (variant order shuffled) a new client, `WARM_UP` untimed requests on it,
    and a full garbage collection right before its timed block of `per_round`
    requests, so that no block inherits a collection that
    earlier blocks' garbage made due; the collector stays on inside the block, so
    each variant pays for its own allocations. Many short rounds pair each variant
    with the bare client closely in time. `stacks`: measure only these.
    """
    chosen = [v for v in variants() if stacks is None or v.stack in stacks]
    samples: dict[int, list[float]] = {id(v): [] for v in chosen}
    rng = random.Random(7)
    url = f"{base}/fast"
    for v in chosen:  # warm up the code paths once
        send, close = v.make()
        try:
            for _ in range(50):
                send(url)
        finally:
            close()
    by_stack: dict[str, list[Variant]] = {}
    for v in chosen:
        by_stack.setdefault(v.stack, []).append(v)
    for _ in range(rounds):
        for group in by_stack.values():
            _round(group, url, per_round, rng, samples)
    # Each round times every variant once, in shuffled order: the ratio to the bare
    # client *of the same round* cancels the machine's drift between rounds.
    bare = {v.stack: samples[id(v)] for v in chosen if v.name == "bare"}
    return [
        {
            "stack": v.stack,
            "variant": v.name,
            "us_per_request": round(statistics.median(samples[id(v)]), 1),
            "ratio_to_bare": round(
                statistics.median(
                    t / b for t, b in zip(samples[id(v)], bare[v.stack], strict=True)
                ),
                3,
            ),
        }
        for v in chosen
    ]


@contextmanager
def _errorkit_waits_are_virtual(variant: Variant) -> Iterator[None]:
    """errorkit waits through its clock seam: make them instant (the clock still moves)."""
    if variant.name.startswith("errorkit"):
        with instant_waits():
            yield
    else:
        yield


def _retrying(base: str) -> Iterator[tuple[Variant, Sender]]:
    """Every variant but bare, each with a new client and the server's counters reset;
    the client is closed when the caller moves on."""
    for v in variants():
        if v.name in ("bare", ON_REDIS):  # the Redis rows measure the success path only
            continue
        reset(base)
        send, close = v.make()
        try:
            yield v, send
        finally:
            close()


def amplification(base: str, requests_per_client: int) -> list[dict[str, Any]]:
    """Server attempts per logical request when every answer is a 503."""
    rows = []
    for v, send in _retrying(base):
        with _errorkit_waits_are_virtual(v), _no_alternative_sleep():
            for _ in range(requests_per_client):
                send(f"{base}/outage")
        hits = stats(base)["outage"]
        rows.append(
            {
                "stack": v.stack,
                "variant": v.name,
                "attempts_per_request": round(hits / requests_per_client, 3),
            }
        )
    return rows


@contextmanager
def _no_alternative_sleep() -> Iterator[None]:
    """The alternatives' sleeps are skipped in the outage run: their amplification does
    not depend on time (none has a budget), and this keeps the run bounded."""
    original_sleep, original_asleep = time.sleep, asyncio.sleep

    async def no_asleep(delay: float, result: Any = None) -> Any:
        return await original_asleep(0, result)

    time.sleep = lambda _delay: None
    asyncio.sleep = no_asleep
    try:
        yield
    finally:
        time.sleep, asyncio.sleep = original_sleep, original_asleep


def partial_outage(base: str, requests_per_client: int) -> list[dict[str, Any]]:
    """Success rate and latency percentiles with a seeded 20 % of 503s, real waits."""
    rows = []
    for v, send in _retrying(base):
        latencies, ok = [], 0
        for _ in range(requests_per_client):
            start = time.perf_counter()
            ok += send(f"{base}/partial") == 200
            latencies.append(time.perf_counter() - start)
        latencies.sort()
        rows.append(
            {
                "stack": v.stack,
                "variant": v.name,
                "success_rate": round(ok / requests_per_client, 4),
                "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
                "attempts_per_request": round(stats(base)["partial"] / requests_per_client, 3),
            }
        )
    return rows


MEASURES = ("overhead", "amplification", "partial_outage")


def run(
    quick: bool = False, only: str | None = None, stacks: set[str] | None = None
) -> dict[str, Any]:
    """All three measures in one run, or `only` one of them; `stacks`: overhead's stacks."""
    results: dict[str, Any] = {}
    with server_process() as base:
        if only in {None, "overhead"}:
            rounds, per_round = (5, 50) if quick else (60, 100)
            results["overhead"] = overhead(base, rounds, per_round, stacks)
        if only in {None, "amplification"}:
            results["amplification"] = amplification(base, 100 if quick else 400)
        if only in {None, "partial_outage"}:
            results["partial_outage"] = partial_outage(base, 100 if quick else 400)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--only", choices=MEASURES, help="run this measure alone")
    parser.add_argument(
        "--stacks", help="comma-separated stacks for the overhead measure (default: all)"
    )
    args = parser.parse_args()
    stacks = set(args.stacks.split(",")) if args.stacks else None
    results = run(args.quick, args.only, stacks)
    text = json.dumps(results, indent=2)
    if args.json:
        with open(args.json, "w") as fh:  # noqa: PTH123
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
