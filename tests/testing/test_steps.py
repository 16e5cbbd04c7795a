"""Step factories: what they encode and what they refuse, without sockets."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import zlib

import pytest

from errorkit.testing import (
    Bomb,
    Dynamic,
    Headers,
    RecordedRequest,
    Respond,
    bomb,
    drop,
    echo_request,
    header_flood,
    huge_body,
    reset_mid_body,
    respond,
    slow_body,
    stall,
)


def test_respond_defaults_to_an_empty_200() -> None:
    """`respond()` is a 200 with no headers, no body, no delay, keep-alive."""
    assert respond() == Respond(status=200, headers=(), body=b"")


@pytest.mark.parametrize(
    ("body", "data", "content_type"),
    [
        ({"a": [1, 2]}, b'{"a":[1,2]}', "application/json"),
        ([1, "x"], b'[1,"x"]', "application/json"),
        ("héllo", "héllo".encode(), "text/plain; charset=utf-8"),
        (b"\x00", b"\x00", None),
        (None, b"", None),
    ],
)
def test_respond_encodes_the_body_by_type(
    body: object, data: bytes, content_type: str | None
) -> None:
    """dict/list become compact JSON, str UTF-8 text, bytes and None pass through."""
    step = respond(200, body=body)  # type: ignore[arg-type]
    assert step.body == data
    assert dict(step.headers).get("Content-Type") == content_type


def test_given_content_type_wins() -> None:
    """A Content-Type passed in headers (any case) is not overridden by the body's type."""
    step = respond(200, {"content-type": "application/problem+json"}, {"title": "x"})
    assert step.headers == (("content-type", "application/problem+json"),)


def test_headers_accept_pairs_and_numbers() -> None:
    """Headers may be a list of pairs with repeats; numeric values become strings."""
    step = respond(429, [("Retry-After", 5), ("X-A", "1"), ("X-A", "2")])
    assert step.headers == (("Retry-After", "5"), ("X-A", "1"), ("X-A", "2"))


@pytest.mark.parametrize("headers", ["body by mistake", b"bytes", {"ok": True}, {"e": {"x": 1}}])
def test_a_body_passed_as_headers_is_refused(headers: object) -> None:
    """`respond(200, {"ok": True})` (a body in the headers slot) raises a TypeError."""
    with pytest.raises(TypeError):
        respond(200, headers)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [0, 99, 1000])
def test_status_must_have_three_digits(status: int) -> None:
    """A status outside 100-999 is refused by every factory that takes one."""
    for factory in (respond, slow_body, reset_mid_body, header_flood, echo_request):
        with pytest.raises(ValueError, match="three-digit"):
            factory(status)
    with pytest.raises(ValueError, match="three-digit"):
        bomb(status, decoded_bytes=1)
    with pytest.raises(ValueError, match="three-digit"):
        huge_body(10, status)


def test_negative_knobs_are_refused() -> None:
    """Negative delays, chunk counts, sizes and stall times are refused."""
    with pytest.raises(ValueError, match="negative"):
        respond(delay=-1)
    with pytest.raises(ValueError, match="negative"):
        respond(chunked=-1)
    with pytest.raises(ValueError, match="negative"):
        huge_body(-1)
    with pytest.raises(ValueError, match="negative"):
        stall(-1)
    with pytest.raises(ValueError, match="chunk"):
        slow_body(chunk=0)


def test_reset_mid_body_sent_bytes_must_be_inside_the_body() -> None:
    """`sent_bytes` defaults to half the body and must be less than its length."""
    assert reset_mid_body(200, b"0123456789").sent_bytes == 5
    with pytest.raises(ValueError, match="sent_bytes"):
        reset_mid_body(200, b"0123", 4)


def test_steps_are_frozen_and_comparable() -> None:
    """Steps are immutable values: equal when built alike, unchangeable after."""
    assert drop() == drop()
    assert stall(1) != stall(2)
    step = respond(500)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.status = 200  # type: ignore[misc]


def test_chunked_true_means_one_chunk() -> None:
    """`chunked=True` is stored as one chunk."""
    assert respond(chunked=True).chunked == 1


