"""Exceptions at the stack boundary: translated by one table, raised as both kinds.

**Translation.** Each adapter keeps one table from its stack's exception classes
to what the core needs to know (a `TransportFailure`); `most_specific` picks the
entry of the most specific class an exception is an instance of (by its MRO, as
httpx's own ``map_exceptions`` does), so the order of a table does not matter
and adding an exception is one line.

**Final errors.** `transport_error` and `status_error` build what an adapter
raises once its retries end: an errorkit exception that is also the stack's own.

**No credentials.** Whatever an adapter passes, the built exception keeps no
text or URL holding a credential: `build` passes ``foreign_args`` through
`errorkit._redact.redact_args` and ``foreign_kwargs`` through
`errorkit._redact.redact_kwargs` before the stack's ``__init__`` sees them, then
scrubs what that ``__init__`` stored (``args``, urllib3's ``url``...) with
`errorkit._redact.scrub_exception`. `transport_error` also scrubs, in place,
the stack's exception it is raised ``from``, since every traceback prints it.
Live stack objects (a request, a response, aiohttp's ``RequestInfo`` with its
headers) are kept as they are, for the stack's own ``except`` clauses: an
adapter passes them already redacted where they hold credentials.

**Dual classes.** With ``raise_for_status=True`` an adapter raises, say, a ``RateLimitError`` that
is also a ``requests.HTTPError``, so ``except requests.HTTPError`` clauses that
callers already wrote keep working. `compatible` builds such a class once per
pair of bases; `build` makes an instance with both bases initialized::

    build(RateLimitError, requests.HTTPError, info, response=r, attempts=3,
          foreign_kwargs={"response": r})

This module imports no stack: the stack's class is an argument. In the built
class errorkit's base comes first in the MRO, so ``str()``, ``repr()``,
``.info``, ``.attempts`` and ``.response`` are errorkit's, while attributes only
the stack defines (``.request``, aiohttp's ``.request_info``) are the stack's.
Instances pickle by naming their two bases, which are both importable; the live
stack objects they hold (response, request, request_info, history, headers)
come back as None (``()`` for history).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar, cast

from errorkit._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    class_for,
    describe,
    pickle_state,
    restore,
)
from errorkit._redact import redact_args, redact_kwargs, scrub_exception
from errorkit._stacks.deadline import is_cut_short
from errorkit._text import escape_control

if TYPE_CHECKING:
    from collections.abc import Mapping

    from errorkit._info import ErrorInfo
    from errorkit._loop import Failed

E = TypeVar("E", bound=APIError)
V = TypeVar("V")

_cache: dict[tuple[type[APIError], type[BaseException]], type[APIError]] = {}
_lock = threading.Lock()


def compatible(errorkit_cls: type[E], foreign_cls: type[BaseException]) -> type[E]:
    """The class deriving from `errorkit_cls` and `foreign_cls`, built once and cached.

    It is named like ``RateLimitError[requests.HTTPError]`` (module
    ``errorkit._stacks.exceptions``). When `errorkit_cls` already derives from `foreign_cls`,
    `errorkit_cls` itself is returned.
    """
    _check_class(errorkit_cls, APIError, "an errorkit exception class")
    _check_class(foreign_cls, BaseException, "an exception class")
    if issubclass(foreign_cls, APIError):
        raise TypeError(f"{foreign_cls.__qualname__} is already an errorkit exception")
    if issubclass(errorkit_cls, foreign_cls):
        return errorkit_cls
    key = (errorkit_cls, foreign_cls)
    found = _cache.get(key)
    if found is None:
        with _lock:  # two threads racing must still get one class, or isinstance breaks
            found = _cache.get(key) or _cache.setdefault(key, _make(errorkit_cls, foreign_cls))
    return cast("type[E]", found)


def build(  # noqa: PLR0913 - both bases' arguments, kept keyword-only
    errorkit_cls: type[E],
    foreign_cls: type[BaseException],
    info: ErrorInfo,
    *,
    response: Any = None,
    attempts: int = 1,
    foreign_args: tuple[Any, ...] = (),
    foreign_kwargs: Mapping[str, Any] | None = None,
) -> E:
    """An instance of ``compatible(errorkit_cls, foreign_cls)`` with both bases set up.

    `foreign_cls`'s ``__init__`` runs first with `foreign_args` and
    `foreign_kwargs`, redacted (when `foreign_args` is empty, errorkit's message
    is its one positional argument), then errorkit's part, so `.response`,
    `.info`, `.attempts` and ``str()`` are errorkit's. What the stack's
    ``__init__`` stored is then scrubbed of credentials (see the module docstring).
    """
    cls = compatible(errorkit_cls, foreign_cls)
    if cls is errorkit_cls:
        return errorkit_cls(info, response=response, attempts=attempts)
    return cls(  # type: ignore[call-arg]  # the built class's __init__ takes these
        info,
        response=response,
        attempts=attempts,
        foreign_args=redact_args(foreign_args),
        foreign_kwargs=redact_kwargs(foreign_kwargs or {}),
    )


def most_specific(table: Mapping[type[BaseException], V], exc: BaseException) -> V | None:
    """The value `table` gives the most specific class of `exc`; None if no class is in it."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def transport_error(
    failed: Failed,
    attempts: int,
    *,
    foreign_cls: type[BaseException] | None = None,
    foreign_args: tuple[Any, ...] | None = None,
    foreign_kwargs: Mapping[str, Any] | None = None,
) -> APIConnectionError:
    """The error for a request whose last attempt got no response.

    An `APITimeoutError` for a timeout, else an `APIConnectionError`, that is also
    an instance of `foreign_cls` (default: the class of the stack's exception, built
    from its own args unless `foreign_args` are given). Raise it ``from failed.error``,
    which this scrubs of credentials in place (`scrub_exception`): a traceback
    prints it.
    """
    original = failed.error
    scrub_exception(original)
    cls = APITimeoutError if failed.failure.timeout else APIConnectionError
    error = build(
        cls,
        type(original) if foreign_cls is None else foreign_cls,
        failed.failure.info(),
        attempts=attempts,
        foreign_args=original.args if foreign_args is None else foreign_args,
        foreign_kwargs=foreign_kwargs,
    )
    if is_cut_short(failed.failure):
        # errorkit ended it, not the stack: its text says so, naming the deadline.
        error.__dict__.pop("_errorkit_stack_text", None)
    return error


