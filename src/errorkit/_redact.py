"""Keep credentials out of logs, exception messages and reprs.

Entry points, all total (they never raise) and bounded:

- `redact_url`: userinfo (``user:pass@``) and sensitive query or fragment
  parameters (``api_key=...``, ``X-Amz-Signature=...``) become ``***``;
- `is_sensitive_header` / `redact_headers`: Authorization, cookies, API-key and
  token headers become ``***`` (the auth scheme is kept: ``Bearer ***``);
- `redact_text`: the same rules applied to free text a server sent back (a 404
  page that echoes the URL, a message quoting a bearer token, a JSON body
  echoing ``"password": "..."``);
- `redact_args`, `redact_kwargs`, `redact_value`, `scrub_exception`: the
  arguments and attributes of an exception errorkit builds or chains, with
  their text and URLs redacted.

Names are compared case-insensitively with every non-alphanumeric character
dropped, so ``api_key``, ``API-Key``, ``apiKey`` and ``api%5Fkey`` are one name.
Over-redacting is the accepted failure mode: a value wrongly hidden costs a
little debugging, a key wrongly shown costs a rotation.

Each rule is one small function; `redact_text` applies them in order (URLs,
``name: value`` pairs, ``name=value`` parameters, auth schemes, JWTs), and every
rule leaves ``***`` as it found it, so redacting twice changes nothing.
"""

from __future__ import annotations

import functools
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
        *("credential", "credentials", "creds", "bearer", "pin", "sign", "samlresponse"),
        *("samlrequest", "awsaccesskeyid", "connectionstring"),
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
    "passphrase",
    "authorization",
    "auth",  # x-auth, basic_auth, proxy_auth
    "cookie",
    "session",
    "sessid",
    "hmac",
    "otp",
    # Names ending in "key" that hold one (a bare "-key" suffix would catch "monkey").
    "subscriptionkey",  # Azure APIM: subscription-key, Ocp-Apim-Subscription-Key
    "accountkey",
    "licensekey",
    "masterkey",
    "encryptionkey",
    "sessionkey",
    "authkey",
    "clientkey",
    "appkey",
    "userkey",
    "hmackey",
    "servicekey",
    "adminkey",
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
_SUFFIX_HEADERS = (
    *("-token", "-secret", "-password", "-passwd", "-api-key", "-apikey", "-authorization"),
    *("-auth", "-cookie", "-signature", "-credential", "-credentials", "-session-id"),
)
# Headers ending in -key that carry no credential and help debugging a retry.
_PUBLIC_KEY_HEADERS = frozenset(("idempotency-key", "x-idempotency-key", "sec-websocket-key"))
_AUTH_SCHEMES = frozenset(
    ("basic", "bearer", "digest", "token", "negotiate", "ntlm", "dpop", "apikey", "hoba")
)

