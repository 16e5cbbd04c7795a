"""An SDK's own re-sends of one call, counted as attempts of one logical request.

SDKs retry on their own (openai and anthropic twice, stripe when asked), so under
an SDK every errorkit attempt loop would run once per SDK attempt: 3 x 3 = 9 hits
for one persistent 503. errorkit recognises the SDK's re-sends from what the SDK
sends, and treats them as attempts of the one logical request they belong to:

==========================  ==========================================  ====================
SDK (convention)            what marks a re-send of one call             the stop it honours
==========================  ==========================================  ====================
openai, anthropic and the   ``x-stainless-retry-count: N`` (0 on a new   ``x-should-retry:
other Stainless-generated   call, N on its N-th re-send), in the same    false``
SDKs                        thread and task, same method and URL
stripe                      ``X-Stripe-Client-User-Agent`` sent, and a   ``Stripe-Should-Retry:
                            repeated ``Idempotency-Key`` (POST)          false``
any client                  a repeated idempotency key (the policy's     none
                            ``idempotency_header``) on the same method
                            and URL
==========================  ==========================================  ====================

What that changes, and only once an attempt failed (a success costs nothing:
nothing is looked up before a failure):

- **Attempts.** A re-send continues its logical request's count: after the SDK's
  first call used 2 attempts, its re-send is attempt 3, and errorkit retries only
  while the count is below ``max_attempts``.
- **Deadline.** errorkit's retries and waits stop at the deadline counted from the
  logical request's first attempt, not from each re-send.
- **Budget.** A re-send is a retry: it spends from the budget, and errorkit
  retries it no further when the budget refuses.
- **Stop.** When errorkit returns an error response and the logical request has no
  attempt, time or budget left (or the server's wait is above `max_retry_after`),
  it sets the SDK's stop header on that response, so the SDK raises its own error
  at once instead of waiting and re-sending: a `Retry-After` is waited at most once
  per retry, by errorkit, and never beyond the policy's bounds.

errorkit never refuses to send a re-send: one that still arrives (after a
connection error, which carries no header to say stop, or from an SDK told to
retry more) is sent once, and not retried by errorkit. A repeated idempotency key
may also be the application's own retry minutes later; it is treated the same way,
which only ever means fewer errorkit retries, never a request not sent.

The ledger is bounded (`MAX_ENTRIES` logical requests, least recently used
first out) and forgets a logical request `TTL` seconds after its last failure.
Its keys live in memory only and are never logged.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from errorkit._clock import CLOCK

if TYPE_CHECKING:
    from collections.abc import Hashable

#: The Stainless SDKs' re-send counter, and the header they obey to stop.
STAINLESS_COUNT = "x-stainless-retry-count"
STAINLESS_STOP = "x-should-retry"
#: Sent by the stripe SDK on every request; and the header it obeys to stop.
STRIPE_CLIENT = "x-stripe-client-user-agent"
STRIPE_STOP = "Stripe-Should-Retry"

#: Logical requests remembered at once; the least recently failed is forgotten first.
MAX_ENTRIES = 1024
#: Seconds a logical request is remembered after its last failure: longer than any
#: SDK's wait between re-sends (openai's longest honoured hint is 120 s, and a
#: hint above `max_retry_after` stops the SDK instead).
TTL = 300.0


class Headers(Protocol):
    """A stack's request headers: a case-insensitive ``get``."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(slots=True)
class Logical:
    """One logical request, across the hops an SDK made of it.

    Attributes:
        started: `CLOCK.monotonic()` when its first attempt began.
        attempts: attempts sent so far, over all its hops.
        stop_header: the header its SDK obeys to stop re-sending, or None.
        resent: True when the hop being run is the SDK's re-send.
    """

    started: float
    attempts: int = 0
    stop_header: str | None = None
    resent: bool = False


class Ledger:
    """The logical requests whose attempts failed recently; thread- and task-safe."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, ttl: float = TTL) -> None:
        self._entries: OrderedDict[Hashable, tuple[Logical, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._ttl = ttl

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every logical request (tests start from an empty ledger)."""
        with self._lock:
            self._entries.clear()

    def logical(
        self, method: str, url: object, headers: Headers, idempotency_header: str, started: float
    ) -> Logical:
        """The logical request of a hop whose first attempt, begun at `started`, failed.

        A hop the SDK marks as a re-send of a remembered logical request continues it
        (``resent`` True); any other hop begins one. Only hops that can be recognised
        again are remembered.
        """
        stop = stop_header(headers)
        key, fresh = _key(method, str(url), headers, idempotency_header)
        if key is None:
            return Logical(started, stop_header=stop)
        now = CLOCK.monotonic()
        with self._lock:
            self._expire(now)
            found = None if fresh else self._entries.get(key)
            if found is None:
                logical = Logical(started, stop_header=stop)
            else:
                logical = found[0]
                logical.resent = True
            self._entries[key] = (logical, now)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return logical

    def prior_attempts(
        self, method: str, url: object, headers: Headers, idempotency_header: str
    ) -> int:
        """The attempts made so far by the logical request a hop would continue (0 for
        a hop that begins one); nothing is remembered. For a span's resend count."""
        key, fresh = _key(method, str(url), headers, idempotency_header)
        if key is None or fresh:
            return 0
        with self._lock:
            found = self._entries.get(key)
        if found is None or CLOCK.monotonic() - found[1] >= self._ttl:
            return 0
        return found[0].attempts

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (_, touched) = next(iter(entries.items()))
            if now - touched < self._ttl:
                return
            del entries[key]


def stop_header(headers: Headers) -> str | None:
    """The header the request's SDK obeys to stop re-sending, or None (no such SDK)."""
    if headers.get(STAINLESS_COUNT) is not None:
        return STAINLESS_STOP
    if headers.get(STRIPE_CLIENT) is not None:
        return STRIPE_STOP
    return None


def _key(
    method: str, url: str, headers: Headers, idempotency_header: str
) -> tuple[Hashable | None, bool]:
    """How a hop is found again, and whether it surely begins a logical request."""
    count = headers.get(STAINLESS_COUNT)
    if count is not None:
        # The counter restarts at 0 on every call, and a call's re-sends run in its
        # thread and task, one after the other.
        return ("stainless", *_running(), method, url), count.strip() == "0"
    key = headers.get(idempotency_header)
    if key is not None:
        return ("key", method, url, key), False
    return None, True


def _running() -> tuple[int, int]:
    """The running thread and task (asyncio's or trio's; 0 outside one), by identity."""
    task: object = None
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running asyncio loop
        trio = sys.modules.get("trio")
        if trio is not None:
            try:
                task = trio.lowlevel.current_task()
            except RuntimeError:
                task = None
    return threading.get_ident(), 0 if task is None else id(task)


#: The process's ledger, shared by every adapter (an SDK call runs through one).
LEDGER = Ledger()
