"""The rate-limit gate: one server's "wait" holds back every request of its scope.

When a response tells the client to wait (a 429 or 503 with ``Retry-After``,
``retry-after-ms`` or a body ``retryAfter``; any error whose wait comes from a
used-up rate limit's reset, such as GitHub's 403 with ``x-ratelimit-remaining: 0``),
the gate closes that response's scope until then. Every request through a policy
holding the gate, first attempts included, then waits for its scope to open
(within the deadline and `max_retry_after`) or fails at once, unsent, with a
`RateLimitError` whose ``retry_after`` says how long is left: one 429 holds the
other callers back instead of each collecting its own.

**Scope.** ``key(method, url, headers) -> str`` picks it. The default,
`by_endpoint`, is the origin and the path (no query, no credentials): real APIs
mostly limit per endpoint or finer (Slack per Web API method, X/Twitter and
Discord per route, GitHub's search apart from its core API, OpenAI and Anthropic
per model), so a wait one endpoint asks for must not stall the others; an API with
one limit for the whole account (Stripe, Shopify) then costs one 429 per endpoint
and window, not one per request. Use `by_origin` for those. A key may be any
string; it is kept in memory only, and `by_endpoint` and `by_origin` never put
user info (``user:password@``) or the query (where API keys travel) in it.

**Cost.** A request looks the gate up only while some scope is closed: the open
gate costs one clock reading and one comparison.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from errorkit._clock import CLOCK
from errorkit._info import Category, ErrorInfo

if TYPE_CHECKING:
    from collections.abc import Callable

#: Scopes held closed at once; beyond, the soonest to open are forgotten first.
MAX_SCOPES = 4096

#: The statuses whose wait closes the gate whatever header or field it came from.
_WAIT_STATUSES = frozenset({429, 503})


def by_endpoint(method: str, url: object, headers: object) -> str:  # noqa: ARG001
    """The default scope: scheme, host, port and path of `url` (no query, no credentials)."""
    parts = urlsplit(str(url))
    return f"{parts.scheme.lower()}://{_host(parts.netloc)}{parts.path or '/'}"


def by_origin(method: str, url: object, headers: object) -> str:  # noqa: ARG001
    """One scope per origin (scheme, host, port): for APIs with one limit per account."""
    parts = urlsplit(str(url))
    return f"{parts.scheme.lower()}://{_host(parts.netloc)}"


def _host(netloc: str) -> str:
    return netloc.rpartition("@")[2].lower()


class RateLimitGate:
    """Holds back every request of a scope while its server asked to wait.

    Args:
        key: ``key(method, url, headers) -> str``, the scope of a request; default
            `by_endpoint` (origin and path; see the module docstring for why).

    One gate may serve many policies, adapters, threads and tasks: its state sits
    behind one `threading.Lock`, never held across a wait.
    """

    __slots__ = ("__weakref__", "_closed", "_key", "_lock", "_opens")

    def __init__(self, *, key: Callable[[str, object, object], str] | None = None) -> None:
        if key is not None and not callable(key):
            raise TypeError(f"key must be callable(method, url, headers) -> str, not {key!r}")
        self._key = by_endpoint if key is None else key
        self._closed: dict[str, float] = {}  # scope -> CLOCK.monotonic() when it opens
        self._opens = 0.0  # when the last closed scope opens: before it, look scopes up
        self._lock = threading.Lock()
        _GATES.add(self)

    def __repr__(self) -> str:
        return f"RateLimitGate(key={getattr(self._key, '__name__', self._key)!r})"

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """A pickled gate comes back open, with its key (the waits are this process's)."""
        return _restored, (None if self._key is by_endpoint else self._key,)

    def scope(self, method: str, url: object, headers: object) -> str:
        """The scope of a request, by the gate's `key`."""
        return self._key(method, url, headers)

    def holding(self) -> bool:
        """Whether any scope may be closed now: False costs one clock reading."""
        return CLOCK.monotonic() < self._opens

    def wait(self, method: str, url: object, headers: object) -> float:
        """Seconds until the request's scope opens; 0.0 while it is open."""
        now = CLOCK.monotonic()
        if now >= self._opens:
            return 0.0
        opens = self._closed.get(self.scope(method, url, headers))
        return 0.0 if opens is None or opens <= now else opens - now

    def observe(self, method: str, url: object, headers: object, info: ErrorInfo) -> float:
        """Close the request's scope for the wait `info` carries, if it is one; that wait."""
        seconds = closing_wait(info)
        if seconds is not None:
            self.close(self.scope(method, url, headers), seconds)
        return 0.0 if seconds is None else seconds

    def close(self, scope: str, seconds: float) -> None:
        """Hold `scope` closed for `seconds` from now (a later opening is kept)."""
        now = CLOCK.monotonic()
        opens = now + seconds
        with self._lock:
            if opens <= self._closed.get(scope, now):
                return
            self._closed[scope] = opens
            self._opens = max(self._opens, opens)
            if len(self._closed) > MAX_SCOPES:
                self._forget(now)

    def open_all(self) -> None:
        """Open every scope at once (a test starts from an open gate)."""
        with self._lock:
            self._closed = {}
            self._opens = 0.0

    def _forget(self, now: float) -> None:
        """Drop the scopes already open, then the soonest to open (lock held)."""
        closed = {scope: opens for scope, opens in self._closed.items() if opens > now}
        while len(closed) > MAX_SCOPES:
            del closed[min(closed, key=closed.__getitem__)]
        self._closed = closed
        self._opens = max(closed.values(), default=0.0)


def _restored(key: Callable[[str, object, object], str] | None) -> RateLimitGate:
    return RateLimitGate(key=key)


#: Every gate alive, so that a test can start with all of them open (`open_every_gate`).
_GATES: weakref.WeakSet[RateLimitGate] = weakref.WeakSet()


def open_every_gate() -> None:
    """Open every scope of every gate of the process (errorkit's pytest plugin, per test)."""
    for gate in list(_GATES):
        gate.open_all()


def closing_wait(info: ErrorInfo) -> float | None:
    """The wait an error response asks of every request of its scope, or None.

    A 429 or 503 with any wait (header or body), or an error whose wait is a used-up
    rate limit's reset (``header:x-ratelimit-reset``...); a wait on other errors (a
    500 with ``Retry-After``) concerns that request only.
    """
    seconds = info.retry_after
    if seconds is None or seconds <= 0.0:
        return None
    if info.status in _WAIT_STATUSES or info.category is Category.RATE_LIMITED:
        return seconds
    source = info.retry_after_source or ""
    return seconds if "ratelimit" in source or "rate-limit" in source else None


def refusal(seconds: float) -> ErrorInfo:
    """The `ErrorInfo` of a request the gate did not send: its scope opens in `seconds`."""
    return ErrorInfo(
        status=None,
        category=Category.RATE_LIMITED,
        message=(
            f"not sent: the server asked this endpoint's callers to wait {seconds:.1f} s "
            "more (errorkit's rate-limit gate)"
        ),
        retryable=True,
        retry_after=seconds,
        retry_after_source="gate",
        retryable_reason="the rate-limit gate opens when the server's wait ends",
    )


def local_answer(info: ErrorInfo, stop_header: str) -> tuple[list[tuple[str, str]], bytes]:
    """The headers and JSON body of the local 429 an SDK gets for a request not sent.

    ``Retry-After`` (whole seconds, rounded up) and the SDK's stop header set to
    ``false``; ``x-errorkit-local: gate`` says no server sent it. The body is the
    common ``{"error": {...}}`` envelope, which the SDKs and `errorkit.parse` read.
    """
    seconds = math.ceil(info.retry_after or 0.0)
    body = {"error": {"message": info.message, "type": "rate_limit_error", "code": "rate_limited"}}
    headers = [
        ("content-type", "application/json"),
        ("retry-after", str(seconds)),
        (stop_header, "false"),
        ("x-errorkit-local", "gate"),
    ]
    return headers, json.dumps(body).encode()
