"""The httpx client facades: `httpx.Client` over `RetryTransport`, and its async twin.

``httpx-async`` runs an `httpx.AsyncClient` over `AsyncRetryTransport` on a private
event loop that the facade object owns, so the sync scenario table drives it too.
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from errorkit import RetryPolicy, error_of
from errorkit.httpx import AsyncRetryTransport, RetryTransport
from support.harness import BodyKind, ClientOptions, Result, gen_body, register, timed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine

T = TypeVar("T")


class AsyncSeekableFile:
    """A seekable in-memory file for httpx's async client: `aread`, sync `seek`/`tell`.

    httpx's async client takes async iterables only, and reads one through `aread`.
    """

    def __init__(self, data: bytes) -> None:
        self._file = io.BytesIO(data)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := self._file.read(65536):
            yield chunk

    async def aread(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return True


async def agen_body(data: bytes) -> AsyncIterator[bytes]:
    """A one-shot async body: an async generator, which no stack can rewind."""
    yield data[: len(data) // 2]
    yield data[len(data) // 2 :]


def _content(body: bytes, body_kind: BodyKind, *, asynchronous: bool) -> Any:
    if body_kind == "bytes":
        return body
    if body_kind == "file":
        return AsyncSeekableFile(body) if asynchronous else io.BytesIO(body)
    if body_kind == "oneshot":
        return agen_body(body) if asynchronous else gen_body(body)
    return None


def _failure(exc: Exception) -> Result:
    response = getattr(exc, "response", None)
    if not isinstance(response, httpx.Response):
        return Result(exception=exc)
    return Result(status=response.status_code, body=content_of(response), exception=exc)


def content_of(response: httpx.Response) -> bytes | None:
    """A raised response's body, or None when errorkit left it unread (it did not fit).

    With ``raise_for_status=True`` errorkit closes the response it raises; its
    ``.content`` is the body only when the body fit in ``max_body``.
    """
    try:
        return response.content
    except httpx.ResponseNotRead:
        return None


def _success(response: httpx.Response) -> Result:
    return Result(
        status=response.status_code,
        body=response.content,
        headers=dict(response.headers),
        info=error_of(response),
    )


def _limits(options: ClientOptions) -> httpx.Limits:
    return httpx.Limits(max_connections=options.pool_size)


class HttpxClient:
    name = "httpx"

    def __init__(self, options: ClientOptions) -> None:
        self.transport = RetryTransport(
            options.policy, raise_for_status=options.raise_for_status, limits=_limits(options)
        )
        self.client = httpx.Client(transport=self.transport)

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
        content = _content(body, body_kind, asynchronous=False)

        def call() -> Result:
            try:
                r = self.client.request(
                    method, url, content=content, headers=headers, timeout=timeout
                )
            except Exception as exc:  # the facade reports what was raised
                return _failure(exc)
            return _success(r)

        return timed(call)

    def close(self) -> None:
        self.client.close()


class AsyncHttpxClient:
    name = "httpx-async"

    def __init__(self, options: ClientOptions) -> None:
        self.loop = asyncio.new_event_loop()
        self.transport = AsyncRetryTransport(
            options.policy, raise_for_status=options.raise_for_status, limits=_limits(options)
        )
        self.client = httpx.AsyncClient(transport=self.transport)

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run one coroutine to completion on this client's own event loop."""
        return self.loop.run_until_complete(make())

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
        content = _content(body, body_kind, asynchronous=True)

        async def call() -> Result:
            try:
                r = await self.client.request(
                    method, url, content=content, headers=headers, timeout=timeout
                )
            except Exception as exc:  # the facade reports what was raised
                return _failure(exc)
            await r.aread()
            return _success(r)

        return timed(lambda: self.run(call))

    def close(self) -> None:
        try:
            self.run(self.client.aclose)
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()


register("httpx")(HttpxClient)
register("httpx-async")(AsyncHttpxClient)


class Twin:
    """One httpx client, sync or async, driven from sync test code.

    ``mode`` is ``"sync"`` (`httpx.Client` over `RetryTransport`) or ``"async"``
    (`httpx.AsyncClient` over `AsyncRetryTransport`, on a private event loop), so
    one test body proves both twins. Responses come back with their body read.
    """

    def __init__(
        self,
        mode: str,
        policy: RetryPolicy | None = None,
        *,
        client_kwargs: dict[str, Any] | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self.mode = mode
        self.loop = asyncio.new_event_loop()
        kwargs = dict(client_kwargs or {})
        self.transport: RetryTransport | AsyncRetryTransport
        self.client: httpx.Client | httpx.AsyncClient
        if mode == "sync":
            self.transport = RetryTransport(policy, **transport_kwargs)
            self.client = httpx.Client(transport=kwargs.pop("transport", self.transport), **kwargs)
        else:
            self.transport = AsyncRetryTransport(policy, **transport_kwargs)
            self.client = httpx.AsyncClient(
                transport=kwargs.pop("transport", self.transport), **kwargs
            )

    @property
    def is_async(self) -> bool:
        """Whether this twin is the async one."""
        return self.mode == "async"

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; the response's body is read (`read()` / `aread()`)."""
        client = self.client
        if isinstance(client, httpx.Client):
            return client.request(method, url, **kwargs)

        async def call() -> httpx.Response:
            response = await client.request(method, url, **kwargs)
            await response.aread()
            return response

        return self.loop.run_until_complete(call())

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send a request built by ``self.client.build_request``; its body is read."""
        client = self.client
        if isinstance(client, httpx.Client):
            return client.send(request)

        async def call() -> httpx.Response:
            response = await client.send(request)
            await response.aread()
            return response

        return self.loop.run_until_complete(call())

    def raw(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """Send one streamed request and return the response and every raw body byte."""
        client = self.client
        if isinstance(client, httpx.Client):
            with client.stream(method, url, **kwargs) as response:
                return response, b"".join(response.iter_raw())

        async def call() -> tuple[httpx.Response, bytes]:
            async with client.stream(method, url, **kwargs) as response:
                return response, b"".join([chunk async for chunk in response.aiter_raw()])

        return self.loop.run_until_complete(call())

    def oneshot(self, data: bytes) -> Any:
        """A generator body (an async generator for the async twin)."""
        return agen_body(data) if self.is_async else gen_body(data)

    def iterator(self, data: bytes) -> Any:
        """A one-shot body that is an iterator but not a generator (async: its twin)."""
        parts = [data[:1], data[1:]]
        return _AsyncParts(parts) if self.is_async else iter(parts)

    def close(self) -> None:
        """Close the client (and its transport), then the private event loop."""
        client = self.client
        try:
            if isinstance(client, httpx.Client):
                client.close()
            else:
                self.loop.run_until_complete(client.aclose())
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()


class _AsyncParts:
    """An async iterator that is not an async generator: one pass, no rewind."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = iter(parts)

    def __aiter__(self) -> _AsyncParts:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self._parts)
        except StopIteration:
            raise StopAsyncIteration from None
