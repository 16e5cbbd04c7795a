"""read_hints() and parse_duration(): server retry hints normalized to seconds."""

from __future__ import annotations

import math
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errorkit._headers import normalize_headers
from errorkit._hints import MAX_DURATION, MAX_HINT, NO_HINTS, parse_duration, read_hints
from errorkit._parse import parse

NOW = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 GMT


def _date(offset: float) -> str:
    return formatdate(NOW + offset, usegmt=True)


def _wait(headers: dict[str, str], now: float = NOW) -> tuple[float | None, str | None]:
    hints = read_hints(normalize_headers(headers), now=now)
    return hints.retry_after, hints.retry_after_source


# -- Retry-After ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("  7  ", 7.0),
        ("1.5", 1.5),
        ("0.503", 0.503),
        (".5", 0.5),
        ("1m0s", 60.0),
        ("1.5s", 1.5),
        ("5, 5", 5.0),
    ],
)
def test_retry_after_delta_seconds(value: str, seconds: float) -> None:
    """Delta-seconds, fractional seconds and Go durations are read as seconds."""
    assert _wait({"Retry-After": value}) == (seconds, "header:retry-after")


@pytest.mark.parametrize(
    "value",
    ["-5", "-0.5", "abc", "", "nan", "NaN", "inf", "1e3", "0x10", "5 seconds", "\u0663", "1_0"],
)
def test_retry_after_garbage_is_ignored(value: str) -> None:
    """Negative, non-numeric and non-ASCII values give no hint at all."""
    assert _wait({"Retry-After": value}) == (None, None)


def test_retry_after_huge_never_overflows() -> None:
    """A huge delay stays huge (clamped to MAX_HINT), even past a float's range: never "absent"."""
    assert _wait({"Retry-After": "9" * 300}) == (MAX_HINT, "header:retry-after")
    assert _wait({"Retry-After": "99999999999"}) == (MAX_HINT, "header:retry-after")
    assert _wait({"Retry-After": "9" * 400}) == (MAX_HINT, "header:retry-after")
    assert _wait({"Retry-After": "86400"}) == (86400.0, "header:retry-after")


@pytest.mark.parametrize(
    ("headers", "source"),
    [
        ({"Retry-After": "9" * 400}, "retry-after"),
        ({"Retry-After": "9" * 400 + ".5"}, "retry-after"),
        ({"Retry-After": "1" + "0" * 308}, "retry-after"),
        ({"Retry-After": str(2**64)}, "retry-after"),
        ({"Retry-After": "9" * 400 + ", 5"}, "retry-after"),
        ({"Retry-After": "9" * 20_000}, "retry-after"),
        ({"Retry-After-Ms": "9" * 400}, "retry-after-ms"),
        ({"X-Ms-Retry-After-Ms": "9" * 400}, "x-ms-retry-after-ms"),
        ({"X-Amz-Retry-After": "9" * 400}, "x-amz-retry-after"),
        ({"RateLimit": '"p";r=0;t=' + "9" * 400}, "ratelimit"),
        ({"RateLimit": "remaining=0, reset=" + "9" * 400}, "ratelimit"),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "9" * 400}, "ratelimit-reset"),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9" * 400}, "x-ratelimit-reset"),
        (
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "9" * 400},
            "x-ratelimit-reset-after",
        ),
    ],
    ids=lambda value: "" if isinstance(value, dict) else value,
)
def test_every_hint_too_large_for_a_float_is_the_longest_wait(
    headers: dict[str, str], source: str
) -> None:
    """400 digits (or 1e308, 2**64) in any hint header is MAX_HINT, which the policy refuses."""
    assert _wait(headers) == (MAX_HINT, f"header:{source}")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [('"p";r=0;t=' + "0" * 20 + "30", 30.0), ('"p";r=0;t=' + "1" * 19, MAX_HINT)],
    ids=["leading zeros", "19 digits"],
)
def test_ratelimit_integers_are_read_whole(value: str, seconds: float) -> None:
    """A structured-field integer is read whole: leading zeros do not turn t=...30 into 0."""
    assert read_hints({"ratelimit": value}, now=NOW).retry_after == seconds


