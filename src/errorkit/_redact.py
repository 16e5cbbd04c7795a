"""Keep credentials out of logs, exception messages and reprs.

Three entry points, all total (they never raise) and bounded:

- `redact_url`: userinfo (``user:pass@``) and sensitive query or fragment
  parameters (``api_key=...``, ``X-Amz-Signature=...``) become ``***``;
- `is_sensitive_header` / `redact_headers`: Authorization, cookies, API-key and
  token headers become ``***`` (the auth scheme is kept: ``Bearer ***``);
- `redact_text`: the same rules applied to free text a server sent back (a 404
  page that echoes the URL, a message quoting a bearer token).

Names are compared case-insensitively with every non-alphanumeric character
dropped, so ``api_key``, ``API-Key``, ``apiKey`` and ``api%5Fkey`` are one name.
Over-redacting is the accepted failure mode: a value wrongly hidden costs a
little debugging, a key wrongly shown costs a rotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

#: What a hidden value is replaced with.
REDACTED = "***"
#: Longest URL returned by `redact_url`; longer ones end with an ellipsis.
MAX_URL = 2048
#: Longest input looked at; the rest is dropped before any work is done.
MAX_INPUT = 16 * 1024
#: Most header fields `redact_headers` returns, and the longest value it keeps.
MAX_HEADER_FIELDS = 512
MAX_HEADER_VALUE = 8192

_EXACT_PARAMS = frozenset(
    re.sub(r"[^a-z0-9]", "", name)
    for name in (
        *("api_key", "apikey", "key", "token", "access_token", "refresh_token", "id_token"),
        *("secret", "client_secret", "password", "passwd", "pwd", "pass", "signature", "sig"),
        *("code", "auth", "session", "sessionid", "sid", "jwt", "assertion", "client_assertion"),
        *("access_key", "secret_key", "private_key", "private_token", "otp", "ticket", "hmac"),
        *("credential", "credentials"),
    )
)
# Any name ending like this is sensitive: github_token, db_password, x-amz-credential.
_SUFFIX_PARAMS = (
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "signature",
    "credential",
    "credentials",
    "sessionid",
    "accesskey",
    "secretkey",
    "privatekey",
    "signingkey",
    "verifier",
)

_EXACT_HEADERS = frozenset(
    (
        *("authorization", "proxy-authorization", "cookie", "cookie2", "set-cookie"),
        *("set-cookie2", "x-api-key", "api-key", "apikey", "x-apikey", "x-auth", "x-auth-token"),
        *("x-access-token", "x-amz-security-token", "x-csrf-token", "x-xsrf-token", "dpop"),
        *("private-token", "token", "x-goog-iap-jwt-assertion", "x-vault-token", "x-session"),
        "x-session-id",
    )
)
_SUFFIX_HEADERS = ("-token", "-secret", "-password", "-passwd", "-api-key", "-apikey")
# Headers ending in -key that carry no credential and help debugging a retry.
_PUBLIC_KEY_HEADERS = frozenset(("idempotency-key", "x-idempotency-key", "sec-websocket-key"))
_AUTH_SCHEMES = frozenset(
    ("basic", "bearer", "digest", "token", "negotiate", "ntlm", "dpop", "apikey", "hoba")
)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_URL_PARAM = re.compile(r"([?&;#])([^=&;#?]*)=([^&;#]*)")
_TEXT_PARAM = re.compile(r"(^|[?&;#\s,])([^=&;#?\s,]*)=([^&;#\s,]*)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def is_sensitive_param(name: str) -> bool:
    """Whether a query parameter called `name` carries a credential."""
    try:
        key = _NOT_ALNUM.sub("", unquote_plus(name[:256]).lower())
    except Exception:  # noqa: BLE001 - a hostile name is hidden, not a crash
        return True
    return key in _EXACT_PARAMS or key.endswith(_SUFFIX_PARAMS)


def is_sensitive_header(name: object) -> bool:
    """Whether a header called `name` carries a credential (case-insensitive)."""
    try:
        key = _text(name)[:256].strip().lower().replace("_", "-")
    except Exception:  # noqa: BLE001 - a name we cannot read is treated as secret
        return True
    if key in _EXACT_HEADERS:
        return True
    if key.endswith("-key") and key not in _PUBLIC_KEY_HEADERS:
        return True
    return key.endswith(_SUFFIX_HEADERS)


def redact_url(url: object) -> str:
    """`url` (str, bytes, httpx.URL, yarl.URL...) with its credentials replaced by ``***``.

    Userinfo becomes ``***@``; a sensitive parameter keeps its name and loses its
    value, in the query and in the fragment (OAuth's implicit flow puts tokens
    there). The result is at most `MAX_URL` characters. Never raises.
    """
    try:
        return _bound(_redact_url(_text(url)), MAX_URL)
    except Exception:  # noqa: BLE001 - a log line must not fail because of a URL
        return "<unprintable url>"


def redact_text(text: object) -> str:
    """Free text with URLs, ``name=value`` credentials and bearer tokens hidden.

    Meant for text a server sent back (messages, error pages). Never raises; at
    most `MAX_INPUT` characters of the input are kept.
    """
    try:
        value = _text(text)[:MAX_INPUT]
        value = _URL_IN_TEXT.sub(lambda m: _redact_url(m.group()), value)
        value = _TEXT_PARAM.sub(_param_in_text, value)
        return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
    except Exception:  # noqa: BLE001 - the caller is usually building an error message
        return "<unprintable text>"


def redact_headers(headers: object) -> dict[str, str]:
    """A copy of `headers` (mapping, multi-dict or pairs) that is safe to log.

    Sensitive fields show ``***`` (or ``Bearer ***``); other values pass through
    `redact_text`, so a Location or Link with a token in it is cleaned too.
    Repeated fields are joined with ``", "`` under the first spelling seen. Never
    raises; at most `MAX_HEADER_FIELDS` fields are returned.
    """
    out: dict[str, str] = {}
    spelling: dict[str, str] = {}
    try:
        for count, (raw_name, raw_value) in enumerate(_pairs(headers)):
            if count >= MAX_HEADER_FIELDS:
                break
            name = _text(raw_name)[:256]
            value = _redact_value(name, _text(raw_value)[:MAX_HEADER_VALUE])
            key = spelling.setdefault(name.lower(), name)
            out[key] = f"{out[key]}, {value}" if key in out else value
    except Exception:  # noqa: BLE001 - a hostile headers object yields what was read
        return out
    return out


def _redact_value(name: str, value: str) -> str:
    if not is_sensitive_header(name):
        return redact_text(value)
    scheme = value.strip().split(" ", 1)[0]
    if " " in value.strip() and scheme.lower() in _AUTH_SCHEMES:
        return f"{scheme} {REDACTED}"
    return REDACTED


def _redact_url(text: str) -> str:
    truncated = len(text) > MAX_INPUT
    text = text[:MAX_INPUT]
    start, end = _authority(text)
    cut = _userinfo_end(text, start, end)
    if cut is not None:
        text = f"{text[:start]}{REDACTED}{text[cut:]}"
        end = _authority_end(text, start + len(REDACTED))
    elif truncated and end == len(text):
        # The authority itself was cut: it may hold half a password with no '@' left.
        return f"{text[:start]}{REDACTED}"
    return text[:end] + _URL_PARAM.sub(_param_in_url, text[end:])


def _authority(text: str) -> tuple[int, int]:
    """Start and end of the authority (after ``scheme://``, up to ``/?#``)."""
    scheme = _SCHEME.match(text)
    start = scheme.end() if scheme else 0
    if text.startswith("//", start):
        start += 2
    elif scheme and "@" not in text[: _authority_end(text, 0)]:
        return start, start  # mailto:, urn:, data: have no authority
    elif scheme:
        start = 0  # "user:pass@host/x": no scheme, and the colon is the password's
    return start, _authority_end(text, start)


def _authority_end(text: str, start: int) -> int:
    ends = [i for i in (text.find(c, start) for c in "/?#") if i >= 0]
    return min(ends, default=len(text))


def _userinfo_end(text: str, start: int, end: int) -> int | None:
    """Index of the '@' that ends the userinfo, or None when there is none."""
    at = text.rfind("@", start, end)
    if at >= 0:
        return at
    # "user:pa/ss@host": an unescaped '/' in the password ends the authority early.
    _, colon, port = text[start:end].rpartition(":")
    if colon and port and not port.isdigit() and "]" not in port:
        stop = min((i for i in (text.find("?", end), text.find("#", end)) if i >= 0), default=-1)
        at = text.rfind("@", end, stop if stop >= 0 else len(text))
        return at if at >= 0 else None
    return None


def _param_in_url(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if is_sensitive_param(name):
        return f"{sep}{name}={REDACTED}"
    return f"{sep}{name}={_nested_query(value)}"


def _nested_query(value: str) -> str:
    """A non-secret value may hold a URL with its own query: ``next=/cb?token=x``."""
    if "?" not in value:
        return value
    parts = value.split("?")
    for index, part in enumerate(parts[1:], start=1):
        name, equals, _ = part.partition("=")
        if equals and is_sensitive_param(name):
            # Everything after a secret's '=' up to the next '&' is the secret.
            return "?".join([*parts[:index], f"{name}={REDACTED}"])
    return value


def _param_in_text(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if name and value and is_sensitive_param(name):
        return f"{sep}{name}={REDACTED}"
    return match.group()


def _bound(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:MAX_INPUT]).decode("latin-1")
    return str(value)


def _pairs(headers: object) -> Iterable[tuple[Any, Any]]:
    if not headers:
        return
    items = getattr(headers, "multi_items", None) or getattr(headers, "items", None)
    if isinstance(headers, Mapping) or callable(items):
        raw: Iterable[Any] = items() if callable(items) else ()
    elif isinstance(headers, Iterable) and not isinstance(headers, (str, bytes)):
        raw = headers
    else:
        return
    for item in raw:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            yield item[0], item[1]