def test_slow_body_accepts_an_infinite_interval_and_refuses_nan() -> None:
    """``interval=math.inf`` means headers then a stall; NaN is no interval at all."""
    assert slow_body(interval=math.inf).interval == math.inf
    with pytest.raises(ValueError, match="interval"):
        slow_body(interval=math.nan)
    with pytest.raises(ValueError, match="interval"):
        slow_body(interval=-0.1)


# -- bomb ----------------------------------------------------------------------------


def test_bomb_defaults_to_a_gib_of_brotli_on_503() -> None:
    """`bomb()` is a 503 of 1 GiB of zeros as br, JSON-typed, with a Content-Length."""
    step = bomb()
    assert step == Bomb(headers=(("Content-Type", "application/json"),))
    assert (step.status, step.encoding, step.decoded_bytes, step.chunked) == (
        503,
        "br",
        1 << 30,
        False,
    )
    assert 1000 <= len(step.body) <= 2048


def test_bomb_bodies_are_built_once_per_encoding_and_size() -> None:
    """The compressed bytes are cached: a second bomb shares the first one's body."""
    first = bomb(encoding="gzip", decoded_bytes=5 << 20)
    again = bomb(500, encoding="gzip", decoded_bytes=5 << 20, chunked=True)
    assert again.body is first.body
    assert bomb(encoding="deflate", decoded_bytes=5 << 20).body is not first.body
    assert zlib.decompress(first.body, 31) == bytes(5 << 20)


def test_a_bomb_built_directly_compresses_on_first_use() -> None:
    """`Bomb(...)` without the factory still has a valid body, built when first read."""
    step = Bomb(encoding="deflate", decoded_bytes=12345)
    assert zlib.decompress(step.body) == bytes(12345)


def test_bomb_repr_does_not_dump_the_body() -> None:
    """The repr names the encoding and size, not a megabyte of compressed bytes."""
    text = repr(bomb(encoding="gzip", decoded_bytes=1 << 20))
    assert "encoding='gzip'" in text
    assert "decoded_bytes=1048576" in text
    assert len(text) < 300


def test_bomb_given_content_type_wins() -> None:
    """A Content-Type given (any case) replaces the JSON default."""
    step = bomb(encoding="gzip", decoded_bytes=1, headers={"content-type": "text/html"})
    assert step.headers == (("content-type", "text/html"),)


@pytest.mark.parametrize("encoding", ["", "identity", "compress", "BR", "x-gzip"])
def test_bomb_refuses_other_encodings(encoding: str) -> None:
    """Only gzip, deflate, br and zstd are bombs; the error names the argument."""
    with pytest.raises(ValueError, match="encoding must be one of gzip, deflate, br, zstd"):
        bomb(encoding=encoding)


@pytest.mark.parametrize("decoded_bytes", [-1, 1.5, True, "10"])
def test_bomb_refuses_a_bad_size(decoded_bytes: object) -> None:
    """`decoded_bytes` is an int >= 0 (not a bool, float or str)."""
    with pytest.raises(ValueError, match="decoded_bytes"):
        bomb(encoding="gzip", decoded_bytes=decoded_bytes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("encoding", "package"), [("br", "brotli"), ("zstd", "zstandard")])
def test_bomb_names_a_missing_package(
    monkeypatch: pytest.MonkeyPatch, encoding: str, package: str
) -> None:
    """Without its package, a br or zstd bomb fails at construction, naming the package,
    even when a bomb of that size is already cached."""
    bomb(encoding=encoding, decoded_bytes=7)
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ImportError, match=f"needs the '{package}' package") as caught:
        bomb(encoding=encoding, decoded_bytes=7)
    assert caught.value.name == package


