"""Error-body shapes: the data-driven samples, the registry, and the document builder."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import errorkit
from errorkit._formats import (
    MAX_BODY,
    NOT_JSON,
    Document,
    Extracted,
    build_document,
    format_names,
    recognize,
    register_format,
    unregister_format,
)
from errorkit._formats._registry import BUILTINS, reset_formats
from errorkit._formats._util import as_seconds, shape
from errorkit._headers import normalize_headers
from errorkit._info import Category
from errorkit.testing import strict_parsing

DATA = Path(__file__).parent.parent / "data" / "formats"
#: Expected values that default to "absent" when a case does not name them.
DEFAULTS: dict[str, Any] = {
    "code": None,
    "type": None,
    "retry_after": None,
    "request_id": None,
    "details_count": 0,
    "in_band": False,
}
#: Expected values checked only when a case names them.
OPTIONAL = ("status", "category", "retry_after_source", "retryable", "extra")


def _cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{path.stem}: {case['name']}")
        for path in sorted(DATA.glob("*.json"))
        for case in json.loads(path.read_text(encoding="utf-8"))
    ]


def _body(case: dict[str, Any]) -> bytes | str | None:
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"])
    body = case.get("body")
    if body is None or isinstance(body, str):
        return body
    return json.dumps(body)


def _recognize(case: dict[str, Any]) -> Extracted:
    headers = normalize_headers(case.get("headers") or {})
    doc = build_document(case["status"], headers, _body(case), case.get("max_body", MAX_BODY))
    return recognize(doc)


@pytest.fixture(autouse=True)
def _builtin_registry() -> Any:
    reset_formats()
    yield
    reset_formats()


@pytest.mark.parametrize("case", _cases())
def test_sample(case: dict[str, Any]) -> None:
    """Every real-world sample is recognised as its format with the documented fields."""
    found = _recognize(case)
    expect = {**DEFAULTS, **case["expect"]}
    actual = {
        "format": found.format,
        "message": found.message,
        "code": found.code,
        "type": found.type,
        "retry_after": found.retry_after,
        "request_id": found.request_id,
        "details_count": len(found.details),
        "in_band": found.in_band,
    }
    for key in OPTIONAL:
        if key in expect:
            value = getattr(found, key)
            actual[key] = value.value if isinstance(value, Category) else value
    assert actual == {key: expect[key] for key in actual}


def test_samples_cover_every_builtin_format() -> None:
    """Each built-in recognizer and each fallback has at least one sample."""
    seen = {case.values[0]["expect"]["format"] for case in _cases()}
    expected = {r.name for r in BUILTINS} | {"www-authenticate", "json", "html", "xml", "text"}
    assert expected | {"empty"} <= seen


def test_details_are_plain_json_values() -> None:
    """Details hold dicts, lists, strings and numbers only, never custom objects."""

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bool))

    for param in _cases():
        found = _recognize(param.values[0])
        assert all(plain(detail) for detail in found.details), param.id


def test_messages_are_stripped_and_never_empty() -> None:
    """Every sample's message is None or a non-blank, stripped string."""
    for param in _cases():
        message = _recognize(param.values[0]).message
        assert message is None or (message and message == message.strip()), param.id


# --- registry ------------------------------------------------------------------------


def _doc(body: object, status: int = 400, headers: dict[str, str] | None = None) -> Document:
    raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    return build_document(status, headers or {}, raw, MAX_BODY)


@shape("mine", keys=["error"])
def _mine(doc: Document) -> Extracted | None:
    return Extracted(format="mine", message="from mine")


def test_user_recognizer_wins_over_builtins() -> None:
    """A registered recognizer is tried ahead of every built-in one by default."""
    register_format(_mine)
    assert format_names()[0] == "mine"
    assert recognize(_doc({"error": "Label is required"})).format == "mine"


def test_the_register_format_example_runs() -> None:
    """The recognizer in register_format's docstring registers and reads its shape."""
    doc = register_format.__doc__ or ""
    example = textwrap.dedent(doc.split("::\n", 1)[1].split("\n\n    `before`", 1)[0])
    exec(compile(example, "register_format example", "exec"), {})  # noqa: S102 - our own docstring
    info = errorkit.parse(503, {}, b'{"fault": {"reason": "busy", "id": 42, "retry_in": "5s"}}')
    assert info is not None
    assert (info.format, info.message, info.code) == ("acme", "busy", "42")
    assert (info.retry_after, info.retry_after_source) == (5.0, "body:fault.retry_in")


