"""The held-out corpus (tests/data/corpus): well-formed, cited, and parsed without a raise.

What it measures is `benchmarks/score_corpus.py`'s job; these tests keep the
measure itself sound.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import errorkit
from errorkit.testing import strict_parsing

CORPUS = Path(__file__).parent.parent / "data" / "corpus"
FIELDS = {"message", "code", "type", "category", "retryable", "retry_after", "request_id"}
CATEGORIES = {category.value for category in errorkit.Category}
SOURCE = re.compile(r"^(https?://\S+|github:[\w.-]+/[\w.-]+@[0-9a-f]{40}:\S.*)")


def _records() -> list[Any]:
    return [
        pytest.param(case, id=f"{path.stem}: {case['name']}")
        for path in sorted(CORPUS.glob("*.json"))
        for case in json.loads(path.read_text(encoding="utf-8"))
    ]


def test_the_corpus_is_as_big_as_its_readme_says() -> None:
    records = [param.values[0] for param in _records()]
    assert len(records) >= 150
    assert len({record["api"] for record in records}) >= 60
    bodies = {(r["status"], json.dumps(r["body"], sort_keys=True)) for r in records}
    assert len(bodies) == len(records)  # no record twice


@pytest.mark.parametrize("case", _records())
def test_record(case: dict[str, Any]) -> None:
    """Each record cites its source, states every field, and parses strictly."""
    assert SOURCE.match(case["source"]), case["source"]
    assert set(case["expect"]) == FIELDS
    assert case["expect"]["category"] in CATEGORIES
    body = case["body"]
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    with strict_parsing():  # a recognizer that raises fails here instead of being skipped
        info = errorkit.parse(case["status"], case["headers"], raw, in_band=True)
    if case["status"] >= 400:
        assert info is not None
        assert info.message
