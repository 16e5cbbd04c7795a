"""`RedisBackend`: one retry budget, rate-limit gate and throttle for a fleet of processes.

::

    import redis
    import errorkit
    from errorkit.redis import RedisBackend

    backend = RedisBackend(redis.Redis(host="10.0.0.5"))  # or redis.asyncio.Redis(...)
    policy = errorkit.RetryPolicy(
        gate=errorkit.RateLimitGate(backend=backend),
        budget=errorkit.RetryBudget(backend=backend),
    )

Every process whose objects have the same backend (the same Redis and ``prefix``)
and the same ``name`` shares their state: one 429 with ``Retry-After: 60`` holds
every worker back, a stated quota is paced for the fleet, and an outage spends one
retry budget, not one per process.

**No request waits for Redis**, in a thread or on an event loop. One background
thread per backend exchanges each object's changes for the fleet's view, every
`interval` (50 ms) and at once when a gate closes, here or anywhere in the fleet
(the gate's script publishes the closing; a second thread per backend listens):
requests read the view in memory. So the view is at most ``interval`` plus one
round trip old, and a gate closed by another process holds this one within a few
round trips (about 1 ms on one host); a view older than `stale_after` (1 s) is not
used.

**Each exchange is one atomic server-side script** (``EVALSHA``), timed by Redis'
own clock (``TIME``): hosts whose clocks disagree agree on every wait, since only
durations cross the wire. The keys one script touches share a hash tag,
``{prefix}{kind:name}``, so the scripts run unchanged on Redis Cluster and Valkey.
Every key expires (a window or a wait after its last write); no key or value holds
a credential: a scope is what the object's ``key`` function returns (by default
the origin and path, without user info or query).

**Redis down or slow**: the backend's own connections time out after `timeout`
(100 ms; the client you pass is only read for its address and credentials); the
objects then decide by this process's state alone, as without a backend. The
``errorkit`` logger says so once (WARNING) and once more when Redis answers again
(INFO). A Redis restarted empty is filled again by the next exchanges.

A client of ``redis.asyncio`` is accepted as well: its settings are read the same
way, and the backend's thread opens its own connections, so the event loop never
runs a Redis command of errorkit's.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any

import redis
from errorkit._gate import PACE_FOR
from errorkit._info import Quota
from errorkit._shared import BudgetDelta, BudgetView, Curve, GateDelta, GateView, Shared

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Self

__all__ = ["RedisBackend"]

logger = logging.getLogger("errorkit")

#: The connection settings read from the client given: where Redis is and who we are.
_SETTINGS = (
    "host",
    "port",
    "path",
    "db",
    "username",
    "password",
    "credential_provider",
    "client_name",
    *(
        f"ssl_{name}"
        for name in (
            "keyfile",
            "certfile",
            "cert_reqs",
            "ca_certs",
            "ca_data",
            "ca_path",
            "check_hostname",
            "min_version",
            "ciphers",
            "password",
        )
    ),
)

# Redis 5+ replicates script effects by default; older servers need to be asked,
# before TIME, for a script that writes after reading the clock.
_PREAMBLE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function member(key, id, ttl)
  redis.call('ZADD', key, now, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl)
  redis.call('PEXPIRE', key, ttl)
  return redis.call('ZCARD', key)
end
"""

# KEYS: counts hash, members zset. ARGV: bucket width (ms), buckets, requests,
# retries, member id, member ttl (ms). Fields: "<bucket>:q" requests, "<bucket>:r".
_BUDGET = (
    _PREAMBLE
    + """
local width, buckets = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = math.floor(now / width)
if tonumber(ARGV[3]) ~= 0 then redis.call('HINCRBY', KEYS[1], b .. ':q', ARGV[3]) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[1], b .. ':r', ARGV[4]) end
local all = redis.call('HGETALL', KEYS[1])
local q, r = 0, 0
for i = 1, #all, 2 do
  local sep = string.find(all[i], ':', 1, true)
  local fb = tonumber(string.sub(all[i], 1, sep - 1))
  if fb == nil or fb <= b - buckets then
    redis.call('HDEL', KEYS[1], all[i])
  elseif string.sub(all[i], sep + 1) == 'q' then
    q = q + tonumber(all[i + 1])
  else
    r = r + tonumber(all[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], width * buckets * 2)
return {q, r, member(KEYS[2], ARGV[5], tonumber(ARGV[6]))}
"""
)