def test_user_recognizers_keep_registration_order() -> None:
    """Later registrations go after earlier ones, still ahead of the built-ins."""

    @shape("second")
    def second(doc: Document) -> Extracted | None:
        return None

    register_format(_mine)
    register_format(second)
    assert format_names()[:3] == ("mine", "second", BUILTINS[0].name)


def test_register_before_and_after() -> None:
    """`before` and `after` place a recognizer next to the one they name."""

    @shape("late")
    def late(doc: Document) -> Extracted | None:
        return Extracted(format="late")

    register_format(late, after="fastapi")
    names = format_names()
    assert names.index("late") == names.index("fastapi") + 1
    # a JSON:API body is claimed before reaching it; a text body reaches it
    assert recognize(_doc({"errors": [{"title": "Bad", "status": "400"}]})).format == "jsonapi"
    assert recognize(_doc("plain words")).format == "late"
    unregister_format("late")
    register_format(late, before="anthropic")
    assert format_names()[0] == "late"
    assert recognize(_doc({"type": "error", "error": {"type": "x", "message": "y"}})).format == (
        "late"
    )


def test_unregister_removes_a_builtin() -> None:
    """An unregistered format is no longer tried and no longer listed."""
    unregister_format("slack")
    assert "slack" not in format_names()
    found = recognize(_doc({"ok": False, "error": "ratelimited"}, status=200))
    assert found.format != "slack"


def test_unregister_unknown_name_raises_key_error() -> None:
    """Removing a name that is not registered raises KeyError."""
    with pytest.raises(KeyError):
        unregister_format("no-such-format")


def test_register_rejects_bad_input() -> None:
    """Duplicate names, both anchors, unknown anchors and malformed keys are refused."""
    with pytest.raises(ValueError, match="already registered"):
        register_format(BUILTINS[0])
    with pytest.raises(ValueError, match="not both"):
        register_format(_mine, before="slack", after="slack")
    with pytest.raises(KeyError):
        register_format(_mine, before="nothing")

    class Nameless:
        def __call__(self, _doc: Document) -> Extracted | None:
            return None

    with pytest.raises(TypeError):
        register_format(Nameless())  # type: ignore[arg-type]

    class BadKeys:
        name = "bad-keys"
        keys = "error"

        def __call__(self, _doc: Document) -> Extracted | None:
            return None

    with pytest.raises(TypeError):
        register_format(BadKeys())
    assert "mine" not in format_names()


@shape("broken")
def _broken(doc: Document) -> Extracted | None:
    raise RuntimeError("bug in a plug-in")


