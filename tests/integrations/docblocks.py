"""The Python blocks of docs/integrations.md, by section, run as the reader would run them.

Each SDK's section (a ``## name`` heading) holds Python blocks that build a client
from `API`, the base URL of the test's FaultServer. `run(section)` executes them in
order in a fresh namespace and returns it, so a test can call the client the
documentation built and assert what the server received.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "integrations.md"


def blocks(section: str, path: Path = DOC) -> list[str]:
    """The Python blocks under the ``## {section}`` heading, up to the next ``## ``."""
    text = path.read_text(encoding="utf-8")
    match = re.search(
        rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    )
    if match is None:
        raise LookupError(f"no section '## {section}' in {path}")
    found = re.findall(r"```python\n(.*?)```", match.group(1), re.DOTALL)
    if not found:
        raise LookupError(f"section '## {section}' of {path} has no python block")
    return found


def run(section: str, api: str, path: Path = DOC, **names: object) -> dict[str, object]:
    """Execute the section's blocks with ``API = api`` (and `names`); their namespace."""
    namespace: dict[str, object] = {"__name__": f"integrations_{section}", "API": api, **names}
    for block in blocks(section, path):
        exec(compile(block, str(path), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace
