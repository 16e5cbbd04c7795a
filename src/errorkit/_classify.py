"""Classification: status + body shape + server hints -> category and retryability.

The category is decided by the first rule that applies:

1. A *decisive code* (the body's ``code``, then its ``type``): a code that means
   the same thing whatever status carries it. Compared case- and
   separator-insensitively (``rate_limit_exceeded`` = ``RateLimitExceeded``), with
   an AWS ``...#`` prefix and an ``Exception`` suffix ignored.
2. GitHub's rate limit on a 403: ``x-ratelimit-remaining: 0`` (or another
   exhausted rate-limit header), a Retry-After, or "rate limit" in the message.
3. The category the body's shape states itself (`Extracted.category`: Slack
   ``ratelimited``, a Kubernetes ``reason``...).
4. The status, when it is specific (the table below). Without a usable status
   (None, or a 2xx/3xx carrying an in-band error) the status the body claims is
   used instead.
5. A *descriptive code* (``unauthorized``, ``NOT_FOUND``, ``invalid_auth``,
   ``*_not_found``, ``*AlreadyExists``...; of a dotted code such as
   ``AuthFailure.SignatureFailure``, the whole, then its first segment) when the
   status says no more than "some 4xx" or is absent.
6. The status class: other 4xx ``client``, other 5xx ``server``; with no status at
   all, ``client``.

=========================  ==================  ==========================================
status                     category            retryable (before server directives)
=========================  ==================  ==========================================
400                        bad_request         no
401                        authentication      no
403                        permission          no (rate_limited by rule 2)
404, 410                   not_found           no
408                        timeout             yes
409                        conflict            no (the seeds: "use a different identifier")
413                        payload_too_large   only with a Retry-After (RFC 9110 15.5.14)
422                        unprocessable       no
425                        client              yes (Too Early: RFC 8470)
429                        rate_limited        yes, unless a quota code says otherwise
other 4xx                  client              no
500                        server              yes
501, 505-508, 510, 511     server              no (will not change by retrying)
502, 503, 504, 529         unavailable         yes
520-524 (Cloudflare)       unavailable         yes
other 5xx                  server              yes
=========================  ==================  ==========================================

Decisive codes: rate limits (``rate_limit_exceeded``, ``RESOURCE_EXHAUSTED``, AWS
``ThrottlingException``, ``Throttling``, ``TooManyRequestsException``,
``RequestLimitExceeded``, ``SlowDown``, ``ProvisionedThroughputExceededException``,
``RequestThrottled``... -- the botocore list) are ``rate_limited`` and retryable,
even on a 400 or a 403; quotas and budgets (``insufficient_quota``,
``quota_exceeded``, ``budget_exceeded``, ``billing_hard_limit_reached``...) are
``quota_exceeded`` and not retryable, even on a 429; ``overloaded_error``,
``UNAVAILABLE`` are ``unavailable``; AWS ``RequestTimeout`` (a 400) and
``DEADLINE_EXCEEDED`` are ``timeout``, retryable. The agents seed's
``credential_cap_exceeded`` and ``vault_coverage_missing`` are ``unprocessable``,
``stream_active`` is ``conflict``: decisive on a 4xx only.

Retryability, in order: the server's ``x-should-retry`` / ``stripe-should-retry``
header decides when present (true makes even a 400 retryable; the reason says
so); then an explicit statement in the body (`Extracted.retryable`); then the
category: ``rate_limited``, ``unavailable``, ``timeout``, ``connection`` yes;
``server`` yes except the statuses above; ``payload_too_large`` only with a
Retry-After; ``quota_exceeded`` and every other client category no.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple

from errorkit._info import Category
from errorkit._text import escape_control

if TYPE_CHECKING:
    from errorkit._formats._base import Extracted
    from errorkit._hints import ServerHints

C = Category

_STATUS: dict[int, Category] = {
    400: C.BAD_REQUEST,
    401: C.AUTHENTICATION,
    403: C.PERMISSION,
    404: C.NOT_FOUND,
    408: C.TIMEOUT,
    409: C.CONFLICT,
    410: C.NOT_FOUND,
    413: C.PAYLOAD_TOO_LARGE,
    422: C.UNPROCESSABLE,
    429: C.RATE_LIMITED,
    500: C.SERVER,
    502: C.UNAVAILABLE,
    503: C.UNAVAILABLE,
    504: C.UNAVAILABLE,
    529: C.UNAVAILABLE,
    520: C.UNAVAILABLE,
    521: C.UNAVAILABLE,
    522: C.UNAVAILABLE,
    523: C.UNAVAILABLE,
    524: C.UNAVAILABLE,
}
_FINAL_5XX = frozenset({501, 505, 506, 507, 508, 510, 511})


def _table(**groups: str) -> dict[str, Category]:
    return {
        code: Category[name.upper()] for name, codes in groups.items() for code in codes.split()
    }


#: Codes that mean the same whatever the status (normalized: lower, no separators).
_DECISIVE = _table(
    rate_limited=(
        "ratelimitexceeded ratelimited ratelimiterror ratelimit toomanyrequests throttling"
        " throttled requestthrottled requestlimitexceeded slowdown bandwidthlimitexceeded"
        " provisionedthroughputexceeded limitexceeded priorrequestnotcomplete ec2throttled"
        " resourceexhausted userratelimitexceeded"
    ),
    quota_exceeded=(
        "insufficientquota quotaexceeded budgetexceeded billinghardlimitreached"
        " billingnotactive billingerror dailylimitexceeded"
    ),
    unavailable="overloaded overloadederror engineoverloaded serviceunavailable unavailable"
    " serverbusy",
    timeout="requesttimeout deadlineexceeded timeout servertimeout",
)
#: Decisive codes that name a client fault: they do not override a 5xx.
_DECISIVE_4XX = _table(
    unprocessable="credentialcapexceeded vaultcoveragemissing",
    conflict="streamactive idempotencyerror",
)
#: Codes that describe the error, used when the status is absent or unspecific.
_DESCRIPTIVE = _table(
    authentication=(
        "unauthorized unauthenticated authenticationerror invalidauth notauthed tokenrevoked"
        " tokenexpired invalidapikey accountinactive invalidclienttokenid unrecognizedclient"
        " expiredtoken invalidsignature signaturedoesnotmatch authfailure notauthorized"
    ),
    permission=(
        "forbidden permissiondenied permissionerror accessdenied missingscope"
        " unauthorizedoperation insufficientpermissions"
    ),
    not_found="notfound notfounderror nosuchkey nosuchbucket",
    conflict="conflict alreadyexists aborted resourceinuse conditionalcheckfailed",
    bad_request=(
        "invalidrequest invalidrequesterror validationerror validation invalidargument"
        " invalidarguments failedprecondition outofrange badrequest baduserinput"
        " graphqlvalidationfailed graphqlparsefailed invalidparametervalue missingparameter"
        " contextlengthexceeded"
    ),
    unprocessable="invalid unprocessableentity",
    payload_too_large="requesttoolarge requestentitytoolarge payloadtoolarge",
    server=(
        "internal internalerror internalservererror internalfailure apierror sandboxerror"
        " unknown dataloss servererror"
    ),
    client="cancelled canceled",
)
_SEPARATORS = str.maketrans("", "", "_-. ")
_MAX_CODE = 100

_WHY_NOT = {
    C.BAD_REQUEST: "fix the request; resending it unchanged fails again",
    C.AUTHENTICATION: "fix the credentials first",
    C.PERMISSION: "the credentials lack permission; retrying does not grant it",
    C.NOT_FOUND: "fix the resource ID or path",
    C.CONFLICT: "the conflict does not resolve by resending the same request",
    C.UNPROCESSABLE: "the request violates a constraint; fix it first",
    C.QUOTA_EXCEEDED: "a quota or budget does not refill by retrying",
    C.CLIENT: "a client error; resending the same request fails again",
}
_WHY = {
    C.RATE_LIMITED: "rate limits clear with time",
    C.UNAVAILABLE: "the service is temporarily unavailable or overloaded",
    C.TIMEOUT: "a timeout is usually transient",
    C.CONNECTION: "the connection failed before a response",
    C.SERVER: "server errors are often transient",
}


def classify(
    status: int | None, found: Extracted, hints: ServerHints
) -> tuple[Category, bool, str]:
    """Return (category, retryable, reason) for an error response.

    `reason` is one short sentence for people, such as
    ``429 rate_limited: retryable (rate limits clear with time)``. The module
    docstring gives the rules. Pure: the same arguments give the same answer.
    """
    effective = _effective_status(status, found)
    category, basis = _category(effective, found, hints)
    retryable, why = _retryable(category, effective, found, hints)
    label = _label(status, effective, found, category, basis)
    return category, retryable, f"{label}: {'retryable' if retryable else 'not retryable'} ({why})"


def _effective_status(status: int | None, found: Extracted) -> int | None:
    """The HTTP status, or the error status the body claims when there is none."""
    if status is not None and status >= 400:
        return status
    claimed = found.status
    if isinstance(claimed, int) and not isinstance(claimed, bool) and 400 <= claimed <= 599:
        return claimed
    return None


def _category(status: int | None, found: Extracted, hints: ServerHints) -> tuple[Category, str]:
    """The category and what decided it (a code, ``status``, ``body``...)."""
    codes = (_meaning(found.code), _meaning(found.type))
    decisive = _decisive(status, codes)
    if decisive is not None:
        return decisive
    if status == 403 and _github_rate_limited(found, hints):
        return C.RATE_LIMITED, "rate limit signalled"
    if isinstance(found.category, Category):
        return found.category, "body"
    by_status = _by_status(status)
    if by_status is not None and by_status is not C.CLIENT:
        return by_status, "status"
    for meaning in codes:
        if meaning.descriptive is not None:
            return meaning.descriptive, meaning.basis
    return by_status or C.CLIENT, "status"


def _decisive(status: int | None, codes: tuple[_Code, _Code]) -> tuple[Category, str] | None:
    for meaning in codes:
        if meaning.decisive is not None:
            return meaning.decisive, meaning.basis
    if status is None or status < 500:
        for meaning in codes:
            if meaning.decisive_4xx is not None:
                return meaning.decisive_4xx, meaning.basis
    return None


class _Code(NamedTuple):
    """What one code (or type) string means in each table, and how a reason names it."""

    decisive: Category | None
    decisive_4xx: Category | None
    descriptive: Category | None
    basis: str


_NO_CODE = _Code(None, None, None, "")


def _meaning(raw: object) -> _Code:
    """What a code (or type) string means in each table; nothing for a non-string."""
    if not isinstance(raw, str) or len(raw) > _MAX_CODE:
        return _NO_CODE
    return _code_meaning(raw)


@functools.lru_cache(maxsize=1024)
def _code_meaning(raw: str) -> _Code:
    # Cached: an API sends a handful of distinct codes, and what one means depends
    # on nothing but the constant tables above, so an entry never goes stale.
    key = _key(raw)
    if not key:
        return _NO_CODE
    bare = key.removesuffix("exception")
    descriptive = _DESCRIPTIVE.get(key) or _DESCRIPTIVE.get(bare) or _by_suffix(bare)
    if descriptive is None and "." in raw:
        # A dotted code names its class first: AuthFailure.SignatureFailure
        head = _key(raw.partition(".")[0]).removesuffix("exception")
        descriptive = _DESCRIPTIVE.get(head) or _by_suffix(head)
    return _Code(
        decisive=_DECISIVE.get(key) or _DECISIVE.get(bare),
        decisive_4xx=_DECISIVE_4XX.get(key) or _DECISIVE_4XX.get(bare),
        descriptive=descriptive,
        basis=f"code {escape_control(str(raw))}",
    )


#: Endings of a code that say what it means, whatever comes before them.
_SUFFIXES = (
    (("notfound", "notexist", "notexists", "doesnotexist"), C.NOT_FOUND),
    (("alreadyexist", "alreadyexists"), C.CONFLICT),
)


def _by_suffix(key: str) -> Category | None:
    return next((category for ends, category in _SUFFIXES if key.endswith(ends)), None)


def _key(raw: str) -> str:
    """``com.amazon#ThrottlingException`` -> ``throttlingexception``."""
    return raw.rpartition("#")[2].rpartition(":")[2].translate(_SEPARATORS).lower()