def test_ratelimit_remaining_of_many_digits_is_plenty() -> None:
    """r=0000000000000001 (16 digits) is 1 left, not 0: no wait; r=-(20 digits) is exhausted."""
    assert not read_hints({"ratelimit": '"p";r=0000000000000001;t=9'}, now=NOW).rate_limit_exhausted
    assert read_hints({"ratelimit": '"p";r=-' + "9" * 20 + ";t=9"}, now=NOW).retry_after == 9.0


@pytest.mark.parametrize("now", [math.nan, math.inf])
def test_a_now_that_is_no_finite_time_falls_back_to_the_clock(now: float) -> None:
    """An injected `now` of NaN or inf is ignored for time.time(): a date still gives its wait."""
    import time

    at = formatdate(time.time() + 3600, usegmt=True)
    seconds = read_hints({"retry-after": at}, now=now).retry_after
    assert seconds is not None
    assert 3590 <= seconds <= 3600


def test_retry_after_http_date_imf_fixdate() -> None:
    """An IMF-fixdate is measured from `now` when there is no Date header."""
    assert _wait({"Retry-After": _date(30)}) == (30.0, "header:retry-after")


def test_retry_after_http_date_rfc850_and_asctime() -> None:
    """The obsolete RFC 850 and asctime date forms are understood too."""
    assert _wait({"Retry-After": "Friday, 15-Jan-27 08:00:45 GMT"}) == (45.0, "header:retry-after")
    assert _wait({"Retry-After": "Fri Jan 15 08:01:00 2027"}) == (60.0, "header:retry-after")


def test_retry_after_past_date_is_zero() -> None:
    """A date already past means "retry now": 0 seconds."""
    assert _wait({"Retry-After": _date(-3600)}) == (0.0, "header:retry-after")


def test_retry_after_far_future_date_stays_huge() -> None:
    """A date years ahead is kept (the policy refuses it), not cut to a small wait."""
    seconds, _ = _wait({"Retry-After": "Mon, 15 Jan 2035 08:00:00 GMT"})
    assert seconds == 2922 * 86400.0
    assert _wait({"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"})[0] == MAX_HINT


def test_retry_after_date_uses_server_date_header() -> None:
    """With a Date header the wait is retry_at - Date, whatever the local clock says."""
    headers = {"Retry-After": _date(30), "Date": _date(0)}
    assert _wait(headers, now=NOW + 500) == (30.0, "header:retry-after")
    assert _wait(headers, now=NOW - 500) == (30.0, "header:retry-after")


def test_unparsable_date_header_falls_back_to_now() -> None:
    """A Date header that does not parse is ignored in favour of `now`."""
    assert _wait({"Retry-After": _date(30), "Date": "yesterday"}) == (30.0, "header:retry-after")


@pytest.mark.parametrize(
    "value", ["Fri, 32 Jan 2027 08:00:00 GMT", "Jan", "Fri, 15 Foo 2027 08:00:00", "1:00 Jan"]
)
def test_retry_after_bad_dates_are_ignored(value: str) -> None:
    """Something that looks like a date but is not one gives no hint."""
    assert _wait({"Retry-After": value}) == (None, None)


# -- millisecond headers and precedence -----------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "seconds"),
    [
        ("retry-after-ms", "1500", 1.5),
        ("retry-after-ms", "250.5", 0.2505),
        ("x-ms-retry-after-ms", "2000", 2.0),
        ("x-amz-retry-after", "750", 0.75),
    ],
)
def test_millisecond_headers(name: str, value: str, seconds: float) -> None:
    """The millisecond headers of OpenAI/Anthropic, Azure and AWS become seconds."""
    assert _wait({name: value}) == (seconds, f"header:{name}")


