"""The `errorkit` command: `errorkit explain` and `errorkit demo`.

Exit codes: 0 done; 1 the demo saw a stack misbehave; 2 bad usage or unreadable
input. Everything a server sent is shown with the credentials it echoes hidden
and its control characters escaped (`errorkit._text.safe_text`), as text and as
``--json``; `explain` writes what the output stream's encoding cannot hold as
backslash escapes, so a non-UTF-8 terminal never makes it fail.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from errorkit._gate import CUBIC_BETA, DOUBLING, START_RATE, closing_wait
from errorkit._parse import parse
from errorkit._policy import RetryPolicy
from errorkit._rawhttp import NotHTTPError, parse_raw_response
from errorkit._redact import REDACTED, is_sensitive_name
from errorkit._text import escape_control, safe_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from errorkit._info import ErrorInfo

#: Most bytes of input `explain` reads: far above the 64 KiB that parse() looks at.
MAX_INPUT = 1024 * 1024
#: How much of the details `explain --json` shows: nesting, items per level, text.
_JSON_DEPTH = 8
_JSON_ITEMS = 100
_JSON_TEXT = 2000


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(_encodable(f"errorkit: {escape_control(str(exc))}", sys.stderr), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="errorkit", description="Classify HTTP error responses and show how errorkit retries."
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    explain = sub.add_parser(
        "explain",
        help="classify a response given as raw HTTP text, a file, stdin or flags",
        description=(
            "Classify one HTTP error response. Give it raw response text as printed by "
            "`curl -i` (a FILE, or '-' / nothing for standard input), or --status with "
            "--header and --body."
        ),
    )
    explain.add_argument("file", nargs="?", help="file with the raw response, or '-' for stdin")
    explain.add_argument("--status", type=int, help="status code (instead of raw text)")
    explain.add_argument(
        "--header", "-H", action="append", default=[], metavar="'NAME: VALUE'", help="a header"
    )
    explain.add_argument("--body", help="the body text, or @FILE to read it from a file")
    explain.add_argument("--json", action="store_true", help="print JSON for scripts")
    explain.set_defaults(run=_run_explain)
    demo = sub.add_parser(
        "demo",
        help="play the seed APIs' errors against every installed HTTP stack",
        description=(
            "Start a fault-injecting server on 127.0.0.1, play the seed scenarios against "
            "every installed stack with errorkit plugged in, and print what happened."
        ),
    )
    demo.add_argument("--stack", action="append", help="only this stack (repeatable)")
    demo.add_argument("--json", action="store_true", help="print JSON instead of tables")
    demo.add_argument(
        "--trace",
        action="store_true",
        help="print the OpenTelemetry span tree of a retried call on each stack instead",
    )
    demo.set_defaults(run=_run_demo)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    if args.trace:
        from errorkit._tracedemo import run_trace_demo

        return run_trace_demo(stacks=args.stack)
    from errorkit._demo import run_demo

    return run_demo(stacks=args.stack, as_json=args.json)


def _run_explain(args: argparse.Namespace) -> int:
    status, headers, body = _explain_input(args)
    # A person asking what a response means wants to hear of an in-band error too.
    info = parse(status, headers, body, in_band=True)
    out = sys.stdout
    if args.json:  # ASCII: every stream can hold it
        json.dump(_as_json(status, info), out, indent=2, ensure_ascii=True)
        out.write("\n")
    else:
        _print_explanation(status, info, out)
    return 0


def _explain_input(args: argparse.Namespace) -> tuple[int, list[tuple[str, str]], bytes]:
    if args.status is not None:
        if args.file:
            raise UsageError("give either raw response text or --status, not both")
        return args.status, [_header(h) for h in args.header], _body_arg(args.body)
    if args.header or args.body is not None:
        raise UsageError("--header and --body need --status")
    data = _read_input(args.file)
    try:
        raw = parse_raw_response(data)
    except NotHTTPError as exc:
        raise UsageError(str(exc)) from None
    return raw.status, raw.headers, raw.body


def _read_input(name: str | None) -> bytes:
    if name in (None, "-"):
        if name is None and sys.stdin.isatty():
            raise UsageError("no input: give a FILE, pipe a response into stdin, or use --status")
        return sys.stdin.buffer.read(MAX_INPUT)
    return _read_file(str(name))


def _read_file(name: str) -> bytes:
    try:
        with Path(name).open("rb") as fh:
            return fh.read(MAX_INPUT)
    except OSError as exc:
        raise UsageError(f"cannot read {name!r}: {exc.strerror or exc}") from None


def _body_arg(body: str | None) -> bytes:
    if body is None:
        return b""
    if body.startswith("@"):
        return _read_file(body[1:])
    return body.encode()


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise UsageError(f"a header is 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def _what_errorkit_does(info: ErrorInfo) -> list[tuple[str, str]]:
    """What the default policy decides after a first failed attempt, per method."""
    policy = RetryPolicy(budget=None, jitter=0.0)
    rows = []
    for method in ("GET", "POST"):
        decision = policy.decide(attempt=1, elapsed=0.0, method=method, outcome=info)
        verdict = f"retry in {decision.delay:.2f} s" if decision.retry else "no retry"
        rows.append((method, f"{verdict} ({decision.reason}): {decision.detail}"))
    return rows


def _what_the_gate_does(info: ErrorInfo) -> str:
    """What the default policy's `RateLimitGate` does after this response."""
    seconds = closing_wait(info)
    quota = info.quota if info.status == 429 else None
    if quota is not None:
        pace = (
            f"; then paces it to the stated quota, {quota.limit} per {quota.window:g} s "
            f"(one request every {quota.interval:g} s, shared out across the processes "
            "of a backend)"
        )
    elif info.status == 429:
        pace = (
            f"; then paces it by a learned rate: {START_RATE:g} requests/s per process, "
            f"doubling every {DOUBLING:g} s until the next 429 cuts it to "
            f"{CUBIC_BETA:.0%} of what was sent"
        )
    else:
        pace = ""
    if seconds is None:
        if pace:
            return "stays open" + pace
        return "stays open: this response asks no wait of the endpoint's other requests"
    policy = RetryPolicy()
    then = (
        "each fails at once, unsent, with RateLimitError"
        if seconds > policy.max_retry_after
        else "each waits, then is sent"
    )
    return (
        f"closes the endpoint for {seconds:g} s: every request to it (first attempts "
        f"included) is held until then; {then} (max_retry_after={policy.max_retry_after:g} s)"
        f"{pace}"
    )


