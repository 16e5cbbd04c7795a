"""The error model: one frozen `ErrorInfo` per error response, whatever its shape."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FunctionType

_T = TypeVar("_T")


class _Factory:
    """The default of a field built by its default factory (shown as dataclasses do)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()
_new = object.__new__


def _plain_fields(cls: type) -> tuple[dataclasses.Field[object], ...]:
    """The fields of a frozen, dict-backed, keyword-only dataclass; TypeError otherwise."""
    fields = dataclasses.fields(cls)
    if (
        not cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        or "__slots__" in cls.__dict__
        or hasattr(cls, "__post_init__")
        or len(fields) != len(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        or not all(field.init and field.kw_only for field in fields)
    ):
        raise TypeError(f"{cls.__name__} is not a plain frozen, keyword-only dataclass")
    return fields


def _dict_setter(cls: type) -> Callable[[object, dict[str, object]], None]:
    """The ``__dict__`` descriptor's setter of `cls` (it stores a whole dict at once)."""
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get("__dict__")
        if descriptor is not None:
            return cast("Callable[[object, dict[str, object]], None]", descriptor.__set__)
    raise TypeError(f"{cls.__name__} instances have no __dict__")  # pragma: no cover


def fast_frozen_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, keyword-only dataclass (without slots) an equivalent, faster ``__init__``.

    A frozen dataclass's generated ``__init__`` stores each field through
    ``object.__setattr__``, one call per field; this one stores the instance's
    whole ``__dict__`` in one call, which costs about a quarter less. Same
    signature, defaults, default factories and argument errors. Classes with slots,
    a ``__post_init__``, init-only or ``init=False`` fields are refused.
    """
    fields = _plain_fields(cls)
    env: dict[str, object] = {"_FACTORY": _FACTORY, "_set_dict": _dict_setter(cls)}
    params, items = [], []
    for field in fields:
        name = field.name
        value = name
        if field.default is not dataclasses.MISSING:
            env[f"_default_{name}"] = field.default
            params.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            env[f"_factory_{name}"] = field.default_factory
            params.append(f"{name}=_FACTORY")
            value = f"_factory_{name}() if {name} is _FACTORY else {name}"
        else:
            params.append(name)
        items.append(f"{name!r}: {value}")
    body = f"    _set_dict(self, {{{', '.join(items)}}})\n"
    exec(f"def __init__(self, *, {', '.join(params)}):\n{body}", env)  # noqa: S102
    init = cast("FunctionType", env["__init__"])
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {field.name: field.type for field in fields} | {"return": None}
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def builder(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of `cls` for hot internal paths: keyword arguments only, no checks.

    It skips the class call and the binding of every parameter: the keyword
    arguments become the instance's ``__dict__`` as they are, and an absent field
    reads its class-level default (fields with a default factory get a fresh
    value). About three times cheaper than ``cls(...)``. Unknown or missing names
    are *not* checked: callers type their arguments (see `ExtractedFields`), and
    tests compare what they build with what ``cls(...)`` builds.
    """
    fields = _plain_fields(cls)
    factories = tuple(
        (field.name, field.default_factory)
        for field in fields
        if field.default_factory is not dataclasses.MISSING
    )
    set_dict = _dict_setter(cls)

    def build_plain(**values: object) -> _T:
        obj: _T = _new(cls)
        set_dict(obj, values)
        return obj

    def build(**values: object) -> _T:
        obj: _T = _new(cls)
        for name, factory in factories:
            if name not in values:
                values[name] = factory()
        set_dict(obj, values)
        return obj

    made = build if factories else build_plain
    made.__qualname__ = f"builder({cls.__qualname__})"
    return made


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


@fast_frozen_init
@dataclass(frozen=True, kw_only=True)
class ErrorInfo:
    """Everything errorkit learned from one error response (or transport failure).

    Attributes:
        status: HTTP status, or None for a transport failure.
        category: the `Category` the error belongs to.
        message: the primary human-readable message; never empty.
        code: machine-readable code (``rate_limit_exceeded``), or None.
        type: machine-readable type/class (``authentication_error``), or None.
        request_id: the server's request id, from headers or body, or None.
        retryable: whether retrying the same request may succeed.
        retry_after: seconds the server asked to wait, or None.
        details: the other errors / field violations, in order.
        hint: remediation text from a catalog, or None.
        format: name of the recognised body shape (``problem+json``, ``text``...).
        body: the decoded JSON document, or the (bounded) text.
        retry_after_source: where `retry_after` came from (``header:retry-after``,
            ``body:error.retryAfter``...), or None.
        should_retry: the server's explicit directive (``x-should-retry``), or None.
        retryable_reason: one short sentence saying why `retryable` is what it is.
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