@pytest.mark.parametrize("name", ["retry-after-ms", "x-ms-retry-after-ms", "x-amz-retry-after"])
@pytest.mark.parametrize("value", ["-1", "soon", "nan", "1m"])
def test_millisecond_headers_garbage_is_ignored(name: str, value: str) -> None:
    """A millisecond header that is not a plain non-negative number is ignored."""
    assert _wait({name: value}) == (None, None)


_ALL = {
    "retry-after-ms": "1000",
    "retry-after": "2",
    "x-ms-retry-after-ms": "3000",
    "x-amz-retry-after": "4000",
    "ratelimit": '"p";r=0;t=5',
    "ratelimit-remaining": "0",
    "ratelimit-reset": "6",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": "7",
}


@pytest.mark.parametrize(
    ("drop", "seconds", "source"),
    [
        ((), 1.0, "retry-after-ms"),
        (("retry-after-ms",), 2.0, "retry-after"),
        (("retry-after-ms", "retry-after"), 3.0, "x-ms-retry-after-ms"),
        (("retry-after-ms", "retry-after", "x-ms-retry-after-ms"), 4.0, "x-amz-retry-after"),
        (
            ("retry-after-ms", "retry-after", "x-ms-retry-after-ms", "x-amz-retry-after"),
            5.0,
            "ratelimit",
        ),
        (
            (
                "retry-after-ms",
                "retry-after",
                "x-ms-retry-after-ms",
                "x-amz-retry-after",
                "ratelimit",
            ),
            6.0,
            "ratelimit-reset",
        ),
        (
            (
                "retry-after-ms",
                "retry-after",
                "x-ms-retry-after-ms",
                "x-amz-retry-after",
                "ratelimit",
                "ratelimit-reset",
            ),
            7.0,
            "x-ratelimit-reset",
        ),
    ],
)
def test_precedence(drop: tuple[str, ...], seconds: float, source: str) -> None:
    """retry-after-ms > Retry-After > x-ms/x-amz > RateLimit t > RateLimit-Reset > X-RateLimit."""
    headers = {name: value for name, value in _ALL.items() if name not in drop}
    assert _wait(headers) == (seconds, f"header:{source}")


def test_garbage_in_a_stronger_header_falls_through() -> None:
    """A malformed stronger header does not hide a valid weaker one."""
    assert _wait({"retry-after-ms": "x", "retry-after": "junk", "x-amz-retry-after": "500"}) == (
        0.5,
        "header:x-amz-retry-after",
    )


# -- IETF RateLimit ---------------------------------------------------------------


def test_ratelimit_draft11_exhausted() -> None:
    """RateLimit r=0 means exhausted; t is the wait in seconds."""
    hints = read_hints(
        {"ratelimit": '"default";r=0;t=30', "ratelimit-policy": '"default";q=100;w=60'}, now=NOW
    )
    assert hints.retry_after == 30.0
    assert hints.retry_after_source == "header:ratelimit"
    assert hints.rate_limit_exhausted
    assert hints.rate_limit_reset == 30.0


def test_ratelimit_draft11_with_quota_left_is_no_wait() -> None:
    """RateLimit with r > 0 is information, not a wait."""
    hints = read_hints({"ratelimit": '"default";r=50;t=30'}, now=NOW)
    assert hints.retry_after is None
    assert not hints.rate_limit_exhausted
    assert hints.rate_limit_reset is None


def test_ratelimit_draft11_several_policies() -> None:
    """With several exhausted policies the longest wait wins; quoted commas are kept."""
    value = '"a,b";r=5;t=10, "day";r=0;t=3600, "minute";r=0;t=20'
    hints = read_hints({"ratelimit": value}, now=NOW)
    assert hints.retry_after == 3600.0
    assert hints.rate_limit_exhausted


def test_ratelimit_exhausted_without_t() -> None:
    """r=0 without t marks the limit exhausted but gives no wait."""
    hints = read_hints({"ratelimit": '"p";r=0'}, now=NOW)
    assert hints.rate_limit_exhausted
    assert hints.retry_after is None