def test_bomb_gzip_header_is_deterministic() -> None:
    """gzip bombs carry mtime 0, so the same bomb is the same bytes in every run."""
    body = bomb(encoding="gzip", decoded_bytes=10).body
    assert body[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


# -- header_flood --------------------------------------------------------------------


def test_header_flood_orders_fillers_given_headers_then_computed() -> None:
    """Numbered fillers first, then the given headers, then Content-Type and Length."""
    step = header_flood(429, 3, headers={"Retry-After": 5}, body={"a": 1})
    assert step == Respond(
        status=429,
        headers=(
            ("X-Filler-0", "x"),
            ("X-Filler-1", "x"),
            ("X-Filler-2", "x"),
            ("Retry-After", "5"),
            ("Content-Type", "application/json"),
            ("Content-Length", "7"),
        ),
        body=b'{"a":1}',
    )


def test_header_flood_defaults_to_600_fillers_on_503() -> None:
    """`header_flood()` is a 503 with 600 one-byte fillers and an empty body."""
    step = header_flood()
    assert step.status == 503
    assert len(step.headers) == 601
    assert step.headers[599] == ("X-Filler-599", "x")
    assert step.headers[600] == ("Content-Length", "0")


def test_header_flood_repeat_and_value_bytes() -> None:
    """`repeat` uses `name` unnumbered; `value_bytes` sets each value's length."""
    step = header_flood(count=2, name="Set-Cookie", value_bytes=3, repeat=True)
    assert step.headers[:2] == (("Set-Cookie", "xxx"), ("Set-Cookie", "xxx"))


def test_header_flood_leaves_a_given_length_and_bodiless_statuses_alone() -> None:
    """A given Content-Length is kept as the only one; 204 and 1xx get none."""
    given = header_flood(200, 1, headers={"content-length": "99"}, body=b"x")
    assert given.headers == (("X-Filler-0", "x"), ("content-length", "99"))
    assert header_flood(204, 1).headers == (("X-Filler-0", "x"),)
    assert header_flood(103, 0).headers == ()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"count": -1}, "count"),
        ({"count": 2.0}, "count"),
        ({"value_bytes": 0}, "value_bytes"),
        ({"name": ""}, "name"),
        ({"name": "X Filler"}, "name"),
        ({"name": "X:Y"}, "name"),
        ({"name": "X\r\nInjected: 1"}, "name"),
    ],
)
def test_header_flood_refuses_bad_arguments(kwargs: dict[str, object], argument: str) -> None:
    """Negative or fractional counts, empty values and non-token names are refused."""
    with pytest.raises(ValueError, match=argument):
        header_flood(**kwargs)  # type: ignore[arg-type]


# -- echo_request --------------------------------------------------------------------


def _request(target: str, pairs: tuple[tuple[str, str], ...], body: bytes = b"") -> RecordedRequest:
    return RecordedRequest(method="POST", target=target, headers=Headers(pairs), body=body)


def test_echo_request_is_a_comparable_dynamic_step() -> None:
    """`echo_request` is a `Dynamic` step whose chooser is a value: alike steps are equal."""
    step = echo_request()
    assert isinstance(step, Dynamic)
    assert step == echo_request(401)
    assert step != echo_request(403)
    assert echo_request(headers={"A": "1"}) != echo_request()


def test_echo_request_builds_the_echo_from_the_request() -> None:
    """The chosen step is a JSON response quoting credentials and echoing every header."""
    request = _request(
        "/t?sig=s1",
        (
            ("X-Session-Token", "st"),
            ("Accept", "*/*"),
            ("Proxy-Authorization", "Basic cDpx"),
            ("Client-Secret", "cs"),
        ),
        b'{"password":"pw"}',
    )
    step = echo_request(headers=[("WWW-Authenticate", "Basic")], echo_body=True).choose(request)
    assert isinstance(step, Respond)
    assert step.status == 401
    assert ("WWW-Authenticate", "Basic") in step.headers
    error = json.loads(step.body)["error"]
    assert error["message"] == (
        "Invalid credentials for POST /t?sig=s1: X-Session-Token: st, "
        "Proxy-Authorization: Basic cDpx, Client-Secret: cs"
    )
    assert error["request"]["headers"]["Accept"] == "*/*"
    assert error["request"]["body"] == {"password": "pw"}


def test_echo_request_leaves_the_body_out_by_default() -> None:
    """Without `echo_body`, ``request`` has exactly method, target and headers."""
    step = echo_request().choose(_request("/", (), b"secret"))
    assert isinstance(step, Respond)
    assert set(json.loads(step.body)["error"]["request"]) == {"method", "target", "headers"}


def test_echo_request_echoes_undecodable_bodies_as_text() -> None:
    """A body that is not UTF-8 is echoed with replacement characters, not refused."""
    step = echo_request(echo_body=True).choose(_request("/", (), b"\xff\xfepw"))
    assert isinstance(step, Respond)
    assert json.loads(step.body)["error"]["request"]["body"] == "\ufffd\ufffdpw"
