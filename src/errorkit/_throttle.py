"""Client-side adaptive throttling (Google SRE book, "Handling Overload"), per scope.

While a scope's server keeps failing, a share of its requests is rejected locally,
without being sent, so that an outage is not fed by its own callers. Over the
trailing `window` seconds, per scope::

    p(reject) = min(MAX_REJECT, max(0, (requests - k * accepts) / (requests + 1)))

`requests` counts every attempt the application made (sent or rejected), `accepts`
those the server accepted: any response but an overload (429, 5xx) and any
failure but a connection or timeout failure. With ``k=2`` (the book's value) a
server that accepts half of the requests is never throttled; one that accepts
none sees about a tenth of the requests (`MAX_REJECT` = 0.9 caps the rejection,
so probes keep going out and recovery is seen within seconds). A rejected
request raises `APIConnectionError` (also the stack's connection error), logged
at INFO on the ``errorkit`` logger and handed to ``on_reject``.

Opt-in (``RetryPolicy(throttle=AdaptiveThrottle())``): it counts every attempt,
successes included, so it costs its scope key and one lock per attempt.
"""

from __future__ import annotations

import math
import random
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from errorkit._clock import CLOCK
from errorkit._gate import by_endpoint
from errorkit._info import Category, ErrorInfo
from errorkit._shared import check_backend, check_name, not_pickled

if TYPE_CHECKING:
    from collections.abc import Callable

    from errorkit._shared import StateBackend

#: The largest share of requests rejected, so some probes always reach the server.
MAX_REJECT = 0.9
#: Time buckets per window: counts expire to a twelfth of it (10 s of the default 2 min).
_BUCKETS = 12
#: Scopes counted at once; the least recently used is forgotten first.
MAX_SCOPES = 1024