def test_ratelimit_older_dictionary_form() -> None:
    """The older draft's RateLimit: limit=..., remaining=0, reset=N is understood."""
    hints = read_hints({"ratelimit": "limit=100, remaining=0, reset=12"}, now=NOW)
    assert (hints.retry_after, hints.retry_after_source) == (12.0, "header:ratelimit")


def test_ratelimit_reset_and_remaining_headers() -> None:
    """The older separate RateLimit-Remaining: 0 and RateLimit-Reset headers give a wait."""
    headers = {"ratelimit-remaining": "0", "ratelimit-reset": "15", "ratelimit-limit": "100"}
    assert _wait(headers) == (15.0, "header:ratelimit-reset")


@pytest.mark.parametrize("value", ['"p";r=x;t=y', "garbage", ",,,", '"unterminated;r=0', ";;=="])
def test_ratelimit_garbage_is_ignored(value: str) -> None:
    """A malformed RateLimit field gives no hint and no error."""
    hints = read_hints({"ratelimit": value}, now=NOW)
    assert hints.retry_after is None


# -- vendor reset headers -----------------------------------------------------------


def test_github_epoch_reset_when_exhausted() -> None:
    """GitHub's X-RateLimit-Reset is epoch seconds, waited for when remaining is 0."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 90)}
    hints = read_hints(headers, now=NOW)
    assert (hints.retry_after, hints.retry_after_source) == (90.0, "header:x-ratelimit-reset")
    assert hints.rate_limit_exhausted


@pytest.mark.parametrize("remaining", ["9" * 400, "5, " + "9" * 400, "1e400"])
def test_huge_remaining_count_keeps_every_other_hint(remaining: str) -> None:
    """A remaining count beyond a float means plenty left; the other hints survive."""
    headers = {
        "x-ratelimit-remaining": remaining,
        "x-ratelimit-reset": str(int(NOW) + 90),
        "retry-after": "7",
        "x-request-id": "req_1",
    }
    hints = read_hints(headers, now=NOW)
    assert (hints.retry_after, hints.request_id) == (7.0, "req_1")
    assert not hints.rate_limit_exhausted


def test_epoch_reset_uses_server_date() -> None:
    """An epoch reset is measured from the Date header when there is one."""
    headers = {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(NOW) + 90),
        "date": _date(0),
    }
    assert read_hints(headers, now=NOW + 1000).retry_after == 90.0


def test_epoch_milliseconds_reset() -> None:
    """A reset above 1e12 is epoch milliseconds."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW * 1000) + 2500)}
    assert _wait(headers) == (2.5, "header:x-ratelimit-reset")


def test_delta_seconds_reset() -> None:
    """A reset below 1e9 is a delta in seconds."""
    assert _wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "42"}) == (
        42.0,
        "header:x-ratelimit-reset",
    )


def test_past_epoch_reset_is_zero() -> None:
    """A reset time already past gives 0."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 100)}
    assert _wait(headers) == (0.0, "header:x-ratelimit-reset")


def test_reset_with_quota_left_is_not_a_wait() -> None:
    """A reset header with remaining > 0 is neither a wait nor a reset hint."""
    hints = read_hints(
        {"x-ratelimit-remaining": "12", "x-ratelimit-reset": str(int(NOW) + 90)}, now=NOW
    )
    assert hints.retry_after is None
    assert not hints.rate_limit_exhausted
    assert hints.rate_limit_reset is None


def test_reset_with_unknown_remaining_is_exposed_separately() -> None:
    """Without a remaining header the reset is only `rate_limit_reset`, not a wait."""
    hints = read_hints({"x-ratelimit-reset": str(int(NOW) + 90)}, now=NOW)
    assert hints.retry_after is None
    assert hints.rate_limit_reset == 90.0
    assert not hints.rate_limit_exhausted


def test_x_rate_limit_reset_twitter_style() -> None:
    """X/Twitter's x-rate-limit-* headers are read like GitHub's."""
    headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW) + 60)}
    assert _wait(headers) == (60.0, "header:x-rate-limit-reset")


def test_discord_reset_after() -> None:
    """Discord's x-ratelimit-reset-after is a delta in (fractional) seconds."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "1.25"}
    assert _wait(headers) == (1.25, "header:x-ratelimit-reset-after")


