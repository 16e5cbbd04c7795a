"""errorkit: one error model and one retry policy for every Python HTTP stack."""

from __future__ import annotations

from errorkit._info import Category, ErrorInfo
from errorkit._parse import parse

__all__ = [
    "Category",
    "ErrorInfo",
    "parse",
]
