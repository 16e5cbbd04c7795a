"""What `FaultServer` recorded about each request it received."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


class Headers(Mapping[str, str]):
    """Request header fields in arrival order, looked up case-insensitively.

    As a mapping, a repeated field gives its first value; `get_all` gives every one.
    """

    __slots__ = ("_index", "_pairs")

    def __init__(self, pairs: tuple[tuple[str, str], ...] = ()) -> None:
        self._pairs = pairs
        index: dict[str, str] = {}
        for name, value in pairs:
            index.setdefault(name.lower(), value)
        self._index = index

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (name, value) pair as received, names in their original case."""
        return self._pairs

    def get_all(self, name: str) -> list[str]:
        """Every value of field `name`, in arrival order."""
        key = name.lower()
        return [value for field_name, value in self._pairs if field_name.lower() == key]

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One request as the server received it.

    Attributes:
        method: the request method (``GET``), or ``""`` if the request line was unreadable.
        target: the request target exactly as sent (origin form ``/p?q=1``, or absolute
            form ``http://host/p`` when the client talks to the server as a proxy).
        path: `target` up to the first ``?``.
        query: what follows the first ``?``, or ``""``.
        version: ``HTTP/1.1`` or ``HTTP/1.0``.
        headers: the header fields (`Headers`, case-insensitive).
        body: the body bytes, de-chunked when the request was chunked.
        t: `time.monotonic()` when the request head had fully arrived.
        conn_id: which connection carried it (1 for the first connection accepted).
        index: position among every request the server recorded since its last reset.
        error: why the request was rejected (the server answered 4xx), or None.
    """

    method: str
    target: str
    version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    t: float = 0.0
    conn_id: int = 0
    index: int = 0
    error: str | None = None

    @property
    def path(self) -> str:
        """The target up to the first ``?``."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The target after the first ``?``, or ``""``."""
        return self.target.partition("?")[2]

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header `name` (any case), or `default`."""
        return self.headers.get(name, default)

    def json(self) -> object:
        """The body decoded as JSON (raises `ValueError` if it is not JSON)."""
        return json.loads(self.body)

    def matches(self, path: str) -> bool:
        """Whether `path` names this request: its exact target, or its path."""
        return path in (self.target, self.path)
