"""classify(): status x code/type x server hints -> category, retryable, reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errorkit._classify import classify
from errorkit._formats._base import Extracted
from errorkit._hints import NO_HINTS, ServerHints
from errorkit._info import Category

C = Category


def _found(**fields: object) -> Extracted:
    return Extracted(format="test", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "category", "retryable"),
    [
        (400, C.BAD_REQUEST, False),
        (401, C.AUTHENTICATION, False),
        (402, C.CLIENT, False),
        (403, C.PERMISSION, False),
        (404, C.NOT_FOUND, False),
        (405, C.CLIENT, False),
        (408, C.TIMEOUT, True),
        (409, C.CONFLICT, False),
        (410, C.NOT_FOUND, False),
        (413, C.PAYLOAD_TOO_LARGE, False),
        (418, C.CLIENT, False),
        (422, C.UNPROCESSABLE, False),
        (425, C.CLIENT, True),
        (429, C.RATE_LIMITED, True),
        (451, C.CLIENT, False),
        (499, C.CLIENT, False),
        (500, C.SERVER, True),
        (501, C.SERVER, False),
        (502, C.UNAVAILABLE, True),
        (503, C.UNAVAILABLE, True),
        (504, C.UNAVAILABLE, True),
        (505, C.SERVER, False),
        (507, C.SERVER, False),
        (511, C.SERVER, False),
        (520, C.UNAVAILABLE, True),
        (524, C.UNAVAILABLE, True),
        (529, C.UNAVAILABLE, True),
        (530, C.SERVER, True),
        (599, C.SERVER, True),
    ],
)
def test_status_table(status: int, category: Category, retryable: bool) -> None:
    """With no code and no hints, the status alone decides category and retryability."""
    got, is_retryable, reason = classify(status, _found(), NO_HINTS)
    assert (got, is_retryable) == (category, retryable)
    assert reason.startswith(f"{status} {category}: ")
    assert ("not retryable" in reason) is not retryable


@pytest.mark.parametrize(
    ("status", "code", "type_", "category", "retryable"),
    [
        # rate limits decided by code, whatever the status
        (400, "rate_limit_exceeded", None, C.RATE_LIMITED, True),
        (429, "rate_limit_exceeded", "requests", C.RATE_LIMITED, True),
        (400, None, "ThrottlingException", C.RATE_LIMITED, True),
        (400, "Throttling", None, C.RATE_LIMITED, True),
        (400, "TooManyRequestsException", None, C.RATE_LIMITED, True),
        (503, "RequestLimitExceeded", None, C.RATE_LIMITED, True),
        (503, "SlowDown", None, C.RATE_LIMITED, True),
        (400, "ProvisionedThroughputExceededException", None, C.RATE_LIMITED, True),
        (400, "RequestThrottled", None, C.RATE_LIMITED, True),
        (400, None, "com.amazonaws.dynamodb.v20120810#ThrottlingException", C.RATE_LIMITED, True),
        (429, "RESOURCE_EXHAUSTED", None, C.RATE_LIMITED, True),
        (403, "rateLimitExceeded", None, C.RATE_LIMITED, True),
        (403, "userRateLimitExceeded", None, C.RATE_LIMITED, True),
        (429, None, "rate_limit_error", C.RATE_LIMITED, True),
        (429, "TooManyRequests", None, C.RATE_LIMITED, True),
        # quotas and budgets: never retryable, even on a 429
        (429, "insufficient_quota", "insufficient_quota", C.QUOTA_EXCEEDED, False),
        (429, "budget_exceeded", None, C.QUOTA_EXCEEDED, False),
        (429, "quota_exceeded", None, C.QUOTA_EXCEEDED, False),
        (429, "billing_hard_limit_reached", None, C.QUOTA_EXCEEDED, False),
        (403, "dailyLimitExceeded", None, C.QUOTA_EXCEEDED, False),
        (402, None, "billing_error", C.QUOTA_EXCEEDED, False),
        (400, "budget_exceeded", None, C.QUOTA_EXCEEDED, False),
        # overload
        (529, None, "overloaded_error", C.UNAVAILABLE, True),
        (500, "overloaded", None, C.UNAVAILABLE, True),
        (503, "UNAVAILABLE", None, C.UNAVAILABLE, True),
        (503, "ServiceUnavailableException", None, C.UNAVAILABLE, True),
        # timeouts
        (400, "RequestTimeout", None, C.TIMEOUT, True),
        (504, "DEADLINE_EXCEEDED", None, C.TIMEOUT, True),
        (500, "ServerTimeout", None, C.TIMEOUT, True),
        # Google canonical codes on their usual statuses
        (401, "UNAUTHENTICATED", None, C.AUTHENTICATION, False),
        (403, "PERMISSION_DENIED", None, C.PERMISSION, False),
        (404, "NOT_FOUND", None, C.NOT_FOUND, False),
        (409, "ALREADY_EXISTS", None, C.CONFLICT, False),
        (409, "ABORTED", None, C.CONFLICT, False),
        (400, "INVALID_ARGUMENT", None, C.BAD_REQUEST, False),
        (400, "FAILED_PRECONDITION", None, C.BAD_REQUEST, False),
        (500, "INTERNAL", None, C.SERVER, True),
        (501, "UNIMPLEMENTED", None, C.SERVER, False),
        # the agents seed's codes
        (400, "invalid_request", None, C.BAD_REQUEST, False),
        (400, "validation_error", None, C.BAD_REQUEST, False),
        (422, "validation_error", None, C.UNPROCESSABLE, False),
        (401, "unauthorized", None, C.AUTHENTICATION, False),
        (403, "forbidden", None, C.PERMISSION, False),
        (404, "not_found", None, C.NOT_FOUND, False),
        (409, "conflict", None, C.CONFLICT, False),
        (422, "credential_cap_exceeded", None, C.UNPROCESSABLE, False),
        (400, "credential_cap_exceeded", None, C.UNPROCESSABLE, False),
        (422, "vault_coverage_missing", None, C.UNPROCESSABLE, False),
        (429, "rate_limit_exceeded", None, C.RATE_LIMITED, True),
        (500, "sandbox_error", None, C.SERVER, True),
        (409, "stream_active", None, C.CONFLICT, False),
        (400, "stream_active", None, C.CONFLICT, False),
        (503, None, None, C.UNAVAILABLE, True),
        # a client-fault code does not turn a 5xx into a 4xx category
        (500, "credential_cap_exceeded", None, C.SERVER, True),
        (503, "not_found", None, C.UNAVAILABLE, True),
        # the status wins over a merely descriptive code
        (404, None, "invalid_request_error", C.NOT_FOUND, False),
        (400, "not_found", None, C.BAD_REQUEST, False),
        # descriptive codes refine an unspecific 4xx
        (418, "AccessDeniedException", None, C.PERMISSION, False),
        (499, "CANCELLED", None, C.CLIENT, False),
        (405, "ResourceNotFoundException", None, C.NOT_FOUND, False),
        (400, None, "authentication_error", C.BAD_REQUEST, False),
    ],
)
def test_code_table(
    status: int, code: str | None, type_: str | None, category: Category, retryable: bool
) -> None:
    """Codes and types refine or override the status as the module docstring says."""
    got, is_retryable, _ = classify(status, _found(code=code, type=type_), NO_HINTS)
    assert (got, is_retryable) == (category, retryable)


def test_code_override_is_named_in_the_reason() -> None:
    """A category decided by a code says which code in the reason."""
    _, _, reason = classify(400, _found(code="rate_limit_exceeded"), NO_HINTS)
    assert reason == (
        "400 rate_limited (code rate_limit_exceeded): retryable (rate limits clear with time)"
    )
    _, _, reason = classify(429, _found(code="insufficient_quota"), NO_HINTS)
    assert reason.startswith("429 quota_exceeded (code insufficient_quota): not retryable")


def test_plain_429_reason() -> None:
    """The reason for a plain 429 is the short sentence from the contract."""
    assert classify(429, _found(), NO_HINTS)[2] == (
        "429 rate_limited: retryable (rate limits clear with time)"
    )


@pytest.mark.parametrize(
    ("found", "hints"),
    [
        (_found(), ServerHints(rate_limit_exhausted=True)),
        (_found(), ServerHints(retry_after=60.0, retry_after_source="header:retry-after")),
        (_found(message="API rate limit exceeded for 1.2.3.4."), NO_HINTS),
        (_found(message="You have exceeded a secondary rate limit."), NO_HINTS),
    ],
)
def test_github_403_rate_limit(found: Extracted, hints: ServerHints) -> None:
    """GitHub's 403 with remaining 0, a Retry-After or a rate-limit message is rate_limited."""
    assert classify(403, found, hints)[:2] == (C.RATE_LIMITED, True)


