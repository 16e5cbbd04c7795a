"""Hostile input to the body-shape seam and to parse(): no crash, and bounded work.

Everything here runs under `strict_parsing()`, so a recognizer or a parse step
that raises fails the test instead of being swallowed by parse()'s guards.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import errorkit
from core.strategies import bodies, error_objects, headers, junk_headers, junk_statuses, statuses
from errorkit._formats import MAX_BODY, Extracted, build_document, recognize
from errorkit._formats._util import MAX_ITEMS
from errorkit._headers import normalize_headers
from errorkit._info import Category
from errorkit.testing import strict_parsing

DATA = Path(__file__).parent.parent / "data" / "formats"
YEAR = 365 * 24 * 3600.0
#: Values of the wrong type (or the right type, absurd) for every known field.
WRONG: tuple[object, ...] = (
    None,
    True,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    10**40,
    "",
    "   ",
    "x" * 5000,
    [],
    [None],
    [[[]]],
    {},
    {"message": None},
)
#: Generous: a quadratic scan of 64 KiB would take minutes, a linear one milliseconds.
SANITY_SECONDS = 5.0
FIELDS = (
    "format",
    "message",
    "code",
    "type",
    "request_id",
    "details",
    "retry_after",
    "status",
    "category",
    "retryable",
    "in_band",
)


def check(found: object) -> None:
    """Assert the invariants every recognizer's answer keeps."""
    assert isinstance(found, Extracted)
    # read as `object`: the point is to check the declared types at run time
    fields: dict[str, object] = {name: getattr(found, name) for name in FIELDS}
    assert isinstance(fields["format"], str)
    assert fields["format"]
    message = fields["message"]
    assert message is None or (isinstance(message, str) and message == message.strip() != "")
    for name in ("code", "type", "request_id"):
        assert fields[name] is None or (isinstance(fields[name], str) and fields[name] != "")
    assert isinstance(fields["details"], tuple)
    assert len(fields["details"]) <= MAX_ITEMS
    retry = fields["retry_after"]
    assert retry is None or (isinstance(retry, float) and math.isfinite(retry))
    assert retry is None or 0 <= retry <= YEAR
    status = fields["status"]
    assert status is None or (isinstance(status, int) and 100 <= status <= 599)
    assert fields["category"] is None or isinstance(fields["category"], Category)
    assert fields["retryable"] is None or isinstance(fields["retryable"], bool)
    assert isinstance(fields["in_band"], bool)


def run(status: int, heads: object, body: object, max_body: int = MAX_BODY) -> Extracted:
    """Recognize a body under strict parsing: a recognizer that raises fails the test."""
    with strict_parsing():
        found = recognize(build_document(status, normalize_headers(heads), body, max_body))
    check(found)
    return found


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=statuses, heads=headers, body=bodies)
def test_never_raises(status: int, heads: dict[str, str], body: bytes | str | None) -> None:
    """Any status, headers and body give an Extracted whose message is None or real text."""
    run(status, heads, body)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=statuses, obj=error_objects(), cut=st.integers(min_value=0, max_value=400))
def test_error_shaped_objects_never_raise(status: int, obj: dict[str, Any], cut: int) -> None:
    """Error-shaped objects with wrong-typed fields, whole or cut short, never raise."""
    body = json.dumps(obj)
    run(status, {"content-type": "application/json"}, body)
    run(status, {"content-type": "application/problem+json"}, body, max_body=cut)


@settings(deadline=None)
@given(body=st.binary(max_size=500), charset=st.text(max_size=20))
def test_any_bytes_with_any_charset(body: bytes, charset: str) -> None:
    """Arbitrary bytes under an arbitrary declared charset decode without raising."""
    run(400, {"content-type": f"text/plain; charset={charset}"}, body)


