"""The rate-limit gate: one server's "wait" holds back every request of its scope.

When a response tells the client to wait (a 429 or 503 with ``Retry-After``,
``retry-after-ms`` or a body ``retryAfter``; any error whose wait comes from a
used-up rate limit's reset, such as GitHub's 403 with ``x-ratelimit-remaining: 0``),
the gate closes that response's scope until then; so does a success whose rate
limit is used up (``x-ratelimit-remaining: 0`` and its reset, ``RateLimit: r=0``),
for at most `USED_UP_FOR` s, before any request collects the 429. Every request through a policy
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

**Pacing.** A 429 that states the server's quota (``RateLimit-Policy:
"default";q=40;w=1``, `ErrorInfo.quota`) also makes the gate pace that scope for
`PACE_FOR` seconds: each request takes the next slot, ``w / q`` seconds after the
previous one, so the callers released when the gate opens do not burst through the
next window together and collect the next 429 (at `PACE_SHARE`, 95 %, of the
quota, so the jitter of many callers does not drain the server's bucket). With a
backend, the slots are ``w / q`` times the number of processes sharing the gate
apart: the fleet keeps to the quota, each process to its share. Only a 429 starts
pacing, so an API that states its quota on every response costs nothing until it
says "too many".

**Learning the rate.** A 429 that states no quota (only ``Retry-After``, or
nothing) makes the gate learn one, as AWS's adaptive retry mode does (botocore's
``ClientRateLimiter``, CUBIC congestion control): when the scope opens again its
requests are released paced, not all at once, starting at `START_RATE` requests/s
for the fleet and doubling every `DOUBLING` seconds until the next 429; from then
on each 429 cuts the rate to `CUBIC_BETA` (70 %) of what was being sent and the
rate climbs back along the cubic curve ``C (t - K)**3 + peak`` (C = `CUBIC_C`), flat
near the rate the server last refused, so the fleet spends its time just under
the server's limit and probes above it rarely. A cut starts from what the fleet
sent over the last second, not from the curve (which overshoots in slow start, and
for a quiet caller names a rate it never reached), and one closing cuts once (the 429s of requests
already on their way do not cut again). A quota stated later replaces what was
learned. The pace lasts `PACE_FOR` seconds after the last 429. Why on by default:
a server that said "too many" and then gets every held request at the same
instant answers most of them 429 again (a 40/s token bucket with a burst of 10
admits about 10 per second to a fleet that waits and then bursts:
benchmarks/bench_fleet.py); pass ``learn=False`` for a gate that only closes.

**A fleet.** With ``backend=`` (`errorkit.redis.RedisBackend`) a scope closed or
paced in one process is closed or paced in every process sharing the gate, within
the backend's interval (50 ms by default); requests still read the gate in memory.

**Cost.** A request looks the gate up only while some scope is closed or paced: the
open gate costs one clock reading and one comparison; a paced scope, its key and
one lock.
"""

from __future__ import annotations

import json
import math
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from errorkit._clock import CLOCK
from errorkit._hints import REMAINING_HEADERS, read_hints
from errorkit._info import Category, ErrorInfo
from errorkit._shared import Curve, GateDelta, GateView, check_backend, check_name, not_pickled

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from errorkit._info import Quota
    from errorkit._shared import StateBackend

#: Scopes held closed at once; beyond, the soonest to open are forgotten first.
MAX_SCOPES = 4096

#: Seconds a scope is paced by the quota its 429 stated (renewed by each such 429).
PACE_FOR = 600.0

#: The share of a stated quota a paced scope uses: the rest absorbs the jitter of
#: many callers, so the server's bucket drifts full, not empty (at 100 % it would
#: random-walk to empty and answer 429 again).
PACE_SHARE = 0.95

#: A learned pace's first rate (requests/s, for the fleet), and the seconds in which
#: it doubles until the first 429 after it gives a rate to climb back to.
START_RATE = 2.0
DOUBLING = 0.5

#: CUBIC's constants, as TCP (RFC 9438) and botocore's adaptive mode use them: the
#: share of the rate kept at a cut, and the curve's scale (requests/s per s**3).
CUBIC_BETA = 0.7
CUBIC_C = 0.4

#: The slowest a learned pace goes (requests/s, for the fleet), and the fastest it
#: climbs to (beyond, it no longer holds anything back).
MIN_RATE = 0.5
MAX_RATE = 1e5