def test_plain_403_stays_permission() -> None:
    """A 403 with no rate-limit signal stays a permission error."""
    found = _found(message="Resource not accessible by integration")
    assert classify(403, found, NO_HINTS)[:2] == (C.PERMISSION, False)


@pytest.mark.parametrize(
    ("status", "directive", "retryable"),
    [
        (400, True, True),
        (409, True, True),
        (429, False, False),
        (503, False, False),
        (500, True, True),
        (401, False, False),
    ],
)
def test_should_retry_header_decides(status: int, directive: bool, retryable: bool) -> None:
    """x-should-retry / stripe-should-retry overrides the status rule either way."""
    category, is_retryable, reason = classify(status, _found(), ServerHints(should_retry=directive))
    assert category == classify(status, _found(), NO_HINTS)[0]
    assert is_retryable is retryable
    assert f"should-retry: {str(directive).lower()}" in reason


def test_should_retry_override_says_so() -> None:
    """When the directive contradicts the status rule, the reason says it overrides."""
    _, _, reason = classify(400, _found(), ServerHints(should_retry=True))
    assert reason == (
        "400 bad_request: retryable (server header should-retry: true overrides the status rule)"
    )
    _, _, reason = classify(500, _found(), ServerHints(should_retry=True))
    assert "overrides" not in reason