def _github_rate_limited(found: Extracted, hints: ServerHints) -> bool:
    if hints.rate_limit_exhausted or hints.retry_after is not None:
        return True
    message = found.message
    return isinstance(message, str) and "rate limit" in message[:500].lower()


def _by_status(status: int | None) -> Category | None:
    if status is None:
        return None
    category = _STATUS.get(status)
    if category is not None:
        return category
    return C.CLIENT if status < 500 else C.SERVER


def _retryable(
    category: Category, status: int | None, found: Extracted, hints: ServerHints
) -> tuple[bool, str]:
    base, why = _by_category(category, status, found, hints)
    directive = hints.should_retry
    if directive is not None:
        said = f"server header should-retry: {'true' if directive else 'false'}"
        return directive, said if directive == base else f"{said} overrides the status rule"
    if isinstance(found.retryable, bool):
        return found.retryable, f"the body says it is {'' if found.retryable else 'not '}retryable"
    return base, why


def _by_category(
    category: Category, status: int | None, found: Extracted, hints: ServerHints
) -> tuple[bool, str]:
    if category in _WHY:
        if category is C.SERVER and status in _FINAL_5XX:
            return False, f"{status} does not change by retrying"
        return True, _WHY[category]
    if category is C.PAYLOAD_TOO_LARGE:
        if hints.retry_after is not None or found.retry_after is not None:
            return True, "the server sent Retry-After: the limit is temporary"
        return False, "send a smaller request"
    if status == 425:
        return True, "425 Too Early: the server asks for a retry (RFC 8470)"
    return False, _WHY_NOT.get(category, "a client error")


def _label(
    status: int | None, effective: int | None, found: Extracted, category: Category, basis: str
) -> str:
    if status is None:
        head = "error" if effective is None else f"error (body status {effective})"
    elif found.in_band and status < 400:
        head = f"{status} in-band error"
    else:
        head = str(status)
    name = category.value
    return f"{head} {name}" if basis in ("status", "body") else f"{head} {name} ({basis})"
