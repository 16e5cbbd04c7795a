"""The urllib3 quickstart in docs/ runs as written, against a real FaultServer."""

from __future__ import annotations

import pathlib
import re

DOC = pathlib.Path(__file__).parents[2] / "docs" / "quickstart_urllib3.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_urllib3_quickstart_snippets_run_in_order() -> None:
    """Every Python block of the urllib3 quickstart runs, in one namespace, without error."""
    blocks = _python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 6
    namespace: dict[str, object] = {"__name__": "quickstart_urllib3"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