def test_should_retry_true_beats_quota() -> None:
    """A server that explicitly says retry is believed even for a quota code."""
    found = _found(code="insufficient_quota")
    assert classify(429, found, ServerHints(should_retry=True))[:2] == (C.QUOTA_EXCEEDED, True)


def test_body_retryable_statement() -> None:
    """An explicit retryability in the body beats the status rule, not the header."""
    assert classify(400, _found(retryable=True), NO_HINTS)[1] is True
    assert classify(500, _found(retryable=False), NO_HINTS)[1] is False
    assert classify(500, _found(retryable=False), ServerHints(should_retry=True))[1] is True


def test_413_retryable_only_with_retry_after() -> None:
    """413 is retryable only when the server says when (header or body hint)."""
    assert classify(413, _found(), NO_HINTS)[1] is False
    assert classify(413, _found(), ServerHints(retry_after=5.0))[1] is True
    assert classify(413, _found(retry_after=5.0), NO_HINTS)[1] is True


def test_shape_category_is_used() -> None:
    """The category the body shape states (Slack, Kubernetes) beats the status."""
    found = _found(category=C.RATE_LIMITED)
    assert classify(400, found, NO_HINTS)[:2] == (C.RATE_LIMITED, True)
    found = _found(category=C.NOT_FOUND, code="insufficient_quota")
    assert classify(404, found, NO_HINTS)[0] == C.QUOTA_EXCEEDED


@pytest.mark.parametrize(
    ("code", "category", "retryable"),
    [
        ("ratelimited", C.RATE_LIMITED, True),
        ("invalid_auth", C.AUTHENTICATION, False),
        ("not_authed", C.AUTHENTICATION, False),
        ("token_revoked", C.AUTHENTICATION, False),
        ("missing_scope", C.PERMISSION, False),
        ("channel_not_found", C.NOT_FOUND, False),
        ("user_not_found", C.NOT_FOUND, False),
        ("invalid_arguments", C.BAD_REQUEST, False),
        ("INTERNAL_SERVER_ERROR", C.SERVER, True),
        ("BAD_USER_INPUT", C.BAD_REQUEST, False),
        ("something_odd", C.CLIENT, False),
        (None, C.CLIENT, False),
    ],
)
def test_in_band_errors(code: str | None, category: Category, retryable: bool) -> None:
    """A 200 carrying an in-band error is classified from its code (Slack, GraphQL)."""
    got, is_retryable, reason = classify(200, _found(code=code, in_band=True), NO_HINTS)
    assert (got, is_retryable) == (category, retryable)
    assert reason.startswith("200 in-band error ")


def test_in_band_uses_the_status_the_body_claims() -> None:
    """An in-band error whose body claims a status is classified by it."""
    found = _found(in_band=True, status=503)
    assert classify(200, found, NO_HINTS)[:2] == (C.UNAVAILABLE, True)


def test_status_none_uses_body_status() -> None:
    """With no HTTP status, the status the body claims decides."""
    assert classify(None, _found(status=429), NO_HINTS)[:2] == (C.RATE_LIMITED, True)
    assert classify(None, _found(status=404), NO_HINTS)[:2] == (C.NOT_FOUND, False)
    assert classify(None, _found(status=True), NO_HINTS)[:2] == (C.CLIENT, False)
    assert classify(None, _found(status=1000), NO_HINTS)[:2] == (C.CLIENT, False)


def test_status_none_and_nothing_known() -> None:
    """No status and nothing recognised gives a non-retryable client error."""
    category, retryable, reason = classify(None, _found(), NO_HINTS)
    assert (category, retryable) == (C.CLIENT, False)
    assert reason.startswith("error client: not retryable")


def test_code_in_reason_is_escaped() -> None:
    """A code with control characters is escaped before it reaches the reason."""
    _, _, reason = classify(429, _found(code="x\x1bquota_exceeded"), NO_HINTS)
    assert "\x1b" not in reason


_codes = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["rate_limit_exceeded", "x#y"]))


_found_values = st.builds(
    _found,
    code=_codes,
    type=_codes,
    status=st.one_of(st.none(), st.integers(), st.booleans()),
    in_band=st.booleans(),
)


@given(
    st.one_of(st.none(), st.integers(min_value=100, max_value=999)),
    _found_values,
    st.one_of(st.none(), st.booleans()),
)
def test_classify_is_total(status: int | None, found: Extracted, directive: bool | None) -> None:
    """Any combination gives a Category, a bool and a non-empty reason."""
    category, retryable, reason = classify(status, found, ServerHints(should_retry=directive))
    assert isinstance(category, Category)
    assert isinstance(retryable, bool)
    assert reason
