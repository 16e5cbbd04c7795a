"""Text shown to a person is safe: no credential, no control character, always encodable."""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle
import unicodedata
from typing import TYPE_CHECKING

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import errorkit
from errorkit import ErrorInfo
from errorkit._exceptions import exception_for
from errorkit._info import Category
from errorkit._loop import RequestFacts, step
from errorkit._policy import RetryEvent, RetryPolicy
from errorkit._redact import MAX_INPUT, redact_headers, redact_text, redact_url
from errorkit._text import escape_control, safe_text

if TYPE_CHECKING:
    from collections.abc import Callable

#: Characters that move the cursor, recolour, reorder or break a line, one of each kind.
UNSAFE = (
    *("\x00", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x7f"),
    *("\x85", "\x9b", "\u200b", "\u200e", "\u200f", "\u061c", "\u202a", "\u202b"),
    *("\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u2028"),
    *("\u2029", "\ufeff", "\ud800", "\udfff", "\udc80", "\U000e0041"),
)


def is_safe(text: str) -> bool:
    """One line of printable characters (spaces allowed), encodable as strict UTF-8."""
    text.encode("utf-8")  # raises on a lone surrogate
    return all(c.isprintable() or unicodedata.category(c) == "Zs" for c in text)


@pytest.mark.parametrize("char", UNSAFE, ids=lambda c: f"U+{ord(c):04X}")
def test_every_unsafe_character_is_escaped(char: str) -> None:
    """Controls, bidi marks and overrides, separators and lone surrogates become escapes."""
    out = escape_control(f"a{char}b")
    assert char not in out
    assert out.startswith("a\\")
    assert out.endswith("b")
    assert is_safe(out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line\nforged", "line\\nforged"),
        ("a\r\n\tb", "a\\r\\n\\tb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\u202eevil", "\\u202eevil"),
        ("x\ud800y", "x\\ud800y"),
        ("\U000e0041", "\\U000e0041"),
        ("caf\u00e9 \u00a0: \u65e5\u672c \U0001f600", "caf\u00e9 \u00a0: \u65e5\u672c \U0001f600"),
    ],
)
def test_escapes_are_readable_and_letters_are_kept(text: str, expected: str) -> None:
    """Escapes read like Python's; accented letters, CJK, emoji and no-break spaces stay."""
    assert escape_control(text) == expected


def test_escape_control_limit_bounds_the_result() -> None:
    """With a limit, the text is cut with an ellipsis, and escaping keeps it bounded."""
    assert escape_control("abcdef", 3) == "abc\u2026"
    assert len(escape_control("\U000e0041" * 100, 10)) <= 10 * 10 + 1


def test_safe_text_redacts_before_it_cuts() -> None:
    """A secret straddling the shown limit is hidden whole, not shown in part."""
    text = "x" * 15 + " Bearer abcdefghijklmnop"
    assert safe_text(text, 30) == "x" * 15 + " Bearer ***"
    assert "abcd" not in safe_text(text, 25)


# --- what errorkit shows: str(exc), repr, logs -------------------------------------


def hostile_info(message: str) -> ErrorInfo:
    """What parse() builds from a 401 whose JSON body carries `message`, code and type."""
    body = json.dumps({"error": {"message": message, "code": "c\x1b\u202e\nd", "type": "t\ud800"}})
    info = errorkit.parse(
        401, {"Content-Type": "application/json"}, body.encode("utf-8", "surrogatepass")
    )
    assert info is not None
    return info


def test_parse_stores_message_code_and_type_safe_and_keeps_the_body_raw() -> None:
    """ErrorInfo.message/code/type are redacted and escaped; body keeps the data for programs."""
    info = hostile_info("bad key\n\ud800 Authorization: Bearer abcdefghijkl")
    assert info.message == "bad key\\n\\ud800 Authorization: Bearer ***"
    assert (info.code, info.type) == ("c\\x1b\\u202e\\nd", "t\\ud800")
    assert isinstance(info.body, dict)
    assert "abcdefghijkl" in info.body["error"]["message"]


