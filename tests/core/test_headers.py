"""normalize_headers(): every headers object a stack or a caller hands us."""

from __future__ import annotations

import http.client
import io
import time
from typing import TYPE_CHECKING

import httpx
import multidict
import pytest
import requests.structures
import urllib3
from hypothesis import given
from hypothesis import strategies as st

import errorkit
from errorkit._headers import (
    MAX_HEADER_BLOCK,
    MAX_HEADER_FIELDS,
    MAX_HEADER_ITEMS,
    MAX_HEADER_VALUE,
    READ_FIELDS,
    normalize_headers,
)
from errorkit._hints import _HINT_HEADERS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def test_dict_names_are_lowercased_and_values_stripped() -> None:
    """A plain dict comes back with lower-cased names and trimmed values."""
    assert normalize_headers({"Retry-After": " 5 ", "X-Request-ID": "abc"}) == {
        "retry-after": "5",
        "x-request-id": "abc",
    }


def test_httpx_headers_keep_repeated_fields() -> None:
    """httpx.Headers repeated fields are joined with ", " via multi_items()."""
    headers = httpx.Headers([("X-A", "1"), ("x-a", "2"), ("Retry-After", "5")])
    assert normalize_headers(headers) == {"x-a": "1, 2", "retry-after": "5"}


def test_requests_case_insensitive_dict() -> None:
    """requests' CaseInsensitiveDict is read through items()."""
    headers = requests.structures.CaseInsensitiveDict({"Retry-After": "5"})
    assert normalize_headers(headers) == {"retry-after": "5"}


def test_urllib3_header_dict_repeated_fields() -> None:
    """urllib3's HTTPHeaderDict yields each repeated field, and they are joined."""
    headers = urllib3.HTTPHeaderDict()
    headers.add("X-A", "1")
    headers.add("x-a", "2")
    assert normalize_headers(headers) == {"x-a": "1, 2"}


def test_aiohttp_multidict() -> None:
    """aiohttp's CIMultiDictProxy (multidict) is read with every repeated field."""
    headers = multidict.CIMultiDictProxy(multidict.CIMultiDict([("X-A", "1"), ("x-a", "2")]))
    assert normalize_headers(headers) == {"x-a": "1, 2"}


def test_http_client_message() -> None:
    """http.client.HTTPMessage (what urllib.request returns) is read through items()."""
    message = http.client.parse_headers(io.BytesIO(b"Retry-After: 7\r\nX-A: 1\r\nX-A: 2\r\n\r\n"))
    assert normalize_headers(message) == {"retry-after": "7", "x-a": "1, 2"}


def test_list_of_pairs_with_bytes() -> None:
    """Bytes names and values are decoded as latin-1, as on the wire."""
    assert normalize_headers([(b"Retry-After", b"5"), (b"X-Name", b"caf\xe9")]) == {
        "retry-after": "5",
        "x-name": "caf\u00e9",
    }


def test_bad_pairs_are_skipped_one_by_one() -> None:
    """A malformed item costs only itself: the good pairs around it survive."""
    items: list[object] = [
        ("Retry-After", "5"),
        ("only-a-name",),
        42,
        None,
        ("x-none", None),
        ("x-object", object()),
        (object(), "value"),
        ("", "empty name"),
        ("X-Request-Id", "abc"),
    ]
    assert normalize_headers(items) == {"retry-after": "5", "x-request-id": "abc"}


def test_numbers_and_value_lists() -> None:
    """Numeric values become text and a list of values counts as repeated fields."""
    assert normalize_headers({"Retry-After": 5, "X-A": ["1", b"2"], "X-F": 1.5}) == {
        "retry-after": "5",
        "x-a": "1, 2",
        "x-f": "1.5",
    }


def test_header_lines_and_raw_block() -> None:
    """'Name: value' lines, alone or as one raw block, are split on the first colon."""
    block = "HTTP/1.1 429 Oops\r\nRetry-After: 5\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT"
    assert normalize_headers(block) == {
        "retry-after": "5",
        "date": "Sun, 06 Nov 1994 08:49:37 GMT",
    }
    assert normalize_headers(["Retry-After: 5", "no colon here"]) == {"retry-after": "5"}
    assert normalize_headers(b"X-A: 1\nX-A: 2") == {"x-a": "1, 2"}


@pytest.mark.parametrize("junk", [None, 0, 42, 1.5, object(), {}, [], "", b"", True])
def test_junk_gives_no_headers(junk: object) -> None:
    """Anything that is not a headers object gives an empty dict, never an error."""
    assert normalize_headers(junk) == {}


class _Hostile:
    """A mapping-like object whose every method raises."""

    def items(self) -> Iterator[tuple[str, str]]:
        yield ("Retry-After", "5")
        raise RuntimeError("boom")

    def __bool__(self) -> bool:
        raise RuntimeError("boom")


class _NoItems:
    """An object whose items attribute raises when looked up."""

    @property
    def items(self) -> object:
        raise RuntimeError("boom")


class _HostileName(str):
    """A str whose strip() raises."""

    __slots__ = ()

    def strip(self, chars: str | None = None) -> str:  # noqa: ARG002 - str's signature
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    "hostile",
    [_Hostile(), _NoItems(), [(_HostileName("X-A"), "1"), ("X-B", "2")]],
    ids=["raises mid-iteration", "items raises", "name raises"],
)
def test_hostile_objects_raise_but_parse_answers(hostile: object) -> None:
    """A headers object that raises while read lets that error out; parse() still answers."""
    with pytest.raises(RuntimeError, match="boom"):
        normalize_headers(hostile)
    info = errorkit.parse(429, hostile, b'{"error": "slow down"}')
    assert info is not None
    assert (info.status, info.format) == (429, "unparsed")


