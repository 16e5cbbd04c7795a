"""The error model: one frozen `ErrorInfo` per error response, whatever its shape."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from errorkit._text import safe_text

#: Longest message shown by ``repr(ErrorInfo)``, and longest code, type or request id.
_REPR_MESSAGE = 200
_REPR_FIELD = 80


class Category(str, enum.Enum):
    """What kind of failure an error is, independent of the API that reported it.

    The value is the stable, lowercase name used in logs, JSON output and docs.
    """

    BAD_REQUEST = "bad_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNPROCESSABLE = "unprocessable"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    CLIENT = "client"
    SERVER = "server"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CONNECTION = "connection"

    def __str__(self) -> str:
        return self.value


class Quota(NamedTuple):
    """A quota the server states: `limit` requests per `window` seconds."""

    limit: int
    window: float

    @property
    def interval(self) -> float:
        """Seconds between requests that keep to the quota: ``window / limit``."""
        return self.window / self.limit


class ReadOnlyMap(Mapping[str, object]):
    """A read-only copy of a mapping that pickles and deep-copies (a
    ``MappingProxyType`` does neither, and `dataclasses.asdict` deep-copies)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, object] | None = None) -> None:
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> object:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def __reduce__(self) -> tuple[type[ReadOnlyMap], tuple[dict[str, object]]]:
        return type(self), (self._items,)


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ErrorInfo:
    """Everything errorkit learned from one error response (or transport failure).

    What `errorkit.parse` stores in `message`, `code`, `type`, `request_id` and
    `retryable_reason` is fit to show a person: credentials the server echoed
    back (``Bearer ...``, ``"password": "..."``, a keyed URL) are ``***`` and
    control characters are escaped (``\\n``, ``\\x1b``, ``\\u202e``), see
    `errorkit._text`. `body` and `details` keep the server's data as it came, for
    programs: they may hold whatever the server echoed, credentials included, so
    log or show them only through `errorkit._redact.redact_text`. ``repr()``
    shows neither, and passes the text fields through the same rules, whoever
    built the value.

    Attributes:
        status: HTTP status, or None for a transport failure.
        category: the `Category` the error belongs to.
        message: the primary human-readable message; never empty; redacted and
            escaped, at most 2000 characters (the whole text stays in `body`).
        code: machine-readable code (``rate_limit_exceeded``), or None.
        type: machine-readable type/class (``authentication_error``), or None.
        request_id: the server's request id, from headers or body, or None.
        retryable: whether retrying the same request may succeed.
        retry_after: seconds the server asked to wait, or None.
        details: the other errors / field violations, in order, as the server
            sent them (not redacted).
        hint: remediation text from a catalog, or None.
        format: name of the recognised body shape (``problem+json``, ``text``...).
        body: the decoded JSON document, or the (bounded) text, raw: not
            redacted, not escaped, for programs (a server may echo the request's
            credentials in it: never print it as it is). ``repr()`` leaves it
            and `details` out; a pickled errorkit exception carries both redacted.
        retry_after_source: where `retry_after` came from (``header:retry-after``,
            ``body:error.retryAfter``...), or None.
        should_retry: the server's explicit directive (``x-should-retry``), or None.
        retryable_reason: one short sentence saying why `retryable` is what it is.
        quota: the quota the server states (``RateLimit-Policy``), as
            ``Quota(limit, window)``, or None; the rate-limit gate paces by it.
        extra: the other fields the body's shape carries, by name (Stripe's
            ``decline_code``, OpenAI's ``param``, Slack's ``needed``...), as the
            server sent them: a read-only mapping, empty when there are none.
            Raw like `body` (not redacted); not part of the hash.
    """

    status: int | None
    category: Category
    message: str
    code: str | None = None
    type: str | None = None
    request_id: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    details: tuple[object, ...] = ()
    hint: str | None = None
    format: str = "empty"
    body: object = None
    retry_after_source: str | None = None
    should_retry: bool | None = None
    retryable_reason: str = ""
    quota: Quota | None = None
    extra: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # A copy behind a read-only view: the value stays frozen whatever the caller
        # does with the dict it passed.
        if not isinstance(self.extra, ReadOnlyMap):
            object.__setattr__(self, "extra", ReadOnlyMap(self.extra))

    def __repr__(self) -> str:
        fields: list[tuple[str, object]] = [
            ("status", self.status),
            ("category", str(self.category)),
            ("message", safe_text(self.message, _REPR_MESSAGE)),
            *((name, _shown(getattr(self, name))) for name in ("code", "type", "request_id")),
            ("retryable", self.retryable),
            ("retry_after", self.retry_after),
            ("format", _shown(self.format)),
        ]
        shown = ", ".join(f"{name}={value!r}" for name, value in fields if value is not None)
        return f"{type(self).__name__}({shown})"


def _shown(value: object) -> str | None:
    return None if value is None else safe_text(value, _REPR_FIELD)
