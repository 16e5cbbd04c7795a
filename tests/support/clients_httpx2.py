"""The httpx2 client facades: `clients_httpx`'s, over httpx2 and `errorkit.httpx2`.

httpx2 is httpx's fork (under the openai and anthropic SDKs) with the same API, so
the facades are httpx's given the `HTTPX2` library: ``httpx2`` and ``httpx2-async``
run the whole scenario table too.
"""

from __future__ import annotations

import httpx2

import errorkit.httpx2
from support.clients_httpx import LIBRARIES, AsyncHttpxClient, HttpxClient, Library
from support.harness import register

HTTPX2 = Library("httpx2", httpx2, errorkit.httpx2)
LIBRARIES["httpx2"] = HTTPX2


class Httpx2Client(HttpxClient):
    name = "httpx2"
    library = HTTPX2


class AsyncHttpx2Client(AsyncHttpxClient):
    name = "httpx2-async"
    library = HTTPX2


register("httpx2")(Httpx2Client)
register("httpx2-async")(AsyncHttpx2Client)