def test_values_and_fields_are_bounded() -> None:
    """Values are cut at MAX_HEADER_VALUE and at most MAX_HEADER_FIELDS items are read."""
    long = normalize_headers({"x-long": "a" * (MAX_HEADER_VALUE * 2)})
    assert len(long["x-long"]) == MAX_HEADER_VALUE
    many = normalize_headers([(f"x-{i}", "v") for i in range(MAX_HEADER_FIELDS * 2)])
    assert len(many) == MAX_HEADER_FIELDS
    joined = normalize_headers([("x-a", "b" * 5000), ("x-a", "c" * 5000)])
    assert len(joined["x-a"]) == MAX_HEADER_VALUE


def test_endless_iterable_is_cut() -> None:
    """An endless stream of junk items stops after MAX_HEADER_ITEMS items."""

    def endless() -> Iterator[object]:
        while True:
            yield 1

    assert normalize_headers(endless()) == {}


FILLER = [(f"X-Filler-{i}", "v") for i in range(600)]
HINTS = [("Retry-After", "3600"), ("X-Should-Retry", "false"), ("X-Request-Id", "req-1")]


@pytest.mark.parametrize(
    "make",
    [
        list,
        dict,
        httpx.Headers,
        lambda pairs: multidict.CIMultiDictProxy(multidict.CIMultiDict(pairs)),
        urllib3.HTTPHeaderDict,
        requests.structures.CaseInsensitiveDict,
    ],
    ids=["pairs", "dict", "httpx", "aiohttp", "urllib3", "requests"],
)
def test_the_fields_errorkit_reads_are_kept_after_a_flood(make: Callable[..., object]) -> None:
    """Retry-After and x-should-retry after 600 other fields are found, whatever the type."""
    headers = normalize_headers(make(FILLER + HINTS))
    assert (headers["retry-after"], headers["x-should-retry"]) == ("3600", "false")
    assert headers["x-request-id"] == "req-1"
    assert len(headers) == MAX_HEADER_FIELDS + len(HINTS)


def test_a_hint_after_a_flood_still_decides_through_parse() -> None:
    """httpx's headers with 600 fillers before Retry-After: 3600 give the 3600 s hint."""
    info = errorkit.parse(503, httpx.Headers(FILLER + HINTS), b"")
    assert info is not None
    assert (info.retry_after, info.should_retry, info.request_id) == (3600.0, False, "req-1")


def test_a_read_field_is_found_up_to_the_walk_bound() -> None:
    """The walk ends after MAX_HEADER_ITEMS items, more than any stack hands over."""
    filler = [("x-filler", "v")] * (MAX_HEADER_ITEMS - 1)
    assert normalize_headers([*filler, ("Retry-After", "5")])["retry-after"] == "5"
    assert "retry-after" not in normalize_headers([*filler, ("x", "y"), ("Retry-After", "5")])


def test_read_fields_cover_every_header_errorkit_reads() -> None:
    """Every hint field read_hints looks at, the Date and the shapes' fields are always kept."""
    shapes = {"content-type", "www-authenticate", "x-amzn-errortype"}
    assert _HINT_HEADERS | {"date"} | shapes <= READ_FIELDS


def test_a_flood_of_big_fields_stays_bounded() -> None:
    """5000 fields of 1 MB each keep at most MAX_HEADER_FIELDS values of MAX_HEADER_VALUE."""
    huge = "x" * 1_000_000
    started = time.perf_counter()
    headers = normalize_headers([*((f"x-{i}", huge) for i in range(5000)), ("Retry-After", "7")])
    assert time.perf_counter() - started < 1.0
    assert headers["retry-after"] == "7"
    assert len(headers) == MAX_HEADER_FIELDS + 1
    assert max(map(len, headers.values())) == MAX_HEADER_VALUE


def test_a_field_repeated_5000_times_stays_bounded() -> None:
    """A field sent 5000 times with 1 MB values is joined only up to MAX_HEADER_VALUE."""
    started = time.perf_counter()
    headers = normalize_headers([("Set-Cookie", "x" * 1_000_000)] * 5000 + [("X-Request-Id", "r")])
    assert time.perf_counter() - started < 1.0
    assert (len(headers["set-cookie"]), headers["x-request-id"]) == (MAX_HEADER_VALUE, "r")


def test_huge_raw_block_is_cut() -> None:
    """A raw header block is read only up to MAX_HEADER_BLOCK characters."""
    block = "X-A: 1\n" + "x" * (MAX_HEADER_BLOCK * 2) + "\nX-B: 2"
    assert normalize_headers(block) == {"x-a": "1"}


_text = st.one_of(st.text(max_size=30), st.binary(max_size=30))
_value = st.one_of(_text, st.integers(), st.floats(), st.none(), st.lists(_text, max_size=3))


@given(
    st.one_of(
        st.lists(st.one_of(st.tuples(_text, _value), _text, st.integers(), st.none())),
        st.dictionaries(_text, _value),
        _text,
        st.integers(),
        st.none(),
    )
)
def test_never_raises_and_returns_text(headers: object) -> None:
    """Whatever it is given, the result maps lower-case str names to str values."""
    result = normalize_headers(headers)
    for name, value in result.items():
        assert isinstance(name, str)
        assert isinstance(value, str)
        assert name
        assert name == name.strip().lower()
