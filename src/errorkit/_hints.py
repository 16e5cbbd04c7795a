"""Server hints from response headers, normalized to seconds.

Which header wins when several ask for a wait (the first one that parses):

1. ``retry-after-ms`` (OpenAI, Anthropic): milliseconds, more precise than 2.
2. ``retry-after`` (RFC 9110 10.2.3): delta-seconds (fractions such as ``1.5`` and
   Go durations such as ``1m0s`` tolerated) or an HTTP-date (IMF-fixdate, RFC 850,
   asctime).
3. ``x-ms-retry-after-ms`` (Azure), then ``x-amz-retry-after`` (AWS): milliseconds.
4. ``ratelimit`` (IETF draft-11 structured field ``"p";r=0;t=30``, and the older
   ``limit=..., remaining=0, reset=30`` dictionary), then the older separate
   ``ratelimit-reset``: only when the same fields say no quota is left.
5. The vendor reset headers, only for a limit whose own ``remaining`` header is 0:
   ``x-ratelimit-reset`` (GitHub: epoch seconds), ``x-rate-limit-reset`` (X/Twitter),
   ``x-ratelimit-reset-after`` (Discord: seconds), ``x-ratelimit-reset-requests`` and
   ``-tokens`` (OpenAI: ``6m0s``, ``12ms``), ``anthropic-ratelimit-*-reset`` (RFC
   3339). When several limits are exhausted the longest wait wins: every one of
   them must clear.

Why rate-limit resets need an exhausted limit: `read_hints` sees headers only, and
many APIs send reset headers on every response. A reset an hour away on a 500
would otherwise turn a quick retry into a refused one. The wait until the resets
of limits that are exhausted *or of unknown state* is exposed on its own, as
`ServerHints.rate_limit_reset`, for callers that know the status was a 429.

The quota a server states, ``ServerHints.quota``, comes from ``ratelimit-policy``
(IETF draft-11 items ``"default";q=40;w=1``, and the older drafts' ``40;w=1``): the
policy allowing the fewest requests per second, as ``Quota(limit, window)``. It never
makes a wait; the rate-limit gate paces a scope's requests by it once that scope was
answered 429 (`errorkit.RateLimitGate`).

A reset value is read as: epoch milliseconds above 1e12, epoch seconds above 1e9,
else delta seconds; a Go duration; an RFC 3339 timestamp; an HTTP-date. Absolute
times are measured from the response's ``Date`` header when it parses (so a server
clock that is off does not skew the wait), else from `now`.

Every value is a finite float >= 0: garbage (``abc``, ``nan``, ``inf``, ``1e3``:
none of them is delta-seconds) and negative values are ignored, past dates give 0,
and huge values are clamped to `MAX_HINT` (about 31 years), however many digits they
have: a Retry-After of 400 digits, 2**64 or 1e308 written out, or a date in year
9999 is a wait far beyond any ``max_retry_after`` (the policy allows at most a day),
so the policy refuses it at once, as for any hint that is too long, and never sleeps
it; it is never taken for "no hint". Work per header is linear and bounded; nothing
here raises.

The request id is the first of `REQUEST_ID_HEADERS` sent (the API's own id, then
cloud ids, a correlation id, the CDN's edge id), else the first header whose name
ends as a request id does (``-request-id``, ``-req-id``, ``requestid``...), then as a
correlation id, then as a trace id (`REQUEST_ID_SUFFIXES`).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from errorkit._headers import Headers, normalize_headers
from errorkit._info import Quota
from errorkit._text import escape_control

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Largest wait a hint can express, in seconds (about 31 years); larger ones are clamped.
MAX_HINT = 1e9
#: Longest duration `parse_duration` accepts (one year); longer values are absurd.
MAX_DURATION = 365 * 24 * 3600.0

#: Request-id headers, most specific first: the API's own id, then cloud-platform
#: ids, then a correlation id, then the CDN's edge id as a last resort. Client-set
#: trace ids (``traceparent``, ``x-cloud-trace-context``) are not the server's.
REQUEST_ID_HEADERS = (
    "x-request-id",  # OpenAI, Heroku, Rails, nginx, many others
    "request-id",  # Anthropic, Stripe
    "x-amzn-requestid",  # AWS JSON protocols, API Gateway REST, Lambda
    "x-amz-request-id",  # Amazon S3
    "x-ms-request-id",  # Azure
    "x-github-request-id",  # GitHub
    "x-slack-req-id",  # Slack Web API
    "x-goog-request-id",  # Google APIs (Gemini / google-genai)
    "apigw-requestid",  # AWS API Gateway HTTP APIs
    "x-correlation-id",
    "cf-ray",  # Cloudflare edge id
    "x-amz-cf-id",  # CloudFront edge id
)
_MAX_ID = 200
#: When none of the named headers is sent: any header whose name ends so, in this
#: order (a request id before a correlation id before a trace id), and, among
#: headers of one kind, the first sent. ``x-envoy-request-id``, ``x-b3-traceid``,
#: ``x-amzn-trace-id``, ``x-tt-logid``... The W3C and Google trace headers a client
#: sets (``traceparent``, ``tracestate``, ``x-cloud-trace-context``) never match.
REQUEST_ID_SUFFIXES = (
    ("request-id", "requestid", "request_id", "req-id", "reqid", "req_id"),
    ("correlation-id", "correlationid", "correlation_id"),
    ("trace-id", "traceid", "trace_id", "logid", "log-id"),
)

#: (reset header, its remaining header, whether the reset is a pure delta).
_VENDOR_RESETS = (
    ("x-ratelimit-reset", "x-ratelimit-remaining", False),
    ("x-rate-limit-reset", "x-rate-limit-remaining", False),
    ("x-ratelimit-reset-after", "x-ratelimit-remaining", True),
    ("x-ratelimit-reset-requests", "x-ratelimit-remaining-requests", False),
    ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens", False),
    ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-requests-remaining", False),
    ("anthropic-ratelimit-tokens-reset", "anthropic-ratelimit-tokens-remaining", False),
    (
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-input-tokens-remaining",
        False,
    ),
    (
        "anthropic-ratelimit-output-tokens-reset",
        "anthropic-ratelimit-output-tokens-remaining",
        False,
    ),
)
#: The headers that count what is left of a rate limit (``ratelimit`` holds its
#: ``r=``/``remaining=`` among other members): a success carrying one at 0 may close
#: the rate-limit gate before any 429 (`errorkit._gate.used_up`).
REMAINING_HEADERS = (
    *dict.fromkeys(remaining for _, remaining, _ in _VENDOR_RESETS),
    "ratelimit-remaining",
    "ratelimit",
)
#: The same names as a set: an adapter whose headers keep their lower-case names
#: in a dict (or a view that compares without case) tells in one set operation
#: that none is there, before `errorkit._gate.used_up` looks each one up.
REMAINING_NAMES = frozenset(REMAINING_HEADERS)
_MS_HEADERS = ("x-ms-retry-after-ms", "x-amz-retry-after")
_SHOULD_RETRY = ("x-should-retry", "stripe-should-retry")
#: Every header `read_hints` reads (``date`` only dates the others): a response
#: with none of them has no hint.
_HINT_HEADERS = frozenset(
    {
        *(name for reset, remaining, _ in _VENDOR_RESETS for name in (reset, remaining)),
        *("retry-after-ms", "retry-after", *_MS_HEADERS),
        *("ratelimit", "ratelimit-reset", "ratelimit-remaining", "ratelimit-policy"),
        *_SHOULD_RETRY,
        *REQUEST_ID_HEADERS,
    }
)

_EPOCH_MS = 1e12
_EPOCH_S = 1e9
_MAX_TOKEN = 64
#: Largest remaining count kept (any larger count means the same: plenty left).
_MAX_COUNT = 1e18
#: Digits of an integer parameter read exactly; a longer one is +-`_MAX_COUNT`.
_MAX_DIGITS = 18
_MAX_MEMBERS = 32

_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0}
_UNIT.update({"m": 60.0, "h": 3600.0})
_MONTH = re.compile(r"(?i)jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,6})[0-9]{0,12})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)
_QUOTED = re.compile(r'"[^"]*"')
_LEADING_INT = re.compile(r"[ \t]*([0-9]{1,18})[ \t]*(?:;|$)", re.ASCII)
_PARAM = re.compile(r"([A-Za-z][A-Za-z0-9_-]{0,31})[ \t]*=[ \t]*(-?[0-9]+)", re.ASCII)


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
        rate_limit_reset: seconds until the rate-limit windows that are exhausted or
            of unknown state reset (the longest), whether or not that counted as
            `retry_after`; None without such a header. Meant for a 429 whose
            headers say when the window resets but not that it is empty.
        quota: the strictest quota ``ratelimit-policy`` states, or None.
    """

    retry_after: float | None = None
    retry_after_source: str | None = None
    should_retry: bool | None = None
    request_id: str | None = None
    rate_limit_exhausted: bool = False
    rate_limit_reset: float | None = None
    quota: Quota | None = None


