"""Imports every stack's client facade so that each registers itself."""

from __future__ import annotations

from support import (  # noqa: F401 - imported for their registration side effect
    clients_aiohttp,
    clients_httpx,
    clients_httpx2,
    clients_requests,
    clients_urllib3,
)