# KEYS: counts hash. ARGV: bucket width (ms), buckets, then (scope, requests,
# accepts) triples. Fields: "<bucket>:q:<scope>" and "<bucket>:a:<scope>".
# Returns scope, requests, accepts, ... over the window.
_THROTTLE = (
    _PREAMBLE
    + """
local width, buckets = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = math.floor(now / width)
for i = 3, #ARGV, 3 do
  if tonumber(ARGV[i + 1]) > 0 then
    redis.call('HINCRBY', KEYS[1], b .. ':q:' .. ARGV[i], ARGV[i + 1])
  end
  if tonumber(ARGV[i + 2]) > 0 then
    redis.call('HINCRBY', KEYS[1], b .. ':a:' .. ARGV[i], ARGV[i + 2])
  end
end
local all = redis.call('HGETALL', KEYS[1])
local totals, order = {}, {}
for i = 1, #all, 2 do
  local sep = string.find(all[i], ':', 1, true)
  local fb = tonumber(string.sub(all[i], 1, sep - 1))
  if fb == nil or fb <= b - buckets then
    redis.call('HDEL', KEYS[1], all[i])
  else
    local what, scope = string.sub(all[i], sep + 1, sep + 1), string.sub(all[i], sep + 3)
    if totals[scope] == nil then totals[scope] = {0, 0}; order[#order + 1] = scope end
    local slot = (what == 'q') and 1 or 2
    totals[scope][slot] = totals[scope][slot] + tonumber(all[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], width * buckets * 2)
local out = {}
for _, scope in ipairs(order) do
  out[#out + 1] = scope; out[#out + 1] = totals[scope][1]; out[#out + 1] = totals[scope][2]
end
return out
"""
)

# KEYS: closed hash (scope -> opens, ms), quotas hash (scope -> "limit:window_ms:until"),
# members zset, learned hash (scope -> "peak in mreq/s:cut, ms"). ARGV: member id,
# member ttl (ms), pace ttl (ms), wake channel, number of closings, of quotas, then
# (scope, ms) pairs, (scope, limit, window ms) triples, (scope, mreq/s, age ms) triples.
# A closing that holds a scope longer is published on the wake channel.
# Returns: {closed scope, ms left, ...}, {scope, limit, window ms, ...}, members,
# {scope, mreq/s, age ms, ...}.
_GATE = (
    _PREAMBLE
    + """
local n, q = tonumber(ARGV[5]), tonumber(ARGV[6])
local first_quota, first_curve = 7 + 2 * n, 7 + 2 * n + 3 * q
local longer = false
for i = 7, first_quota - 1, 2 do
  local opens = now + tonumber(ARGV[i + 1])
  local held = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if opens > held then redis.call('HSET', KEYS[1], ARGV[i], opens); longer = true end
end
if longer then redis.call('PUBLISH', ARGV[4], 'closed') end
local until_ = now + tonumber(ARGV[3])
for i = first_quota, first_curve - 1, 3 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1] .. ':' .. ARGV[i + 2] .. ':' .. until_)
end
for i = first_curve, #ARGV, 3 do
  local cut = now - tonumber(ARGV[i + 2])
  local held = redis.call('HGET', KEYS[4], ARGV[i])
  local was = held and tonumber(string.match(held, ':(-?%d+)$')) or nil
  if not was or cut > was then redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1] .. ':' .. cut) end
end
local closed, last = {}, 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local left = tonumber(all[i + 1]) - now
  if left > 0 then
    closed[#closed + 1] = all[i]; closed[#closed + 1] = left
    if left > last then last = left end
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
if last > 0 then redis.call('PEXPIRE', KEYS[1], last + 1000) end
local quotas, longest = {}, 0
all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local limit, window, ends = string.match(all[i + 1], '^(%d+):(%d+):(%d+)$')
  if limit and tonumber(ends) > now then
    quotas[#quotas + 1] = all[i]; quotas[#quotas + 1] = limit; quotas[#quotas + 1] = window
    if tonumber(ends) - now > longest then longest = tonumber(ends) - now end
  else
    redis.call('HDEL', KEYS[2], all[i])
  end
end
if longest > 0 then redis.call('PEXPIRE', KEYS[2], longest + 1000) end
local curves, newest = {}, nil
all = redis.call('HGETALL', KEYS[4])
for i = 1, #all, 2 do
  local peak, cut = string.match(all[i + 1], '^(%d+):(-?%d+)$')
  if peak and tonumber(cut) + tonumber(ARGV[3]) > now then
    curves[#curves + 1] = all[i]; curves[#curves + 1] = peak
    curves[#curves + 1] = now - tonumber(cut)
    if not newest or tonumber(cut) > newest then newest = tonumber(cut) end
  else
    redis.call('HDEL', KEYS[4], all[i])
  end
end
if newest then redis.call('PEXPIRE', KEYS[4], newest + tonumber(ARGV[3]) - now + 1000) end
return {closed, quotas, member(KEYS[3], ARGV[1], tonumber(ARGV[2])), curves}
"""
)