NO_HINTS = ServerHints()


@dataclass(slots=True)
class _Limits:
    """Rate-limit state gathered while reading: exhausted?, wait, reset."""

    exhausted: bool = False
    wait: tuple[float, str] | None = None
    reset: float | None = None

    def add(self, remaining: int | None, reset: float | None, source: str) -> None:
        if remaining is not None and remaining <= 0:
            self.exhausted = True
            if reset is not None and (self.wait is None or reset > self.wait[0]):
                self.wait = (reset, source)
        if reset is not None and (remaining is None or remaining <= 0):
            self.reset = reset if self.reset is None else max(self.reset, reset)


class _Clock:
    """The reference time of absolute hints: the Date header's when it parses, else `now`.

    Read on first use only: most responses carry no absolute time, and then their
    Date header is never parsed at all.
    """

    __slots__ = ("_date", "_now", "_value")

    def __init__(self, date: str, now: float | None) -> None:
        self._date = date
        self._now = now
        self._value: float | None = None

    def __call__(self) -> float:
        if self._value is None:
            value = _http_date(self._date)
            if value is None:
                now = self._now
                value = time.time() if now is None or not math.isfinite(now) else now
            self._value = value
        return self._value


def read_hints(headers: Mapping[str, str], *, now: float | None = None) -> ServerHints:
    """Read every retry hint and the request id from lower-cased `headers`.

    `now` is the current epoch time (defaults to `time.time()`), injectable for
    tests; the response's ``Date`` header, when it parses, is used instead to
    measure absolute times. The module docstring gives the precedence. Garbage in
    any header is ignored, never raised.
    """
    lowered = headers if isinstance(headers, dict) else normalize_headers(headers)
    if _HINT_HEADERS.isdisjoint(lowered) and not any(
        name.endswith(suffixes) for suffixes in REQUEST_ID_SUFFIXES for name in lowered
    ):
        return NO_HINTS
    return _read(lowered, now)


