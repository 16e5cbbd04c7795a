"""The ordered registry of recognizers, indexed by the top-level JSON keys they need.

`recognize()` reads one immutable `_Snapshot`, which every mutation replaces whole
under a lock, so a reader never sees a registry half changed. A recognizer's
optional ``keys`` names the top-level JSON keys one of which must be present for
it to be tried; the snapshot indexes recognizers by those keys.

Each recognizer call is guarded: one that raises is skipped (logged at DEBUG on
the ``errorkit`` logger), unless `errorkit.testing.strict_parsing()` is on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import replace

from errorkit._formats import (
    _aws,
    _azure,
    _frameworks,
    _google,
    _graphql,
    _jsonapi,
    _jsonrpc,
    _kubernetes,
    _oauth,
    _problem,
    _seeds,
    _vendors,
)
from errorkit._formats._base import Document, Extracted, Recognizer
from errorkit._formats._fields import informative, is_identifier, read_fields
from errorkit._formats._generic import fallback, reports_failure
from errorkit._formats._guard import STRICT, logger
from errorkit._formats._util import as_text

#: The built-in recognizers, most specific first. Fallbacks (WWW-Authenticate,
#: unknown JSON, HTML, XML, text, empty) are not registered: they always run last.
BUILTINS: tuple[Recognizer, ...] = (
    _vendors.anthropic,
    _vendors.slack,
    _vendors.cloudflare,
    _kubernetes.kubernetes,
    _problem.problem,
    _frameworks.spring,
    _frameworks.nestjs,
    _aws.aws,
    _jsonrpc.jsonrpc,
    _vendors.stripe,
    _vendors.openai,
    _seeds.agents,
    _google.google,
    _oauth.oauth,
    _vendors.huggingface,
    _seeds.onecli,
    _azure.azure,
    _azure.odata,
    _vendors.github,
    _vendors.discord,
    _graphql.graphql,
    _jsonapi.jsonapi,
    _google.grpc,
    _frameworks.fastapi,
    _aws.aws_xml,
    _frameworks.drf,
)


def keys_of(recognizer: object) -> frozenset[str] | None:
    """The recognizer's validated ``keys`` (None: tried for every body)."""
    keys = getattr(recognizer, "keys", None)
    if keys is None:
        return None
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
        raise TypeError("a recognizer's keys must be a set of strings or None")
    found = frozenset(keys)
    if not found or not all(isinstance(key, str) for key in found):
        raise TypeError("a recognizer's keys must be a non-empty set of strings or None")
    return found


class _Snapshot:
    """An immutable view of the registry with its key index."""

    __slots__ = ("always", "entries", "index", "names")

    def __init__(self, entries: tuple[Recognizer, ...]) -> None:
        self.entries = entries
        self.names = tuple(entry.name for entry in entries)
        always: set[int] = set()
        index: dict[str, set[int]] = {}
        for position, entry in enumerate(entries):
            keys = keys_of(entry)
            if keys is None:
                always.add(position)
            for key in keys or ():
                index.setdefault(key, set()).add(position)
        #: Positions of the recognizers tried for every body, and of the others by key.
        self.always = frozenset(always)
        self.index = {key: frozenset(positions) for key, positions in index.items()}

    def candidates(self, obj: dict[object, object]) -> list[Recognizer]:
        """The recognizers to try for a JSON object, in registry order."""
        positions = set(self.always)
        for key in self.index.keys() & obj.keys():
            positions |= self.index[key]
        return [self.entries[position] for position in sorted(positions)]

    def plain(self) -> list[Recognizer]:
        """The recognizers tried for a body that is not a JSON object."""
        return [self.entries[position] for position in sorted(self.always)]


_lock = threading.Lock()
_snapshot = _Snapshot(BUILTINS)


def recognize(doc: Document) -> Extracted:
    """The first registered recognizer's answer; text/html/empty fallbacks last."""
    snapshot = _snapshot
    obj = doc.json
    if isinstance(obj, dict):
        found = _first(snapshot.candidates(obj), doc)
    elif isinstance(obj, list) and obj and isinstance(obj[0], dict):
        # A batch or stream of error objects (GraphQL batches, Google streams):
        # the first element speaks for the response.
        found = _first(snapshot.candidates(obj[0]), replace(doc, json=obj[0]))
    else:
        found = _first(snapshot.plain(), doc)
    if found is None:
        return fallback(doc)
    return _filled(found, doc) if isinstance(obj, (dict, list)) else found


