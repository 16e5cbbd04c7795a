"""Raw HTTP response text (what `curl -i` prints) -> status, headers, body."""

from __future__ import annotations

import re
from dataclasses import dataclass

_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)?[ \t]+(\d{3})(?:[ \t][^\r\n]*)?$")


class NotHTTPError(ValueError):
    """The text does not start with an HTTP status line."""


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_raw_response(data: bytes) -> RawResponse:
    """Split raw response text; with several responses (100 Continue, a proxy's
    CONNECT answer, redirects followed by `curl -iL`), the last one wins."""
    blocks = _responses(data.lstrip(b"\r\n\t "))
    if not blocks:
        first = data.lstrip()[:60].decode("utf-8", "replace")
        raise NotHTTPError(
            "not an HTTP response: expected a status line like "
            f"'HTTP/1.1 429 Too Many Requests', got {first!r}"
        )
    return blocks[-1]


def _responses(data: bytes) -> list[RawResponse]:
    found: list[RawResponse] = []
    rest = data
    for _ in range(32):  # bounded: curl -iL prints at most a few hops
        response, rest = _one(rest)
        if response is None:
            break
        found.append(response)
        if not _STATUS_LINE.match(rest.split(b"\n", 1)[0].rstrip(b"\r")):
            if found:
                found[-1] = RawResponse(response.status, response.headers, rest)
            break
    return found


def _one(data: bytes) -> tuple[RawResponse | None, bytes]:
    head, sep, rest = _split_head(data)
    if not sep:
        head, rest = data, b""
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    match = _STATUS_LINE.match(lines[0].rstrip(b"\r"))
    if match is None:
        return None, data
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip():
            headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    return RawResponse(int(match.group(1)), headers, b""), rest


def _split_head(data: bytes) -> tuple[bytes, bytes, bytes]:
    crlf, lf = data.find(b"\r\n\r\n"), data.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        return data[:crlf], b"\r\n\r\n", data[crlf + 4 :]
    if lf != -1:
        return data[:lf], b"\n\n", data[lf + 2 :]
    return data, b"", b""