def test_openai_duration_resets() -> None:
    """OpenAI's Go-duration resets: the longest exhausted limit wins."""
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "12ms",
    }
    assert _wait(headers) == (360.0, "header:x-ratelimit-reset-requests")


def test_openai_only_exhausted_limit_counts() -> None:
    """Only the limit whose remaining is 0 gives the wait."""
    headers = {
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "12ms",
    }
    assert _wait(headers) == (0.012, "header:x-ratelimit-reset-tokens")


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [
        ("2027-01-15T08:00:30Z", 30.0),
        ("2027-01-15T08:00:30.500Z", 30.5),
        ("2027-01-15T08:00:30.123456789Z", 30.123456),
        ("2027-01-15T09:00:30+01:00", 30.0),
        ("2027-01-15T07:00:30-01:00", 30.0),
        ("2027-01-15T08:00:30", 30.0),
        ("2027-01-15T07:00:00Z", 0.0),
    ],
)
def test_anthropic_rfc3339_resets(reset: str, seconds: float) -> None:
    """Anthropic's RFC 3339 resets are measured from `now`, past ones give 0."""
    headers = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
    }
    got, source = _wait(headers)
    assert got == pytest.approx(seconds)
    assert source == "header:anthropic-ratelimit-requests-reset"


@pytest.mark.parametrize("kind", ["tokens", "input-tokens", "output-tokens"])
def test_anthropic_token_limits(kind: str) -> None:
    """Every anthropic-ratelimit-*-reset is paired with its own remaining header."""
    headers = {
        f"anthropic-ratelimit-{kind}-remaining": "0",
        f"anthropic-ratelimit-{kind}-reset": "2027-01-15T08:00:10Z",
    }
    assert _wait(headers) == (10.0, f"header:anthropic-ratelimit-{kind}-reset")


def test_http_date_reset() -> None:
    """A reset given as an HTTP-date is understood too."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": _date(20)}
    assert _wait(headers) == (20.0, "header:x-ratelimit-reset")


@pytest.mark.parametrize("reset", ["soon", "-5", "2027-13-45T99:00:00Z", "nan"])
def test_garbage_reset_still_marks_exhaustion(reset: str) -> None:
    """A reset that does not parse gives no wait, but remaining 0 still says exhausted."""
    hints = read_hints({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, now=NOW)
    assert hints.retry_after is None
    assert hints.rate_limit_exhausted


def test_remaining_takes_the_smallest_of_repeated_values() -> None:
    """Repeated remaining fields ("5, 0") count as exhausted."""
    hints = read_hints({"x-ratelimit-remaining": "5, 0", "x-ratelimit-reset": "9"}, now=NOW)
    assert hints.rate_limit_exhausted
    assert hints.retry_after == 9.0


# -- should-retry and request id ------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-should-retry": "true"}, True),
        ({"x-should-retry": "false"}, False),
        ({"x-should-retry": " TRUE "}, True),
        ({"stripe-should-retry": "false"}, False),
        ({"x-should-retry": "true", "stripe-should-retry": "false"}, True),
        ({"x-should-retry": "maybe"}, None),
        ({"x-should-retry": "maybe", "stripe-should-retry": "true"}, True),
        ({}, None),
    ],
)
def test_should_retry(headers: dict[str, str], expected: bool | None) -> None:
    """x-should-retry, then stripe-should-retry, give an explicit true/false directive."""
    assert read_hints(headers, now=NOW).should_retry is expected


@pytest.mark.parametrize(
    ("name", "precedes"),
    [
        ("x-request-id", "request-id"),
        ("request-id", "x-amzn-requestid"),
        ("x-amzn-requestid", "x-amz-request-id"),
        ("x-amz-request-id", "x-ms-request-id"),
        ("x-ms-request-id", "x-github-request-id"),
        ("x-github-request-id", "x-slack-req-id"),
        ("x-slack-req-id", "x-goog-request-id"),
        ("x-goog-request-id", "apigw-requestid"),
        ("apigw-requestid", "x-correlation-id"),
        ("x-correlation-id", "cf-ray"),
        ("cf-ray", "x-amz-cf-id"),
        ("x-amz-cf-id", "x-envoy-request-id"),  # named ones before any by pattern
    ],
)
def test_request_id_order(name: str, precedes: str) -> None:
    """Each request-id header is read, and wins over the ones after it in the list."""
    assert read_hints({name: "first", precedes: "second"}, now=NOW).request_id == "first"
    assert read_hints({precedes: "second"}, now=NOW).request_id == "second"


@pytest.mark.parametrize(
    ("headers", "body", "request_id"),
    [
        (
            {"x-slack-req-id": "2c6fcb4a4a2a1f9e5b6c", "retry-after": "1"},
            b'{"ok": false, "error": "ratelimited"}',
            "2c6fcb4a4a2a1f9e5b6c",
        ),
        (
            {"x-goog-request-id": "goog-7f3a", "content-type": "application/json"},
            b'{"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}',
            "goog-7f3a",
        ),
    ],
    ids=["slack", "google"],
)
def test_slack_and_google_request_ids_reach_error_info(
    headers: dict[str, str], body: bytes, request_id: str
) -> None:
    """The SDK review's Slack and Google errors keep their request id in `ErrorInfo`."""
    info = parse(429, headers, body)
    assert info is not None
    assert info.request_id == request_id


