"""The `errorkit` command: `explain` and `demo`, as a person and a script use them."""

from __future__ import annotations

import builtins
import io
import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from errorkit import _demo, _tracedemo
from errorkit._cli import main

if TYPE_CHECKING:
    from pathlib import Path

RAW_429 = (
    b"HTTP/1.1 429 Too Many Requests\r\n"
    b"Content-Type: application/json\r\n"
    b"x-request-id: req_42\r\n\r\n"
    b'{"error": {"code": "rate_limit_exceeded", "message": "Too many requests. Please retry '
    b'after 60 seconds.", "status": 429, "retryAfter": 60}}'
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_reads_raw_http_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `curl -i` capture in a file is classified: category, wait and its source, hint."""
    capture = tmp_path / "r.txt"
    capture.write_bytes(RAW_429)
    code, out, _ = run(capsys, "explain", str(capture))
    assert code == 0
    for text in (
        "rate_limited",
        "60 s (from body:error.retryAfter)",
        "req_42",
        "rate_limit_exceeded",
        "Too many requests.",
    ):
        assert text in out


def test_explain_reads_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """'-' reads the response from stdin; the last of several responses is the one explained."""
    raw = b"HTTP/1.1 100 Continue\r\n\r\n" + RAW_429
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    code, out, _ = run(capsys, "explain", "-", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["status"], data["category"], data["retry_after"]) == (429, "rate_limited", 60)
    assert data["default_policy"]["GET"].startswith("retry in 60")


def test_explain_from_flags_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--status/--header/--body give the same classification, as JSON for scripts."""
    code, out, _ = run(
        capsys, "explain", "--status", "401", "-H", "Content-Type: application/json",
        "--body", '{"error": {"message": "Invalid API key or token.", "type": '
        '"authentication_error"}}', "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0
    assert data["category"] == "authentication"
    assert data["retryable"] is False
    assert "X-Project-Id" in data["hint"]
    assert data["default_policy"]["POST"].startswith("no retry")


@pytest.mark.parametrize(
    ("status", "retry_after", "verdict"),
    [
        (
            "429",
            "30",
            (
                "closes the endpoint for 30 s: every request to it (first attempts included) "
                "is held until then; each waits, then is sent (max_retry_after=60 s); then "
                "paces it by a learned rate: 2 requests/s per process, doubling every 0.5 s "
                "until the next 429 cuts it to 70% of what was sent"
            ),
        ),
        (
            "503",
            "120",
            (
                "closes the endpoint for 120 s: every request to it (first attempts "
                "included) is held until then; each fails at once, unsent, with RateLimitError "
                "(max_retry_after=60 s)"
            ),
        ),
        ("500", "30", "stays open: this response asks no wait of the endpoint's other requests"),
    ],
)
def test_explain_says_what_the_rate_limit_gate_does(
    capsys: pytest.CaptureFixture[str], status: str, retry_after: str, verdict: str
) -> None:
    code, out, _ = run(
        capsys, "explain", "--status", status, "-H", f"Retry-After: {retry_after}", "--json"
    )
    assert code == 0
    assert json.loads(out)["gate"] == verdict


def test_explain_escapes_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    """An ANSI escape in a server message is printed escaped, never interpreted."""
    code, out, _ = run(capsys, "explain", "--status", "500", "--body", "boom\x1b[2J[bold]x")
    assert code == 0
    assert "\x1b" not in out
    assert "\\x1b[2J[bold]x" in out


def test_explain_a_success_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """A 200 is not an error: the command says so and succeeds."""
    code, out, _ = run(capsys, "explain", "--status", "200", "--body", "fine")
    assert code == 0
    assert "not an error" in out


def test_explain_reports_an_in_band_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A Slack 200 with ``ok: false`` is explained as the error it reports, not a success."""
    code, out, _ = run(
        capsys, "explain", "--status", "200", "-H", "Content-Type: application/json",
        "--body", '{"ok": false, "error": "ratelimited"}', "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0
    assert (data["status"], data["error"], data["format"]) == (200, True, "slack")
    assert data["category"] == "rate_limited"
    assert data["retryable_reason"].startswith("200 in-band error")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "/no/such/file"], "cannot read"),
        (["explain", "--header", "X: y"], "need --status"),
        (["explain", "--status", "500", "-H", "novalue"], "Name: value"),
        (["explain", "f.txt", "--status", "500"], "not both"),
    ],
)
def test_explain_bad_input_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Unreadable or contradictory input exits 2 with one clear line on stderr."""
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_explain_text_that_is_not_http(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Text without a status line is refused with an example of what is expected."""
    bad = tmp_path / "bad.txt"
    bad.write_text("hello there")
    code, _, err = run(capsys, "explain", str(bad))
    assert code == 2
    assert "HTTP/1.1 429" in err


def test_explain_prints_plain_text_without_rich(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the cli extra (no rich), explain still prints an aligned plain table."""
    real_import = builtins.__import__

    def no_rich(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("rich"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_rich)
    code, out, _ = run(
        capsys, "explain", "--status", "404", "--body", '{"error": "Agent not found"}'
    )
    assert code == 0
    assert "category" in out
    assert "not_found" in out


def test_demo_plays_the_seeds_on_a_stack(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo on requests plays every seed scenario as expected and exits 0."""
    code, out, _ = run(capsys, "demo", "--stack", "requests", "--json")
    assert code == 0
    rows = json.loads(out)["requests"]
    assert [r["scenario"] for r in rows] == [s.name for s in _demo.scenarios()]
    assert all(r["ok"] for r in rows)
    retried = next(r for r in rows if r["scenario"] == "agents 429 retryAfter")
    assert retried["waits"][0] >= 1.0
    # The three requests behind the 429 waited at the gate: one 429 in all, four 200s.
    held = next(r for r in rows if r["scenario"] == "429 holds 3 others back")
    assert (held["attempts"], held["status"], held["exception"]) == (5, 200, "-")
    assert held["seconds"] >= 1.0


def test_demo_reports_a_missing_stack(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack that is not installed is reported, not a crash."""
    monkeypatch.setattr(_demo, "installed", lambda stack: stack != "aiohttp")
    code, out, _ = run(capsys, "demo", "--stack", "aiohttp", "--json")
    assert code == 0
    assert json.loads(out) == {"aiohttp": "not installed"}


def test_demo_fails_when_a_stack_misbehaves(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack whose outcome differs from the seed's expectation makes the demo exit 1."""
    monkeypatch.setitem(_demo.CALLS, "requests", lambda *args: 200)
    code, _, err = run(capsys, "demo", "--stack", "requests", "--json")
    assert code == 1
    assert "did not behave as expected" in err


@pytest.mark.parametrize("stack", ["requests", "aiohttp"])
def test_demo_trace_prints_the_span_tree_of_a_retried_call(
    capsys: pytest.CaptureFixture[str], stack: str
) -> None:
    """--trace: under the caller's span, three CLIENT spans of errorkit's (500, 500,
    200; resend counts absent, 1, 2), a retry event with its wait after each 500,
    alone and again with the stack's official instrumentation on."""
    code, out, _ = run(capsys, "demo", "--trace", "--stack", stack)
    assert code == 0
    trees = out.strip().split("\n\n")
    assert [tree.splitlines()[0] for tree in trees] == [
        stack,
        f"{stack}, with {_tracedemo.OFFICIAL[stack][1]}",
    ]
    for tree in trees:
        lines = tree.splitlines()[1:]
        assert lines[0].startswith(f"  `- caller ({stack})  INTERNAL")
        attempts = [line for line in lines if "CLIENT" in line]
        assert len(attempts) == 3
        assert all("[errorkit]" in line for line in attempts)
        assert ["  500  " in attempts[0], "  500  " in attempts[1], "  200  " in attempts[2]] == [
            True
        ] * 3
        assert "resend_count" not in attempts[0]
        assert "resend_count=1" in attempts[1]
        assert "resend_count=2" in attempts[2]
        assert "(after " in attempts[1]
        retries = [line for line in lines if "* errorkit.retry" in line]
        assert len(retries) == 2
        assert all("(backoff)" in line for line in retries)


def test_demo_trace_without_the_sdk_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No OpenTelemetry SDK: exit 2 and the line to install it."""
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    code, _, err = run(capsys, "demo", "--trace")
    assert code == 2
    assert "pip install 'errorkit[otel,cli]'" in err


def test_demo_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown stack name is a usage error."""
    code, _, err = run(capsys, "demo", "--stack", "curl")
    assert code == 2
    assert "unknown stack" in err


def test_python_dash_m_errorkit() -> None:
    """`python -m errorkit --help` works and lists both commands."""
    out = subprocess.run(
        [sys.executable, "-m", "errorkit", "--help"], capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    assert "explain" in out.stdout
    assert "demo" in out.stdout


ECHOING_401 = (
    b"HTTP/1.1 401 Unauthorized\r\n"
    b"Content-Type: application/json\r\n\r\n"
    b'{"error": {"message": "bad credentials: Authorization: Basic dXNlcjpTRUNSRVQx\\n'
    b'forged \\u202e \\ud800", "code": "c\\u001b[2J", "type": "t\\u200f",'
    b' "details": [{"api_key": "SECRET2", "note": "password: SECRET3"}]}}'
)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_explain_hides_echoed_credentials_and_escapes_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    """Credentials a server echoes and its control characters never reach explain's output."""
    capture = tmp_path / "r.txt"
    capture.write_bytes(ECHOING_401)
    code, out, _ = run(capsys, "explain", str(capture), *(["--json"] if as_json else []))
    assert code == 0
    shown = json.dumps(json.loads(out), ensure_ascii=False) if as_json else out
    for secret in ("dXNlcjpTRUNSRVQx", "SECRET2", "SECRET3"):
        assert secret not in shown
    for char in ("\x1b", "\u202e", "\u200f", "\ud800"):
        assert char not in shown
    assert "Basic ***" in shown


def test_explain_writes_to_a_stdout_that_is_not_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-ASCII server text on an ASCII stdout (strict) is written escaped, never a crash."""
    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buffer, encoding="ascii"))
    code = main(["explain", "--status", "503", "--body", "caf\u00e9 \u65e5\u672c \U0001f600"])
    sys.stdout.flush()
    assert code == 0
    text = buffer.getvalue().decode("ascii")
    assert "caf\\xe9" in text
    assert "\\u65e5" in text


def test_explain_shows_the_vendor_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """`ErrorInfo.extra` is in the JSON and in the table, each field on its row."""
    body = '{"error": {"type": "invalid_request_error", "message": "No such", "param": "model"}}'
    args = ("explain", "--status", "400", "-H", "Content-Type: application/json", "--body", body)
    code, out, _ = run(capsys, *args, "--json")
    assert code == 0
    assert json.loads(out)["extra"] == {"param": "model"}
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "extra.param" in out
    assert "model" in out
