"""`errorkit._observe.wait_source`: where a retry's wait came from, decided once."""

from __future__ import annotations

import pytest

from errorkit import Category, ErrorInfo
from errorkit._observe import wait_source
from errorkit._policy import TransportFailure


def _info(retry_after: float | None, source: str | None, status: int = 429) -> ErrorInfo:
    return ErrorInfo(
        status=status,
        category=Category.RATE_LIMITED if status == 429 else Category.SERVER,
        retryable=True,
        message="m",
        retry_after=retry_after,
        retry_after_source=source,
    )


@pytest.mark.parametrize(
    ("outcome", "delay", "planned", "source"),
    [
        (_info(None, None, 503), 0.4, 0.4, "backoff"),
        (TransportFailure(sent=False), 0.2, 0.2, "backoff"),
        (_info(2.0, "header:retry-after"), 2.1, 2.1, "retry_after"),
        (_info(2.0, "header:x-ratelimit-reset"), 2.1, 2.1, "retry_after"),
        (_info(5.0, "body:error.retryAfter"), 5.2, 5.2, "body_hint"),
        # the gate closed for this response's own hint, a little longer: still the hint
        (_info(1.0, "header:retry-after"), 1.07, 1.02, "retry_after"),
        # the gate held the scope for another caller's longer wait
        (_info(1.0, "header:retry-after"), 30.0, 1.02, "gate"),
        (_info(None, None, 503), 2.0, 0.3, "gate"),  # a paced scope's slot
        (TransportFailure(sent=True), 1.5, 0.1, "gate"),
        (_info(3.0, "gate"), 3.0, 3.0, "gate"),  # the gate's own refusal
    ],
)
def test_wait_source(outcome: object, delay: float, planned: float, source: str) -> None:
    assert wait_source(outcome, delay, planned) == source  # type: ignore[arg-type]
