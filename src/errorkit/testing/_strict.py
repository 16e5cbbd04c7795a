"""Strict parsing: the never-raise guards of `errorkit.parse()` re-raise, for tests."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, TypeVar, cast

from errorkit._formats._guard import STRICT

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextvars import Token
    from types import TracebackType

F = TypeVar("F", bound="Callable[..., Any]")


class strict_parsing:  # noqa: N801 - used like a function, as contextlib's helpers are
    """Make `errorkit.parse()` raise what it would otherwise swallow.

    `parse()` never raises: a failure inside it gives an ``unparsed`` `ErrorInfo`,
    and a recognizer that raises is skipped. Under strict parsing both re-raise, so
    a test that feeds hostile input fails on a crash instead of passing over it::

        with errorkit.testing.strict_parsing():
            errorkit.parse(500, {}, body)

        @errorkit.testing.strict_parsing()
        def test_my_recognizer() -> None: ...

    As a decorator it works on plain and ``async`` functions alike. Leaving the
    block restores the previous mode, so blocks nest. The mode is held in a
    context variable: it applies to the current thread or asyncio task (and to
    tasks it starts), never to parsing that runs concurrently elsewhere.
    """

    def __init__(self) -> None:
        self._tokens: list[Token[bool]] = []

    def __enter__(self) -> None:
        self._tokens.append(STRICT.set(True))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        STRICT.reset(self._tokens.pop())

    def __call__(self, function: F) -> F:
        """Run `function` (sync or async) under strict parsing, each call afresh."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with strict_parsing():
                    return await function(*args, **kwargs)

            return cast("F", run_async)

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with strict_parsing():
                return function(*args, **kwargs)

        return cast("F", run)
