"""Plugins for the whole suite.

errorkit's own pytest plugin is loaded here rather than through its entry point
(`-p no:errorkit` in pyproject.toml), so that coverage measurement has started
before any errorkit module is imported.
"""

from collections.abc import Iterator

import pytest

from errorkit._resends import LEDGER

pytest_plugins = ["pytester", "errorkit.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def _forget_logical_requests() -> Iterator[None]:
    """Each test starts with errorkit's ledger of SDK calls empty (errorkit._resends)."""
    LEDGER.clear()
    yield
    LEDGER.clear()
