"""Plugins for the whole suite.

errorkit's own pytest plugin is loaded here rather than through its entry point
(`-p no:errorkit` in pyproject.toml), so that coverage measurement has started
before any errorkit module is imported.
"""

pytest_plugins = ["pytester", "errorkit.testing.pytest_plugin"]
