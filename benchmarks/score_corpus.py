"""Field accuracy of `errorkit.parse()` on the repository's corpus, beside two baselines.

    python benchmarks/score_corpus.py [--misses FIELD] [--json out.json]

Two sets of real error responses, each record with its source:

* ``taught``: ``tests/data/formats``, the shapes errorkit's recognizers were
  written from (and its unit tests);
* ``held out``: ``tests/data/corpus``, responses from APIs and servers no
  recognizer names, gathered after the generic rules were written and labelled by
  what a person reads in them (the labelling rules: ``tests/data/corpus/README.md``).

Fields scored: message, code, type, category, retryable, retry_after,
request_id. A field is scored where the record states it (``taught`` records
state message, code, type, request_id and retry_after, and category or
retryable only in some). A message matches when equal after collapsing
whitespace and case, ignoring a final period, with the expected text's control
characters escaped as errorkit shows them (a newline as ``\\n``); errorkit's message for a body with
no text, ``HTTP 503 Service Unavailable``, matches the reason phrase
``Service Unavailable``. A retry_after matches within 1 s. Everything else must be
equal.

Baselines, each what a user would otherwise write or get:

* ``naive``: the body's ``message`` or ``error`` (or ``error.message``), else the
  text; no code or type; category and retry by status (408, 429, 5xx);
  ``Retry-After`` in seconds and ``x-request-id`` from the headers;
* ``openai-sdk``: what the openai SDK reads of any API (``openai._base_client``):
  ``body.get("error", body)``, its ``message``, ``code`` and ``type``; its
  exception class by status; its retry rule (``x-should-retry``, else 408, 409,
  429, >= 500) and its ``retry-after-ms`` / ``retry-after``; ``x-request-id``.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import errorkit
from errorkit._text import escape_control

ROOT = Path(__file__).resolve().parent.parent
SETS = {"taught": ROOT / "tests/data/formats", "held out": ROOT / "tests/data/corpus"}
FIELDS = ("message", "code", "type", "category", "retryable", "retry_after", "request_id")


@dataclass(frozen=True)
class Record:
    set: str
    name: str
    api: str
    status: int
    headers: dict[str, str]
    body: bytes
    expect: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    message: str | None
    code: str | None
    type: str | None
    category: str | None
    retryable: bool | None
    retry_after: float | None
    request_id: str | None


Reader = Callable[[Record], Answer]


def load() -> list[Record]:
    return [
        _record(label, case)
        for label, folder in SETS.items()
        for path in sorted(folder.glob("*.json"))
        for case in json.loads(path.read_text(encoding="utf-8"))
    ]


def _record(label: str, case: dict[str, Any]) -> Record:
    if "body_base64" in case:
        body = base64.b64decode(case["body_base64"])
    elif isinstance(case.get("body"), str):
        body = case["body"].encode("utf-8")
    elif case.get("body") is None:
        body = b""
    else:
        body = json.dumps(case["body"], ensure_ascii=False).encode("utf-8")
    expect = dict(case["expect"])
    if label == "taught":  # the unit tests' defaults: an absent field is expected absent
        for name in ("code", "type", "request_id", "retry_after"):
            expect.setdefault(name, None)
        if expect.get("message") is None:
            expect.pop("message", None)  # parse() always has one; nothing to score
        if "category" in expect:
            expect["category"] = str(expect["category"])
    api = case.get("api") or Path(case["name"]).name.split(" ")[0]
    headers = case.get("headers") or {}
    return Record(label, case["name"], api, case["status"], headers, body, expect)


# -- the readers ---------------------------------------------------------------------------


def errorkit_reader(record: Record) -> Answer:
    info = errorkit.parse(record.status, record.headers, record.body, in_band=True)
    if info is None:
        return Answer(None, None, None, None, None, None, None)
    return Answer(
        info.message,
        info.code,
        info.type,
        info.category.value,
        info.retryable,
        info.retry_after,
        info.request_id,
    )


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers.items():
        if key.lower() == name:
            return value
    return None


def _status_category(status: int) -> str:
    return {
        400: "bad_request",
        401: "authentication",
        403: "permission",
        404: "not_found",
        408: "timeout",
        409: "conflict",
        413: "payload_too_large",
        422: "unprocessable",
        429: "rate_limited",
    }.get(status, "server" if status >= 500 else "client")


def _seconds(value: str | None) -> float | None:
    """Seconds from a number; an HTTP-date is not read (the baselines' way)."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def naive_reader(record: Record) -> Answer:
    body = _json(record.body)
    message = None
    if isinstance(body, dict):
        err = body.get("error")
        message = body.get("message") or (err if isinstance(err, str) else None)
        if message is None and isinstance(err, dict):
            message = err.get("message")
    if not isinstance(message, str):
        message = record.body.decode("utf-8", "replace").strip()[:200] or None
    return Answer(
        message,
        None,
        None,
        _status_category(record.status),
        record.status in (408, 429) or record.status >= 500,
        _seconds(_header(record, "retry-after")),
        _header(record, "x-request-id"),
    )


def openai_reader(record: Record) -> Answer:
    body = _json(record.body)
    text = record.body.decode("utf-8", "replace").strip()
    data = body.get("error", body) if isinstance(body, dict) else body
    fields = data if isinstance(data, dict) else {}
    message = fields.get("message")
    if not isinstance(message, str):
        message = f"Error code: {record.status} - {body if body is not None else text}"
    should = _header(record, "x-should-retry")
    if should in ("true", "false"):
        retryable = should == "true"
    else:
        retryable = record.status in (408, 409, 429) or record.status >= 500
    wait = _header(record, "retry-after-ms")
    retry_after = None if wait is None else _seconds(wait)
    if retry_after is not None:
        retry_after /= 1000
    else:
        retry_after = _seconds(_header(record, "retry-after"))
    category = _status_category(record.status)
    if category in ("timeout", "payload_too_large", "client"):
        category = "server" if record.status >= 500 else "client"
    return Answer(
        message,
        _text(fields.get("code")),
        _text(fields.get("type")),
        category,
        retryable,
        retry_after,
        _header(record, "x-request-id"),
    )


def _text(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, (str, int)) else None


READERS: dict[str, Reader] = {
    "errorkit": errorkit_reader,
    "naive": naive_reader,
    "openai-sdk": openai_reader,
}


# -- scoring -------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(".")


def matches(field: str, expected: object, got: object, status: int) -> bool:
    if field == "message":
        if not isinstance(got, str) or not isinstance(expected, str):
            return got == expected
        default = f"http {status} "
        shown = _normal(got)
        # errorkit escapes control characters (a newline is shown as \n) by design
        return _normal(escape_control(expected)) in (shown, shown.removeprefix(default))
    if field == "retry_after":
        if expected is None or got is None:
            return expected is got
        return abs(float(expected) - float(got)) <= 1.0  # type: ignore[arg-type]
    return expected == got


def score(records: Iterable[Record], reader: Reader) -> dict[str, list[bool]]:
    hits: dict[str, list[bool]] = {field: [] for field in FIELDS}
    for record in records:
        answer = reader(record)
        for field in FIELDS:
            if field in record.expect:
                hits[field].append(
                    matches(field, record.expect[field], getattr(answer, field), record.status)
                )
    return hits


def _pct(values: list[bool]) -> str:
    return f"{100 * statistics.fmean(values):.1f} %" if values else "-"


def table(records: list[Record]) -> tuple[str, dict[str, Any]]:
    lines = ["| set | reader | " + " | ".join(FIELDS) + " | overall |", "|---" * 10 + "|"]
    data: dict[str, Any] = {}
    for label in (*SETS, "all"):
        chosen = [r for r in records if label in ("all", r.set)]
        for name, reader in READERS.items():
            hits = score(chosen, reader)
            every = [hit for field in FIELDS for hit in hits[field]]
            row = {field: _pct(hits[field]) for field in FIELDS} | {"overall": _pct(every)}
            data[f"{label}/{name}"] = row
            lines.append(f"| {label} ({len(chosen)}) | {name} | " + " | ".join(row.values()) + " |")
    return "\n".join(lines), data


def misses(records: list[Record], field: str) -> Iterable[str]:
    for record in records:
        if field not in record.expect:
            continue
        got = getattr(errorkit_reader(record), field)
        if not matches(field, record.expect[field], got, record.status):
            yield f"[{record.set}] {record.name}: expected {record.expect[field]!r}, got {got!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", choices=FIELDS, help="list errorkit's misses on one field")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args()
    records = load()
    if args.misses:
        for line in misses(records, args.misses):
            print(line)
        return
    text, data = table(records)
    for label in SETS:
        chosen = [r for r in records if r.set == label]
        print(f"{label}: {len(chosen)} records from {len({r.api for r in chosen})} APIs or shapes")
    print()
    print(text)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
