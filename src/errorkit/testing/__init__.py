"""errorkit's testing toolkit: a fault-injecting HTTP server, instant retry waits, strict parsing.

Standard library only, and no pytest import: the pytest fixtures live in
`errorkit.testing.pytest_plugin`, which pytest loads through its entry point.
"""

from __future__ import annotations

from errorkit.testing import scenarios
from errorkit.testing._config import FaultServerConfig
from errorkit.testing._netfaults import closed_port, full_backlog
from errorkit.testing._records import Headers, RecordedRequest
from errorkit.testing._server import FaultServer
from errorkit.testing._steps import (
    Bomb,
    Drop,
    Dynamic,
    HugeBody,
    ResetMidBody,
    Respond,
    SlowBody,
    Stall,
    Step,
    bomb,
    drop,
    dynamic,
    echo_request,
    header_flood,
    huge_body,
    reset_mid_body,
    respond,
    slow_body,
    stall,
)
from errorkit.testing._strict import strict_parsing
from errorkit.testing._waits import InstantWaits, instant_waits

__all__ = [
    "Bomb",
    "Drop",
    "Dynamic",
    "FaultServer",
    "FaultServerConfig",
    "Headers",
    "HugeBody",
    "InstantWaits",
    "RecordedRequest",
    "ResetMidBody",
    "Respond",
    "SlowBody",
    "Stall",
    "Step",
    "bomb",
    "closed_port",
    "drop",
    "dynamic",
    "echo_request",
    "full_backlog",
    "header_flood",
    "huge_body",
    "instant_waits",
    "reset_mid_body",
    "respond",
    "scenarios",
    "slow_body",
    "stall",
    "strict_parsing",
]
