"""The aiohttp quickstart in docs/ runs as written, against a real FaultServer."""

from __future__ import annotations

import pathlib
import re

DOC = pathlib.Path(__file__).parents[2] / "docs" / "quickstart_aiohttp.md"


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_quickstart_snippets_run_in_order() -> None:
    """Every Python block of the aiohttp quickstart runs, in one namespace, without error."""
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 3
    namespace: dict[str, object] = {"__name__": "quickstart_aiohttp"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