def test_raising_recognizer_is_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A recognizer that raises is skipped, logged at DEBUG with its traceback; the next answers."""
    register_format(_broken)
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        assert recognize(_doc({"error": "Label is required"})).format == "onecli"
    (record,) = [r for r in caplog.records if "broken" in r.getMessage()]
    assert record.levelno == logging.DEBUG
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_strict_parsing_reraises_a_recognizer_crash() -> None:
    """Under strict parsing the crash reaches the caller, through parse() too."""
    register_format(_broken)
    with strict_parsing(), pytest.raises(RuntimeError, match="plug-in"):
        recognize(_doc({"error": "x"}))
    with strict_parsing(), pytest.raises(RuntimeError, match="plug-in"):
        errorkit.parse(400, {}, b'{"error": "x"}')
    info = errorkit.parse(400, {}, b'{"error": "x"}')
    assert info is not None
    assert info.format == "onecli"


def test_strict_parsing_reraises_what_parse_swallows(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """parse() logs a crash at DEBUG and answers "unparsed"; strict parsing re-raises it."""

    def crash(*args: object) -> Document:
        raise ValueError("decoder bug")

    monkeypatch.setattr("errorkit._parse.build_document", crash)
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        info = errorkit.parse(503, {}, b"x")
    assert info is not None
    assert (info.status, info.format, info.category, info.retryable) == (
        503,
        "unparsed",
        errorkit.Category.UNAVAILABLE,
        True,
    )
    assert info.retryable_reason.endswith("its headers or body could not be parsed")
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.exc_info is not None
    with strict_parsing(), pytest.raises(ValueError, match="decoder bug"):
        errorkit.parse(503, {}, b"x")


def test_strict_parsing_restores_the_previous_mode() -> None:
    """Leaving a block, nested or not and even on an exception, restores the mode before it."""
    register_format(_broken)

    def strict() -> bool:
        try:
            recognize(_doc("x"))
        except RuntimeError:
            return True
        return False

    mode = strict_parsing()
    with mode:
        with strict_parsing():
            assert strict()
        assert strict()
        with pytest.raises(KeyError), strict_parsing():
            raise KeyError
        assert strict()
    assert not strict()


def test_strict_parsing_as_a_decorator() -> None:
    """Decorated sync and async functions run strict, each call, and the mode ends with them."""
    register_format(_broken)

    @strict_parsing()
    def sync() -> None:
        recognize(_doc("x"))

    @strict_parsing()
    async def asyn() -> None:
        recognize(_doc("x"))

    for _ in range(2):
        with pytest.raises(RuntimeError):
            sync()
        with pytest.raises(RuntimeError):
            asyncio.run(asyn())
    assert recognize(_doc("x")).format == "text"


def test_strict_parsing_does_not_leak_into_other_threads() -> None:
    """Strict mode in one thread leaves parsing in another thread lenient."""
    register_format(_broken)
    seen: list[str] = []
    with strict_parsing():
        thread = threading.Thread(target=lambda: seen.append(recognize(_doc("x")).format))
        thread.start()
        thread.join()
    assert seen == ["text"]


def test_recognizer_returning_garbage_is_skipped() -> None:
    """A recognizer returning something other than an Extracted is ignored."""

    @shape("garbage")
    def garbage(doc: Document) -> Extracted | None:
        return "not an Extracted"  # type: ignore[return-value]

    register_format(garbage)
    assert recognize(_doc("hello")).format == "text"


def test_blank_message_from_a_user_recognizer_is_cleaned() -> None:
    """A user's blank or padded message is normalised to None or stripped text."""

    @shape("padded")
    def padded(doc: Document) -> Extracted | None:
        return Extracted(format="padded", message="  hi  " if doc.status == 400 else "   ")

    register_format(padded)
    assert recognize(_doc("x", status=400)).message == "hi"
    assert recognize(_doc("x", status=500)).message is None


def test_shape_refuses_a_single_string_as_keys() -> None:
    """``keys="error"`` would mean the letters e, r and o: it is refused."""
    with pytest.raises(TypeError, match="not one string"):
        shape("typo", keys="error")


def test_keyed_recognizer_is_tried_only_when_a_key_is_present() -> None:
    """A recognizer with `keys` is never called for a body without one of them."""
    calls: list[object] = []

    @shape("keyed", keys=["special"])
    def keyed(doc: Document) -> Extracted | None:
        calls.append(doc.json)
        return Extracted(format="keyed")

    register_format(keyed)
    assert recognize(_doc({"message": "x"})).format != "keyed"
    assert recognize(_doc("special")).format != "keyed"
    assert recognize(_doc({"special": 1})).format == "keyed"
    assert calls == [{"special": 1}]


def test_concurrent_registration_is_consistent() -> None:
    """Registrations from many threads all land, each exactly once."""

    def make(index: int) -> None:
        @shape(f"thread-{index}")
        def recognizer(doc: Document) -> Extracted | None:
            return None

        register_format(recognizer)
        recognize(_doc({"error": "x"}))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = format_names()
    assert sorted(n for n in names if n.startswith("thread-")) == sorted(
        f"thread-{i}" for i in range(16)
    )
    assert len(names) == len(set(names)) == len(BUILTINS) + 16


# --- build_document -------------------------------------------------------------------


def test_document_media_type_and_json() -> None:
    """The media type loses its parameters and case; a JSON object is decoded."""
    doc = build_document(
        400, {"content-type": "Application/Problem+JSON; charset=UTF-8"}, b'{"a": 1}', MAX_BODY
    )
    assert doc.media_type == "application/problem+json"
    assert doc.json == {"a": 1}
    assert doc.text == '{"a": 1}'