def _paths(value: object, depth: int = 0) -> list[tuple[object, ...]]:
    """Every key path (dict keys and the first list item) down to depth 4."""
    if depth > 4:
        return []
    found: list[tuple[object, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((key,))
            found.extend((key, *rest) for rest in _paths(child, depth + 1))
    elif isinstance(value, list) and value:
        found.extend((0, *rest) for rest in _paths(value[0], depth + 1))
    return found


def _replaced(value: Any, path: tuple[object, ...], new: object) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def _object_samples() -> list[Any]:
    samples = []
    for path in sorted(DATA.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            if isinstance(case.get("body"), (dict, list)):
                param = pytest.param(case, id=f"{path.stem}: {case['name']}")
                samples.append(param)
    return samples


@pytest.mark.parametrize("case", _object_samples())
def test_every_known_field_with_every_wrong_type(case: dict[str, Any]) -> None:
    """Each field of each real sample, replaced by each wrong-typed value, is handled safely."""
    body = case["body"]
    for path in _paths(body):
        for wrong in WRONG:
            mutated = _replaced(body, path, wrong)
            run(case["status"], case.get("headers") or {}, json.dumps(mutated))
            run(200, case.get("headers") or {}, json.dumps(mutated))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e309])
def test_non_finite_numbers_are_ignored(value: float) -> None:
    """NaN and infinite numbers in retry and status fields never leak out."""
    body = json.dumps(
        {
            "error": {"code": "x", "message": "m", "status": value, "retryAfter": value},
            "retry_after": value,
            "estimated_time": value,
        }
    )
    found = run(429, {}, body)
    assert found.retry_after is None


N = 64 * 1024
ADVERSARIAL: dict[str, tuple[dict[str, str], str]] = {
    "open angles": ({"content-type": "text/html"}, "<" * N),
    "unclosed titles": ({"content-type": "text/html"}, "<title" * (N // 6)),
    "title then angles": ({}, "<html><title>" + "<" * N),
    "unclosed headings": ({"content-type": "text/html"}, "<h1 " * (N // 4)),
    "script blocks": ({}, "<!doctype html><body>" + "<script>x</script>" * (N // 18)),
    "unclosed scripts": ({}, "<!doctype html><body>" + "<style " * (N // 7)),
    "entity soup": ({"content-type": "text/html"}, "<title>" + "&amp;&#" * (N // 7)),
    "xml error elements": ({"content-type": "application/xml"}, "<Error><Code>" * (N // 13)),
    "deep xml": ({"content-type": "application/xml"}, "<a>" * (N // 3) + "<Code>x</Code>"),
    "doctype bomb": (
        {"content-type": "application/xml"},
        '<!DOCTYPE x [<!ENTITY a "' + "b" * N + '">]><Error><Code>&a;</Code></Error>',
    ),
    "salvage backslashes": ({}, '{"message": "' + "\\" * N),
    "salvage escaped quotes": ({}, '{"message": "' + '\\"' * (N // 2)),
    "salvage many keys": ({}, '{"message": "' * (N // 12)),
    "deep arrays": ({}, "[" * N),
    "deep objects": ({}, '{"a":' * (N // 5)),
    "deep valid json": ({}, '{"errors":' * 900 + "1" + "}" * 900),
    "huge int": ({}, '{"retryAfter": ' + "9" * N + "}"),
    "blank lines": ({}, "\n" * N + "x"),
    "one long line": ({}, "y" * N),
    "spaces then brace": ({}, " " * N + "{"),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_64k_body_completes(name: str) -> None:
    """A 64 KiB pathological body is handled in bounded (linear) time."""
    heads, body = ADVERSARIAL[name]
    started = time.perf_counter()
    run(400, heads, body)
    assert time.perf_counter() - started < SANITY_SECONDS


WIDE = [str(i) for i in range(20000)]
GOOGLE_DETAIL = {"@type": "google.rpc.BadRequest", "fieldViolations": [{}] * 1000}


def _discord_tree(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"_errors": [{"code": "X", "message": "m"}]}
    for _ in range(depth):
        node = {"f": node, "_errors": [{"code": "Y", "message": "n"}]}
    return node


@pytest.mark.parametrize(
    ("name", "obj"),
    [
        ("many field errors", {f"field{i}": ["This field is required."] * 3 for i in range(5000)}),
        ("many details", {"error": {"code": "X", "message": "m", "details": [{}] * 50000}}),
        ("many errors", {"errors": [{"message": "m", "path": []}] * 50000, "data": None}),
        ("deep discord errors", {"message": "m", "code": 50035, "errors": _discord_tree(800)}),
        (
            "wide discord errors",
            {"message": "m", "code": 50035, "errors": {str(i): {} for i in range(20000)}},
        ),
        (
            "many google details",
            {
                "error": {
                    "code": 400,
                    "details": [{"@type": "google.rpc.BadRequest", "fieldViolations": [{}] * 1000}]
                    * 1000,
                }
            },
        ),
    ],
)
def test_wide_json_is_bounded(name: str, obj: object) -> None:
    """Huge lists and dicts are walked only up to fixed bounds."""
    started = time.perf_counter()
    found = run(400, {}, json.dumps(obj), max_body=10 * 1024 * 1024)
    assert len(found.details) <= MAX_ITEMS
    assert time.perf_counter() - started < SANITY_SECONDS


@pytest.mark.parametrize(
    "value",
    [
        "a" * 8192,
        'a="' * 2700,
        'error="' + '\\"' * 4000,
        "error=" + "x," * 4000,
        "=" * 8192,
        'Bearer error="invalid_token", ' * 300,
    ],
)
def test_adversarial_www_authenticate(value: str) -> None:
    """Pathological WWW-Authenticate headers parse in bounded time without raising."""
    started = time.perf_counter()
    run(401, {"www-authenticate": value}, "")
    assert time.perf_counter() - started < SANITY_SECONDS


# --- parse() itself -------------------------------------------------------------------


def _success(status: object) -> bool:
    """Whether parse() must call `status` a success (an int in 100..399, or its digits)."""
    if isinstance(status, str) and status.strip().lstrip("-").isdigit():
        status = int(status)
    return isinstance(status, int) and not isinstance(status, bool) and 100 <= status < 400


def _length(body: object) -> int:
    return len(body) if isinstance(body, (bytes, str)) else 0


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=junk_statuses,
    heads=junk_headers,
    body=bodies,
    in_band=st.booleans(),
    max_body=st.one_of(st.just(MAX_BODY), st.integers(min_value=0, max_value=400)),
)
def test_parse_keeps_its_contract(
    status: Any, heads: Any, body: bytes | str | None, in_band: bool, max_body: int
) -> None:
    """Any status, headers and body: None for a success, else an ErrorInfo with a real message.

    Strict: an exception anywhere in parse() fails the test rather than being reported
    as an "unparsed" error.
    """
    with strict_parsing():
        info = errorkit.parse(status, heads, body, max_body=max_body, in_band=in_band)
    if _success(status) and not in_band:
        assert info is None
        return
    if info is None:
        assert _success(status)
        return
    assert isinstance(info, errorkit.ErrorInfo)
    assert isinstance(info.message, str)
    assert info.message.strip()
    assert isinstance(info.format, str)
    assert info.format
    assert info.format != "unparsed"
    if isinstance(info.body, str):
        assert len(info.body) <= max_body
    else:
        # JSON is decoded only from a body that fits the bound whole.
        assert isinstance(info.body, (dict, list))
        assert _length(body) <= max_body + 1  # a str body may lose a byte-order mark
    if _success(status):
        assert in_band
        assert info.retryable_reason.startswith(f"{int(status)} in-band error")
