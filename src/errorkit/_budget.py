"""The shared retry budget: retries capped to a fraction of recent traffic, plus a floor."""

from __future__ import annotations

import math
import reprlib
import threading
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, NamedTuple

from errorkit._clock import CLOCK
from errorkit._shared import BudgetDelta, BudgetView, check_backend, check_name, not_pickled

if TYPE_CHECKING:
    from collections.abc import Callable

    from errorkit._shared import StateBackend

#: Buckets per window: expiry is to a tenth of the window (1 s at the default 10 s).
_BUCKETS = 10
#: Absorbs float rounding in ``ratio * requests`` (0.1 * 30 is 3.0000000000000004).
_EPSILON = 1e-9
#: Noted requests that make `record_request` count the notes itself, so they stay few.
_NOTES_MAX = 256
#: Largest `ratio` and `min_per_second`: a million retries per request or per second
#: is no budget at all (pass ``budget=None`` for that), and the allowance stays finite.
MAX_RATE = 1e6
#: Shortest `window`, in seconds: buckets of 0.1 ms stay exact integers in a float
#: for any monotonic clock reading below 28,000 years.
MIN_WINDOW = 1e-3
#: Longest `window` (one day): a longer memory would refuse retries long after an
#: outage ended (Finagle allows 1 to 60 s).
MAX_WINDOW = 24 * 3600.0


class BudgetStats(NamedTuple):
    """A frozen snapshot of a budget's lifetime counters."""

    requests: int
    """Logical requests recorded (first attempts)."""
    retries_allowed: int
    """Retries the budget granted."""
    retries_refused: int
    """Retries the budget refused."""


