"""Every Python block of README.md runs, in order, against a real FaultServer."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

from errorkit.redis import RedisBackend
from errorkit.testing import FaultServer, instant_waits, respond

if TYPE_CHECKING:
    from errorkit.testing.redis_server import RedisServer

README = Path(__file__).parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


#: The README's Redis host stands for the reader's; the test's is a real one on loopback.
README_REDIS = 'redis.Redis(host="10.0.0.5")'


def test_readme_python_blocks_run_and_print_what_they_say(
    fault_server: FaultServer, redis_server: RedisServer
) -> None:
    """The quickstarts print what their comments promise; the testing example passes."""
    fault_server.script("/v1/agents", [respond(503), respond(503), respond(200, body={"data": []})])
    fault_server.script("/v1/agents/missing", [respond(404, body={"error": "Agent not found"})])
    namespace: dict[str, object] = {"__name__": "readme", "API": fault_server.base_url}
    out = io.StringIO()
    blocks = _blocks()
    assert sum(README_REDIS in block for block in blocks) == 1
    try:
        with instant_waits(), contextlib.redirect_stdout(out):
            here = f"redis.Redis.from_url({redis_server.url!r})"
            for block in blocks:
                code = block.replace(README_REDIS, here)
                exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our README
    finally:
        backend = namespace.get("backend")
        if isinstance(backend, RedisBackend):
            backend.close()
    assert isinstance(backend, RedisBackend)
    assert backend.available  # it reached the real Redis, never the README's host
    printed = out.getvalue().splitlines()
    assert printed == [
        "200",
        "not_found Agent not found False",
        "200",
        "200",
        "404 Agent not found",
        "200",
        "200",
        "rate_limited True 2.0 header:retry-after",
    ]
    assert fault_server.hits("/v1/agents") == 3 + 4


def test_readme_testing_example_passes() -> None:
    """The README's example test of a user's retry handling passes when run."""
    namespace: dict[str, object] = {"__name__": "readme", "API": "http://127.0.0.1:9"}
    for block in _blocks():
        if "def test_my_client" in block:
            exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our README
    test = namespace["test_my_client_survives_a_flaky_api"]
    with FaultServer() as server, instant_waits() as waits:
        test(server, waits)  # type: ignore[operator]
