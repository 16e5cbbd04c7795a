"""Step factories: what they encode and what they refuse, without sockets."""

from __future__ import annotations

import dataclasses

import pytest

from errorkit.testing import (
    Respond,
    drop,
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
    for factory in (respond, slow_body, reset_mid_body):
        with pytest.raises(ValueError, match="three-digit"):
            factory(status)
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