#: Most slots a pace remembers, to tell the rate sent over the last second (older
#: ones are dropped as new ones are taken; more than a process sends to one scope
#: in a second it is paced).
_RECENT = 4096

#: A 429 arriving this soon after its scope reopened was sent before the cut: it
#: does not cut again.
_CUT_GUARD = 0.05

#: The longest a success's used-up limit closes its scope: a later reset (GitHub's
#: hour) is then told by the server's own error response, which closes it for all of
#: it, so that a 200 that misreports its limit cannot stop a client for long.
USED_UP_FOR = 60.0

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


def used_up(headers: Mapping[str, str]) -> bool:
    """Whether a response's headers may say a rate limit is used up: a remaining count
    that starts with 0, or a ``RateLimit`` field with ``r=0`` or ``remaining=0``.

    One ``get`` per name in `REMAINING_HEADERS`, no parsing: cheap enough for every
    success; `RateLimitGate.observe_used_up` parses the headers only when it is True.
    """
    for name in REMAINING_HEADERS:
        value = headers.get(name)
        if value is not None and (
            value.lstrip()[:1] == "0" or "r=0" in value or "remaining=0" in value
        ):
            return True
    return False


def learned_rate(peak: float, age: float, members: int = 1) -> float:
    """The fleet's requests/s a learned pace allows `age` s after its last cut.

    ``peak`` 0.0: no rate known yet, slow start (`START_RATE` per process sharing
    the gate, doubling every `DOUBLING` s). Else the cubic curve through
    ``CUBIC_BETA * peak`` at the cut and ``peak`` at
    ``K = cbrt(peak * (1 - CUBIC_BETA) / CUBIC_C)`` s after it.
    """
    age = max(0.0, age)
    if peak <= 0.0:
        doublings: float = 2.0 ** min(age / DOUBLING, 60.0)
        return min(MAX_RATE, START_RATE * members * doublings)
    k = math.pow(peak * (1.0 - CUBIC_BETA) / CUBIC_C, 1.0 / 3.0)
    return min(MAX_RATE, max(MIN_RATE, CUBIC_C * (age - k) ** 3 + peak))


class _Pace:
    """A scope's pace: a stated quota, or a learned curve; the next free slot, the
    end, and the slots this process took in the last second (the rate it sent at)."""

    __slots__ = ("cut", "next", "peak", "quota", "recent", "until")

    def __init__(self, quota: Quota | None, until: float, now: float) -> None:
        self.quota = quota
        self.until = until
        self.next = now
        self.peak = 0.0  # the learned curve: its peak, and when it was cut
        self.cut = now
        self.recent: deque[float] = deque(maxlen=_RECENT)  # slots taken, oldest first

    def spacing(self, slot: float, members: int) -> float:
        """Seconds from the slot taken, `slot`, to the next (this process's share): a
        learned rate as it is at `slot`, so that a queue drains as the rate climbs."""
        recent = self.recent
        while recent and recent[0] <= slot - 1.0:  # only the last second is read
            recent.popleft()
        recent.append(slot)
        if self.quota is not None:
            return self.quota.interval * members / PACE_SHARE
        return members / learned_rate(self.peak, slot - self.cut, members)

    def refused(self, now: float, members: int) -> float:
        """The fleet's rate a 429 arriving `now` refused: what the fleet sent over the
        last second (this process's slots times its members), at most the curve's."""
        curve = learned_rate(self.peak, now - self.cut, members)
        sent = [slot for slot in self.recent if now - 1.0 < slot <= now]
        if len(sent) < 2:
            return min(curve, len(sent) * members)
        spread = max(sent) - min(sent)  # n slots span n - 1 gaps
        return curve if spread <= 0.0 else min(curve, (len(sent) - 1) / spread * members)


