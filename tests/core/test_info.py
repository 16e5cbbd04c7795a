"""The carriers are plain frozen dataclasses: keyword-only, slotted, checked, copyable."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

import errorkit
from errorkit import Document, ErrorInfo, Extracted
from errorkit._hints import ServerHints
from errorkit._info import Category

CARRIERS: list[tuple[type[Any], dict[str, Any]]] = [
    (ErrorInfo, {"status": 500, "category": Category.SERVER, "message": "boom"}),
    (Extracted, {"format": "x"}),
    (Document, {"status": 400, "headers": {}, "media_type": "", "text": ""}),
    (ServerHints, {}),
]
IDS = [cls.__name__ for cls, _ in CARRIERS]


@pytest.mark.parametrize(("cls", "fields"), CARRIERS, ids=IDS)
def test_carriers_are_frozen_and_slotted(cls: type[Any], fields: dict[str, Any]) -> None:
    """Assignment raises, and instances have slots instead of a __dict__."""
    value = cls(**fields)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, name, None)
    assert "__slots__" in vars(cls)
    assert not hasattr(value, "__dict__")


@pytest.mark.parametrize(("cls", "fields"), CARRIERS, ids=IDS)
def test_carriers_take_keywords_only(cls: type[Any], fields: dict[str, Any]) -> None:
    """Every field is keyword-only: a positional argument raises TypeError."""
    assert all(field.kw_only for field in dataclasses.fields(cls))
    with pytest.raises(TypeError):
        cls(*(list(fields.values()) or [None]))


def test_a_misspelt_field_raises() -> None:
    """A typo in a field name is a TypeError for ErrorInfo and Extracted alike."""
    with pytest.raises(TypeError, match="mesage"):
        ErrorInfo(status=500, category=Category.SERVER, mesage="boom")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="mesage"):
        Extracted(format="x", mesage="typo")  # type: ignore[call-arg]


def test_required_fields_are_required() -> None:
    """ErrorInfo needs status, category and message; Extracted needs its format."""
    with pytest.raises(TypeError):
        ErrorInfo(status=500, category=Category.SERVER)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Extracted(message="x")  # type: ignore[call-arg]


def test_defaults_are_unchanged() -> None:
    """The public defaults: no code, no details, format "empty", a fresh extra dict."""
    info = ErrorInfo(status=500, category=Category.SERVER, message="boom")
    assert (info.code, info.details, info.format, info.retryable_reason) == (None, (), "empty", "")
    assert (info.retryable, info.retry_after, info.should_retry, info.body) == (
        False,
        None,
        None,
        None,
    )
    found = Extracted(format="x")
    assert (found.message, found.details, found.retryable, found.in_band, found.extra) == (
        None,
        (),
        None,
        False,
        {},
    )
    assert Extracted(format="x").extra is not Extracted(format="x").extra


def test_parsed_info_pickles_compares_and_replaces() -> None:
    """A parsed ErrorInfo pickles, compares by value, and `dataclasses.replace` copies it."""
    info = errorkit.parse(429, {"Retry-After": "3"}, b'{"error": {"message": "slow down"}}')
    assert info is not None
    assert pickle.loads(pickle.dumps(info)) == info
    changed = dataclasses.replace(info, message="other")
    assert changed.message == "other"
    assert changed != info
    assert dataclasses.replace(changed, message=info.message) == info
    assert dataclasses.asdict(info)["retry_after"] == 3.0
    with pytest.raises(TypeError):
        dataclasses.replace(info, mesage="typo")  # type: ignore[call-arg]


def test_extracted_pickles_and_replaces() -> None:
    """An Extracted with details and extra survives pickling and `replace`."""
    found = Extracted(format="x", code="c", details=({"a": 1},), extra={"k": "v"})
    assert pickle.loads(pickle.dumps(found)) == found
    assert dataclasses.replace(found, code="d").extra == {"k": "v"}


def test_repr_shows_the_safe_fields_and_never_the_body() -> None:
    """repr(ErrorInfo) is short, escapes and redacts its text, and leaves out body and details."""
    info = ErrorInfo(
        status=401,
        category=Category.AUTHENTICATION,
        message="bad token\nAuthorization: Bearer abcdefghijkl",
        code="invalid_api_key",
        body={"api_key": "BODYSECRET"},
        details=({"password": "DETAILSECRET"},),
    )
    assert repr(info) == (
        "ErrorInfo(status=401, category='authentication', "
        "message='bad token\\\\nAuthorization: Bearer ***', code='invalid_api_key', "
        "retryable=False, format='empty')"
    )
    assert info.body == {"api_key": "BODYSECRET"}  # the raw data stays, for programs


STRIPE_DECLINE = (
    b'{"error": {"type": "card_error", "code": "card_declined", "decline_code":'
    b' "insufficient_funds", "param": "card", "message": "Your card has insufficient funds.",'
    b' "doc_url": "https://stripe.com/docs/error-codes/card-declined"}}'
)


def test_extra_keeps_the_vendor_fields_read_only() -> None:
    """The other fields a shape carries reach `ErrorInfo.extra`, as sent, and stay put."""
    info = errorkit.parse(402, {"content-type": "application/json"}, STRIPE_DECLINE)
    assert info is not None
    assert dict(info.extra) == {
        "decline_code": "insufficient_funds",
        "param": "card",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
    }
    with pytest.raises(TypeError):
        info.extra["param"] = "other"  # type: ignore[index]
    assert "insufficient_funds" not in repr(info)  # raw server data, like body
    copied = pickle.loads(pickle.dumps(info))
    assert copied == info
    assert copied.extra == info.extra
    assert dataclasses.asdict(info)["extra"] == info.extra
    assert errorkit.parse(404, {}, b'{"message": "gone"}').extra == {}  # type: ignore[union-attr]


def test_extra_is_a_copy_of_what_the_caller_passed() -> None:
    fields = {"param": "card"}
    info = ErrorInfo(status=400, category=Category.BAD_REQUEST, message="m", extra=fields)
    fields["param"] = "changed"
    assert info.extra == {"param": "card"}
    assert info == ErrorInfo(
        status=400, category=Category.BAD_REQUEST, message="m", extra={"param": "card"}
    )
    assert hash(info) == hash(dataclasses.replace(info, extra={"other": 1}))


def test_a_pickled_exception_carries_extra_redacted() -> None:
    """A server that echoes a credential in a vendor field: the pickle hides it."""
    body = (
        b'{"error": {"type": "invalid_request_error", "message": "bad key",'
        b' "param": "Bearer sk_live_abcdefghijklmnopqrstuvwx"}}'
    )
    info = errorkit.parse(401, {"content-type": "application/json"}, body)
    assert info is not None
    assert "sk_live" in str(info.extra["param"])
    error = errorkit.AuthenticationError(info)
    restored = pickle.loads(pickle.dumps(error))
    assert "sk_live" not in pickle.dumps(error).decode("latin-1")
    assert restored.info.message == "bad key"