def _as_json(status: int, info: ErrorInfo | None) -> dict[str, Any]:
    if info is None:
        return {"status": status, "error": False}
    shown = {
        "status": info.status,
        "error": True,
        "category": info.category.value,
        "retryable": info.retryable,
        "retryable_reason": info.retryable_reason,
        "retry_after": info.retry_after,
        "retry_after_source": info.retry_after_source,
        "should_retry": info.should_retry,
        "message": info.message,
        "code": info.code,
        "type": info.type,
        "request_id": info.request_id,
        "hint": info.hint,
        "format": info.format,
        "details": list(info.details),
        "extra": dict(info.extra),
        "default_policy": dict(_what_errorkit_does(info)),
        "gate": _what_the_gate_does(info),
    }
    return {name: _jsonable(value) for name, value in shown.items()}


def _jsonable(value: object, depth: int = 0) -> object:
    """`value` as JSON fit to show: text redacted and escaped, credential keys hidden."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= _JSON_DEPTH:
        return "\u2026"
    if isinstance(value, dict):
        return {
            safe_text(key, _JSON_TEXT): _json_field(key, item, depth + 1)
            for key, item in list(value.items())[:_JSON_ITEMS]
        }
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, depth + 1) for item in value[:_JSON_ITEMS]]
    return safe_text(value, _JSON_TEXT)


def _json_field(key: object, value: object, depth: int) -> object:
    if isinstance(key, str) and value not in (None, "") and is_sensitive_name(key):
        return REDACTED
    return _jsonable(value, depth)


def _rows(status: int, info: ErrorInfo | None) -> list[tuple[str, str]]:
    if info is None:
        return [("status", str(status)), ("verdict", "not an error: nothing to explain")]
    retry_after = "-"
    if info.retry_after is not None:
        retry_after = f"{info.retry_after:g} s (from {info.retry_after_source})"
    retryable = ("yes" if info.retryable else "no") + f": {info.retryable_reason}"
    rows = [
        ("status", str(info.status)),
        ("category", info.category.value),
        ("retryable", retryable),
        ("retry after", retry_after),
        ("message", info.message),
        ("code", info.code or "-"),
        ("type", info.type or "-"),
        ("request id", info.request_id or "-"),
        ("hint", info.hint or "-"),
        ("format", info.format),
    ]
    rows.extend((f"details[{i}]", _short(d)) for i, d in enumerate(info.details[:10]))
    rows.extend((f"extra.{name}", _short(value)) for name, value in list(info.extra.items())[:10])
    rows.extend((f"default policy, {m}", text) for m, text in _what_errorkit_does(info))
    rows.append(("rate-limit gate", _what_the_gate_does(info)))
    return [(name, safe_text(value, 500)) for name, value in rows]


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 200 else text[:200] + "\u2026"


def _encodable(text: str, stream: object) -> str:
    """`text` as `stream` can encode it: what its encoding cannot hold becomes ``\\xe9``."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except (LookupError, UnicodeError):  # an unknown or odd codec: ASCII always works
        return text.encode("ascii", "backslashreplace").decode("ascii")


def _print_explanation(status: int, info: ErrorInfo | None, out: TextIO) -> None:
    rows = [(name, _encodable(value, out)) for name, value in _rows(status, info)]
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:  # the core works without the cli extra: plain text then
        width = max(len(name) for name, _ in rows)
        out.writelines(f"{name:<{width}}  {value}\n" for name, value in rows)
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(Text(name), Text(value))  # Text: server text is never markup
    Console(file=out, highlight=False).print(table)