class RetryBudget:
    """Caps retries to a fraction of recent traffic, so an outage cannot multiply load.

    Over the trailing `window` seconds (to a tenth of the window), at each grant::

        retries <= ratio * (requests - failures) + min_per_second * window

    where `failures` are the requests whose first attempt failed in a way the budget
    pays retries for (`record_failure`): a request earns retries only when the
    server answered it, so an outage funds none of its own.

    Only ``try_spend()`` spends, and callers call it only after the policy has
    decided to retry a retryable failure: successes and final errors never touch the
    budget, and a refusal leaves it unchanged. Thread-safe: every method that reads
    or spends takes one `threading.Lock`, never held across an ``await``, so tasks
    may share it too; one instance can serve many adapters, sessions, threads and
    tasks. `record_request`, which runs on every request, successes included, only
    notes the request's time on a `collections.deque` (whose appends and pops are
    thread-safe); the notes are counted, each in its own time bucket, under the
    lock by the next method that reads the counts.

    Defaults, with the systems and studies they follow:

    - ``ratio=0.25``: sized from what a retry policy needs, not copied. A
      3-attempt policy facing an independent failure rate p wants p + p**2
      retries per request, (p + p**2) / (1 - p) per request that did not fail:
      0.25 at p = 17 %. A quarter therefore rides out a one-in-six failure rate
      with every retry granted (a 10 % ratio, the SRE book's and MEHR's, would
      refuse most of them and turn a 99 % success rate into about 88 %). Finagle
      and Envoy use 20 % of all requests; three layers at 25 % amplify by 1.95x at
      most, against 64x for three unbudgeted 4-attempt layers.
    - ``min_per_second=1.0``: the SRE book's 60 retries per minute per process. The
      floor lets an idle or low-traffic client retry its rare failures (a ratio alone
      would grant 0.25 * 3 = 0 retries to three requests). Finagle's 10/s floor suits a
      busy proxy, not one library client.
    - ``window=10.0``: Finagle's ttl and MEHR's window; long enough to see a burst
      and its retries, short enough to grant retries again soon after recovery.

    In a full outage, every first attempt fails and earns nothing: the retries are
    what the healthy traffic of the last window earned (spent in the outage's first
    seconds) plus the floor, so from one window into it the server sees at most
    ``1 + min_per_second * window / N`` attempts per request, N requests per window
    (1.05 at 20 requests/s per process). Recovery is not held back: first attempts
    are always sent, and each answered one earns retries again at once (gRPC's and
    AWS's retry tokens work so too; errorkit adds the floor, so a client whose every
    request failed for a window still retries one per second).

    Args:
        ratio: retries allowed per recorded request, in [0, `MAX_RATE`]. 0: only
            the floor.
        min_per_second: retries per second always allowed, whatever the traffic, in
            [0, `MAX_RATE`]. 0: no floor (with ``ratio=0`` too, no retry is ever
            allowed).
        window: seconds of history counted, in [`MIN_WINDOW`, `MAX_WINDOW`] (1 ms
            to one day).
        clock: a monotonic clock in seconds; default ``errorkit._clock.CLOCK.monotonic``
            (read on each call, so the testing helpers that swap it apply). A
            reading that is not a finite number (NaN, inf, None) counts in the
            newest bucket, as a clock that steps back does: a broken clock never
            makes the budget raise in the middle of a request.
        name: the name processes share the budget under, with a backend (1 to 64
            of ``A-Z a-z 0-9 _ . -``); budgets of different names never mix.
        backend: a `StateBackend` (`errorkit.redis.RedisBackend`): every process
            whose budget has the same backend and name spends from one budget, so
            an outage costs the server the same whether 1 or 100 processes call it.
            The floor is then the fleet's, shared evenly between its processes. No
            request waits for the backend (see `errorkit._shared`); while it cannot
            be reached, the budget counts this process's traffic alone, as without one.

    Raises:
        ValueError: naming the argument that is not a number, not finite, or out of
            its range.
    """

    __slots__ = (
        "__weakref__",
        "_allowed",
        "_backend",
        "_clock",
        "_fleet",
        "_floor",
        "_fresh_until",
        "_head",
        "_in_flight",
        "_lock",
        "_min_per_second",
        "_name",
        "_notes",
        "_ratio",
        "_refused",
        "_requests",
        "_requests_ring",
        "_retries_ring",
        "_unsynced_requests",
        "_unsynced_retries",
        "_width",
        "_window",
        "_window_requests",
        "_window_retries",
    )

    def __init__(  # noqa: PLR0913 - three settings, the clock, and how it is shared
        self,
        ratio: float = 0.25,
        min_per_second: float = 1.0,
        window: float = 10.0,
        *,
        clock: Callable[[], float] | None = None,
        name: str = "default",
        backend: StateBackend | None = None,
    ) -> None:
        self._ratio = _check_setting("ratio", ratio, 0.0, MAX_RATE)
        self._min_per_second = _check_setting("min_per_second", min_per_second, 0.0, MAX_RATE)
        self._window = _check_setting("window", window, MIN_WINDOW, MAX_WINDOW)
        if clock is not None and not callable(clock):
            raise _invalid("clock", "callable or None", clock)
        self._clock = clock
        self._floor = self._min_per_second * self._window
        self._width = self._window / _BUCKETS
        self._lock = threading.Lock()
        # Time buckets (clock // width) of the requests noted but not counted yet.
        self._notes: deque[float] = deque()
        self._requests_ring = [0] * _BUCKETS
        self._retries_ring = [0] * _BUCKETS
        self._window_requests = 0
        self._window_retries = 0
        self._requests = 0
        self._allowed = 0
        self._refused = 0
        self._head = 0  # what _now() gives for a first reading that is no number
        self._head = int(self._now())
        self._name = check_name(name)
        self._backend = check_backend(backend)
        self._fleet: BudgetView | None = None  # the backend's view, while fresh
        self._fresh_until = 0.0
        self._unsynced_requests = 0  # counted here since the last exchange
        self._unsynced_retries = 0
        self._in_flight = BudgetDelta(0, 0)  # sent, not yet in a view that came back
        if self._backend is not None:
            self._backend.attach(self)

    def record_request(self) -> None:
        """Count one logical request: call it for first attempts only, never retries."""
        notes = self._notes
        notes.append((self._clock or CLOCK.monotonic)())  # a bucket once counted
        if len(notes) >= _NOTES_MAX:
            with self._lock:
                self._count_notes()

    def record_failure(self) -> None:
        """Take back the credit of a logical request whose first attempt failed in a
        way the budget pays retries for (an outage's 503, a reset connection): such
        requests earn no retries, so an outage funds none of its own, only the floor
        and what the healthy traffic before it earned. Call it once per request, at
        most, before `try_spend`."""
        with self._lock:
            self._count_notes()
            slot = self._advance()
            self._requests_ring[slot] -= 1
            self._window_requests -= 1
            self._unsynced_requests -= 1

    def try_spend(self) -> bool:
        """Take one retry from the budget: True if granted, False (counted) if refused.

        Call it only after a retry decision, just before waiting: a refused retry
        means the caller stops with the last outcome.
        """
        with self._lock:
            self._count_notes()
            slot = self._advance()
            if not self._grants():
                self._refused += 1
                return False
            self._retries_ring[slot] += 1
            self._window_retries += 1
            self._unsynced_retries += 1
            self._allowed += 1
            return True

    def available(self) -> int:
        """Retries the budget would grant now (0 when the next `try_spend` fails)."""
        with self._lock:
            self._count_notes()
            self._advance()
            return max(0, math.floor(self._allowance() - self._window_retries))

    def stats(self) -> BudgetStats:
        """A consistent snapshot of the lifetime counters."""
        with self._lock:
            self._count_notes()
            return BudgetStats(self._requests, self._allowed, self._refused)

    @property
    def ratio(self) -> float:
        """Retries allowed per recorded request."""
        return self._ratio

    @property
    def min_per_second(self) -> float:
        """Retries per second allowed whatever the traffic."""
        return self._min_per_second

    @property
    def window(self) -> float:
        """Seconds of history the budget counts."""
        return self._window

    @property
    def requests(self) -> int:
        """Logical requests recorded since creation."""
        return self.stats().requests

    @property
    def retries_allowed(self) -> int:
        """Retries granted since creation."""
        return self._allowed

    @property
    def retries_refused(self) -> int:
        """Retries refused since creation."""
        return self._refused

    def __repr__(self) -> str:
        requests, allowed, refused = self.stats()
        return (
            f"RetryBudget(ratio={self._ratio!r}, min_per_second={self._min_per_second!r}, "
            f"window={self._window!r}, requests={requests}, retries_allowed={allowed}, "
            f"retries_refused={refused})"
        )

    def __reduce__(self) -> tuple[type[RetryBudget], tuple[float, float, float]]:
        # A budget describes this process's recent traffic: a copy sent to another
        # process (pickle, multiprocessing) starts with the same settings and no history.
        if self._backend is not None:
            raise not_pickled("RetryBudget")
        return (RetryBudget, (self._ratio, self._min_per_second, self._window))

    def _allowance(self) -> float:
        # A failure is taken back in its own bucket, not its request's: for a bucket's
        # width, the window may hold more failures than requests.
        return self._ratio * max(0, self._window_requests) + self._floor + _EPSILON

    def _grants(self) -> bool:
        """Whether one more retry fits (lock held, notes counted, ring advanced).

        With a fresh view from the backend, the fleet's allowance is shared out
        evenly: this process may spend its share of what the fleet has left, plus
        what its own requests since the exchange add, so the processes together
        stay within one budget between exchanges. Else, the local counts alone.
        """
        fleet = self._fleet
        if fleet is None or time.monotonic() >= self._fresh_until:
            return self._window_retries + 1 <= self._allowance()
        left = self._ratio * max(0, fleet.requests) + self._floor - fleet.retries
        requests = self._unsynced_requests + self._in_flight.requests
        retries = self._unsynced_retries + self._in_flight.retries
        share = left / max(1, fleet.members) + self._ratio * max(0, requests)
        return retries + 1 <= share + _EPSILON

    # The `errorkit._shared.Shared` side, for a backend.

    @property
    def kind(self) -> str:
        return "budget"

    @property
    def name(self) -> str:
        """The name processes share this budget under (with a backend)."""
        return self._name

    def outgoing(self) -> BudgetDelta:
        with self._lock:
            self._count_notes()
            delta = BudgetDelta(self._unsynced_requests, self._unsynced_retries)
            self._unsynced_requests = self._unsynced_retries = 0
            self._in_flight = delta  # counted by the next decisions until the view is back
            return delta

    def unsent(self, delta: BudgetDelta) -> None:
        """Counts that did not reach the backend are dropped: the local ring has them."""

    def incoming(self, view: BudgetView | None, *, stale_after: float) -> None:
        with self._lock:
            self._fleet = view
            self._in_flight = BudgetDelta(0, 0)
            self._fresh_until = 0.0 if view is None else time.monotonic() + stale_after

    def _count_notes(self) -> None:
        """Count the noted requests, each in the bucket of its own time (lock held).

        Only the notes present when it starts are taken, so it ends however fast
        other threads note more. A note older than the window (a thread slow to
        append, a clock that stepped back) counts in the lifetime total only.
        """
        notes = self._notes
        taken = Counter(self._bucket(notes.popleft()) for _ in range(len(notes)))
        for when, count in sorted(taken.items()):  # oldest first, as the ring moves
            bucket = int(when)
            if bucket > self._head:
                self._expire(bucket)
            if bucket > self._head - _BUCKETS:
                self._requests_ring[bucket % _BUCKETS] += count
                self._window_requests += count
            self._requests += count
            self._unsynced_requests += count

    def _advance(self) -> int:
        """Expire the buckets older than the window; return the current bucket's slot.

        Each bucket is cleared at most once per pass of the ring, so the cost is O(1)
        amortized and at most `_BUCKETS` steps after a long idle period.
        """
        bucket = int(self._now())
        if bucket > self._head:
            self._expire(bucket)
        # A clock that steps back (it should not) keeps counting in the newest bucket.
        return self._head % _BUCKETS

    def _now(self) -> float:
        """The current time bucket, ``clock() // width``, a whole float."""
        return self._bucket((self._clock or CLOCK.monotonic)())

    def _bucket(self, reading: object) -> float:
        """The time bucket of a clock reading, ``reading // width``, a whole float.

        A reading that is no finite number (NaN, inf, None, or so large that the
        bucket overflows) gives the newest bucket, as a clock stepping back does.
        """
        try:
            bucket = float(reading // self._width)  # type: ignore[operator]
        except (TypeError, ValueError, ArithmeticError):
            return float(self._head)
        return bucket if math.isfinite(bucket) else float(self._head)

    def _expire(self, bucket: int) -> None:
        gap = bucket - self._head
        if gap >= _BUCKETS:
            self._clear_all()
        else:
            for step in range(1, gap + 1):
                self._clear((self._head + step) % _BUCKETS)
        self._head = bucket

    def _clear(self, slot: int) -> None:
        self._window_requests -= self._requests_ring[slot]
        self._window_retries -= self._retries_ring[slot]
        self._requests_ring[slot] = 0
        self._retries_ring[slot] = 0

    def _clear_all(self) -> None:
        self._requests_ring = [0] * _BUCKETS
        self._retries_ring = [0] * _BUCKETS
        self._window_requests = 0
        self._window_retries = 0


def _check_setting(name: str, value: object, low: float, high: float) -> float:
    """`value` as a float in [low, high], or a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(name, "a number", value)
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    if not low <= number <= high:  # NaN fails too
        raise _invalid(name, f"a finite number >= {low:g} and <= {high:g}", value)
    return number


def _invalid(name: str, expected: str, value: object) -> ValueError:
    # Every bad argument is a ValueError (the contract), whatever its kind of wrong.
    return ValueError(f"{name} must be {expected}, not {shown(value)}")


def shown(value: object) -> str:
    """A bad argument for its error message: a short repr, even of 1 MB or 5000 digits."""
    try:
        return reprlib.repr(value)
    except ValueError:  # an int past Python's limit on digits written out
        return "an int too long to write out"
