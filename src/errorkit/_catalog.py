"""Catalogs: an API's documented errors (message/code -> cause -> what to do) as data.

A `Catalog` is a named tuple of `CatalogEntry` values. An entry selects errors by
exact ``message``, by message ``template`` (``"Unknown tool: {toolId}"``), by
``code``, or by ``status`` alone, optionally restricted to a ``status`` (``404``
or a class such as ``"4xx"``), and carries the ``hint`` shown to a person.

`lookup_hint` asks the registered catalogs in order, and each one, most specific
selector first:

1. exact message (case, whitespace and a final period ignored);
2. exact code (case ignored);
3. message templates (each compiled once into an anchored regex whose
   placeholders match 1 to 200 characters; a hint may quote a placeholder,
   ``{toolId}``).

The first answer wins. Only when no catalog answers are the status-only
entries of every catalog asked, in the same order: the exact status, then its
class (``"4xx"``). So a catalog registered with ``first=True`` (the default)
speaks for its API before any built-in one, yet a user's status-level advice
never hides a built-in catalog's specific entry.

Built-ins, loaded lazily from JSON under ``errorkit/catalogs/`` on the first
lookup: ``agents`` and ``onecli`` (the two seed references), then ``generic``
(status-level advice that applies to any API). ``agents`` comes first because it
matches codes only, and a coded error cannot be OneCLI's (OneCLI bodies carry
no code): "Insufficient permissions" with code ``forbidden`` gets the agents
advice. A user writes a catalog the same way as the built-ins:
``register_catalog(Catalog.from_json(path.read_text()))``.

A template is tried only when its catalog's exact selectors did not answer.

**Scope.** A catalog names the body shapes it speaks for (``formats``, the
`ErrorInfo.format` values of its API: ``["agents"]``); only those errors get its
advice, so the agents API's advice for ``rate_limit_exceeded`` never reaches an
OpenAI 429 with the same code. A catalog without ``formats`` (``generic``) speaks
for any API. Register yours with the shape its API parses as::

    register_catalog(Catalog.from_json('{"name": "acme", "formats": ["openai"], ...}'))
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

#: The built-in catalogs, in registry order.
BUILTIN_CATALOGS = ("agents", "onecli", "generic")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_STATUS_CLASS = re.compile(r"[1-5]xx")
_GROUP = ".{1,200}?"
_ENTRY_KEYS = frozenset({"message", "template", "code", "status", "hint"})
_MAX_MESSAGE = 4000


def _message_key(message: str) -> str:
    return " ".join(message[:_MAX_MESSAGE].split()).casefold().rstrip(".")


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogEntry:
    """One documented error and what to do about it.

    Attributes:
        hint: the text for a person: the cause and what to do. It may quote a
            template's placeholders (``{toolId}``).
        message: the exact message this entry matches, or None.
        template: a message with ``{name}`` placeholders, or None (not with `message`).
        code: the machine-readable code this entry matches (case ignored), or None.
        status: only match this status (``404``) or class (``"4xx"``); None for any.

    An entry with neither message, template nor code is a status-level fallback
    and needs a `status`. Invalid entries raise ValueError at construction.
    """

    hint: str
    message: str | None = None
    template: str | None = None
    code: str | None = None
    status: int | str | None = None
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_entry(self)
        if self.template is not None:
            object.__setattr__(self, "_pattern", _compile(self.template))

    def accepts(self, status: int | None, code: str) -> bool:
        """Whether the entry's status and code restrictions allow this error."""
        if self.code is not None and self.code.lower() != code:
            return False
        return _allows(self, status)

    def render(self, message: str) -> str | None:
        """The hint when `message` fits the template, placeholders filled; else None."""
        if self._pattern is None:
            return None
        match = self._pattern.fullmatch(message[:_MAX_MESSAGE].strip())
        if match is None:
            return None
        values = match.groupdict()
        return _PLACEHOLDER.sub(lambda m: values.get(m[1]) or m[0], self.hint)


