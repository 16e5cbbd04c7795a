"""The generic reader (`errorkit._formats._fields`): fields found by what they are.

Each rule of the module docstring's table, once, through `parse()` on bodies no
named shape claims.
"""

from __future__ import annotations

import json

import pytest

import errorkit
from errorkit._formats._fields import MAX_DEPTH, informative, read_fields

JSON = {"content-type": "application/json"}


def parsed(status: int, body: object, headers: dict[str, str] | None = None) -> errorkit.ErrorInfo:
    raw = body if isinstance(body, str) else json.dumps(body)
    info = errorkit.parse(status, JSON if headers is None else headers, raw)
    assert info is not None
    return info


@pytest.mark.parametrize(
    "key", ["ErrorMessage", "error_message", "errorMessage", "error-message", "errMsg", "msg"]
)
def test_message_keys_in_any_spelling(key: str) -> None:
    assert parsed(400, {key: "The name is taken"}).message == "The name is taken"


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        # nested envelopes at any depth
        ({"response": {"data": {"error": {"message": "deep", "code": "E42"}}}}, "deep", "E42"),
        # a human message beats an identifier beside it
        (
            {"error": "invalid_token", "error_description": "The token expired"},
            "The token expired",
            "invalid_token",
        ),
        # ...and a sentence beats a bare reason phrase, even one level down
        (
            {"message": "Bad Request", "error": {"message": "name is too long"}},
            "name is too long",
            None,
        ),
        # a JSON document inside a string field
        ({"error": '{"message": "inner text", "code": "E1"}'}, "inner text", "E1"),
        # numeric codes; the HTTP status repeated is no code
        ({"code": 40001, "message": "Invalid date"}, "Invalid date", "40001"),
        ({"code": 400, "message": "Invalid date"}, "Invalid date", None),
        # PascalCase, as .NET and AWS-like APIs write it
        (
            {"Error": {"Code": "QuotaLimit", "Message": "Too many vaults"}},
            "Too many vaults",
            "QuotaLimit",
        ),
    ],
)
def test_message_and_code(body: object, message: str, code: str | None) -> None:
    info = parsed(400, body)
    assert (info.message, info.code) == (message, code)


def test_arrays_of_errors_the_first_speaks_the_rest_are_details() -> None:
    info = parsed(400, {"errors": [{"message": "a is missing"}, {"message": "b is missing"}]})
    assert info.message == "a is missing"
    assert info.details == ({"message": "b is missing"},)
    strings = parsed(400, {"errors": ["first problem", "second problem"]})
    assert (strings.message, strings.details) == ("first problem", ("second problem",))


def test_field_errors_keyed_by_field() -> None:
    info = parsed(422, {"email": ["is invalid"], "name": ["can't be blank"]})
    assert info.message == "email: is invalid"
    assert len(info.details) == 2


def test_request_ids_and_types_by_name() -> None:
    info = parsed(
        500,
        {"error": {"type": "InternalFailure", "message": "boom"}, "meta": {"requestId": "r-77"}},
    )
    assert (info.type, info.request_id) == ("InternalFailure", "r-77")
    assert parsed(500, {"message": "boom", "traceId": "t-1"}).request_id == "t-1"


def test_a_type_names_the_error_not_the_document_or_a_resource() -> None:
    assert parsed(404, {"type": "error", "message": "gone"}).type is None
    assert parsed(404, {"message": "gone", "data": {"name": "widget"}}).type is None
    assert parsed(400, {"type": "https://example.com/probs/x", "message": "m"}).type is None


def test_xml_of_no_known_shape_is_read_like_json() -> None:
    body = (
        "<?xml version='1.0'?><response><error><status>404</status>"
        "<reason>No bucket named photos</reason><error-code>NoBucket</error-code>"
        "</error><trace-id>abc123</trace-id></response>"
    )
    info = parsed(404, body, {"content-type": "application/xml"})
    assert (info.format, info.message, info.code, info.request_id) == (
        "xml",
        "No bucket named photos",
        "NoBucket",
        "abc123",
    )


def test_an_html_heading_beats_a_title_that_only_states_the_status() -> None:
    page = (
        "<html><head><title>503 Service Unavailable</title></head>"
        "<body><h1>The site is down for maintenance</h1></body></html>"
    )
    assert parsed(503, page, {"content-type": "text/html"}).message == (
        "The site is down for maintenance"
    )
    kept = "<html><head><title>Quota exceeded for project x</title></head><h1>Error</h1></html>"
    assert (
        parsed(429, kept, {"content-type": "text/html"}).message == "Quota exceeded for project x"
    )


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("The token expired", 0),
        ("Not Found", 1),
        ("503 Service Unavailable", 1),
        ("Error 404", 1),
        ("invalid_token", 2),
        ("NOT_FOUND", 2),
    ],
)
def test_informative(text: str, tier: int) -> None:
    assert informative(text) == tier


def test_bounded_on_hostile_documents() -> None:
    """Nesting far past the bound and huge arrays: an answer, at once, never a raise."""
    deep: object = {"message": "too deep"}
    for _ in range(MAX_DEPTH + 50):
        deep = {"error": deep}
    assert read_fields(deep).message is None
    wide = {"errors": [{"message": str(i)} for i in range(100_000)]}
    found = read_fields(wide)
    assert found.message == "0"
    assert len(found.details) == 20
    assert read_fields([[[[[]]]]]).message is None


@pytest.mark.parametrize(
    "body",
    [
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
        {"success": False, "message": "Invalid API key"},
        {"status": "error", "message": "Invalid API key"},
        {"response": {"error": {"code": "E7", "message": "Invalid API key"}}},
        {"errors": [{"message": "Invalid API key"}]},
    ],
)
def test_in_band_errors_on_a_2xx(body: object) -> None:
    """Bodies that say they failed are errors on a 200 when asked (`in_band=True`)."""
    raw = json.dumps(body)
    assert errorkit.parse(200, JSON, raw) is None  # the default: a 2xx is a success
    info = errorkit.parse(200, JSON, raw, in_band=True)
    assert info is not None
    assert info.message in ("Bad Request: chat not found", "Invalid API key")


@pytest.mark.parametrize(
    "body",
    [
        {"ok": True, "message": "sent"},
        {"status": "ok", "message": "queued"},
        {"data": {"id": 1}, "errors": [{"message": "a warning beside data"}]},
        {"error": None, "result": {"id": 1}},
        {"message": "Created"},
    ],
)
def test_successes_are_not_in_band_errors(body: object) -> None:
    assert errorkit.parse(200, JSON, json.dumps(body), in_band=True) is None


def test_json_lines_the_line_that_failed_speaks() -> None:
    """A stream or batch of JSON lines that failed midway: its error line is the body."""
    stream = '{"response": "Yes", "done": false}\n{"error": "the model crashed"}\n'
    info = errorkit.parse(200, {"content-type": "application/x-ndjson"}, stream, in_band=True)
    assert info is not None
    assert info.message == "the model crashed"
    batch = '{"success": true}\n{"success": false, "error": "Bad JSON."}'
    failed = errorkit.parse(400, {"content-type": "text/plain"}, batch)
    assert failed is not None
    assert failed.message == "Bad JSON."
    fine = '{"response": "Yes", "done": false}\n{"response": ".", "done": true}'
    assert errorkit.parse(200, {"content-type": "application/x-ndjson"}, fine, in_band=True) is None
    text = errorkit.parse(502, {}, '{"a": 1}\nnot json at all')
    assert text is not None
    assert text.format == "text"