#: Outcomes that mean the server did not accept the request (it is overloaded or down).
_REJECTED_BY_SERVER = frozenset(
    {Category.RATE_LIMITED, Category.UNAVAILABLE, Category.SERVER, Category.TIMEOUT,
     Category.CONNECTION}
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleEvent:
    """Handed to ``AdaptiveThrottle(on_reject=...)`` for each request rejected locally."""

    scope: str
    probability: float
    requests: int
    accepts: int
    method: str
    url: str  # credentials redacted


class Rejection(NamedTuple):
    """Why a request was rejected: the probability, from the counts of the window."""

    probability: float
    requests: int
    accepts: int


class _Counts:
    """One scope's requests and accepts, per time bucket of the window."""

    __slots__ = ("accepts", "head", "requests")

    def __init__(self, head: int) -> None:
        self.requests = [0] * _BUCKETS
        self.accepts = [0] * _BUCKETS
        self.head = head

    def advance(self, bucket: int) -> int:
        """Clear the buckets that left the window; the current bucket's slot."""
        gap = bucket - self.head
        if gap > 0:
            for step in range(1, min(gap, _BUCKETS) + 1):
                slot = (self.head + step) % _BUCKETS
                self.requests[slot] = self.accepts[slot] = 0
            self.head = bucket
        return self.head % _BUCKETS


class AdaptiveThrottle:
    """Rejects requests locally while their scope's server keeps failing (Google SRE).

    Args:
        k: how many requests per accepted one are tolerated before rejecting; > 1
            (2, the book's value: throttling starts once under half are accepted).
        window: seconds of history, in [1, 3600]; default 120 (the book's 2 minutes).
        key: ``key(method, url, headers) -> str``, the scope; default
            `errorkit.by_endpoint`.
        on_reject: called with a `ThrottleEvent` for each rejected request.
        random: floats in [0, 1), injectable for deterministic tests.
        name: the name processes share the throttle under, with a backend.
        backend: a `StateBackend` (`errorkit.redis.RedisBackend`): the counts are
            the fleet's, so every process throttles as soon as the server fails
            for the fleet; while the backend cannot be reached, this process's.
    """

    __slots__ = (
        "__weakref__",
        "_backend",
        "_fleet",
        "_fresh_until",
        "_k",
        "_key",
        "_lock",
        "_name",
        "_random",
        "_scopes",
        "_unsynced",
        "_width",
        "on_reject",
    )

    def __init__(  # noqa: PLR0913 - keyword-only settings
        self,
        *,
        k: float = 2.0,
        window: float = 120.0,
        key: Callable[[str, object, object], str] | None = None,
        on_reject: Callable[[ThrottleEvent], object] | None = None,
        random: Callable[[], float] = random.random,
        name: str = "default",
        backend: StateBackend | None = None,
    ) -> None:
        if not _number_in(k, 1.0, math.inf) or k == 1:
            raise ValueError(f"k must be a finite number > 1, not {k!r}")
        if not _number_in(window, 1.0, 3600.0):
            raise ValueError(f"window must be seconds in [1, 3600], not {window!r}")
        self._k = float(k)
        self._width = float(window) / _BUCKETS
        self._key = by_endpoint if key is None else key
        self.on_reject = on_reject
        self._random = random
        self._scopes: dict[str, _Counts] = {}
        self._name = check_name(name)
        self._backend = check_backend(backend)
        self._unsynced: dict[str, list[int]] = {}  # scope -> [requests, accepts] since
        self._fleet: dict[str, tuple[int, int]] = {}  # the fleet's, by the last view
        self._fresh_until = 0.0
        self._lock = threading.Lock()
        _THROTTLES.add(self)
        if self._backend is not None:
            self._backend.attach(self)

    def __repr__(self) -> str:
        return f"AdaptiveThrottle(k={self._k:g}, window={self._width * _BUCKETS:g})"

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """A pickled throttle comes back with its settings and no history."""
        if self._backend is not None:
            raise not_pickled("AdaptiveThrottle")
        return _restored, (self._k, self._width * _BUCKETS, self._key, self.on_reject)

    def scope(self, method: str, url: object, headers: object) -> str:
        return self._key(method, url, headers)

    def admit(self, scope: str) -> Rejection | None:
        """Count one request of `scope`: None if it may go, else why it is rejected."""
        with self._lock:
            counts, slot = self._counts(scope)
            requests, accepts = self._window(scope, counts)
            counts.requests[slot] += 1
            self._note(scope, 1, 0)
        p = min(MAX_REJECT, max(0.0, (requests - self._k * accepts) / (requests + 1)))
        return Rejection(p, requests, accepts) if p > 0.0 and self._random() < p else None

    def count(self, scope: str, outcome: ErrorInfo | None, *, new_request: bool) -> None:
        """Tally an attempt's outcome (None: a success); `new_request`: a retry to count."""
        accepted = outcome is None or outcome.category not in _REJECTED_BY_SERVER
        if not accepted and not new_request:
            return
        with self._lock:
            counts, slot = self._counts(scope)
            if new_request:
                counts.requests[slot] += 1
            if accepted:
                counts.accepts[slot] += 1
            self._note(scope, int(new_request), int(accepted))

    def stats(self, scope: str) -> tuple[int, int]:
        """(requests, accepts) of `scope` over the window (the fleet's, with a backend)."""
        with self._lock:
            counts, _ = self._counts(scope)
            return self._window(scope, counts)

    def reset(self) -> None:
        """Forget every scope's history (a test starts from none)."""
        with self._lock:
            self._scopes = {}
            self._unsynced = {}
            self._fleet = {}

    def _window(self, scope: str, counts: _Counts) -> tuple[int, int]:
        """(requests, accepts) over the window: the fleet's while fresh, else local."""
        if self._backend is None or time.monotonic() >= self._fresh_until:
            return sum(counts.requests), sum(counts.accepts)
        requests, accepts = self._fleet.get(scope, (0, 0))
        unsynced = self._unsynced.get(scope, (0, 0))
        return requests + unsynced[0], accepts + unsynced[1]

    def _note(self, scope: str, requests: int, accepts: int) -> None:
        if self._backend is None:
            return
        noted = self._unsynced.get(scope)
        if noted is None:
            if len(self._unsynced) >= MAX_SCOPES:
                return  # counted here; the fleet misses it until the next exchange
            noted = self._unsynced[scope] = [0, 0]
        noted[0] += requests
        noted[1] += accepts

    # The `errorkit._shared.Shared` side, for a backend.

    @property
    def kind(self) -> str:
        return "throttle"

    @property
    def name(self) -> str:
        """The name processes share this throttle under (with a backend)."""
        return self._name

    @property
    def window(self) -> float:
        """Seconds of history counted."""
        return self._width * _BUCKETS

    def outgoing(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            delta = {scope: (noted[0], noted[1]) for scope, noted in self._unsynced.items()}
            self._unsynced = {}
            return delta

    def unsent(self, delta: dict[str, tuple[int, int]]) -> None:
        """Counts that did not reach the backend are dropped: the local window has them."""

    def incoming(self, view: dict[str, tuple[int, int]] | None, *, stale_after: float) -> None:
        with self._lock:
            self._fleet = {} if view is None else view
            self._fresh_until = 0.0 if view is None else time.monotonic() + stale_after

    def _counts(self, scope: str) -> tuple[_Counts, int]:
        bucket = int(CLOCK.monotonic() // self._width)
        counts = self._scopes.pop(scope, None)  # re-inserted last: least recent first out
        if counts is None:
            counts = _Counts(bucket)
            if len(self._scopes) >= MAX_SCOPES:
                del self._scopes[next(iter(self._scopes))]
        self._scopes[scope] = counts
        return counts, counts.advance(bucket)


def _number_in(value: object, low: float, high: float) -> bool:
    """Whether `value` is an int or float (not a bool) in [low, high], and finite."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )


def rejection(probability: float, requests: int, accepts: int) -> ErrorInfo:
    """The `ErrorInfo` of a request the throttle did not send."""
    return ErrorInfo(
        status=None,
        category=Category.CONNECTION,
        message=(
            f"not sent: throttled locally (p={probability:.2f}: the server accepted "
            f"{accepts} of the last {requests} requests)"
        ),
        retryable=True,
        retryable_reason="the throttle rejects fewer requests as the server accepts more",
    )


def _restored(
    k: float,
    window: float,
    key: Callable[[str, object, object], str],
    on_reject: Callable[[ThrottleEvent], object] | None,
) -> AdaptiveThrottle:
    return AdaptiveThrottle(k=k, window=window, key=key, on_reject=on_reject)


#: Every throttle alive, so that a test can start with none of them holding history.
_THROTTLES: weakref.WeakSet[AdaptiveThrottle] = weakref.WeakSet()


def reset_every_throttle() -> None:
    for throttle in list(_THROTTLES):
        throttle.reset()