class RateLimitGate:
    """Holds back every request of a scope while its server asked to wait.

    Args:
        key: ``key(method, url, headers) -> str``, the scope of a request; default
            `by_endpoint` (origin and path; see the module docstring for why).
        name: the name processes share the gate under, with a backend (1 to 64 of
            ``A-Z a-z 0-9 _ . -``).
        backend: a `StateBackend` (`errorkit.redis.RedisBackend`): a scope closed in
            one process is closed in every process whose gate has the same backend
            and name, within the backend's interval; a stated quota is paced for
            the fleet, each process taking its share. No request waits for the
            backend; while it cannot be reached, the gate holds what this process saw.
        learn: after a 429 that states no quota, pace the scope by a learned rate
            (see the module docstring); False: only close it for the 429's wait.

    One gate may serve many policies, adapters, threads and tasks: its state sits
    behind one `threading.Lock`, never held across a wait.
    """

    __slots__ = (
        "__weakref__",
        "_backend",
        "_closed",
        "_closings",
        "_fleet",
        "_fresh_until",
        "_key",
        "_learn",
        "_learned_out",
        "_lock",
        "_name",
        "_opens",
        "_outgoing",
        "_paces",
        "_quotas_out",
    )

    def __init__(
        self,
        *,
        key: Callable[[str, object, object], str] | None = None,
        name: str = "default",
        backend: StateBackend | None = None,
        learn: bool = True,
    ) -> None:
        if key is not None and not callable(key):
            raise TypeError(f"key must be callable(method, url, headers) -> str, not {key!r}")
        self._key = by_endpoint if key is None else key
        self._name = check_name(name)
        self._backend = check_backend(backend)
        self._closed: dict[str, float] = {}  # scope -> CLOCK.monotonic() when it opens
        self._closings = 0  # closings that held a scope longer, ever: see `closings`
        self._paces: dict[str, _Pace] = {}  # scope -> its stated quota, kept to
        self._opens = 0.0  # when the last closed or paced scope opens: before, look up
        self._outgoing: dict[str, float] = {}  # scope -> opens, closed here, not yet shared
        self._quotas_out: dict[str, Quota] = {}
        self._learned_out: set[str] = set()  # scopes whose pace was cut here, not yet shared
        self._learn = bool(learn)
        self._fleet = 1  # processes sharing the gate, by the backend's last view
        self._fresh_until = 0.0
        self._lock = threading.Lock()
        _GATES.add(self)
        if self._backend is not None:
            self._backend.attach(self)

    def __repr__(self) -> str:
        return f"RateLimitGate(key={getattr(self._key, '__name__', self._key)!r})"

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """A pickled gate comes back open, with its key (the waits are this process's)."""
        if self._backend is not None:
            raise not_pickled("RateLimitGate")
        return _restored, (None if self._key is by_endpoint else self._key,)

    def scope(self, method: str, url: object, headers: object) -> str:
        """The scope of a request, by the gate's `key`."""
        return self._key(method, url, headers)

    def holding(self) -> bool:
        """Whether any scope may be closed or paced now: False costs one clock reading."""
        return CLOCK.monotonic() < self._opens

    def wait(self, method: str, url: object, headers: object, *, after: float = 0.0) -> float:
        """Seconds until the request may go, at least `after`: `after` while its scope
        is open and unpaced.

        A paced scope (one whose server stated its quota, or whose rate the gate
        learned, see the module docstring) gives each request the next free slot
        from `after` s on: calling `wait` takes that slot.
        """
        now = CLOCK.monotonic()
        if now >= self._opens:
            return after
        scope = self.scope(method, url, headers)
        opens = self._closed.get(scope)
        start = now + after if opens is None or opens <= now + after else opens
        pace = self._paces.get(scope)
        if pace is not None and pace.until > now:
            with self._lock:
                start = max(start, pace.next)
                pace.next = start + pace.spacing(start, self._members())
        return start - now

    @property
    def closings(self) -> int:
        """How many times a scope was closed for longer, here or by the fleet: a
        caller that slept for its slot compares it with what it read before, and
        asks again (`closed_for`) only when it changed."""
        return self._closings

    def closed_for(self, method: str, url: object, headers: object) -> float:
        """Seconds the request's scope stays closed (0.0 when open); takes no slot."""
        opens = self._closed.get(self.scope(method, url, headers))
        return 0.0 if opens is None else max(0.0, opens - CLOCK.monotonic())

    def observe(self, method: str, url: object, headers: object, info: ErrorInfo) -> float:
        """Close the request's scope for the wait `info` carries, if it is one; that wait.

        A 429 that states the server's quota (``RateLimit-Policy``) also makes the
        gate pace the scope's requests by it, for `PACE_FOR` seconds after.
        """
        seconds = closing_wait(info)
        quota = info.quota if info.status == 429 else None
        learn = self._learn and info.status == 429 and quota is None
        if seconds is None and quota is None and not learn:
            return 0.0
        scope = self.scope(method, url, headers)
        if seconds is not None:
            self.close(scope, seconds)
        if quota is not None:
            self.pace(scope, quota)
        elif learn:
            self._cut(scope, seconds or 0.0)
        return 0.0 if seconds is None else seconds

    def observe_used_up(
        self, method: str, url: object, headers: object, response: Mapping[str, str]
    ) -> None:
        """A success whose headers say a rate limit is used up (GitHub's
        ``x-ratelimit-remaining: 0`` beside its reset) closes its scope until the
        reset, at most `USED_UP_FOR` s, before any request collects the 429 or 403.

        The adapters call it only for a success that `used_up` picked out, so a
        success is parsed only when one of its remaining counts is 0.
        """
        hints = read_hints(response)
        if hints.rate_limit_exhausted and hints.rate_limit_reset:
            seconds = min(hints.rate_limit_reset, USED_UP_FOR)
            self.close(self.scope(method, url, headers), seconds)

    def close(self, scope: str, seconds: float) -> None:
        """Hold `scope` closed for `seconds` from now (a later opening is kept)."""
        if self._hold(scope, CLOCK.monotonic() + seconds) and self._backend is not None:
            self._backend.wake()

    def pace(self, scope: str, quota: Quota) -> None:
        """Keep `scope`'s requests to `quota` for the next `PACE_FOR` seconds."""
        self._keep_to(scope, quota, CLOCK.monotonic() + PACE_FOR, share=True)

    def _cut(self, scope: str, seconds: float) -> None:
        """A 429 with no quota: start learning the scope's rate, or cut it, from
        when the scope opens again (`seconds` from now)."""
        now = CLOCK.monotonic()
        with self._lock:
            pace = self._paces.get(scope)
            if pace is None:
                pace = self._new_pace(scope, None, now, now)
            elif pace.quota is not None and pace.until > now:
                return  # a stated quota is kept to, not learned
            elif now < pace.cut + _CUT_GUARD and pace.until > now:
                return  # sent before the last cut: that closing already cut
            else:
                # The rate refused: the curve's, or what was sent if that was less.
                live = pace.until > now
                pace.peak = pace.refused(now, self._members()) if live else 0.0
                pace.quota = None
            pace.cut = now + seconds
            pace.until = now + PACE_FOR
            if self._backend is not None:
                self._learned_out.add(scope)
            self._opens = max(self._opens, pace.until)

    def open_all(self) -> None:
        """Open every scope at once, and stop pacing (a test starts from an open gate)."""
        with self._lock:
            self._closed = {}
            self._paces = {}
            self._outgoing = {}
            self._quotas_out = {}
            self._learned_out = set()
            self._opens = 0.0

    def _hold(self, scope: str, opens: float, *, share: bool = True) -> bool:
        """Close `scope` until `opens` unless it is held longer; whether it changed."""
        now = CLOCK.monotonic()
        with self._lock:
            if opens <= self._closed.get(scope, now):
                return False
            self._closed[scope] = opens
            self._closings += 1
            if share and self._backend is not None:
                self._outgoing[scope] = opens
            self._opens = max(self._opens, opens)
            if len(self._closed) > MAX_SCOPES:
                self._forget(now)
            return True

    def _keep_to(self, scope: str, quota: Quota, until: float, *, share: bool) -> None:
        now = CLOCK.monotonic()
        with self._lock:
            pace = self._paces.get(scope)
            if pace is None:
                self._new_pace(scope, quota, until, now)
            else:
                pace.quota, pace.until = quota, max(pace.until, until)
            if share and self._backend is not None:
                self._quotas_out[scope] = quota
            self._opens = max(self._opens, until)

    def _follow(self, scope: str, curve: Curve, now: float) -> None:
        """Take the fleet's learned pace for `scope` if it was cut after ours (lock held)."""
        pace = self._paces.get(scope)
        if pace is not None and pace.quota is not None and pace.until > now:
            return
        cut = now - curve.age
        if pace is None:
            pace = self._new_pace(scope, None, now + PACE_FOR - curve.age, now)
        elif cut <= pace.cut + 1e-3 and pace.until > now:
            return
        pace.peak, pace.cut, pace.quota = curve.peak, cut, None
        pace.until = max(pace.until, cut + PACE_FOR)
        self._opens = max(self._opens, pace.until)

    def _new_pace(self, scope: str, quota: Quota | None, until: float, now: float) -> _Pace:
        """A new pace for `scope` (lock held); beyond `MAX_SCOPES`, the oldest is dropped."""
        if len(self._paces) >= MAX_SCOPES:
            del self._paces[next(iter(self._paces))]
        pace = self._paces[scope] = _Pace(quota, until, now)
        return pace

    def _members(self) -> int:
        """Processes sharing the gate, by a fresh view of the backend; else 1."""
        return self._fleet if time.monotonic() < self._fresh_until else 1

    def _forget(self, now: float) -> None:
        """Drop the scopes already open, then the soonest to open (lock held)."""
        closed = {scope: opens for scope, opens in self._closed.items() if opens > now}
        while len(closed) > MAX_SCOPES:
            del closed[min(closed, key=closed.__getitem__)]
        self._closed = closed
        paced = (pace.until for pace in self._paces.values())
        self._opens = max(*closed.values(), *paced, 0.0)

    # The `errorkit._shared.Shared` side, for a backend.

    @property
    def kind(self) -> str:
        return "gate"

    @property
    def name(self) -> str:
        """The name processes share this gate under (with a backend)."""
        return self._name

    def outgoing(self) -> GateDelta:
        now = CLOCK.monotonic()
        with self._lock:
            closed = {scope: opens - now for scope, opens in self._outgoing.items() if opens > now}
            learned = {
                scope: Curve(pace.peak, now - pace.cut)
                for scope in self._learned_out
                if (pace := self._paces.get(scope)) is not None and pace.quota is None
            }
            delta = GateDelta(closed, self._quotas_out, learned)
            self._outgoing, self._quotas_out, self._learned_out = {}, {}, set()
            return delta

    def unsent(self, delta: GateDelta) -> None:
        """Closings and quotas not shared yet go out with the next exchange."""
        with self._lock:
            for scope in delta.closed:
                self._outgoing.setdefault(scope, self._closed.get(scope, 0.0))
            for scope, quota in delta.quotas.items():
                self._quotas_out.setdefault(scope, quota)
            self._learned_out.update(delta.learned)

    def incoming(self, view: GateView | None, *, stale_after: float) -> None:
        if view is None:
            # What this process saw stays: it is all there is. All of it goes out
            # again with the next exchange that works, for a backend that lost it
            # (restarted empty) and processes that start meanwhile.
            with self._lock:
                self._outgoing.update(self._closed)
                for scope, pace in self._paces.items():
                    if pace.quota is not None:
                        self._quotas_out[scope] = pace.quota
                    else:
                        self._learned_out.add(scope)
            return
        now = CLOCK.monotonic()
        for scope, seconds in view.closed.items():
            self._hold(scope, now + seconds, share=False)
        for scope, quota in view.quotas.items():
            self._keep_to(scope, quota, now + 2 * stale_after, share=False)
        with self._lock:
            for scope, curve in view.learned.items():
                self._follow(scope, curve, now)
            self._fleet = max(1, view.members)
            self._fresh_until = time.monotonic() + stale_after


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


def local_answer(info: ErrorInfo, stop_header: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and JSON body of the local answer an SDK gets for a request
    errorkit did not send.

    The gate's refusal (`info` rate-limited) is a 429 with ``Retry-After`` (whole
    seconds, rounded up); the throttle's a 503. Both carry the SDK's stop header set
    to ``false`` (so the SDK raises its own error at once rather than re-send a
    request errorkit would refuse again) and ``x-errorkit-local: gate`` or
    ``throttle``, which says no server sent it. The body is the common
    ``{"error": {...}}`` envelope, which the SDKs and `errorkit.parse` read.
    """
    if info.category is Category.RATE_LIMITED:
        status, kind, code, source = 429, "rate_limit_error", "rate_limited", "gate"
        headers = [("retry-after", str(math.ceil(info.retry_after or 0.0)))]
    else:
        status, kind, code, source = 503, "service_unavailable", "throttled", "throttle"
        headers = []
    body = {"error": {"message": info.message, "type": kind, "code": code}}
    headers += [
        ("content-type", "application/json"),
        (stop_header, "false"),
        ("x-errorkit-local", source),
    ]
    return status, headers, json.dumps(body).encode()