def _read(headers: Headers, now: float | None) -> ServerHints:
    ref = _Clock(headers.get("date", ""), now)
    limits = _rate_limits(headers, ref)
    wait = _direct_wait(headers, ref) or limits.wait
    return ServerHints(
        retry_after=None if wait is None else wait[0],
        retry_after_source=None if wait is None else f"header:{wait[1]}",
        should_retry=_should_retry(headers),
        request_id=_request_id(headers),
        rate_limit_exhausted=limits.exhausted,
        rate_limit_reset=limits.reset,
        quota=_quota(headers.get("ratelimit-policy")),
    )


def _quota(value: str | None) -> Quota | None:
    """The policy of ``ratelimit-policy`` that allows the fewest requests per second.

    Each member's quota is its ``q`` parameter (draft-11) or its leading integer (older
    drafts), its window the ``w`` parameter; a member without both, or with either
    below 1, is skipped.
    """
    if not value:
        return None
    strictest: Quota | None = None
    for member in _members(value):
        params = {key.lower(): number for key, number in _PARAM.findall(_QUOTED.sub('""', member))}
        leading = _LEADING_INT.match(member)
        limit = _integer(params["q"]) if "q" in params else leading and _integer(leading[1])
        window = _integer(params["w"]) if "w" in params else 0
        if not limit or limit < 1 or window < 1:
            continue
        quota = Quota(limit, float(window))
        if strictest is None or quota.interval > strictest.interval:
            strictest = quota
    return strictest