def test_repr_of_error_info_and_retry_event_are_safe() -> None:
    """repr(ErrorInfo) shows no body and no raw secret; RetryEvent embeds that repr."""
    info = ErrorInfo(
        status=503,
        category=Category.UNAVAILABLE,
        message='down {"password": "hunter22"}\n\u202e',
        code="Bearer abcdefghijkl",
        body={"password": "BODYSECRET"},
        details=({"token": "DETAILSECRET"},),
    )
    event = RetryEvent(
        attempt=1, delay=0.5, reason=errorkit.Reason.RETRYABLE, info=info, method="GET", url="u"
    )
    for text in (repr(info), repr(event)):
        for secret in ("hunter22", "abcdefghijkl", "BODYSECRET", "DETAILSECRET", "\n", "\u202e"):
            assert secret not in text
        assert is_safe(text)
    assert repr(info).startswith("ErrorInfo(status=503, category='unavailable', message='down")


@pytest.mark.parametrize(
    "stream",
    [
        lambda: io.TextIOWrapper(io.BytesIO(), encoding="utf-8"),
        lambda: io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="backslashreplace"),
    ],
    ids=["utf-8 strict", "ascii backslashreplace"],
)
def test_print_and_log_an_exception_never_raise(stream: Callable[[], io.TextIOWrapper]) -> None:
    """A lone surrogate or bidi control from the server never breaks print() or logging."""
    exc = exception_for(hostile_info("\ud800\udfff \u202e boom"))
    out = stream()
    print(exc, repr(exc), repr(exc.info), file=out)
    handler = logging.StreamHandler(out)
    handler.handleError = pytest.fail  # type: ignore[assignment,method-assign]  # must not happen
    log = logging.getLogger("errorkit")
    log.addHandler(handler)
    try:
        log.error("request failed: %s", exc)
        log.error("request failed: %s", exc.info.message)
    finally:
        log.removeHandler(handler)
    out.flush()


def test_every_errorkit_log_line_is_redacted_and_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """The errorkit logger's arguments and tracebacks are made safe before any handler."""
    log = logging.getLogger("errorkit")
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        log.info("echo %s %d", "Authorization: Basic dXNlcjpwYXNz\nforged \u202e", 7)
        error = ValueError('server said {"api_key": "TRACESECRET"}\x1b')
        log.debug("parse failed", exc_info=error)
    assert "dXNlcjpwYXNz" not in caplog.text
    assert "TRACESECRET" not in caplog.text
    assert "\x1b" not in caplog.text
    assert "\u202e" not in caplog.text
    assert "forged" in caplog.records[0].getMessage()
    assert "\n" not in caplog.records[0].getMessage()
    assert "echo" in caplog.text
    assert " 7" in caplog.text
    assert caplog.records[1].exc_info is not None  # kept for handlers that want the object


def test_a_retry_log_line_and_event_never_show_the_url_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The retry INFO line and RetryEvent.url hide the URL's secrets and escape its controls."""
    events: list[RetryEvent] = []
    policy = RetryPolicy(budget=None, jitter=0.0, on_retry=events.append)
    request = RequestFacts(
        method="GET",
        url="https://u:PW1@h/x?subscription-key=K1&authorization=A1&passphrase=P1\n",
        replayable=True,
        has_idempotency_key=False,
    )
    info = ErrorInfo(status=503, category=Category.UNAVAILABLE, message="down", retryable=True)
    with caplog.at_level(logging.DEBUG, logger="errorkit"):
        assert step(policy, request, info, 1, 0.0).retry
    for secret in ("PW1", "K1", "A1", "P1"):
        assert secret not in caplog.text
        assert secret not in events[0].url
        assert secret not in repr(events[0])
    assert "\n" not in events[0].url


# --- Hypothesis: no secret survives, output always safe ---------------------------

TOKEN = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
    min_size=4,
    max_size=30,
)
#: A realistic secret: 9 to 61 token characters with a digit in the middle.
SECRETS = st.builds(lambda a, b: f"{a}7{b}", TOKEN, TOKEN)


def basic(secret: str) -> str:
    """The Basic credential a client sends for user:secret."""
    return base64.b64encode(f"user:{secret}".encode()).decode()


