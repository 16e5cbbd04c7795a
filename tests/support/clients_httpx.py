"""The httpx client facades: `httpx.Client` over `RetryTransport`, and its async twin.

``httpx-async`` runs an `httpx.AsyncClient` over `AsyncRetryTransport` on a private
event loop that the facade object owns, so the sync scenario table drives it too.

The facades and `Twin` serve the whole httpx family: each takes a `Library` (httpx
here, httpx2 in `clients_httpx2.py`), whose API is httpx's; the annotations name
httpx's classes.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

import errorkit.httpx
from errorkit import RetryPolicy, error_of
from support.harness import BodyKind, ClientOptions, Result, gen_body, register, timed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine

    from typing_extensions import TypeIs

    from errorkit.httpx import AsyncRetryTransport, RetryTransport

T = TypeVar("T")


@dataclass(frozen=True)
class Library:
    """One library of the httpx family and errorkit's transports for it."""

    name: str
    module: Any  # httpx, or httpx2: the same API
    adapter: Any  # errorkit.httpx, or errorkit.httpx2


HTTPX = Library("httpx", httpx, errorkit.httpx)
#: Each library by package name; `clients_httpx2` adds httpx2.
LIBRARIES = {"httpx": HTTPX}


def library_of(response: httpx.Response) -> Library:
    """The library of one of its responses."""
    return LIBRARIES[type(response).__module__.partition(".")[0]]


def _is_sync(client: httpx.Client | httpx.AsyncClient) -> TypeIs[httpx.Client]:
    """Whether `client` is the sync client of a library of the family."""
    return isinstance(client, tuple(library.module.Client for library in LIBRARIES.values()))


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


def _failure(exc: Exception, library: Library) -> Result:
    response = getattr(exc, "response", None)
    if not isinstance(response, library.module.Response):
        return Result(exception=exc)
    return Result(status=response.status_code, body=content_of(response), exception=exc)


def content_of(response: httpx.Response) -> bytes | None:
    """A raised response's body, or None when errorkit left it unread (it did not fit).

    With ``raise_for_status=True`` errorkit closes the response it raises; its
    ``.content`` is the body only when the body fit in ``max_body``.
    """
    try:
        return response.content
    except library_of(response).module.ResponseNotRead:
        return None


def _success(response: httpx.Response) -> Result:
    return Result(
        status=response.status_code,
        body=response.content,
        headers=dict(response.headers),
        info=error_of(response),
    )


def _limits(options: ClientOptions, library: Library) -> httpx.Limits:
    limits: httpx.Limits = library.module.Limits(max_connections=options.pool_size)
    return limits


class HttpxClient:
    name = "httpx"
    library = HTTPX

    def __init__(self, options: ClientOptions) -> None:
        library = self.library
        self.transport = library.adapter.RetryTransport(
            options.policy,
            raise_for_status=options.raise_for_status,
            limits=_limits(options, library),
        )
        self.client: httpx.Client = library.module.Client(transport=self.transport)

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
                return _failure(exc, self.library)
            return _success(r)

        return timed(call)

    def close(self) -> None:
        self.client.close()


class AsyncHttpxClient:
    name = "httpx-async"
    library = HTTPX

    def __init__(self, options: ClientOptions) -> None:
        library = self.library
        self.loop = asyncio.new_event_loop()
        self.transport = library.adapter.AsyncRetryTransport(
            options.policy,
            raise_for_status=options.raise_for_status,
            limits=_limits(options, library),
        )
        self.client: httpx.AsyncClient = library.module.AsyncClient(transport=self.transport)

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
                return _failure(exc, self.library)
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
    one test body proves both twins; `library` picks httpx (default) or httpx2.
    Responses come back with their body read.
    """

    def __init__(
        self,
        mode: str,
        policy: RetryPolicy | None = None,
        *,
        library: Library = HTTPX,
        client_kwargs: dict[str, Any] | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self.mode = mode
        self.library = library
        self.loop = asyncio.new_event_loop()
        kwargs = dict(client_kwargs or {})
        self.transport: RetryTransport | AsyncRetryTransport
        self.client: httpx.Client | httpx.AsyncClient
        module = library.module
        if mode == "sync":
            self.transport = library.adapter.RetryTransport(policy, **transport_kwargs)
            self.client = module.Client(transport=kwargs.pop("transport", self.transport), **kwargs)
        else:
            self.transport = library.adapter.AsyncRetryTransport(policy, **transport_kwargs)
            self.client = module.AsyncClient(
                transport=kwargs.pop("transport", self.transport), **kwargs
            )

    @property
    def is_async(self) -> bool:
        """Whether this twin is the async one."""
        return self.mode == "async"

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; the response's body is read (`read()` / `aread()`)."""
        client = self.client
        if _is_sync(client):
            return client.request(method, url, **kwargs)

        async def call() -> httpx.Response:
            response = await client.request(method, url, **kwargs)
            await response.aread()
            return response

        return self.loop.run_until_complete(call())

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send a request built by ``self.client.build_request``; its body is read."""
        client = self.client
        if _is_sync(client):
            return client.send(request)

        async def call() -> httpx.Response:
            response = await client.send(request)
            await response.aread()
            return response

        return self.loop.run_until_complete(call())

    def raw(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """Send one streamed request and return the response and every raw body byte."""
        client = self.client
        if _is_sync(client):
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
            if _is_sync(client):
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
