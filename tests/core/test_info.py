"""The carriers' fast constructors build exactly what their dataclass constructors build."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

import errorkit
from errorkit._formats._base import Document, Extracted, document, extracted
from errorkit._info import Category, ErrorInfo, builder, fast_frozen_init


def test_builder_matches_the_constructor() -> None:
    """Given fields are kept, absent ones read the defaults, factories give fresh values."""
    fast = extracted(format="openai", message="m", code="c")
    slow = Extracted(format="openai", message="m", code="c")
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert (fast.details, fast.retryable, fast.in_band, fast.extra) == ((), None, False, {})
    assert extracted(format="x").extra is not extracted(format="x").extra
    made = document(status=400, headers={}, media_type="", text="", json=None)
    assert made == Document(status=400, headers={}, media_type="", text="", json=None)


def test_carriers_stay_frozen_and_picklable() -> None:
    """A built value refuses assignment, pickles, and `dataclasses.replace` works on it."""
    info = errorkit.parse(429, {"Retry-After": "3"}, b'{"error": {"message": "slow down"}}')
    assert info is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.message = "changed"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(info)) == info
    assert dataclasses.replace(info, message="other").message == "other"
    assert dataclasses.asdict(info)["retry_after"] == 3.0
    found = extracted(format="x", code="c")
    assert pickle.loads(pickle.dumps(found)) == found


def test_fast_init_keeps_signature_defaults_and_errors() -> None:
    """The generated ``__init__`` takes keywords only, applies defaults and factories."""
    info = ErrorInfo(status=500, category=Category.SERVER, message="boom")
    assert (info.code, info.details, info.format, info.retryable_reason) == (None, (), "empty", "")
    with pytest.raises(TypeError):
        ErrorInfo(500, Category.SERVER, "boom")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ErrorInfo(status=500, category=Category.SERVER)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ErrorInfo(status=500, category=Category.SERVER, message="m", nope=1)  # type: ignore[call-arg]
    assert Extracted(format="x").extra == {}
    assert Extracted(format="x").extra is not Extracted(format="x").extra


def test_only_plain_frozen_keyword_dataclasses_are_accepted() -> None:
    """Slots, mutability, positional fields and __post_init__ are refused with TypeError."""

    @dataclass(frozen=True, slots=True, kw_only=True)
    class Slotted:
        a: int

    @dataclass(kw_only=True)
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Positional:
        a: int

    @dataclass(frozen=True, kw_only=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, kw_only=True)
    class Hidden:
        a: int
        b: list[int] = field(default_factory=list, init=False)

    for cls in (Slotted, Mutable, Positional, Checked, Hidden):
        with pytest.raises(TypeError, match="plain frozen"):
            fast_frozen_init(cls)
        with pytest.raises(TypeError, match="plain frozen"):
            builder(cls)
