"""errorkit for httpx2: `RetryTransport` and `AsyncRetryTransport`, wrapping any transport.

httpx2 is the fork of httpx that the openai (>= 3) and anthropic (>= 2) SDKs are
built on; these are `errorkit.httpx`'s transports for its clients::

    client = httpx2.Client(transport=RetryTransport(RetryPolicy(max_attempts=4)))
    client = httpx2.AsyncClient(transport=AsyncRetryTransport(RetryPolicy(max_attempts=4)))
    openai.OpenAI(http_client=httpx2.Client(transport=RetryTransport()))

They behave as `errorkit.httpx`'s, from one implementation
(`errorkit._stacks.httpx_transport`, given httpx2's classes), and raise
exceptions that are also httpx2's own (an `APIConnectionError` that is also an
`httpx2.ConnectError`, a status error also an `httpx2.HTTPStatusError`); see
docs/quickstart_httpx.md. This module imports httpx2 only (extra
``errorkit[httpx2]``); a request of httpx reaching these transports is refused
with a `TypeError` naming `errorkit.httpx`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

from errorkit._stacks import httpx_transport
from errorkit._stacks.httpx_flavor import Flavor

if TYPE_CHECKING:
    from errorkit._policy import RetryPolicy

__all__ = ["AsyncRetryTransport", "RetryTransport", "async_mounts_from_env", "mounts_from_env"]

#: httpx2's classes, as the shared implementation uses them.
FLAVOR = Flavor(httpx2, __name__)


class RetryTransport(
    httpx_transport.SyncTransport[httpx2.BaseTransport, httpx2.Request, httpx2.Response],
    httpx2.BaseTransport,
):
    __doc__ = httpx_transport.SyncTransport.__doc__
    flavor = FLAVOR


class AsyncRetryTransport(
    httpx_transport.AsyncTransport[httpx2.AsyncBaseTransport, httpx2.Request, httpx2.Response],
    httpx2.AsyncBaseTransport,
):
    __doc__ = httpx_transport.AsyncTransport.__doc__
    flavor = FLAVOR


def mounts_from_env(
    policy: RetryPolicy | None = None, **kwargs: Any
) -> dict[str, httpx2.BaseTransport | None]:
    """``mounts=`` that send through the environment's proxies, with retries.

    One `RetryTransport(policy, proxy=..., **kwargs)` per ``HTTP_PROXY``,
    ``HTTPS_PROXY`` and ``ALL_PROXY`` entry, and None (the client's own
    transport) for each ``NO_PROXY`` host, as httpx2 itself reads them::

        client = httpx2.Client(transport=RetryTransport(policy), mounts=mounts_from_env(policy))
    """
    return httpx_transport.mounts_from_env(RetryTransport, policy, kwargs)


def async_mounts_from_env(
    policy: RetryPolicy | None = None, **kwargs: Any
) -> dict[str, httpx2.AsyncBaseTransport | None]:
    """The async twin of `mounts_from_env`, for `httpx2.AsyncClient`."""
    return httpx_transport.mounts_from_env(AsyncRetryTransport, policy, kwargs)