def test_document_charset_from_content_type() -> None:
    """A valid charset parameter decodes the body."""
    body = "Zugriff verweigert: Schlüssel ungültig".encode("latin-1")
    doc = build_document(403, {"content-type": "text/plain; charset=ISO-8859-1"}, body, MAX_BODY)
    assert doc.text == "Zugriff verweigert: Schlüssel ungültig"


@pytest.mark.parametrize("charset", ["no-such-codec", "base64", "rot13", '"', ""])
def test_document_invalid_charset_falls_back_to_utf8(charset: str) -> None:
    """An unknown or non-text charset is ignored and UTF-8 is used."""
    headers = {"content-type": f"text/plain; charset={charset}"}
    doc = build_document(400, headers, "café".encode(), MAX_BODY)
    assert doc.text == "café"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_document_byte_order_mark_wins(encoding: str) -> None:
    """A byte-order mark selects the encoding, even against the declared charset."""
    raw = '{"error": "Label is required"}'.encode(encoding)
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    doc = build_document(400, {"content-type": "application/json; charset=utf-8"}, raw, MAX_BODY)
    assert doc.json == {"error": "Label is required"}


def test_document_invalid_utf8_is_replaced() -> None:
    """Undecodable bytes become replacement characters, never an exception."""
    doc = build_document(500, {}, b"bad \xff\xfe bytes", MAX_BODY)
    assert doc.text == "bad \ufffd\ufffd bytes"


def test_document_is_bounded() -> None:
    """At most `max_body` bytes are decoded; JSON cut at the bound stays text."""
    body = json.dumps({"error": "x" * 100}).encode()
    doc = build_document(400, {}, body, 20)
    assert len(doc.text) == 20
    assert doc.json is NOT_JSON
    assert build_document(400, {}, "y" * 50, 10).text == "y" * 10


@pytest.mark.parametrize("body", [None, 12, 3.5, ["a"], {"a": 1}, object()])
def test_document_of_other_bodies_is_empty(body: object) -> None:
    """A body that is not bytes or str is treated as empty."""
    doc = build_document(500, {}, body, MAX_BODY)
    assert doc.text == ""
    assert doc.json is NOT_JSON


def test_document_accepts_bytearray_and_memoryview() -> None:
    """Byte buffers are read like bytes."""
    assert build_document(400, {}, bytearray(b'{"a": 1}'), MAX_BODY).json == {"a": 1}
    assert build_document(400, {}, memoryview(b"[1]"), MAX_BODY).json == [1]


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"a":' * 50_000, "1" * 5000, '{"n": ' + "9" * 5000 + "}", "{" + "}" * 10],
)
def test_document_hostile_json_stays_text(text: str) -> None:
    """Deep nesting, huge integers and junk never raise: the body stays text."""
    doc = build_document(400, {}, text, 1_000_000)
    assert doc.json is NOT_JSON
    assert isinstance(recognize(doc), Extracted)


def test_document_json_only_for_objects_and_arrays() -> None:
    """Scalars that happen to be JSON are text; leading whitespace is allowed."""
    assert build_document(400, {}, '"Not Found"', MAX_BODY).json is NOT_JSON
    assert build_document(400, {}, "42", MAX_BODY).json is NOT_JSON
    assert build_document(400, {}, ' \n {"a": 1}', MAX_BODY).json == {"a": 1}
    assert build_document(400, {}, "\ufeff[1]", MAX_BODY).json == [1]


def test_document_with_hostile_arguments_never_raises() -> None:
    """Wrong-typed status, headers and bound give a document, not an exception."""
    doc = build_document("x", "not headers", b"{}", "many")  # type: ignore[arg-type]
    assert isinstance(doc, Document)
    assert build_document(True, {}, b"x", -5).text == ""  # noqa: FBT003


