"""What every adapter shares besides the loop: request-side preparation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from errorkit._loop import new_idempotency_key
from errorkit._policy import RetryPolicy, is_idempotent

if TYPE_CHECKING:
    from collections.abc import Mapping


def idempotency_header(
    policy: RetryPolicy, method: str, headers: Mapping[str, str]
) -> tuple[bool, str | None]:
    """(request carries a key, key to add) for one logical request.

    A key the caller set is never overwritten; errorkit adds one only when the
    policy asks for it and the method is not idempotent by itself.
    """
    if is_idempotent(method):
        return False, None  # the method is safe to repeat: no key needed
    name = policy.idempotency_header
    if any(k.lower() == name.lower() for k in headers):
        return True, None
    if policy.idempotency_key:
        return True, new_idempotency_key()
    return False, None