def status_error(  # noqa: PLR0913 - both bases' arguments, kept keyword-only
    info: ErrorInfo,
    foreign_cls: type[BaseException],
    *,
    response: Any,
    attempts: int,
    foreign_args: tuple[Any, ...] = (),
    foreign_kwargs: Mapping[str, Any] | None = None,
) -> APIError:
    """The status error for `info` (`RateLimitError`...) that is also a `foreign_cls`."""
    return build(
        class_for(info.category, info.status),
        foreign_cls,
        info,
        response=response,
        attempts=attempts,
        foreign_args=foreign_args,
        foreign_kwargs=foreign_kwargs,
    )


def _check_class(value: object, base: type, what: str) -> None:
    # Typed callers cannot get this wrong; untyped ones get a clear error, not an MRO one.
    if not (isinstance(value, type) and issubclass(value, base)):
        raise TypeError(f"{value!r} is not {what}")


def name_of(foreign_cls: type[BaseException]) -> str:
    """``requests.HTTPError``: the top-level package and the class's qualified name."""
    package = foreign_cls.__module__.partition(".")[0]
    return (
        foreign_cls.__qualname__
        if package == "builtins"
        else f"{package}.{foreign_cls.__qualname__}"
    )


def _make(errorkit_cls: type[APIError], foreign_cls: type[BaseException]) -> type[APIError]:
    def __init__(  # noqa: N807, PLR0913 - the built class's __init__: both bases' arguments
        self: APIError,
        info: ErrorInfo,
        *,
        response: Any = None,
        attempts: int = 1,
        foreign_args: tuple[Any, ...] = (),
        foreign_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        message = describe(info, attempts)
        # Not super(): each base's __init__ has its own signature (aiohttp's takes
        # request_info and history; requests' pops response/request from kwargs).
        foreign_cls.__init__(self, *(foreign_args or (message,)), **dict(foreign_kwargs or {}))
        scrub_exception(self)  # what the stack's __init__ built from them (urllib3's message)
        if not foreign_args:
            self.args = (message,)  # errorkit's own line, made safe field by field
        elif as_stack:
            self.__dict__["_errorkit_stack_text"] = _stack_text(foreign_cls, self)
        self._errorkit_set(info, response, attempts)

    def __reduce__(self: APIError) -> tuple[Any, ...]:  # noqa: N807
        return (_restore, (errorkit_cls, foreign_cls, pickle_state(self)))

    # A transport error is the stack's own error, raised after errorkit's attempts:
    # it keeps the stack's name, text and repr (logs, ``pytest.raises(match=)`` and
    # ``type(e).__name__`` see what they saw without errorkit). A status error is
    # errorkit's, raised because the caller asked for it (raise_for_status=True).
    as_stack = issubclass(errorkit_cls, APIConnectionError)
    name = foreign_cls.__name__ if as_stack else errorkit_cls.__name__
    namespace = {
        "__module__": foreign_cls.__module__ if as_stack else __name__,
        "__qualname__": (
            foreign_cls.__qualname__
            if as_stack
            else f"{errorkit_cls.__name__}[{name_of(foreign_cls)}]"
        ),
        "__doc__": f"`{errorkit_cls.__name__}` that is also a `{name_of(foreign_cls)}`.",
        "__init__": __init__,
        "__reduce__": __reduce__,
        # The foreign base may define its own (aiohttp, OSError): errorkit's win.
        "__str__": _stack_str if as_stack else APIError.__str__,
        "__repr__": _stack_repr(foreign_cls) if as_stack else APIError.__repr__,
    }
    return type(name, (errorkit_cls, foreign_cls), namespace)


def _stack_text(foreign_cls: type[BaseException], exc: BaseException) -> str:
    """The stack's own ``str()`` of `exc` (its args already scrubbed), one printable line."""
    try:
        text = foreign_cls.__str__(exc)
    except Exception:  # noqa: BLE001 - a stack __str__ that needs state it did not get
        return ""
    return escape_control(text)


def _stack_str(self: APIError) -> str:
    """The stack's own text, and how many attempts errorkit made when more than one.

    errorkit's summary when the stack's text is empty (a bare TimeoutError) or
    errorkit made the error itself (an attempt cut at the deadline).
    """
    text: str = self.__dict__.get("_errorkit_stack_text", "")
    if not text:
        return describe(self.info, self.attempts)
    return text if self.attempts <= 1 else f"{text} (after {self.attempts} attempts)"


def _stack_repr(foreign_cls: type[BaseException]) -> Any:
    def __repr__(self: APIError) -> str:  # noqa: N807 - the built class's repr
        try:
            return escape_control(foreign_cls.__repr__(self))
        except Exception:  # noqa: BLE001 - as in _stack_text
            return APIError.__repr__(self)

    return __repr__


def _restore(
    errorkit_cls: type[APIError], foreign_cls: type[BaseException], state: dict[str, Any]
) -> APIError:
    return restore(compatible(errorkit_cls, foreign_cls), state)
