"""The httpx quickstart in docs/ runs as written, against a real FaultServer."""

from __future__ import annotations

import pathlib
import re
from typing import TYPE_CHECKING

from errorkit.testing import instant_waits

if TYPE_CHECKING:
    import pytest

DOC = pathlib.Path(__file__).parents[2] / "docs" / "quickstart_httpx.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_httpx_quickstart_snippets_run_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Python block of the httpx quickstart runs, in one namespace, without error."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    blocks = _python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 5
    namespace: dict[str, object] = {"__name__": "quickstart_httpx"}
    with instant_waits():  # the 503s' backoff is not what this test is about
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