def _direct_wait(headers: Headers, ref: _Clock) -> tuple[float, str] | None:
    value = headers.get("retry-after-ms")
    if value and (ms := _number(value)) is not None:
        return _clamp(ms / 1000.0), "retry-after-ms"
    value = headers.get("retry-after")
    if value and (seconds := _retry_after(value, ref)) is not None:
        return seconds, "retry-after"
    for name in _MS_HEADERS:
        value = headers.get(name)
        if value and (ms := _number(value)) is not None:
            return _clamp(ms / 1000.0), name
    return None


def _retry_after(value: str, ref: _Clock) -> float | None:
    seconds = _seconds(value)
    if seconds is None:
        at = _http_date(value)
        if at is not None:
            return _clamp(at - ref())
        # Repeated fields arrive joined ("5, 5"); a date has its own comma.
        seconds = _seconds(value.partition(",")[0])
    return None if seconds is None else _clamp(seconds)


def _rate_limits(headers: Headers, ref: _Clock) -> _Limits:
    limits = _Limits()
    value = headers.get("ratelimit")
    if value:
        _structured(value, limits)
    if limits.wait is None:
        _read_pair(headers, ("ratelimit-reset", "ratelimit-remaining", False), ref, limits)
    if limits.wait is None:
        for pair in _VENDOR_RESETS:
            _read_pair(headers, pair, ref, limits)
    return limits


def _read_pair(headers: Headers, pair: tuple[str, str, bool], ref: _Clock, limits: _Limits) -> None:
    """Add one (reset, remaining) header pair's state to `limits`, when either is sent."""
    reset_name, remaining_name, delta = pair
    reset = headers.get(reset_name)
    remaining = headers.get(remaining_name)
    if reset or remaining:
        limits.add(
            _count(remaining), _reset(reset, ref, delta=delta) if reset else None, reset_name
        )


def _structured(value: str, limits: _Limits) -> None:
    """IETF RateLimit: draft-11 items ``"p";r=0;t=30`` or the older dictionary."""
    legacy: dict[str, int] = {}
    for member in _members(value):
        params = dict(_PARAM.findall(_QUOTED.sub('""', member)))
        numbers = {key.lower(): _integer(number) for key, number in params.items()}
        if "r" in numbers:
            t = numbers.get("t")
            limits.add(numbers["r"], None if t is None or t < 0 else _clamp(t), "ratelimit")
        else:
            legacy.update(numbers)
    if "remaining" in legacy:
        reset = legacy.get("reset")
        seconds = None if reset is None or reset < 0 else _clamp(reset)
        limits.add(legacy["remaining"], seconds, "ratelimit")


def _members(value: str) -> list[str]:
    """Split a structured field on commas outside quoted strings (bounded)."""
    members: list[str] = []
    start, quoted = 0, False
    for index, char in enumerate(value):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            members.append(value[start:index])
            start = index + 1
            if len(members) >= _MAX_MEMBERS:
                return members
    members.append(value[start:])
    return members


def _reset(value: str, ref: _Clock, *, delta: bool) -> float | None:
    number = _number(value)
    if number is not None:
        if delta or number < _EPOCH_S:
            return _clamp(number)
        return _clamp((number / 1000.0 if number >= _EPOCH_MS else number) - ref())
    seconds = None if delta else _duration(value)
    if seconds is not None:
        return _clamp(seconds)
    at = None if delta else (_rfc3339(value) or _http_date(value))
    return None if at is None else _clamp(at - ref())


