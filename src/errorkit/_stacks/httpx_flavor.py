"""One library of the httpx family (httpx, or its fork httpx2): the classes errorkit needs.

httpx2 is a fork of httpx with the same API under another package name (and
httpcore2 under its transports), so one implementation serves both: the
transports (`errorkit._stacks.httpx_transport`) and the bodies
(`errorkit._stacks.httpx_bodies`) take a `Flavor`, which holds the library's
classes, its exception table and the peeked-stream classes built on its byte
streams. `errorkit.httpx` and `errorkit.httpx2` each build one from their own
library; neither imports the other library.

The attributes are typed as httpx's classes: the code is written, and type
checked, against httpx's API, which httpx2 shares.
"""

from __future__ import annotations

import importlib
import ssl
import time
from typing import TYPE_CHECKING, Any

from errorkit._policy import TransportFailure
from errorkit._stacks.deadline import CUT_SHORT
from errorkit._stacks.exceptions import most_specific
from errorkit._stacks.httpx_bodies import AsyncPeekedStream, PeekedStream

if TYPE_CHECKING:
    from types import ModuleType

    import httpx

_TLS = TransportFailure(sent=False, retryable=False, description="TLS handshake failed")
_OTHER = TransportFailure(sent=True, description="transport error")


class Flavor:
    """The classes of one httpx-family library `module`, and its exception table.

    `name` is the library's package name (``"httpx"``, ``"httpx2"``), as its
    requests name it; `adapter` is the errorkit module serving it.
    """

    def __init__(self, module: ModuleType, adapter: str) -> None:
        self.name: str = module.__name__
        self.adapter = adapter
        content = importlib.import_module(f"{self.name}._content")
        multipart = importlib.import_module(f"{self.name}._multipart")
        self.Request: type[httpx.Request] = module.Request
        self.Response: type[httpx.Response] = module.Response
        self.BaseTransport: type[httpx.BaseTransport] = module.BaseTransport
        self.AsyncBaseTransport: type[httpx.AsyncBaseTransport] = module.AsyncBaseTransport
        self.HTTPTransport: type[httpx.HTTPTransport] = module.HTTPTransport
        self.AsyncHTTPTransport: type[httpx.AsyncHTTPTransport] = module.AsyncHTTPTransport
        self.ByteStream: type[httpx.ByteStream] = module.ByteStream
        self.SyncByteStream: type[httpx.SyncByteStream] = module.SyncByteStream
        self.AsyncByteStream: type[httpx.AsyncByteStream] = module.AsyncByteStream
        # Private: the streams of iterable and files= bodies (httpx 0.23 to 0.29, httpx2 2.x).
        self.IteratorByteStream: type[Any] = content.IteratorByteStream
        self.AsyncIteratorByteStream: type[Any] = content.AsyncIteratorByteStream
        self.MultipartStream: type[Any] = multipart.MultipartStream
        self.TransportError: type[httpx.TransportError] = module.TransportError
        self.TimeoutException: type[httpx.TimeoutException] = module.TimeoutException
        self.ReadTimeout: type[httpx.ReadTimeout] = module.ReadTimeout
        self.ConnectError: type[httpx.ConnectError] = module.ConnectError
        self.StreamConsumed: type[httpx.StreamConsumed] = module.StreamConsumed
        self.HTTPStatusError: type[httpx.HTTPStatusError] = module.HTTPStatusError
        # The client asserts a response's stream is one of its library's byte streams.
        self.PeekedStream: type[PeekedStream] = type(
            "PeekedStream", (PeekedStream, module.SyncByteStream), {}
        )
        self.AsyncPeekedStream: type[AsyncPeekedStream] = type(
            "AsyncPeekedStream", (AsyncPeekedStream, module.AsyncByteStream), {}
        )
        self.failures = _failures(module)

    def __repr__(self) -> str:
        return f"Flavor({self.name})"

    def check_request(self, request: object, transport: str) -> None:
        """Refuse a request of another library, naming the adapter that serves it.

        Called only when ``type(request)`` is not this library's `Request`: a
        subclass of it passes. Another library's request would fail deep in its
        transport (httpcore asserts on its stream's class).
        """
        if isinstance(request, self.Request):
            return
        package = type(request).__module__.partition(".")[0]
        hint = (
            f"use errorkit.{package}.{transport} with an {package} client"
            if package in {"httpx", "httpx2"}
            else f"it sends {self.name}.Request objects only"
        )
        raise TypeError(
            f"{self.adapter}.{transport} got a {package}.{type(request).__qualname__}: {hint}"
        )

    def check_inner(self, transport: object) -> None:
        """Refuse an inner transport of the other library of the family, at construction."""
        for cls in type(transport).__mro__:
            package = cls.__module__.partition(".")[0]
            if package in {"httpx", "httpx2"} and package != self.name:
                raise TypeError(
                    f"{type(transport).__qualname__} is an {package} transport: "
                    f"errorkit.{package}'s RetryTransport wraps it, for an {package} client"
                )

    def failure(self, exc: httpx.TransportError) -> TransportFailure:
        """The core's view of one of the library's transport exceptions."""
        if isinstance(exc, self.ConnectError) and _caused_by_tls(exc):
            return _TLS
        return most_specific(self.failures, exc) or _OTHER

    def failure_by(self, exc: httpx.TransportError, ends: float | None) -> TransportFailure:
        """`failure`, except that a timeout once the deadline (`ends`) has come is the deadline's.

        The attempt's timeouts were clipped to the time left, so such a timeout is
        the deadline firing through the library: its outcome names the deadline.
        """
        if ends is not None and isinstance(exc, self.TimeoutException) and time.monotonic() >= ends:
            return CUT_SHORT
        return self.failure(exc)


def _failures(module: Any) -> dict[type[BaseException], TransportFailure]:
    """The library's exceptions -> whether the server may have acted on the request.

    A TLS failure is a ConnectError: `Flavor.failure` looks at its cause first.
    """
    return {
        module.ConnectTimeout: TransportFailure(
            sent=False, timeout=True, description="connect timeout"
        ),
        module.PoolTimeout: TransportFailure(sent=False, timeout=True, description="pool timeout"),
        module.ConnectError: TransportFailure(sent=False, description="connection refused"),
        module.ProxyError: TransportFailure(sent=False, description="proxy connection failed"),
        module.UnsupportedProtocol: TransportFailure(
            sent=False, retryable=False, description="bad URL"
        ),
        module.LocalProtocolError: TransportFailure(
            sent=True, retryable=False, description="bad request"
        ),
        module.ReadTimeout: TransportFailure(sent=True, timeout=True, description="read timeout"),
        module.WriteTimeout: TransportFailure(sent=True, timeout=True, description="write timeout"),
        module.WriteError: TransportFailure(sent=True, description="connection lost while sending"),
        module.ReadError: TransportFailure(sent=True, description="connection lost while reading"),
        module.RemoteProtocolError: TransportFailure(
            sent=True, description="connection closed early"
        ),
    }


def _caused_by_tls(exc: BaseException) -> bool:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, ssl.SSLError):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False
