"""docs/testing.md's first example runs as written and passes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _first_python_block() -> str:
    match = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert match is not None, "docs/testing.md has no python example"
    return match.group(1)


def test_readme_example_passes(pytester: pytest.Pytester) -> None:
    """The user-side retry test shown in docs/testing.md passes: 2 tests, no failure."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_user_retry=_first_python_block())
    # A subprocess: the example imports requests, which pytester's in-process runs
    # would re-import against stale classes.
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", timeout=30
    )
    result.assert_outcomes(passed=2)


def test_readme_example_is_the_documented_one() -> None:
    """The extracted block is the fault_server + instant_waits example, not another one."""
    block = _first_python_block()
    assert "def test_waits_as_long_as_the_server_asks(fault_server, instant_waits)" in block
    assert "instant_waits.delays == [60.0]" in block
