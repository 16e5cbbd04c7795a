"""The httpx quickstart in docs/ runs as written, against a real FaultServer."""

from __future__ import annotations

import pathlib
import re

import pytest

from errorkit.testing import instant_waits

DOC = pathlib.Path(__file__).parents[2] / "docs" / "quickstart_httpx.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("package", ["httpx", "httpx2"])
def test_httpx_quickstart_snippets_run_in_order(
    monkeypatch: pytest.MonkeyPatch, package: str
) -> None:
    """Every Python block of the httpx quickstart runs, in one namespace, without error.

    Over httpx2 too, as the page says: each ``httpx`` of the blocks read as ``httpx2``.
    """
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    text = DOC.read_text(encoding="utf-8")
    blocks = _python_blocks(re.sub(r"\bhttpx\b", package, text))
    assert len(blocks) == 6
    namespace: dict[str, object] = {"__name__": "quickstart_httpx"}
    with instant_waits():  # the 503s' backoff is not what this test is about
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