def _filled(found: Extracted, doc: Document) -> Extracted:
    """`found` completed by the generic reader (`errorkit._formats._fields`): the
    fields its shape left empty; its message when that is an identifier (or a JSON
    document) and the reader found a sentence, the identifier then being the code;
    and, on a 2xx, the in-band error the body states (`reports_failure`). An error
    whose shape read a sentence, a code and a type is left as it is."""
    message, code = found.message, found.code
    if doc.status >= 400 and code and found.type and message and informative(message) == 0:
        return found  # a shape that read a sentence, a code and a type read what it knows
    generic = read_fields(doc.json, doc.status)
    if _is_document(message) or (
        message and generic.message and informative(message) == 2 > informative(generic.message)
    ):
        code = code or (message if message and is_identifier(message) else None)
        message = generic.message
    changes = {
        "message": message or generic.message,
        "code": code or generic.code,
        "type": found.type or generic.type,
        "request_id": found.request_id or generic.request_id,
        "in_band": found.in_band or (doc.status < 400 and reports_failure(doc.json)),
    }
    if all(getattr(found, name) == value for name, value in changes.items()):
        return found
    return replace(found, **changes)  # type: ignore[arg-type]


def _is_document(text: str | None) -> bool:
    if not text or text[0] not in "{[":
        return False
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


def _first(candidates: list[Recognizer], doc: Document) -> Extracted | None:
    for candidate in candidates:
        found = _call(candidate, doc)
        if isinstance(found, Extracted):
            return _cleaned(found)
    return None


def _call(recognizer: Recognizer, doc: Document) -> object:
    """The recognizer's answer; None when it raises (re-raised in strict mode)."""
    try:
        return recognizer(doc)
    except Exception:  # a broken recognizer must not break parse()
        if STRICT.get():
            raise
        logger.debug("recognizer %r raised; skipped", recognizer.name, exc_info=True)
        return None


def _cleaned(found: Extracted) -> Extracted:
    """`found`, its message stripped (None when blank): a user's recognizer may pad it."""
    message: object = found.message
    if message is None or (type(message) is str and message and message == message.strip()):
        return found
    return replace(found, message=as_text(message))


def register_format(
    recognizer: Recognizer, *, before: str | None = None, after: str | None = None
) -> Recognizer:
    """Add `recognizer` (default: ahead of every built-in one). Returns it.

    A recognizer reads the body's shape and says what it found, or None when the
    body is not its shape. The helpers take any JSON value and never raise::

        import errorkit
        from errorkit import Document, Extracted

        @errorkit.shape("acme", keys=["fault"])
        def acme(doc: Document) -> Extracted | None:
            # {"fault": {"reason": "...", "id": 42, "retry_in": "5s"}}
            fault = errorkit.envelope(doc.json, "fault")
            if fault is None:
                return None
            wait = errorkit.as_seconds(fault.get("retry_in"))
            return Extracted(
                format="acme",
                message=errorkit.as_text(fault.get("reason")),
                code=errorkit.as_code(fault.get("id")),
                retry_after=wait,
                retry_after_source=None if wait is None else "body:fault.retry_in",
            )

        errorkit.register_format(acme)

    `before` or `after` names the registered recognizer it goes next to instead.

    Raises:
        TypeError: it is not callable, or its ``name`` or ``keys`` are malformed.
        ValueError: its name is taken, or both `before` and `after` are given.
        KeyError: `before` or `after` names no registered recognizer.
    """
    global _snapshot  # noqa: PLW0603 - the snapshot is swapped whole, under the lock
    candidate: object = recognizer
    name = getattr(candidate, "name", None)
    if not callable(candidate) or not isinstance(name, str) or not name:
        raise TypeError("a recognizer is a callable with a non-empty str `name`")
    if before is not None and after is not None:
        raise ValueError("give `before` or `after`, not both")
    keys_of(recognizer)
    with _lock:
        entries = list(_snapshot.entries)
        if name in _snapshot.names:
            raise ValueError(f"a format named {name!r} is already registered")
        entries.insert(_position(entries, before, after), recognizer)
        _snapshot = _Snapshot(tuple(entries))
    return recognizer


def _position(entries: list[Recognizer], before: str | None, after: str | None) -> int:
    names = [entry.name for entry in entries]
    if before is not None:
        return _index(names, before)
    if after is not None:
        return _index(names, after) + 1
    builtin = {id(entry) for entry in BUILTINS}
    return next((i for i, entry in enumerate(entries) if id(entry) in builtin), len(entries))


def _index(names: list[str], name: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise KeyError(name) from None


def unregister_format(name: str) -> None:
    """Remove the recognizer called `name` (KeyError if there is none)."""
    global _snapshot  # noqa: PLW0603 - the snapshot is swapped whole, under the lock
    with _lock:
        entries = list(_snapshot.entries)
        del entries[_index([entry.name for entry in entries], name)]
        _snapshot = _Snapshot(tuple(entries))


def format_names() -> tuple[str, ...]:
    """The registered recognizers' names, in the order they are tried."""
    return _snapshot.names


def reset_formats() -> None:
    """Restore the built-in registry (for tests that register their own formats)."""
    global _snapshot  # noqa: PLW0603 - the snapshot is swapped whole, under the lock
    with _lock:
        _snapshot = _Snapshot(BUILTINS)
