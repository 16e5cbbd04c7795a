"""Plugins for the whole suite.

errorkit's own pytest plugin is loaded here rather than through its entry point
(`-p no:errorkit` in pyproject.toml), so that coverage measurement has started
before any errorkit module is imported.
"""

from collections.abc import Iterator

import pytest

from errorkit._gate import open_every_gate
from errorkit._resends import LEDGER
from errorkit._throttle import reset_every_throttle

pytest_plugins = ["pytester", "errorkit.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Each test starts with errorkit's ledger of SDK calls empty and every gate open."""
    LEDGER.clear()
    open_every_gate()
    reset_every_throttle()
    yield
    LEDGER.clear()
    open_every_gate()
    reset_every_throttle()
