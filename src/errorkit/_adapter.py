"""What every adapter shares besides the loop: its settings and request-side preparation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from errorkit._budget import shown
from errorkit._loop import new_idempotency_key
from errorkit._policy import RetryPolicy, is_idempotent

if TYPE_CHECKING:
    from collections.abc import MutableMapping


#: Largest `max_body` (64 MiB, 1024 times the default): an error body is held in
#: memory and parsed whole, once per attempt; a larger one is a download, not an
#: error message, and sizes near ``sys.maxsize`` overflow the stacks' reads.
MAX_BODY_LIMIT = 64 * 1024 * 1024


def check_max_body(max_body: object) -> int:
    """`max_body` as every adapter accepts it: an int in [0, `MAX_BODY_LIMIT`] (bytes).

    Anything else (a bool, a float, NaN, a str, None) is a `ValueError` naming it.
    """
    if (
        isinstance(max_body, bool)
        or not isinstance(max_body, int)
        or not 0 <= max_body <= MAX_BODY_LIMIT
    ):
        raise ValueError(
            f"max_body must be an int >= 0 and <= {MAX_BODY_LIMIT} (bytes, 64 MiB), "
            f"not {shown(max_body)}"
        )
    return int(max_body)


def check_policy(policy: object) -> RetryPolicy:
    """The adapter's policy: `policy` itself, or a default `RetryPolicy()` for None."""
    if policy is None:
        return RetryPolicy()
    if not isinstance(policy, RetryPolicy):
        raise TypeError(
            f"policy must be a RetryPolicy or None, not {type(policy).__name__}: "
            "set RetryPolicy(max_attempts=...) for the number of attempts"
        )
    return policy


def add_idempotency_key(
    policy: RetryPolicy, method: str, headers: MutableMapping[str, str]
) -> bool:
    """Whether one logical request carries an idempotency key, adding the policy's own.

    A key the caller set is never overwritten; errorkit adds one (to `headers`, once,
    before the first attempt) only when the policy asks for it and the method is
    not idempotent by itself. Every adapter calls this for non-idempotent methods.
    """
    if is_idempotent(method):
        return False  # the method is safe to repeat: no key needed
    name = policy.idempotency_header
    if any(k.lower() == name.lower() for k in headers):
        return True
    if policy.idempotency_key:
        headers[name] = new_idempotency_key()
        return True
    return False
