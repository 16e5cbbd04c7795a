"""One facade over the five clients, so one scenario table runs against them all.

Each stack's file (`clients_requests.py`, `clients_urllib3.py`, `clients_httpx.py`,
`clients_aiohttp.py`) registers factories with `register()`. A client makes one
logical request and reports what the caller got, as a `Result`: the final status
and body (read in full, as the caller would), the exception raised, the time it
took, and `errorkit.error_of()` of the final response.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from errorkit import ErrorInfo, RetryPolicy

BodyKind = Literal["none", "bytes", "file", "oneshot"]
"""`oneshot`: a generator (sync stacks) or async generator (async stacks)."""


@dataclass
class Result:
    """What the caller got from one logical request."""

    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    exception: BaseException | None = None
    elapsed: float = 0.0
    info: ErrorInfo | None = None

    def raised(self, cls: type[BaseException]) -> bool:
        return isinstance(self.exception, cls)


class Client(Protocol):
    """A configured client of one stack with errorkit plugged in."""

    name: str

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        body_kind: BodyKind = "none",
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> Result: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ClientOptions:
    """How a test wants its client built."""

    policy: RetryPolicy
    raise_for_status: bool = False
    pool_size: int = 10


Factory = Callable[[ClientOptions], Client]
FACTORIES: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    """Decorator: make `name` one of the clients every scenario runs against."""

    def add(factory: Factory) -> Factory:
        FACTORIES[name] = factory
        return factory

    return add


def gen_body(data: bytes) -> Iterator[bytes]:
    """A one-shot body: a generator, which no stack can rewind."""
    yield data[: len(data) // 2]
    yield data[len(data) // 2 :]


def sync_body(body: bytes, kind: BodyKind) -> Any:
    """The request body a sync stack is given for `kind`."""
    if kind == "bytes":
        return body
    if kind == "file":
        return io.BytesIO(body)
    if kind == "oneshot":
        return gen_body(body)
    return None


def timed(fn: Callable[[], Result]) -> Result:
    """Run `fn`, filling in the elapsed wall time."""
    start = time.monotonic()
    result = fn()
    result.elapsed = time.monotonic() - start
    return result
