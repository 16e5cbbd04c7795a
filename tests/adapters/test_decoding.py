"""`bounded_decode`: a compressed error body decoded for classification, never inflated."""

from __future__ import annotations

import gzip
import zlib

import brotli  # type: ignore[import-untyped]
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from errorkit._stacks.decoding import bounded_decode
from errorkit.testing import bomb

DATA = b'{"error": {"message": "slow down", "code": 429}} ' * 2000

ENCODED = {
    "gzip": gzip.compress(DATA),
    "x-gzip": gzip.compress(DATA),
    "deflate": zlib.compress(DATA),
    "br": brotli.compress(DATA),
    "zstd": zstandard.ZstdCompressor().compress(DATA),
}


@pytest.mark.parametrize("coding", sorted(ENCODED))
def test_decodes_whole_and_cut_at_the_limit(coding: str) -> None:
    raw = ENCODED[coding]
    assert bounded_decode(coding, raw, len(DATA) + 10) == DATA
    assert bounded_decode(coding, raw, 100) == DATA[:100]
    assert bounded_decode(coding.upper(), raw, 100) == DATA[:100]


def test_raw_deflate_as_servers_often_send_it() -> None:
    raw = zlib.compress(DATA)[2:-4]  # no zlib header or checksum
    assert bounded_decode("deflate", raw, 1000) == DATA[:1000]


def test_codings_are_undone_from_the_last() -> None:
    raw = gzip.compress(brotli.compress(DATA))  # "br, gzip": br first, then gzip
    assert bounded_decode("br, gzip", raw, 500) == DATA[:500]
    assert bounded_decode("identity, br , gzip", raw, 500) == DATA[:500]


@pytest.mark.parametrize("coding", sorted(ENCODED))
def test_a_cut_body_gives_what_decoded_before_the_cut(coding: str) -> None:
    raw = ENCODED[coding][: len(ENCODED[coding]) // 2]
    out = bounded_decode(coding, raw, len(DATA))
    assert DATA.startswith(out)


def test_no_coding_or_identity_is_the_raw_prefix() -> None:
    assert bounded_decode(None, b"abcdef", 3) == b"abc"
    assert bounded_decode("", b"abcdef", 10) == b"abcdef"
    assert bounded_decode("identity", b"abcdef", 4) == b"abcd"


def test_unknown_coding_or_zero_limit_gives_nothing() -> None:
    assert bounded_decode("compress", b"abc", 10) == b""
    assert bounded_decode("gzip", ENCODED["gzip"], 0) == b""


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_one_gib_bomb_gives_the_limit_only(coding: str) -> None:
    step = bomb(encoding=coding)
    out = bounded_decode(coding, step.body, 65536)
    assert out == b"\0" * 65536


@given(coding=st.sampled_from(["gzip", "deflate", "br", "zstd", "gzip, br", "x", None]),
       raw=st.binary(max_size=2048), limit=st.integers(0, 4096))  # fmt: skip
def test_never_raises_and_never_exceeds_the_limit(
    coding: str | None, raw: bytes, limit: int
) -> None:
    assert len(bounded_decode(coding, raw, limit)) <= limit
