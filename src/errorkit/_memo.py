"""Bounded memo tables for the parser's pure look-ups (codes, content types, verdicts, hints)."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(table: dict[K, V], key: K, value: V, bound: int) -> V:
    """Store `value` under `key` in `table` and return it; a full table is emptied first.

    Emptying keeps memory bounded whatever the input, and costs nothing per hit: an
    API repeats a handful of errors, so the table refills at once. Safe to share
    between threads: each dict operation is atomic, and a lost entry is only
    computed again. Callers read with one ``table.get(key)`` and call this on a miss.
    """
    if len(table) >= bound:
        table.clear()
    table[key] = value
    return value
