"""(Stub) the shared retry budget; see the implementation's docstring."""

from __future__ import annotations


class RetryBudget:
    def __init__(self, ratio: float = 0.1, min_per_second: float = 1.0, window: float = 10.0) -> None:
        raise NotImplementedError

    def record_request(self) -> None:
        """Count one logical request (first attempts only)."""
        raise NotImplementedError

    def try_spend(self) -> bool:
        """Take one retry from the budget; False (and counted) when none is left."""
        raise NotImplementedError
