"""The aiohttp client facade: a ClientSession with `errorkit.aiohttp.RetryMiddleware`.

The facade is synchronous, like every client of the scenario table: each client
owns a private event loop and runs one logical request to completion on it. The
session (and its connector, sized by `pool_size`) is created on that loop at the
first request and closed with the client. One client serves one thread at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp

from errorkit import RetryPolicy, error_of
from errorkit.aiohttp import RetryMiddleware
from support.harness import BodyKind, ClientOptions, Result, register, sync_body, timed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence


async def agen_body(data: bytes) -> AsyncIterator[bytes]:
    """A one-shot body: an async generator, which aiohttp cannot rewind."""
    yield data[: len(data) // 2]
    yield data[len(data) // 2 :]


def request_data(body: bytes, body_kind: BodyKind) -> Any:
    """The `data=` aiohttp gets for one body kind: as the sync stacks', but a one-shot
    body is an async generator."""
    if body_kind == "oneshot":
        return agen_body(body)
    return sync_body(body, body_kind)


async def outcome(call: Any) -> Result:
    """Await a `session.request(...)` the way a caller would and report what it got."""
    try:
        async with call as resp:
            body = await resp.read()
            return Result(
                status=resp.status, body=body, headers=dict(resp.headers), info=error_of(resp)
            )
    except Exception as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status", None)
        kept: bytes | None = None
        if response is not None:
            try:
                kept = await response.read()
            except aiohttp.ClientError:
                kept = None
        return Result(status=status, body=kept, exception=exc)


class CallLog:
    """A middleware that records each call it sees, as (method, path)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(
        self, req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        self.calls.append((req.method, req.url.path))
        return await handler(req)


#: Short per-attempt socket limits, so that a hang fails a test instead of stalling it.
TEST_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=2, sock_read=2)


@contextlib.asynccontextmanager
async def retry_session(
    policy: RetryPolicy | None = None,
    *,
    raise_for_status: bool = False,
    limit: int = 10,
    timeout: aiohttp.ClientTimeout = TEST_TIMEOUT,
    outer: Sequence[Any] = (),
    inner: Sequence[Any] = (),
) -> AsyncIterator[aiohttp.ClientSession]:
    """A session with `RetryMiddleware(policy)` between `outer` and `inner` middlewares."""
    middleware = RetryMiddleware(policy, raise_for_status=raise_for_status)
    async with aiohttp.ClientSession(
        middlewares=(*outer, middleware, *inner),
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=timeout,
    ) as session:
        yield session


def acquired(session: aiohttp.ClientSession) -> int:
    """Connections the session's connector has handed out and not got back."""
    connector = session.connector
    assert connector is not None
    return len(connector._acquired)


async def status_or_error(
    url: str, policy: RetryPolicy | None = None, *, raise_for_status: bool = False
) -> int | str:
    """One GET of `url` in a fresh `retry_session`, its body left unread.

    The final status, or the qualified name of the class raised (errorkit's dual
    classes read like ``ServiceUnavailableError[aiohttp.ClientResponseError]``).
    For child processes that measure what the call itself costs
    (`support.child.run_child`).
    """
    async with retry_session(policy, raise_for_status=raise_for_status) as session:
        try:
            async with session.get(url) as resp:
                return resp.status
        except Exception as exc:
            return type(exc).__qualname__


class AiohttpClient:
    name = "aiohttp"

    def __init__(self, options: ClientOptions) -> None:
        self.middleware = RetryMiddleware(options.policy, raise_for_status=options.raise_for_status)
        self.pool_size = options.pool_size
        self.loop = asyncio.new_event_loop()
        self.session: aiohttp.ClientSession | None = None

    async def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                middlewares=(self.middleware,),
                connector=aiohttp.TCPConnector(limit=self.pool_size),
            )
        return self.session

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        body_kind: BodyKind = "none",
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> Result:
        async def call() -> Result:
            session = await self._session()
            return await outcome(
                session.request(
                    method,
                    url,
                    data=request_data(body, body_kind),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(
                        total=None, sock_connect=timeout, sock_read=timeout
                    ),
                )
            )

        return timed(lambda: self.loop.run_until_complete(call()))

    def close(self) -> None:
        if self.session is not None:
            self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


register("aiohttp")(AiohttpClient)