# Headers whose value runs to the end of its line: "Cookie: a=1; b=2".
_LINE_HEADERS = frozenset(
    ("authorization", "proxy-authorization", "cookie", "cookie2", "set-cookie", "set-cookie2")
)
# Sensitive as a query parameter (OAuth's ?code=), but in text almost always an error code.
_NAMES_PUBLIC_IN_TEXT = frozenset(("code",))
# Schemes whose credential is one token after the name; Digest and HOBA carry
# name=value lists, which the parameter rules see.
_TEXT_SCHEMES = _AUTH_SCHEMES - {"digest", "hoba"}
_SCHEME_ALTERNATIVES = "|".join(sorted(_AUTH_SCHEMES))

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_URL_PARAM = re.compile(r"([?&;#])([^=&;#?]*)=([^&;#]*)")
_TEXT_PARAM = re.compile(r"(^|[?&;#\s,])([^=&;#?\s,]*)=([^&;#\s,]*)")
#: Where a sensitive value in text ends: commas are part of it (see `_params_in_text`).
_SECRET_END = re.compile(r"[&;#\s]")
# Each pattern starts only where its run of name characters starts (the
# lookbehind), so a long run without a separator costs linear time, not quadratic.
_URL_IN_TEXT = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`]+")
# A name followed by ':' or '=', quoted or not: `api_key: V`, `"password": "V"`, `token = V`.
_PAIR_NAME = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]+)[\"']?[ \t]*[:=][ \t]*")
_QUOTED = re.compile(r"([\"'])((?:(?!\1)[^\\\r\n]|\\.)*)(\1?)")
_UNQUOTED = re.compile(
    rf"(?:(?i:{_SCHEME_ALTERNATIVES})[ \t]+(?=[^\s\"',;&<>(){{}}\[\]]))?"
    r"[^\s\"',;&<>(){}\[\]]+"
)
_TO_LINE_END = re.compile(r"[^\r\n]+")
_SCHEME_CREDENTIAL = re.compile(
    rf"(?i)\b({'|'.join(sorted(_TEXT_SCHEMES))})\s+([A-Za-z0-9\-._~+/]{{8,}}=*)"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
#: How far `redact_text` looks back from a cut for the start of the word it split.
_CUT_LOOKBACK = 256
#: How deep `redact_args` looks into nested tuples, dicts and exception chains.
MAX_DEPTH = 4


def is_sensitive_param(name: str) -> bool:
    """Whether a query parameter called `name` carries a credential."""
    try:
        return _sensitive_param(name[:256])
    except Exception:  # noqa: BLE001 - a hostile name is hidden, not a crash
        return True


def is_sensitive_header(name: object) -> bool:
    """Whether a header called `name` carries a credential (case-insensitive)."""
    try:
        return _sensitive_header(_text(name)[:256])
    except Exception:  # noqa: BLE001 - a name we cannot read is treated as secret
        return True


# Cached: a text or URL repeats a handful of names, and redaction must stay fast
# on a 16 KiB flood of them. Names are cut to 256 characters, so the cache is small.
@functools.lru_cache(maxsize=1024)
def _sensitive_param(name: str) -> bool:
    key = _NOT_ALNUM.sub("", unquote_plus(name).lower())
    return key in _EXACT_PARAMS or key.endswith(_SUFFIX_PARAMS)


@functools.lru_cache(maxsize=1024)
def _sensitive_name(name: str) -> bool:
    if _NOT_ALNUM.sub("", name.lower()) in _NAMES_PUBLIC_IN_TEXT:
        return False
    return _sensitive_param(name) or _sensitive_header(name)


@functools.lru_cache(maxsize=1024)
def _sensitive_header(name: str) -> bool:
    key = name.strip().lower().replace("_", "-")
    if key in _EXACT_HEADERS:
        return True
    if key.endswith("-key") and key not in _PUBLIC_KEY_HEADERS:
        return True
    return key.endswith(_SUFFIX_HEADERS)


def is_sensitive_name(name: str) -> bool:
    """Whether a name in text (``name: value``) or a JSON key names a credential.

    A sensitive parameter or header name, except ``code``: sensitive in a query
    (OAuth's ``?code=``), but in a message or a body almost always an error code.
    """
    try:
        return _sensitive_name(name[:256])
    except Exception:  # noqa: BLE001 - a hostile name is hidden, not a crash
        return True


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
    """Free text with every credential the rules recognise replaced by ``***``.

    Meant for text a server sent back (messages, error pages, JSON bodies). The
    rules, in order: URLs (`redact_url`); ``name: value`` and ``name = value``
    pairs with a sensitive name, quoted or not (``"password": "V"``,
    ``x-api-key: V``; an Authorization or Cookie value runs to the end of its
    line; the auth scheme is kept: ``Authorization: Basic ***``); ``name=value``
    parameters; an auth scheme followed by its credential (``Bearer V``,
    ``Basic V``; a plain word such as in "Basic authentication failed" is
    prose, except after Bearer); JSON Web Tokens (``eyJ...``).

    Never raises. At most `MAX_INPUT` characters of the input are looked at (a
    word the cut splits is dropped, so no half token is left) and at most
    `MAX_INPUT` are returned.
    """
    try:
        value = _head(_text(text))
        value = _URL_IN_TEXT.sub(lambda m: _redact_url(m.group()), value)
        value = _redact_pairs(value)
        value = _params_in_text(value)
        value = _SCHEME_CREDENTIAL.sub(_scheme_credential, value)
        return _bound(_JWT.sub(REDACTED, value), MAX_INPUT)
    except Exception:  # noqa: BLE001 - the caller is usually building an error message
        return "<unprintable text>"


def redact_args(args: Iterable[object]) -> tuple[object, ...]:
    """Exception arguments with the credentials in their text hidden (`redact_value`).

    For the arguments of an exception errorkit builds (``foreign_args``) or of
    a stack object it stores. Never raises.
    """
    try:
        return tuple(redact_value(arg) for arg in args)
    except Exception:  # noqa: BLE001 - a hostile iterable gives no arguments
        return ()


def redact_kwargs(kwargs: Mapping[str, object]) -> dict[str, object]:
    """Keyword arguments redacted like `redact_args`; one with a sensitive name is ``***``.

    Never raises.
    """
    try:
        return {name: _redact_field(name, value, 0) for name, value in kwargs.items()}
    except Exception:  # noqa: BLE001 - a hostile mapping gives no arguments
        return {}


def redact_value(value: object, depth: int = 0) -> object:
    """`value` with the credentials in its text hidden; itself when it holds none.

    - a str goes through `redact_text`; bytes holding a credential become that
      redacted text (a str);
    - a URL object (yarl's, httpx's: a type named ``URL``) holding a credential
      is rebuilt from its redacted text, as its own type when it accepts a str;
    - tuples (named ones keep their type), lists and dicts are redacted item by
      item, and a field or key with a sensitive name becomes ``***``;
    - an exception is scrubbed in place (`scrub_exception`) and returned;
    - any other object (a live request, response, pool, multidict) is returned
      as it is: a stack object holding credentials must be rebuilt by its adapter.

    Nothing is looked at deeper than `MAX_DEPTH` levels. Never raises: a value
    that cannot be read is replaced by ``***``.
    """
    try:
        return _redact_value_at(value, depth)
    except Exception:  # noqa: BLE001 - over-redacting is the accepted failure mode
        return REDACTED


def scrub_exception(exc: BaseException, depth: int = 0) -> None:
    """Hide, in place, the credentials `exc` carries in its args, attributes and causes.

    For the exceptions errorkit builds and the stack exceptions it chains as
    their ``__cause__`` (printed in every traceback). ``args`` and every entry
    of ``__dict__`` (urllib3's ``url``, aiohttp's connection key...) go through
    `redact_value`; so do OSError's ``strerror`` and ``filename``; then
    ``__cause__`` and ``__context__``, down to `MAX_DEPTH`. Never raises.
    """
    if depth > MAX_DEPTH:
        return
    try:
        exc.args = tuple(redact_value(arg, depth + 1) for arg in exc.args)
        state = vars(exc)
        for name, value in list(state.items()):
            hidden = _redact_field(name, value, depth + 1)
            if hidden is not value:
                state[name] = hidden
        if isinstance(exc, OSError):
            _scrub_os_error(exc)
        for chained in (exc.__cause__, exc.__context__):
            if chained is not None:
                scrub_exception(chained, depth + 1)
    except Exception:  # noqa: BLE001, S110 - scrubbing is best effort on a hostile object
        pass


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
    return _hidden(value) if is_sensitive_header(name) else redact_text(value)


def _hidden(value: str) -> str:
    """What a credential is shown as: ``***``, keeping an auth scheme (``Bearer ***``)."""
    scheme, space, rest = value.strip().partition(" ")
    if space and rest.strip() and scheme.lower() in _AUTH_SCHEMES:
        return f"{scheme} {REDACTED}"
    return REDACTED


def _head(text: str) -> str:
    """At most `MAX_INPUT` characters of `text`, without a word cut in two.

    Half a token is still a secret, and too short for the rules to recognise.
    """
    if len(text) <= MAX_INPUT:
        return text
    head = text[:MAX_INPUT]
    space = max(head.rfind(c, MAX_INPUT - _CUT_LOOKBACK) for c in " \t\r\n")
    return (head[: space + 1] if space >= 0 else head) + "\u2026"


def _redact_pairs(text: str) -> str:
    """``name: value`` / ``name = value`` pairs whose name is sensitive, quoted or not.

    Every ``name:`` is a candidate, even one inside the value of a public pair
    (``a: token: V``), so a public pair cannot hide the sensitive one after it.
    """
    out: list[str] = []
    done = 0
    for match in _PAIR_NAME.finditer(text):
        if match.start() < done or not is_sensitive_name(match.group(1)):
            continue
        value = _pair_value(match.group(1), text, match.end())
        if value is not None:
            end, shown = value
            out.append(text[done : match.end()])
            out.append(shown)
            done = end
    out.append(text[done:])
    return "".join(out)


def _pair_value(name: str, text: str, start: int) -> tuple[int, str] | None:
    """Where the value at `start` ends and what it is shown as; None for no value."""
    quoted = _QUOTED.match(text, start)
    if quoted is not None:
        quote, inner, close = quoted.groups()
        return (quoted.end(), f"{quote}{_hidden(inner)}{close}") if inner else None
    to_line_end = name.lower().replace("_", "-") in _LINE_HEADERS
    found = (_TO_LINE_END if to_line_end else _UNQUOTED).match(text, start)
    if found is None or not found.group().strip():
        return None
    return found.end(), _hidden(found.group())


def _scheme_credential(match: re.Match[str]) -> str:
    scheme, credential = match.groups()
    if scheme.lower() != "bearer" and _plain_word(credential):
        return match.group()  # "Basic authentication failed": prose, not a credential
    return f"{scheme} {REDACTED}"


def _plain_word(text: str) -> bool:
    """A word of prose: letters only, lower case after the first."""
    word = text.rstrip(".,")
    return word.isalpha() and word[1:].islower()


def _redact_value_at(value: object, depth: int) -> object:
    if isinstance(value, (str, bytes, bytearray)):
        return _redact_text_value(value)
    if isinstance(value, BaseException):
        scrub_exception(value, depth)
        return value
    if isinstance(value, (tuple, list, dict)):
        return value if depth >= MAX_DEPTH else _redact_container(value, depth + 1)
    if type(value).__name__ == "URL":
        return _redact_url_object(value)
    return value


def _redact_text_value(value: str | bytes | bytearray) -> object:
    """Redacted text; `value` itself when there was nothing to hide."""
    text = value if isinstance(value, str) else bytes(value[:MAX_INPUT]).decode("latin-1")
    hidden = redact_text(text)
    return value if hidden == value or (hidden == text and len(value) <= MAX_INPUT) else hidden


def _redact_container(
    value: tuple[object, ...] | list[object] | dict[object, object], depth: int
) -> object:
    if isinstance(value, dict):
        items = {key: _redact_field(key, item, depth) for key, item in value.items()}
        return value if _same(items.values(), value.values()) else items
    fields = getattr(type(value), "_fields", None)
    if isinstance(value, tuple) and isinstance(fields, tuple) and len(fields) == len(value):
        named = [_redact_field(name, item, depth) for name, item in zip(fields, value, strict=True)]
        if _same(named, value):
            return value
        rebuilt: object = type(value)._make(named)  # type: ignore[attr-defined]
        return rebuilt
    redacted = [redact_value(item, depth) for item in value]
    if _same(redacted, value):
        return value
    return tuple(redacted) if isinstance(value, tuple) else redacted


def _redact_field(name: object, value: object, depth: int) -> object:
    """A named value: ``***`` when its name is sensitive and it holds something.

    Field, attribute and key names follow the parameter rule (``password``,
    ``proxy_auth``, ``api_key``), not the header rule's ``-key`` suffix: an
    attribute such as aiohttp's ``_conn_key`` holds no credential.
    """
    if isinstance(name, str) and _holds_something(value) and _sensitive_field(name):
        return REDACTED
    return redact_value(value, depth)


def _sensitive_field(name: str) -> bool:
    key = _NOT_ALNUM.sub("", name[:256].lower())
    return key not in _NAMES_PUBLIC_IN_TEXT and is_sensitive_param(name)


def _holds_something(value: object) -> bool:
    if isinstance(value, (str, bytes, bytearray)):
        return bool(value)
    return value is not None


def _redact_url_object(value: object) -> object:
    text = str(value)
    hidden = redact_url(text)
    if hidden == text:
        return value
    try:
        rebuilt: object = type(value)(hidden)  # type: ignore[call-arg]
    except Exception:  # noqa: BLE001 - a URL type that refuses its own text: keep the text
        return hidden
    return rebuilt


def _scrub_os_error(exc: OSError) -> None:
    for name in ("strerror", "filename", "filename2"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            hidden = redact_text(value)
            if hidden != value:
                setattr(exc, name, hidden)


def _same(new: Iterable[object], old: Iterable[object]) -> bool:
    return all(a is b for a, b in zip(new, old, strict=True))


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


def _params_in_text(text: str) -> str:
    """`text` with the values of its sensitive ``name=value`` pairs hidden.

    After ``?&;#`` a pair is a query parameter; after a space or a comma, a name in
    text. A sensitive value is hidden up to the next ``& ; #`` or space, commas
    included (``api_key=,x0`` or ``sig=a,b``); any other value ends at its first
    comma, and scanning goes on from there (``x=1,token=abc``). One pass, left to
    right: linear in the text.
    """
    out: list[str] = []
    position = 0
    while (match := _TEXT_PARAM.search(text, position)) is not None:
        sep, name, _ = match.groups()
        in_query = sep in ("?", "&", ";", "#")
        if name and (is_sensitive_param(name) if in_query else is_sensitive_name(name)):
            found = _SECRET_END.search(text, match.end())
            end = len(text) if found is None else found.start()
            if end > match.start(3):  # an empty value hides nothing
                out.append(f"{text[position : match.start()]}{sep}{name}={REDACTED}")
                position = end
                continue
        out.append(text[position : match.end()])
        position = match.end()
    out.append(text[position:])
    return "".join(out)


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
