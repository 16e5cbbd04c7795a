"""One state interface behind `RetryBudget`, `RateLimitGate` and `AdaptiveThrottle`.

Each of the three keeps its state in this process, in memory, behind one lock: that
is the in-process implementation, thread- and task-safe, and used alone when the
object has no backend. A `StateBackend` shares that state with every process that
uses the same backend and the same object ``name``: in the background, it takes
from each object what changed here since the last exchange (`Shared.outgoing`),
merges it with the fleet's in one atomic step, and hands the fleet's view back
(`Shared.incoming`). So:

- **no request waits for the backend**: a request reads the object's local state
  only, as without a backend; the exchange runs beside the requests (every
  ``interval``, and at once when a gate closes);
- **staleness is bounded**: the view an object decides by is at most ``interval``
  plus one round trip old; a view older than the backend's ``stale_after`` is not
  used, and the object decides by its own local state, as it does while the
  backend cannot be reached (`Shared.incoming` with ``None``);
- **one shape per kind**, in plain values, so a backend is a translation, never a
  second implementation of the rules: the rules (what the budget grants, when the
  throttle rejects, how long the gate holds) stay in the objects.

What travels, per kind:

=========== ========================================== ==========================================
kind        outgoing (changes here)                    incoming (the fleet's view)
=========== ========================================== ==========================================
budget      `BudgetDelta`: requests, retries granted   `BudgetView`: the window's requests and
                                                       retries, processes sharing it
throttle    scope -> (requests, accepts)               scope -> the window's (requests, accepts)
gate        `GateDelta`: scopes closed (seconds        `GateView`: closed scopes (seconds left),
            from now), quotas read, paces cut          quotas, the latest cut of each learned
                                                       pace, processes sharing it
=========== ========================================== ==========================================

Times cross the interface as durations, never as clock readings: each side turns
them into its own clock (the backend's, `TIME` on Redis), so hosts whose clocks
disagree agree on every wait.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    from errorkit._info import Quota

Out = TypeVar("Out")
View_contra = TypeVar("View_contra", contravariant=True)

#: What a shared object's ``name`` may be: it names keys on the backend.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class BudgetDelta(NamedTuple):
    """A budget's requests and granted retries since the last exchange."""

    requests: int
    retries: int


class BudgetView(NamedTuple):
    """The fleet's requests and retries over the budget's window, and its processes."""

    requests: int
    retries: int
    members: int


class Curve(NamedTuple):
    """A scope's learned pace: the fleet's rate at its last cut, and seconds since.

    ``peak`` 0.0 means no rate is known yet (the pace starts slowly and doubles);
    ``age`` is negative while the cut lies ahead (the scope is still closed).
    """

    peak: float
    age: float


class GateDelta(NamedTuple):
    """Scopes this process closed (seconds from now), quotas it read, paces it cut."""

    closed: dict[str, float]
    quotas: dict[str, Quota]
    learned: dict[str, Curve] = {}  # noqa: RUF012 - read only, never mutated


class GateView(NamedTuple):
    """The fleet's closed scopes (seconds left), stated quotas, learned paces, and
    its processes."""

    closed: dict[str, float]
    quotas: dict[str, Quota]
    members: int
    learned: dict[str, Curve] = {}  # noqa: RUF012 - read only, never mutated


class Shared(Protocol[Out, View_contra]):
    """What a budget, gate or throttle hands its backend."""

    @property
    def kind(self) -> str:
        """``"budget"``, ``"gate"`` or ``"throttle"``: the shape of what travels."""

    @property
    def name(self) -> str:
        """The name the processes share this object's state under."""

    def outgoing(self) -> Out:
        """Take what changed here since the last exchange (it is then forgotten)."""

    def unsent(self, delta: Out) -> None:
        """`delta` could not be sent: keep what still matters for the next exchange."""

    def incoming(self, view: View_contra | None, *, stale_after: float) -> None:
        """The fleet's view, valid for `stale_after` seconds; None: the backend is
        unreachable, decide by the local state alone."""


class StateBackend(Protocol):
    """Shares the state of budgets, gates and throttles between processes."""

    def attach(self, shared: Shared[Any, Any]) -> None:
        """Start exchanging `shared`'s state (the backend holds it weakly)."""

    def wake(self) -> None:
        """Exchange now rather than at the next interval (a gate just closed)."""


def check_name(name: object) -> str:
    """`name` if it can name backend keys: 1 to 64 letters, digits, ``_``, ``.``, ``-``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name must be 1 to 64 of A-Z a-z 0-9 _ . -, not {name!r}")
    return name


def check_backend(backend: object) -> StateBackend | None:
    """`backend` if it has the `StateBackend` methods (or is None), else a TypeError."""
    if backend is None or (
        callable(getattr(backend, "attach", None)) and callable(getattr(backend, "wake", None))
    ):
        return backend  # type: ignore[return-value]
    raise TypeError(
        f"backend must be a StateBackend (errorkit.redis.RedisBackend), not {backend!r}"
    )


def not_pickled(what: str) -> TypeError:
    """Why an object with a backend is not pickled."""
    return TypeError(
        f"a {what} with a backend is not pickled: its backend's connection holds "
        "credentials; build it in each process, with a backend of that process"
    )
