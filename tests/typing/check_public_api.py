"""The public API as a caller's type checker sees it: mypy checks this file (never run).

A change that breaks a caller's types fails `mypy` here before it reaches a user.
"""

from __future__ import annotations

import httpx
import requests
from typing_extensions import assert_type

import errorkit
from errorkit import Category, ErrorInfo, RetryBudget, RetryPolicy
from errorkit.aiohttp import RetryMiddleware
from errorkit.httpx import AsyncRetryTransport, RetryTransport
from errorkit.requests import RetryAdapter
from errorkit.urllib3 import Retry

info = errorkit.parse(429, {"Retry-After": "1"}, b"{}")
assert_type(info, ErrorInfo | None)
if info is not None:
    assert_type(info.category, Category)
    assert_type(info.retry_after, float | None)
    assert_type(info.retryable, bool)
    assert_type(info.details, tuple[object, ...])

policy = RetryPolicy(max_attempts=4, deadline=10.0, budget=RetryBudget(ratio=0.2))
assert_type(policy.with_changes(max_attempts=2), RetryPolicy)
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
middleware = RetryMiddleware(policy)
retry = Retry(policy)

try:
    errorkit.raise_for_error(session.get("https://api.example/x"))
except errorkit.RateLimitError as exc:
    assert_type(exc.info, ErrorInfo)
    assert_type(exc.attempts, int)
    assert_type(exc.retry_after, float | None)
except errorkit.APIConnectionError as exc:
    assert_type(exc.info.category, Category)
