"""The public API as a caller's type checker sees it: mypy checks this file (never run).

A change that breaks a caller's types fails `mypy` here before it reaches a user.
"""

from __future__ import annotations

import dataclasses

import httpx
import httpx2
import requests
from typing_extensions import assert_type

import errorkit
import errorkit.testing
from errorkit import Category, ErrorInfo, RetryBudget, RetryPolicy
from errorkit.aiohttp import RetryMiddleware
from errorkit.httpx import AsyncRetryTransport, RetryTransport
from errorkit.httpx2 import AsyncRetryTransport as AsyncRetryTransport2
from errorkit.httpx2 import RetryTransport as RetryTransport2
from errorkit.requests import RetryAdapter
from errorkit.urllib3 import PoolManager, Retry

info = errorkit.parse(429, {"Retry-After": "1"}, b"{}")
assert_type(info, ErrorInfo | None)
if info is not None:
    assert_type(info.category, Category)
    assert_type(info.retry_after, float | None)
    assert_type(info.retryable, bool)
    assert_type(info.details, tuple[object, ...])

policy = RetryPolicy(max_attempts=4, deadline=10.0, budget=RetryBudget(ratio=0.2))
assert_type(dataclasses.replace(policy, max_attempts=2), RetryPolicy)
decision = policy.decide(
    attempt=1,
    elapsed=0.0,
    method="GET",
    outcome=info or ErrorInfo(status=503, category=Category.UNAVAILABLE, message="down"),
)
assert_type(decision.retry, bool)
assert_type(decision.delay, float)
assert_type(decision.reason, errorkit.Reason)

session = requests.Session()
session.mount("https://", RetryAdapter(policy, raise_for_status=True, pool_maxsize=4))
client = httpx.Client(transport=RetryTransport(policy))
aclient = httpx.AsyncClient(transport=AsyncRetryTransport(policy))
client2 = httpx2.Client(transport=RetryTransport2(policy))
aclient2 = httpx2.AsyncClient(transport=AsyncRetryTransport2(policy))
assert_type(RetryTransport2(policy).transport, httpx2.BaseTransport)
assert_type(RetryTransport(policy).transport, httpx.BaseTransport)
middleware = RetryMiddleware(policy)
retry = Retry(policy)
pool = PoolManager(policy, maxsize=4)
assert_type(pool.retries, Retry)
assert_type(pool.request("GET", "https://api.example/x").status, int)

try:
    errorkit.raise_for_error(session.get("https://api.example/x"))
except errorkit.RateLimitError as exc:
    assert_type(exc.info, ErrorInfo)
    assert_type(exc.attempts, int)
    assert_type(exc.retry_after, float | None)
except errorkit.APIConnectionError as exc:
    assert_type(exc.info.category, Category)

assert_type(errorkit.parse(200, {}, b'{"ok": false}', in_band=True), ErrorInfo | None)


@errorkit.shape("acme", keys=["fault"])
def acme(doc: errorkit.Document) -> errorkit.Extracted | None:
    """A user's recognizer, written with the public helpers only."""
    fault = errorkit.envelope(doc.json, "fault")
    assert_type(fault, dict[str, object] | None)
    if fault is None:
        return None
    message = errorkit.as_text(fault.get("reason"))
    assert_type(message, str | None)
    assert_type(errorkit.as_code(fault.get("id")), str | None)
    assert_type(errorkit.as_status(fault.get("status")), int | None)
    assert_type(errorkit.as_seconds(fault.get("wait")), float | None)
    return errorkit.Extracted(format="acme", message=message)


assert_type(acme, errorkit.Recognizer)
assert_type(errorkit.register_format(acme, before="slack"), errorkit.Recognizer)


@errorkit.testing.strict_parsing()
def strictly() -> ErrorInfo | None:
    return errorkit.parse(500, None, b"")


assert_type(strictly(), ErrorInfo | None)
with errorkit.testing.strict_parsing():
    errorkit.parse(500)