class RedisBackend:
    """Shares budgets, gates and throttles between processes through one Redis.

    Args:
        client: a ``redis.Redis`` or ``redis.asyncio.Redis``; only its address,
            database and credentials are read (never logged). See `from_url`.
        prefix: the start of every key (``errorkit:`` by default), so that several
            applications share one Redis apart.
        interval: seconds between exchanges, in [0.005, 10]: the staleness of the
            fleet's view, and one small script per object per interval on Redis.
        timeout: seconds a Redis command may take (connect, send, answer), in
            [0.005, 5]; beyond it the exchange fails and the objects use local state.
        stale_after: seconds a view is used for, in [interval, 60], at least twice
            `interval`; it also sets how long a silent process counts as a member
            of the fleet (for the budget's and the pace's shares).

    Not pickled (its connection settings hold credentials): build one per process.
    After ``os.fork()``, the child starts its own exchange thread at its first use.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "errorkit:",
        interval: float = 0.05,
        timeout: float = 0.1,
        stale_after: float = 1.0,
    ) -> None:
        given: object = prefix
        if not isinstance(given, str) or "{" in given or "}" in given or len(given) > 64:
            raise ValueError(
                f"prefix must be a str of at most 64 characters, no braces: {prefix!r}"
            )
        self._interval = _seconds("interval", interval, 0.005, 10.0)
        self._timeout = _seconds("timeout", timeout, 0.005, 5.0)
        self._stale_after = _seconds("stale_after", stale_after, 2 * self._interval, 60.0)
        self._prefix = prefix
        self._client = _own_client(client, self._timeout)
        self._where = _address(client)
        self._member = uuid.uuid4().hex
        self._senders: dict[str, Callable[[Any, Any], Any]] = {
            "budget": self._send_budget,
            "throttle": self._send_throttle,
            "gate": self._send_gate,
        }
        self._scripts = {
            kind: self._client.register_script(lua)
            for kind, lua in (("budget", _BUDGET), ("throttle", _THROTTLE), ("gate", _GATE))
        }
        self._shared: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._channel = f"{prefix}wake"
        self._down: str | None = None  # why the last exchange failed, while it fails
        self.exchanges = 0
        """Exchanges that reached Redis, since creation (one per object per interval)."""
        self.failures = 0
        """Exchanges that failed (Redis down, slow, or refusing), since creation."""
        _BACKENDS.add(self)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisBackend:
        """A backend for the Redis at `url` (``redis://host:port/db``); `kwargs` as above."""
        return cls(redis.Redis.from_url(url), **kwargs)

    def __repr__(self) -> str:
        state = "down" if self._down else "up"
        return f"RedisBackend({self._where}, prefix={self._prefix!r}, {state})"

    def __reduce__(self) -> Any:
        raise TypeError(
            "a RedisBackend is not pickled: its connection settings hold credentials; "
            "build one in each process"
        )

    @property
    def available(self) -> bool:
        """Whether the last exchange reached Redis (True before the first one)."""
        return self._down is None

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def stale_after(self) -> float:
        return self._stale_after

    def attach(self, shared: Shared[Any, Any]) -> None:
        """Start exchanging `shared`'s state (held weakly: a dropped object stops).

        The first exchange runs at once, in the calling thread (at most `timeout`),
        so an object starts with the fleet's view: its constructor is the one place
        that may wait for Redis, never a request.
        """
        with self._lock:
            self._shared.add(shared)
        self._exchange(shared)
        self._ensure_thread(listen=shared.kind == "gate")

    def wake(self) -> None:
        """Exchange now rather than at the next interval (a gate just closed)."""
        self._wake.set()
        if self._thread is None:
            self._ensure_thread()

    def sync(self) -> None:
        """Exchange every object's state now, in the calling thread (tests, shutdown)."""
        for shared in list(self._shared):
            self._exchange(shared)

    def close(self) -> None:
        """Stop the exchange thread and close the backend's connections."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._timeout * 4 + 1.0)
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_thread(self, *, listen: bool = False) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="errorkit-redis", daemon=True
                )
                self._thread.start()
            gates = listen or any(shared.kind == "gate" for shared in self._shared)
            if gates and self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="errorkit-redis-wake", daemon=True
                )
                self._listener.start()

    def _after_fork(self) -> None:
        self._thread = None
        self._listener = None
        self._member = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            # While Redis is down, try again every stale_after, not every interval.
            self._wake.wait(self._stale_after if self._down else self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.sync()

    def _listen(self) -> None:
        """Wake the exchange thread as soon as any process's gate closes a scope for
        longer (the gate script publishes on the wake channel): the fleet's other
        processes hold within a round trip or two, not an `interval`."""
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]
                pubsub.subscribe(self._channel)
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self._wake.set()
            except (redis.RedisError, OSError, ValueError):
                # Redis down: the exchanges report it; listen again a while later.
                self._stop.wait(self._stale_after)
            finally:
                if pubsub is not None:
                    pubsub.close()

    def _exchange(self, shared: Shared[Any, Any]) -> None:
        delta = shared.outgoing()
        try:
            view = self._send(shared, delta)
        except (redis.RedisError, OSError, ValueError, TypeError) as exc:
            # Whatever Redis did (down, slow, full, a reply not understood): this
            # exchange is lost, the object decides locally, the next one may work.
            self.failures += 1
            shared.unsent(delta)
            shared.incoming(None, stale_after=self._stale_after)
            self._report_down(exc)
            return
        self.exchanges += 1
        shared.incoming(view, stale_after=self._stale_after)
        if self._down is not None:
            logger.info("errorkit: the Redis backend at %s answers again", self._where)
            self._down = None

    def _report_down(self, exc: BaseException) -> None:
        if self._down is None:
            self._down = type(exc).__name__
            logger.warning(
                "errorkit: the Redis backend at %s did not answer (%s): the rate-limit "
                "gate, retry budget and throttle use this process's state until it does",
                self._where,
                self._down,
            )

    def _key(self, shared: Shared[Any, Any], what: str) -> str:
        return f"{self._prefix}{{{shared.kind}:{shared.name}}}:{what}"

    def _send(self, shared: Shared[Any, Any], delta: Any) -> Any:
        return self._senders[shared.kind](shared, delta)

    def _send_budget(self, shared: Any, delta: BudgetDelta) -> BudgetView:
        width_ms = max(1, round(shared.window * 100))  # ten buckets per window
        reply = self._scripts["budget"](
            keys=[self._key(shared, "counts"), self._key(shared, "members")],
            args=[width_ms, 10, delta.requests, delta.retries, self._member, self._member_ttl()],
        )
        requests, retries, members = (int(value) for value in reply)
        return BudgetView(requests, retries, members)

    def _send_throttle(self, shared: Any, delta: dict[str, tuple[int, int]]) -> Any:
        width_ms = max(1, round(shared.window * 1000 / 12))  # the throttle's 12 buckets
        args: list[str | int | float] = [width_ms, 12]
        for scope, (requests, accepts) in delta.items():
            args += [scope, requests, accepts]
        reply = self._scripts["throttle"](keys=[self._key(shared, "counts")], args=args)
        return {
            _text(reply[i]): (int(reply[i + 1]), int(reply[i + 2]))
            for i in range(0, len(reply) - 2, 3)
        }

    def _send_gate(self, shared: Any, delta: GateDelta) -> GateView:
        ttl, pace_ms = self._member_ttl(), round(PACE_FOR * 1000)
        args: list[str | int | float] = [self._member, ttl, pace_ms, self._channel]
        args += [len(delta.closed), len(delta.quotas)]
        for scope, seconds in delta.closed.items():
            args += [scope, max(1, round(seconds * 1000))]
        for scope, quota in delta.quotas.items():
            args += [scope, quota.limit, max(1, round(quota.window * 1000))]
        for scope, curve in delta.learned.items():
            args += [scope, round(curve.peak * 1000), round(curve.age * 1000)]
        closed, quotas, members, curves = self._scripts["gate"](
            keys=[self._key(shared, name) for name in ("closed", "quotas", "members", "learned")],
            args=args,
        )
        return GateView(
            closed={
                _text(closed[i]): int(closed[i + 1]) / 1000 for i in range(0, len(closed) - 1, 2)
            },
            quotas={
                _text(quotas[i]): Quota(int(quotas[i + 1]), int(quotas[i + 2]) / 1000)
                for i in range(0, len(quotas) - 2, 3)
            },
            members=int(members),
            learned={
                _text(curves[i]): Curve(int(curves[i + 1]) / 1000, int(curves[i + 2]) / 1000)
                for i in range(0, len(curves) - 2, 3)
            },
        )

    def _member_ttl(self) -> int:
        return round(self._stale_after * 2000)


#: Every backend alive, so that a forked child restarts their threads lazily.
_BACKENDS: weakref.WeakSet[RedisBackend] = weakref.WeakSet()


def _seconds(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be seconds in [{low:g}, {high:g}], not {value!r}")
    return float(value)


def _own_client(client: Any, timeout: float) -> redis.Redis:
    """A client of the backend's own, to the same Redis as `client`, with short timeouts."""
    pool = getattr(client, "connection_pool", None)
    settings = getattr(pool, "connection_kwargs", None)
    if not isinstance(settings, dict):
        raise TypeError(
            f"client must be a redis.Redis or redis.asyncio.Redis, not {type(client).__name__}"
        )
    kind = type(pool).__dict__.get("connection_class") or getattr(pool, "connection_class", None)
    name = getattr(kind, "__name__", "Connection")
    connection_class = {
        "SSLConnection": redis.SSLConnection,
        "UnixDomainSocketConnection": redis.UnixDomainSocketConnection,
    }.get(name, redis.Connection)
    kwargs = {key: settings[key] for key in _SETTINGS if key in settings}
    if connection_class is not redis.UnixDomainSocketConnection:
        kwargs.pop("path", None)
    new_pool = redis.ConnectionPool(
        connection_class=connection_class,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=None,
        # The exchange thread, the wake listener's subscription, and a caller's sync().
        max_connections=3,
        **kwargs,
    )
    return redis.Redis(connection_pool=new_pool)


def _address(client: Any) -> str:
    """Where the client's Redis is, for log lines: host:port/db, never credentials."""
    settings = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    where = settings.get("path") or f"{settings.get('host', '?')}:{settings.get('port', '?')}"
    return f"{where}/{settings.get('db', 0)}"


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reinit_after_fork() -> None:
    # The parent's thread is not in the child, and its locks may be held by a thread
    # that is not either: new ones; the next attach or wake starts the child's thread.
    for backend in list(_BACKENDS):
        backend._after_fork()  # noqa: SLF001 - the module's own class


os.register_at_fork(after_in_child=_reinit_after_fork)