def _count(value: str | None) -> int | None:
    """The smallest of the comma-separated integers in a remaining header."""
    if not value:
        return None
    counts = [
        float(part)
        for part in (piece.strip() for piece in value.split(",", _MAX_MEMBERS))
        if _NUMBER.fullmatch(part)
    ]
    # A count of 400 digits is a float's infinity: clamped, not an OverflowError.
    return int(min(*counts, _MAX_COUNT)) if counts else None


def _integer(text: str) -> int:
    """A structured-field integer; one of more than 18 digits is +-1e18, never an error."""
    digits = text.lstrip("-").lstrip("0") or "0"
    value = int(digits) if len(digits) <= _MAX_DIGITS else int(_MAX_COUNT)
    return -value if text.startswith("-") else value


def _should_retry(headers: Headers) -> bool | None:
    for name in _SHOULD_RETRY:
        value = headers.get(name)
        if value:
            value = value.partition(",")[0].strip().lower()
            if value == "true":
                return True
            if value == "false":
                return False
    return None


def _request_id(headers: Headers) -> str | None:
    """The named request-id headers in their order, then the first header whose name
    ends as a request, correlation or trace id does (`REQUEST_ID_SUFFIXES`)."""
    named = (headers.get(name) for name in REQUEST_ID_HEADERS)
    by_pattern = (
        headers[name] for suffixes in REQUEST_ID_SUFFIXES for name in headers
        if name.endswith(suffixes)
    )  # fmt: skip
    for value in (*named, *by_pattern):
        first = (value or "").partition(",")[0].strip()
        if first:
            return escape_control(first, _MAX_ID)
    return None


def parse_duration(value: object) -> float | None:
    """Seconds from a body field: 60, 1.5, "60", "1.5s", "6m0s", "250ms"; else None.

    Accepts numbers, numeric strings and Go/Protobuf durations (``1h2m3.5s``, units
    ``h m s ms us ns``). Negative, NaN, infinite and absurd (> 1 year) values give
    None, and so do booleans. Never raises.
    """
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            seconds: float | None = float(value)
        elif isinstance(value, str):
            seconds = _seconds(value)
        else:
            return None
    except (OverflowError, ValueError):
        return None
    if seconds is None or not 0.0 <= seconds <= MAX_DURATION:
        return None
    return seconds


def _seconds(value: str) -> float | None:
    """A non-negative number of seconds, or a Go duration; unbounded (inf: too many digits)."""
    number = _number(value)
    return number if number is not None else _duration(value)


def _number(value: str) -> float | None:
    """A non-negative decimal number; inf when it has too many digits for a float."""
    text = value.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def _duration(value: str) -> float | None:
    text = value.strip()
    if not text or len(text) > _MAX_TOKEN:
        return None
    total, position = 0.0, 0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            return None
        total += float(match[1]) * _UNIT[match[2]]
        position = match.end()
    return total if math.isfinite(total) else None


def _http_date(value: str) -> float | None:
    """Epoch seconds of an HTTP-date (IMF-fixdate, RFC 850 or asctime), else None."""
    text = value.strip()
    if not text or len(text) > _MAX_TOKEN or ":" not in text or not _MONTH.search(text):
        return None
    try:
        moment = parsedate_to_datetime(text)
        if moment.tzinfo is None:  # asctime and "-0000" carry no zone: HTTP means GMT
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    except (TypeError, ValueError, OverflowError, IndexError, AttributeError):
        return None


def _rfc3339(value: str) -> float | None:
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second), 59),  # a leap second is near enough to :59
            int((fraction or "0").ljust(6, "0")),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    return moment.timestamp() - _offset(zone)


def _offset(zone: str | None) -> float:
    if not zone or zone in "Zz":
        return 0.0
    sign = -1.0 if zone[0] == "-" else 1.0
    digits = zone[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)


def _clamp(seconds: float) -> float:
    if not math.isfinite(seconds):
        return MAX_HINT if seconds > 0 else 0.0
    return float(min(max(seconds, 0.0), MAX_HINT))
