"""errorkit for httpx: `RetryTransport` and `AsyncRetryTransport`, wrapping any transport.

    client = httpx.Client(transport=RetryTransport(RetryPolicy(max_attempts=4)))
    client = httpx.AsyncClient(transport=AsyncRetryTransport(RetryPolicy(max_attempts=4)))

A transport call is one hop of the client: one logical request, with its own
attempts. What reaches the inner transport, proxies, per-request policies,
request and response bodies, the deadline, and which exceptions are raised are
described in docs/quickstart_httpx.md ("What to know: how the transport works").

The implementation is shared with `errorkit.httpx2` (httpx's fork, under the
openai and anthropic SDKs): `errorkit._stacks.httpx_transport`, given httpx's
classes. This module imports httpx only; a request of httpx2 reaching these
transports is refused with a `TypeError` naming `errorkit.httpx2`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from errorkit._stacks import httpx_transport
from errorkit._stacks.httpx_flavor import Flavor

if TYPE_CHECKING:
    from errorkit._policy import RetryPolicy

__all__ = ["AsyncRetryTransport", "RetryTransport", "async_mounts_from_env", "mounts_from_env"]

#: httpx's classes, as the shared implementation uses them.
FLAVOR = Flavor(httpx, __name__)


class RetryTransport(
    httpx_transport.SyncTransport[httpx.BaseTransport, httpx.Request, httpx.Response],
    httpx.BaseTransport,
):
    __doc__ = httpx_transport.SyncTransport.__doc__
    flavor = FLAVOR


class AsyncRetryTransport(
    httpx_transport.AsyncTransport[httpx.AsyncBaseTransport, httpx.Request, httpx.Response],
    httpx.AsyncBaseTransport,
):
    __doc__ = httpx_transport.AsyncTransport.__doc__
    flavor = FLAVOR


def mounts_from_env(
    policy: RetryPolicy | None = None, **kwargs: Any
) -> dict[str, httpx.BaseTransport | None]:
    """``mounts=`` that send through the environment's proxies, with retries.

    One `RetryTransport(policy, proxy=..., **kwargs)` per ``HTTP_PROXY``,
    ``HTTPS_PROXY`` and ``ALL_PROXY`` entry, and None (the client's own
    transport) for each ``NO_PROXY`` host, as httpx itself reads them::

        client = httpx.Client(transport=RetryTransport(policy), mounts=mounts_from_env(policy))
    """
    return httpx_transport.mounts_from_env(RetryTransport, policy, kwargs)


def async_mounts_from_env(
    policy: RetryPolicy | None = None, **kwargs: Any
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The async twin of `mounts_from_env`, for `httpx.AsyncClient`."""
    return httpx_transport.mounts_from_env(AsyncRetryTransport, policy, kwargs)
