"""Server hints from response headers, normalized to seconds.

(Stub: the contract below is fixed; the implementation is being written.)
"""

from __future__ import annotations

from dataclasses import dataclass

from errorkit._headers import Headers


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHints:
    """What the response headers say about retrying.

    Attributes:
        retry_after: seconds to wait (>= 0), from the strongest header hint, or None.
        retry_after_source: ``header:<name>`` of the field it came from, or None.
        should_retry: an explicit server directive (``x-should-retry``,
            ``stripe-should-retry``), or None.
        request_id: the request id from the usual headers, or None.
        rate_limit_exhausted: True when a rate-limit header says no quota is left.
    """

    retry_after: float | None = None
    retry_after_source: str | None = None
    should_retry: bool | None = None
    request_id: str | None = None
    rate_limit_exhausted: bool = False


NO_HINTS = ServerHints()


def read_hints(headers: Headers, *, now: float | None = None) -> ServerHints:
    """Read every retry hint and the request id from lower-cased `headers`.

    `now` is the current epoch time (defaults to `time.time()`), injectable for tests.
    Never raises.
    """
    raise NotImplementedError


def parse_duration(value: object) -> float | None:
    """Seconds from a body field: 60, 1.5, "60", "1.5s", "6m0s", "250ms"; else None.

    Negative, NaN, infinite and absurd (> 1 year) values give None. Never raises.
    """
    raise NotImplementedError