@pytest.mark.parametrize(
    ("headers", "request_id"),
    [
        ({"x-envoy-request-id": "e-1"}, "e-1"),  # Envoy, Istio
        ({"x-kong-request-id": "k-1"}, "k-1"),  # Kong
        ({"x-ovh-queryid": "no", "x-api-requestid": "a-1"}, "a-1"),
        ({"x-twilio-request_id": "t-1"}, "t-1"),
        ({"x-fastly-req-id": "f-1"}, "f-1"),
        ({"x-b3-traceid": "b3", "x-correlationid": "c-1"}, "c-1"),  # a correlation id first
        ({"x-b3-traceid": "b3", "x-amzn-trace-id": "Root=1-2"}, "b3"),  # of one kind: the first
        ({"x-tt-logid": "2024abc"}, "2024abc"),  # TikTok
        ({"x-trace-id-hint": "no"}, None),  # the name must end so
        ({"x-request-id": " ", "x-envoy-request-id": "e-2"}, "e-2"),  # a blank one is skipped
    ],
)
def test_request_ids_by_name_pattern(headers: dict[str, str], request_id: str | None) -> None:
    assert read_hints(headers, now=NOW).request_id == request_id


def test_request_id_ignores_trace_headers() -> None:
    """Client trace ids (traceparent, x-cloud-trace-context) are not request ids."""
    headers = {"traceparent": "00-abc-def-01", "x-cloud-trace-context": "abc/1"}
    assert read_hints(headers, now=NOW).request_id is None


def test_request_id_is_escaped_and_bounded() -> None:
    """A request id has control characters escaped and is cut to a bounded length."""
    hints = read_hints({"x-request-id": "req\x1b[31m" + "a" * 500}, now=NOW)
    assert hints.request_id is not None
    assert "\x1b" not in hints.request_id
    assert len(hints.request_id) < 220


def test_no_headers_no_hints() -> None:
    """Empty headers give no hint at all."""
    assert read_hints({}) == NO_HINTS


def test_non_dict_headers_are_normalized() -> None:
    """A caller passing raw pairs instead of a normalized dict still gets hints."""
    hints = read_hints([("Retry-After", "3")], now=NOW)  # type: ignore[arg-type]
    assert hints.retry_after == 3.0