def _allows(entry: CatalogEntry, status: int | None) -> bool:
    """Whether the entry's status restriction allows `status`."""
    if entry.status is None:
        return True
    if status is None:
        return False
    if isinstance(entry.status, int):
        return entry.status == status
    return entry.status[0] == str(status // 100)


def _check_entry(entry: CatalogEntry) -> None:
    if not _is_text(entry.hint):
        raise ValueError("a catalog entry needs a non-empty hint")
    for name in ("message", "template", "code"):
        value = getattr(entry, name)
        if value is not None and not _is_text(value):
            raise ValueError(f"catalog entry {name} must be a non-empty string")
    if entry.message is not None and entry.template is not None:
        raise ValueError("a catalog entry has a message or a template, not both")
    status = entry.status
    if isinstance(status, bool) or not (
        status is None
        or (isinstance(status, int) and 100 <= status <= 599)
        or (isinstance(status, str) and _STATUS_CLASS.fullmatch(status))
    ):
        raise ValueError(f"catalog entry status must be 100-599 or like '4xx', not {status!r}")
    if entry.message is None and entry.template is None and entry.code is None and status is None:
        raise ValueError("a catalog entry needs a message, template, code or status")


def _compile(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    names: set[str] = set()
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match[1]
        if name in names:
            raise ValueError(f"placeholder {{{name}}} repeats in template {template!r}")
        names.add(name)
        parts.extend((re.escape(template[position : match.start()]), f"(?P<{name}>{_GROUP})"))
        position = match.end()
    if not names:
        raise ValueError(f"template {template!r} has no {{placeholder}}: use message")
    literal = template[position:].rstrip(".")
    parts.append(re.escape(literal) + r"\.?")
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """A named, ordered set of `CatalogEntry` values for one API (or for any API).

    Build one in code, or from data with `Catalog.from_dict` / `Catalog.from_json`
    (``{"name": ..., "description": ..., "entries": [{"message": ..., "status":
    400, "hint": ...}, ...]}``), then `register_catalog` it.
    """

    name: str
    entries: tuple[CatalogEntry, ...]
    description: str = ""
    formats: tuple[str, ...] = ()
    """The body shapes (`ErrorInfo.format`: ``"agents"``, ``"openai"``...) whose errors
    this catalog speaks for; empty, any API's. An API's catalog names its shape, so
    that its advice for a code never reaches another API that uses the same code."""

    def __post_init__(self) -> None:
        if not _is_text(self.name):
            raise ValueError("a catalog needs a non-empty name")
        entries = tuple(self.entries)
        if not all(isinstance(entry, CatalogEntry) for entry in entries):
            raise TypeError("catalog entries must be CatalogEntry values")
        object.__setattr__(self, "entries", entries)
        formats = tuple(self.formats)
        if not all(_is_text(name) for name in formats):
            raise ValueError("a catalog's formats are non-empty strings")
        object.__setattr__(self, "formats", formats)

    @classmethod
    def from_dict(cls, data: object) -> Catalog:
        """A catalog from decoded JSON; ValueError or TypeError if it is malformed."""
        if not isinstance(data, dict):
            raise TypeError("a catalog is a JSON object")
        raw_entries = data.get("entries")
        if not isinstance(raw_entries, list):
            raise TypeError("a catalog's entries are a JSON array")
        entries = tuple(_entry_from_dict(raw) for raw in raw_entries)
        formats = data.get("formats", [])
        if not isinstance(formats, list):
            raise TypeError("a catalog's formats are a JSON array")
        return cls(
            name=data.get("name", ""),
            description=str(data.get("description", "")),
            entries=entries,
            formats=tuple(formats),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Catalog:
        """A catalog from a JSON document (see `from_dict`)."""
        return cls.from_dict(json.loads(text))

    def lookup(
        self, status: int | None, message: str, code: str | None, shape: str | None = None
    ) -> str | None:
        """The hint this catalog alone gives for an error, or None (`shape`: as for
        `lookup_hint`)."""
        return _Index((self,)).lookup(status, message, code, shape)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _entry_from_dict(raw: object) -> CatalogEntry:
    if not isinstance(raw, dict):
        raise TypeError("a catalog entry is a JSON object")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"unknown catalog entry keys: {sorted(unknown)}")
    return CatalogEntry(**raw)


class _Selectors:
    """One catalog's message, code and template entries, for dict lookups."""

    __slots__ = ("codes", "formats", "messages", "templates")

    def __init__(self, formats: tuple[str, ...]) -> None:
        self.formats = frozenset(formats)
        self.messages: dict[str, list[CatalogEntry]] = {}
        self.codes: dict[str, list[CatalogEntry]] = {}
        self.templates: list[CatalogEntry] = []

    def speaks_for(self, shape: str | None) -> bool:
        """Whether the catalog answers for an error of body shape `shape` (None: not
        known, so every catalog does)."""
        return shape is None or not self.formats or shape in self.formats

    def lookup(self, status: int | None, key: str, text: str, code: str) -> str | None:
        for entry in self.messages.get(key, ()):
            if entry.accepts(status, code):
                return entry.hint
        for entry in self.codes.get(code, ()) if code else ():
            if entry.accepts(status, code):
                return entry.hint
        for entry in self.templates:
            if entry.accepts(status, code) and (hint := entry.render(text)) is not None:
                return hint
        return None


class _Index:
    """Every registered entry: selectors per catalog, status fallbacks pooled."""

    __slots__ = ("_cached", "catalogs", "statuses")

    def __init__(self, catalogs: tuple[Catalog, ...]) -> None:
        self.catalogs: list[_Selectors] = []
        self.statuses: dict[str, list[tuple[_Selectors, CatalogEntry]]] = {}
        for catalog in catalogs:
            selectors = _Selectors(catalog.formats)
            for entry in catalog.entries:
                self._add(selectors, entry)
            self.catalogs.append(selectors)
        # Cached: an API repeats a handful of errors, and an index never changes (a
        # registry change builds a new one), so a cached hint cannot go stale.
        self._cached = functools.lru_cache(maxsize=512)(self._lookup)

    def _add(self, selectors: _Selectors, entry: CatalogEntry) -> None:
        if entry.message is not None:
            selectors.messages.setdefault(_message_key(entry.message), []).append(entry)
        elif entry.template is not None:
            selectors.templates.append(entry)
        elif entry.code is not None:
            selectors.codes.setdefault(entry.code.lower(), []).append(entry)
        else:
            self.statuses.setdefault(str(entry.status), []).append((selectors, entry))

    def lookup(
        self, status: int | None, message: str, code: str | None, shape: str | None = None
    ) -> str | None:
        code_key = code.lower() if isinstance(code, str) else ""
        shape = shape if isinstance(shape, str) else None
        return self._cached(status, message if _is_text(message) else "", code_key, shape)

    def _lookup(
        self, status: int | None, text: str, code_key: str, shape: str | None
    ) -> str | None:
        key = _message_key(text)
        for selectors in self.catalogs:
            if selectors.speaks_for(shape):
                hint = selectors.lookup(status, key, text, code_key)
                if hint is not None:
                    return hint
        if status is None:
            return None
        for status_key in (str(status), f"{status // 100}xx"):
            for selectors, entry in self.statuses.get(status_key, ()):
                if selectors.speaks_for(shape):
                    return entry.hint
        return None


_lock = threading.Lock()
_registry: list[Catalog] | None = None
_index: _Index | None = None


def _builtins() -> list[Catalog]:
    catalogs = (_load_builtin(name) for name in BUILTIN_CATALOGS)
    return [catalog for catalog in catalogs if catalog is not None]


def _load_builtin(name: str) -> Catalog | None:
    """A built-in catalog from package data (None if the install lost it)."""
    try:
        path = resources.files("errorkit").joinpath("catalogs").joinpath(f"{name}.json")
        return Catalog.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):  # a broken install loses hints, not parse()
        return None


def _current() -> _Index:
    global _registry, _index  # noqa: PLW0603 - the registry is process-wide by design
    index = _index
    if index is not None:
        return index
    with _lock:
        if _registry is None:
            _registry = _builtins()
        if _index is None:
            _index = _Index(tuple(_registry))
        return _index


def _change(edit: Callable[[list[Catalog]], None]) -> None:
    """Apply `edit` to the registry list and rebuild the index."""
    global _index  # noqa: PLW0603 - the registry is process-wide by design
    _current()
    with _lock:
        assert _registry is not None  # noqa: S101 - _current() loaded it
        edit(_registry)
        _index = _Index(tuple(_registry))


def register_catalog(catalog: Catalog, *, first: bool = True) -> Catalog:
    """Add `catalog` to the registry and return it.

    With ``first=True`` (the default) it is asked before every registered catalog,
    built-ins included; with ``first=False``, after them. A catalog of the same
    name is replaced.
    """
    if not isinstance(catalog, Catalog):
        raise TypeError("register_catalog() takes a Catalog")

    def edit(registry: list[Catalog]) -> None:
        registry[:] = [known for known in registry if known.name != catalog.name]
        registry.insert(0 if first else len(registry), catalog)

    _change(edit)
    return catalog


def unregister_catalog(name: str) -> None:
    """Remove the catalog called `name` (KeyError if there is none)."""

    def edit(registry: list[Catalog]) -> None:
        kept = [known for known in registry if known.name != name]
        if len(kept) == len(registry):
            raise KeyError(name)
        registry[:] = kept

    _change(edit)


def catalog_names() -> tuple[str, ...]:
    """The registered catalogs' names, in the order they are asked."""
    _current()
    with _lock:
        return tuple(catalog.name for catalog in _registry or ())


def lookup_hint(
    status: int | None, message: str, code: str | None, shape: str | None = None
) -> str | None:
    """Remediation text for an error from the registered catalogs, or None.

    `shape`: the body's `ErrorInfo.format` (``""`` for a body of no known shape):
    only the catalogs that speak for it answer. None: not known, every catalog may.
    The module docstring gives the order.
    """
    return _current().lookup(status, message, code, shape)
