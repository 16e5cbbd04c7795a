"""`FaultServerConfig`: how a `FaultServer` listens and what it accepts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from errorkit.testing._steps import Step


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultServerConfig:
    """How a `FaultServer` listens and what it accepts.

    Attributes:
        host: a loopback address (``127.0.0.1`` by default, or ``::1``); anything
            else is refused, so a test can never expose the server.
        port: the port to bind; 0 (the default) lets the system pick a free one.
        max_request_line: longest request line accepted; longer gets 414.
        max_header_bytes: largest request head accepted; larger gets 431.
        max_body_bytes: largest request body accepted; larger gets 413.
        max_connections: connections served at once; more are answered 503 and closed.
        stall_limit: longest any `stall`, and any pause of `slow_body` (an infinite
            interval included), holds a connection, s.
        stop_timeout: how long `stop()` and `reset()` wait for handler threads, s.
        default: the step for a request no script matches; None means a 404 with a
            JSON body naming the request.
    """

    host: str = "127.0.0.1"
    port: int = 0
    max_request_line: int = 8192
    max_header_bytes: int = 65536
    max_body_bytes: int = 16 * 1024 * 1024
    max_connections: int = 256
    stall_limit: float = 30.0
    stop_timeout: float = 5.0
    default: Step | None = None

    def __post_init__(self) -> None:
        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"host must be a loopback address, got {self.host!r}")
        if not 0 <= self.port <= 65535 or self.max_connections < 1:
            raise ValueError("port must be in [0, 65535] and max_connections >= 1")