def test_default_now_is_the_wall_clock() -> None:
    """Without `now`, a near-future HTTP-date is measured from time.time()."""
    import time

    at = formatdate(time.time() + 3600, usegmt=True)
    seconds = read_hints({"retry-after": at}).retry_after
    assert seconds is not None
    assert 3590 <= seconds <= 3600


# -- parse_duration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (60, 60.0),
        (1.5, 1.5),
        (0, 0.0),
        ("60", 60.0),
        (" 1.5 ", 1.5),
        ("1.5s", 1.5),
        ("6m0s", 360.0),
        ("250ms", 0.25),
        ("1h2m3.5s", 3723.5),
        ("12ms", 0.012),
        ("100us", 0.0001),
        ("100\u00b5s", 0.0001),
        ("5000000ns", 0.005),
        ("2h", 7200.0),
        (MAX_DURATION, MAX_DURATION),
    ],
)
def test_parse_duration_valid(value: object, seconds: float) -> None:
    """Numbers, numeric strings and Go/Protobuf durations become seconds."""
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.5,
        "-1",
        "-1s",
        float("nan"),
        float("inf"),
        "inf",
        True,
        False,
        None,
        [],
        {},
        b"60",
        "",
        "s",
        "1x",
        "1.5.5s",
        "1 s",
        "60 seconds",
        MAX_DURATION + 1,
        "8761h",
        10**400,
        "9" * 400,
        "1s" * 100,
    ],
)
def test_parse_duration_invalid(value: object) -> None:
    """Negative, NaN, infinite, boolean, absurd (> 1 year) and malformed values give None."""
    assert parse_duration(value) is None


# -- properties ---------------------------------------------------------------------

_NAMES = st.sampled_from(
    [
        "retry-after",
        "retry-after-ms",
        "x-ms-retry-after-ms",
        "x-amz-retry-after",
        "ratelimit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
        "x-should-retry",
        "x-request-id",
        "date",
    ]
)
_VALUES = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"-?[0-9]{0,400}(\.[0-9]{0,20})?", fullmatch=True),
    st.floats().map(str),
    st.integers().map(str),
    st.sampled_from(['"p";r=0;t=99999999999999', "0", "Fri, 31 Dec 9999 23:59:59 GMT", "1e308"]),
)


@given(st.lists(st.tuples(st.one_of(_NAMES, st.text(max_size=20)), _VALUES), max_size=12))
def test_read_hints_never_raises_and_stays_finite(pairs: list[tuple[str, str]]) -> None:
    """For arbitrary headers every wait is a finite float in [0, MAX_HINT]."""
    hints = read_hints(normalize_headers(pairs), now=NOW)
    for seconds in (hints.retry_after, hints.rate_limit_reset):
        if seconds is not None:
            assert isinstance(seconds, float)
            assert math.isfinite(seconds)
            assert 0.0 <= seconds <= MAX_HINT
    assert (hints.retry_after is None) == (hints.retry_after_source is None)


@given(st.one_of(st.text(max_size=60), st.integers(), st.floats(), st.booleans(), st.none()))
def test_parse_duration_never_raises(value: object) -> None:
    """parse_duration gives None or a finite float in [0, 1 year] for anything."""
    seconds = parse_duration(value)
    assert seconds is None or (math.isfinite(seconds) and 0.0 <= seconds <= MAX_DURATION)


def test_long_values_are_fast() -> None:
    """8 KiB adversarial values are read in linear time (well under a second)."""
    import time

    nasty = {
        "retry-after": "1" * 8000 + "x",
        "x-ratelimit-reset": "1." + "1" * 8000 + "s",
        "ratelimit": '"' + "a;r=0," * 1300,
        "x-ratelimit-remaining": "0," * 4000,
        "date": "Jan " * 2000,
    }
    start = time.perf_counter()
    for _ in range(20):
        read_hints(nasty, now=NOW)
    assert time.perf_counter() - start < 1.0