# --- helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (60, 60.0),
        (1.5, 1.5),
        ("60", 60.0),
        (" 2.5 ", 2.5),
        ("1.5s", 1.5),
        ("6m0s", 360.0),
        ("250ms", 0.25),
        ("1h2m3s", 3723.0),
        ("100us", 0.0001),
        ({"seconds": "3", "nanos": 500000000}, 3.5),
        (0, 0.0),
        (-1, None),
        ("-1s", None),
        (float("nan"), None),
        (float("inf"), None),
        ("nan", None),
        (10**400, None),
        (366 * 24 * 3600, None),
        (True, None),
        ("soon", None),
        ("1.5 s", None),
        ("5x", None),
        ("s", None),
        ("9" * 100, None),
        (None, None),
        ([1], None),
    ],
)
def test_duration(value: object, seconds: float | None) -> None:
    """Body durations normalise to seconds; negative, NaN, infinite and absurd are None."""
    found = as_seconds(value)
    assert found == pytest.approx(seconds) if seconds is not None else found is None


# --- the 2xx rule ---------------------------------------------------------------------


def _in_band_cases() -> list[Any]:
    return [case for case in _cases() if case.values[0]["expect"].get("in_band")]


def _parse(case: dict[str, Any], **options: Any) -> errorkit.ErrorInfo | None:
    return errorkit.parse(case["status"], case.get("headers") or {}, _body(case), **options)


def test_in_band_samples_exist() -> None:
    """The samples hold in-band errors inside a 200 (Slack, GraphQL, Cloudflare)."""
    formats = {case.values[0]["expect"]["format"] for case in _in_band_cases()}
    assert {"slack", "graphql"} <= formats
    assert all(case.values[0]["status"] < 400 for case in _in_band_cases())


@pytest.mark.parametrize("case", _in_band_cases())
def test_in_band_errors_are_reported_only_on_request(case: dict[str, Any]) -> None:
    """By default a 2xx carrying an in-band error is a success; with in_band=True, an error."""
    assert _parse(case) is None
    info = _parse(case, in_band=True)
    assert info is not None
    assert info.format == case["expect"]["format"]
    assert info.status == case["status"]
    assert info.retryable_reason.startswith(f"{case['status']} in-band error")


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"ok": True, "channel": "C1"}),
        json.dumps({"data": {"me": None}}),
        "<html><title>ok: false</title></html>",
        "",
    ],
)
def test_a_success_without_an_in_band_error_is_none_either_way(body: str) -> None:
    """A 200 whose body reports no in-band error is a success even with in_band=True."""
    assert errorkit.parse(200, {}, body) is None
    assert errorkit.parse(200, {}, body, in_band=True) is None


def test_in_band_needs_the_whole_json_body() -> None:
    """A Slack error cut at the bound is not JSON, so not an in-band error."""
    body = json.dumps({"ok": False, "error": "ratelimited", "pad": "x" * 100})
    assert errorkit.parse(200, {}, body, in_band=True) is not None
    assert errorkit.parse(200, {}, body, in_band=True, max_body=30) is None


def test_a_user_in_band_shape_must_be_json() -> None:
    """A recognizer that flags a non-JSON success body in-band does not make it an error."""

    @shape("xml-in-band")
    def xml_in_band(doc: Document) -> Extracted | None:
        return Extracted(format="xml-in-band", message="m", in_band=True)

    register_format(xml_in_band)
    assert errorkit.parse(200, {}, "<fault/>", in_band=True) is None
    assert errorkit.parse(200, {}, '{"fault": 1}', in_band=True) is not None


@pytest.mark.parametrize("status", [200, 201, 204, 301, 304, 399])
def test_a_success_body_is_never_read_by_default(
    status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default, a success returns None without decoding its body or its JSON."""

    def fail(*args: object, **kwargs: object) -> object:
        pytest.fail("the body of a success was decoded")

    monkeypatch.setattr("errorkit._parse.build_document", fail)
    monkeypatch.setattr("errorkit._parse.normalize_headers", fail)
    monkeypatch.setattr(json, "loads", fail)  # the one the document builder calls
    body = b'{"ok": false, "error": "ratelimited"}'
    assert errorkit.parse(status, {"Content-Type": "application/json"}, body) is None
    # the stand-ins are live: asking for in-band errors reaches them
    with pytest.raises(pytest.fail.Exception):
        errorkit.parse(status, {"Content-Type": "application/json"}, body, in_band=True)