#: Where a secret `s` sits in text a server echoes back; each returns (text, what must go).
PLACES: list[Callable[[str], tuple[str, str]]] = [
    lambda s: (f"Bearer {s}", s),
    lambda s: (f"Authorization: Bearer {s}", s),
    lambda s: (f"Authorization: Basic {basic(s)}", basic(s)),
    lambda s: (f"Proxy-Authorization: Basic {basic(s)}", basic(s)),
    lambda s: (f"got Basic {basic(s)} back", basic(s)),
    lambda s: (f"token {s}", s),
    lambda s: (f"api_key: {s}", s),
    lambda s: (f"x-api-key: {s}", s),
    lambda s: (f"X-Goog-Api-Key:{s}", s),
    lambda s: (f"password: {s}", s),
    lambda s: (f"token = {s}", s),
    lambda s: (f"client_secret={s}", s),
    lambda s: (f'{{"api_key": "{s}"}}', s),
    lambda s: (f'{{"error": {{"password": "{s}", "user": "bob"}}}}', s),
    lambda s: (f"{{'access_token': '{s}'}}", s),
    lambda s: (f'{{"pin": {len(s)}{s}}}', s),
    lambda s: (f"Cookie: session={s}; theme=dark", s),
    lambda s: (f"Set-Cookie: sid={s}; Path=/; HttpOnly", s),
    lambda s: (f"https://user:{s}@api.example.com/v1", s),
    lambda s: (f"https://h/x?subscription-key={s}&a=1", s),
    lambda s: (f"https://h/x?X-Amz-Signature={s}", s),
    lambda s: (f"https://h/x?X-Goog-Signature={s}&X-Goog-Date=1", s),
    lambda s: (f"/cb#access_token={s}&state=1", s),
    lambda s: (f"/p?sig={s}", s),
    lambda s: (f"eyJ{s}.eyJ{s}.{s}", s),
]


@given(
    place=st.sampled_from(PLACES),
    secret=SECRETS,
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    joiner=st.sampled_from([" ", "\n", ", ", " | "]),
)
def test_no_echoed_secret_survives_and_output_is_always_safe(
    *, place: Callable[[str], tuple[str, str]], secret: str, before: str, after: str, joiner: str
) -> None:
    """Wherever a secret sits in arbitrary text, redaction hides it and the shown text is safe."""
    echoed, hidden = place(secret)
    text = joiner.join((before, echoed, after))
    assume(hidden not in before + after)
    redacted = redact_text(text)
    assert hidden not in redacted
    assert redact_text(redacted) == redacted
    shown = safe_text(text, 300)
    assert hidden not in shown
    assert is_safe(shown)
    assert len(shown) <= 10 * 300 + 1


@given(place=st.sampled_from(PLACES), secret=SECRETS, before=st.text(max_size=30))
def test_no_echoed_secret_reaches_str_repr_or_pickle_of_an_exception(
    *, place: Callable[[str], tuple[str, str]], secret: str, before: str
) -> None:
    """A secret echoed in an error message is absent from str, repr, args and the pickle."""
    echoed, hidden = place(secret)
    assume(hidden not in before)
    exc = exception_for(hostile_info(f"{before} {echoed}"))
    for shown in (str(exc), repr(exc), repr(exc.info), exc.info.message, *map(str, exc.args)):
        assert hidden not in shown
        assert is_safe(shown)
    assert hidden.encode() not in pickle.dumps(exc.info.message)


@given(
    name=st.sampled_from(["Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key"]),
    secret=SECRETS,
)
def test_no_secret_survives_redact_headers(name: str, secret: str) -> None:
    """A sensitive header's value is hidden whatever its scheme."""
    for value in (secret, f"Bearer {secret}", f"Basic {secret}", f"a=1; s={secret}"):
        assert secret not in str(redact_headers({name: value}))


@given(st.one_of(st.text(), st.binary(), st.integers(), st.none()))
def test_redaction_and_escaping_never_raise_and_stay_bounded(value: object) -> None:
    """Any input gives text; safe_text's is printable UTF-8; redaction is idempotent."""
    once = redact_text(value)
    assert len(once) <= MAX_INPUT
    assert redact_text(once) == once
    assert len(redact_url(value)) <= 2048
    shown = safe_text(value, 100)
    assert is_safe(shown)
    assert len(shown) <= 10 * 100 + 1
    text = value if isinstance(value, str) else str(value)
    assert is_safe(escape_control(text))


def test_repr_of_extracted_is_redacted_escaped_and_leaves_raw_data_out() -> None:
    """A recognizer's `Extracted`, printed while writing one, hides what repr(ErrorInfo) hides."""
    found = errorkit.Extracted(
        format="acme",
        message="token rejected: Bearer sk-live-0123456789abcdef\x1b[2J\u202e",
        code="E\n42",
        details=({"password": "hunter2-hunter2"},),
        extra={"raw": "Basic dXNlcjpodW50ZXIy"},
    )
    shown = repr(found)
    assert is_safe(shown)
    assert "sk-live-0123456789abcdef" not in shown
    assert "hunter2" not in shown
    assert "dXNlcjpodW50ZXIy" not in shown
    assert "format='acme'" in shown
    assert "code='E\\\\n42'" in shown
