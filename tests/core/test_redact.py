"""Credentials never reach a log line, an exception message or a repr."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, NamedTuple

import httpx
import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st

from errorkit._redact import (
    MAX_HEADER_FIELDS,
    MAX_HEADER_VALUE,
    MAX_INPUT,
    MAX_URL,
    REDACTED,
    is_sensitive_header,
    is_sensitive_name,
    is_sensitive_param,
    redact_args,
    redact_headers,
    redact_kwargs,
    redact_text,
    redact_url,
    redact_value,
    scrub_exception,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

SENSITIVE_PARAMS = (
    *("api_key", "apikey", "key", "token", "access_token", "refresh_token", "id_token"),
    *("secret", "client_secret", "password", "passwd", "pwd", "signature", "sig"),
    *("x-amz-signature", "x-amz-credential", "x-amz-security-token", "code", "auth"),
    *("session", "github_token", "db_password", "private_token"),
    # Names in the wild: Azure APIM and SAS, AWS and Google signed URLs, OAuth, sessions.
    *("subscription-key", "authorization", "passphrase", "X-Goog-Signature"),
    *("X-Goog-Credential", "Ocp-Apim-Subscription-Key", "AccountKey", "SharedAccessKey"),
    *("SharedAccessSignature", "AWSAccessKeyId", "oauth_signature", "code_verifier"),
    *("client_assertion", "proxy_auth", "basic_auth", "PHPSESSID", "jsessionid"),
    *("x-api-key", "x-goog-api-key", "apiKey", "app_key", "license_key", "Cookie"),
)

PUBLIC_PARAMS = (
    *("page", "q", "sort", "limit", "cursor", "keyword", "monkey", "state", "redirect_uri"),
    *("format", "sort_key", "idempotency_key", "author", "oauth_nonce", "public_key"),
)

# Characters a secret may contain inside a query value (not the & ; # that end it).
SECRET_ALPHABET = st.characters(
    codec="utf-8", exclude_characters="&;#", exclude_categories=("Cs", "Cc", "Zs")
)


def variants(name: str) -> list[str]:
    """Spellings a server or client may use for the same parameter name."""
    return sorted(
        {
            name,
            name.upper(),
            name.title(),
            name.replace("_", "-"),
            name.replace("-", "_"),
            name.replace("_", "").replace("-", ""),
        }
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@host/x", "https://***@host/x"),
        ("https://user@host/x", "https://***@host/x"),
        ("user:pass@host/x", "***@host/x"),
        ("https://u:pa/ss@host/x?q=1", "https://***@host/x?q=1"),
        ("https://h/x?api_key=abc&page=2", "https://h/x?api_key=***&page=2"),
        (
            "https://h/x?page=2#access_token=zz&state=s",
            "https://h/x?page=2#access_token=***&state=s",
        ),
        ("https://h/?q=1;sig=zz", "https://h/?q=1;sig=***"),
        ("https://h/?token=a=b?c", "https://h/?token=***"),
        ("https://h/x?%74oken=s", "https://h/x?%74oken=***"),
        (
            "https://h/cb?next=https://x/?token=abc?def&a=1",
            "https://h/cb?next=https://x/?token=***&a=1",
        ),
        ("https://[::1]:8443/x?Api-Key=1", "https://[::1]:8443/x?Api-Key=***"),
        ("https://host:8443/p?q=a@b", "https://host:8443/p?q=a@b"),
        ("https://h/?code", "https://h/?code"),
        ("/relative/path?secret=s", "/relative/path?secret=***"),
        ("", ""),
    ],
)
def test_redact_url_examples(url: str, expected: str) -> None:
    """Userinfo and sensitive parameter values are replaced; everything else is kept verbatim."""
    assert redact_url(url) == expected


@pytest.mark.parametrize("name", [v for n in SENSITIVE_PARAMS for v in variants(n)])
def test_every_spelling_of_a_sensitive_param_is_redacted(name: str) -> None:
    """Case, '-' and '_' variants of a sensitive parameter name are all recognised."""
    assert redact_url(f"https://h/p?a=1&{name}=SeCrEt99&b=2") == f"https://h/p?a=1&{name}=***&b=2"


@pytest.mark.parametrize("name", PUBLIC_PARAMS)
def test_public_params_are_left_alone(name: str) -> None:
    """Ordinary parameters (including names merely containing 'key') stay readable."""
    url = f"https://h/p?{name}=visible"
    assert redact_url(url) == url
    assert not is_sensitive_param(name)


def test_redact_url_accepts_url_objects_and_bytes() -> None:
    """httpx.URL, bytes and other objects are rendered with str() and then redacted."""
    assert redact_url(httpx.URL("https://u:p@h/x?token=t")) == "https://***@h/x?token=***"
    assert redact_url(b"https://h/x?key=k") == "https://h/x?key=***"


def test_redact_url_never_raises_on_a_hostile_object() -> None:
    """An object whose str() raises gives a placeholder, not an exception."""

    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert redact_url(Hostile()) == "<unprintable url>"


def test_redact_url_is_bounded() -> None:
    """A huge URL comes back cut to MAX_URL characters with an ellipsis."""
    out = redact_url("https://h/" + "a" * 100_000 + "?token=zzz")
    assert len(out) == MAX_URL
    assert out.endswith("\u2026")
    assert "zzz" not in out


def test_a_password_in_a_cut_authority_is_hidden() -> None:
    """When the input limit falls inside the authority, the whole authority is hidden."""
    out = redact_url("https://user:" + "p" * 50_000 + "@host/")
    assert "ppp" not in out
    assert out.startswith("https://***")


def test_huge_inputs_are_cut_before_any_work() -> None:
    """Megabyte inputs are cut to a bounded length (speed is measured in benchmarks/)."""
    assert len(redact_url("https://h/?" + "&a=b" * 250_000)) <= MAX_URL + 1
    assert len(redact_text("x=" * 500_000)) <= MAX_INPUT + 1
    headers = redact_headers({"Link": "<https://h/?a=b>" * 100_000})
    assert len(headers["Link"]) <= MAX_HEADER_VALUE + 1


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "proxy-authorization",
        "Cookie",
        "Set-Cookie",
        "X-API-Key",
        "api-key",
        "x_api_key",
        "X-Auth-Token",
        "X-Goog-Api-Key",
        "Ocp-Apim-Subscription-Key",
        "X-Amz-Security-Token",
        "X-Client-Secret",
        "Private-Token",
        b"authorization",
    ],
)
def test_sensitive_headers(name: str | bytes) -> None:
    """Authorization, cookie, API-key, token and secret headers are sensitive, in any case."""
    assert is_sensitive_header(name)


@pytest.mark.parametrize(
    "name",
    ["Content-Type", "Retry-After", "X-Request-Id", "Idempotency-Key", "WWW-Authenticate", ""],
)
def test_public_headers(name: str) -> None:
    """Headers needed to debug a retry (Retry-After, request id, Idempotency-Key) stay visible."""
    assert not is_sensitive_header(name)


def test_redact_headers_keeps_the_auth_scheme_and_cleans_other_values() -> None:
    """Sensitive values become *** (keeping 'Bearer'); a token inside a Location is hidden too."""
    out = redact_headers(
        {
            "Authorization": "Bearer sk-live-123",
            "Cookie": "session=abc",
            "Location": "https://h/cb?access_token=zz",
            "Content-Type": "text/html; charset=utf-8",
            "Idempotency-Key": "k-1",
        }
    )
    assert out == {
        "Authorization": f"Bearer {REDACTED}",
        "Cookie": REDACTED,
        "Location": f"https://h/cb?access_token={REDACTED}",
        "Content-Type": "text/html; charset=utf-8",
        "Idempotency-Key": "k-1",
    }


def test_redact_headers_reads_every_stack_and_joins_repeated_fields() -> None:
    """Pairs, httpx.Headers and requests' CaseInsensitiveDict all work; repeats are joined."""
    pairs = [("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("X-Request-Id", "r1")]
    assert redact_headers(pairs) == {"Set-Cookie": "***, ***", "X-Request-Id": "r1"}
    # httpx.Headers hands out lower-cased names.
    assert redact_headers(httpx.Headers(pairs)) == {"set-cookie": "***, ***", "x-request-id": "r1"}
    cid = requests.structures.CaseInsensitiveDict({"X-Api-Key": "k", "Accept": "*/*"})
    assert redact_headers(cid) == {"X-Api-Key": REDACTED, "Accept": "*/*"}


def test_redact_headers_is_bounded_and_total() -> None:
    """A flood of fields is cut, and garbage input gives an empty or partial dict."""
    assert len(redact_headers([(f"h{i}", "v") for i in range(5000)])) == MAX_HEADER_FIELDS
    assert redact_headers(None) == {}
    assert redact_headers(42) == {}
    assert redact_headers([("a", "1"), ("bad",), ("b", 3)]) == {"a": "1", "b": "3"}


def test_redact_text_hides_urls_params_and_bearer_tokens() -> None:
    """Server text that echoes a URL, a key=value pair or a bearer token is cleaned."""
    text = "GET https://u:p@h/x?token=abc failed; api_key=zzz (Bearer abcdefghijklmnop)"
    out = redact_text(text)
    assert out == "GET https://***@h/x?token=*** failed; api_key=*** (Bearer ***)"
    assert redact_text("Basic authentication failed for page=2") == (
        "Basic authentication failed for page=2"
    )


@given(st.one_of(st.text(), st.binary(), st.none(), st.integers()))
def test_redact_url_and_text_never_raise(value: object) -> None:
    """No input makes redact_url or redact_text raise, and output is always bounded."""
    assert len(redact_url(value)) <= MAX_URL
    assert isinstance(redact_text(value), str)


@given(
    st.lists(
        st.tuples(st.one_of(st.text(), st.binary()), st.one_of(st.text(), st.binary())),
        max_size=20,
    )
)
def test_redact_headers_never_raises(pairs: list[tuple[object, object]]) -> None:
    """No list of header pairs makes redact_headers raise."""
    assert isinstance(redact_headers(pairs), dict)


@given(
    name=st.sampled_from([v for n in SENSITIVE_PARAMS for v in variants(n)]),
    secret=st.text(SECRET_ALPHABET, min_size=6, max_size=40),
    before=st.lists(st.sampled_from(PUBLIC_PARAMS), max_size=3),
    after=st.lists(st.sampled_from(PUBLIC_PARAMS), max_size=3),
    where=st.sampled_from(["?", "#"]),
    base=st.sampled_from(["https://api.example.com/v1/x", "http://h:8080", "/p", ""]),
)
def test_a_secret_in_a_sensitive_param_never_appears(
    *, name: str, secret: str, before: list[str], after: list[str], where: str, base: str
) -> None:
    """Whatever surrounds it, a sensitive parameter's value is absent from the redacted URL."""
    params = [f"{p}=v" for p in before] + [f"{name}={secret}"] + [f"{p}=w" for p in after]
    url = base + where + "&".join(params)
    assume(secret not in url.replace(f"{name}={secret}", ""))
    assert secret not in redact_url(url)
    assert secret not in redact_text(f"see {url} now")


@given(
    user=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=10),
    password=st.text(SECRET_ALPHABET.filter(lambda c: c not in "/?@"), min_size=6, max_size=30),
)
def test_a_password_in_userinfo_never_appears(user: str, password: str) -> None:
    """The password of a URL's userinfo is absent from the redacted URL."""
    url = f"https://{user}:{password}@api.example.com/v1?page=1"
    assume(password not in "https://api.example.com/v1?page=1")
    assert password not in redact_url(url)


# --- credentials a server echoes back --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer abcdefghijklmnop", "Bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
        ("authorization: basic dXNlcjpwYXNz", "authorization: basic ***"),
        (
            "Proxy-Authorization: Basic dXNlcjpwYXNz\r\nHost: h",
            "Proxy-Authorization: Basic ***\r\nHost: h",
        ),
        ("Authorization: Digest username=bob, response=abc123", "Authorization: Digest ***"),
        ("got Basic dXNlcjpwYXNz from you", "got Basic *** from you"),
        ("api_key: AIzaSy123 is invalid", "api_key: *** is invalid"),
        ("x-api-key: k-123, region eu", "x-api-key: ***, region eu"),
        ("password: hunter22", "password: ***"),
        ("token = abc123 expired", "token = *** expired"),
        ("client_secret=s3cr3t&grant_type=x", "client_secret=***&grant_type=x"),
        ('{"api_key": "V-123", "page": 2}', '{"api_key": "***", "page": 2}'),
        (
            '{"password": "a \\"quoted\\" pass", "user": "bob"}',
            '{"password": "***", "user": "bob"}',
        ),
        (
            "{'Authorization': 'Bearer xyz12345', 'Accept': '*/*'}",
            "{'Authorization': 'Bearer ***', 'Accept': '*/*'}",
        ),
        ('{"credentials": {"pin": 1234}}', '{"credentials": {"pin": ***}}'),
        ("Cookie: session=abc; theme=dark\nHost: h", "Cookie: ***\nHost: h"),
        ("Set-Cookie: sid=abc123; Path=/; HttpOnly", "Set-Cookie: ***"),
        ('"Cookie": "a=1; b=2"', '"Cookie": "***"'),
        ("bad JWT eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here", "bad JWT *** here"),
        ("a: token: abc123", "a: token: ***"),
        ('{"password": "unterminated', '{"password": "***'),
        ("see https://h/x?subscription-key=abc&a=1", "see https://h/x?subscription-key=***&a=1"),
    ],
)
def test_redact_text_hides_echoed_credentials(text: str, expected: str) -> None:
    """Bearer/Basic credentials, name: value pairs, JSON fields, cookies and JWTs are hidden."""
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Basic authentication failed",
        "Basic Authentication required for this realm",
        "Invalid API key or token.",
        "error code: 42",
        '{"code": "rate_limit_exceeded", "message": "slow down"}',
        "Missing bearer token",
        "Token expired",
        "Retry at 10:30 (page=2)",
        "idempotency-key: k-1",
    ],
)
def test_redact_text_leaves_prose_and_error_codes_alone(text: str) -> None:
    """Words after an auth scheme, error codes and public fields are not mistaken for secrets."""
    assert redact_text(text) == text


def test_redact_text_is_idempotent_on_its_own_output() -> None:
    """Redacting redacted text changes nothing: every rule leaves *** as it found it."""
    text = (
        "Authorization: Bearer abcdefghij\n"
        '{"password": "x", "api_key": "y"} token=z https://u:p@h/?sig=s Basic dXNlcjpwYXNz'
    )
    once = redact_text(text)
    assert redact_text(once) == once


def test_redact_text_cut_never_leaves_half_a_token() -> None:
    """When the input limit falls inside a token, the partial token is dropped, not shown."""
    secret = "Zq7" * 20
    filler = "x " * ((MAX_INPUT - len("Bearer ") - 10) // 2)
    out = redact_text(filler + "Bearer " + secret)
    assert secret[:3] not in out
    assert len(out) <= MAX_INPUT


def test_is_sensitive_name_keeps_code_public_in_text() -> None:
    """ "code" is secret in a query (OAuth) but an error code in text; other names match."""
    assert is_sensitive_param("code")
    assert not is_sensitive_name("code")
    assert is_sensitive_name("x-api-key")
    assert is_sensitive_name("X-Custom-Key")
    assert not is_sensitive_name("message")


# --- exception arguments and attributes -----------------------------------------


class FakeURL:
    """A URL object like yarl's or httpx's: its type is named URL and takes a str."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


FakeURL.__name__ = "URL"


class Point(NamedTuple):
    """A named tuple like aiohttp's ConnectionKey or BasicAuth."""

    host: str
    proxy_auth: object
    password: str | None


def test_redact_value_keeps_objects_with_nothing_to_hide() -> None:
    """Values holding no credential come back as the same objects, so types and identity hold."""
    live = object()
    clean = ("GET", 3, None, live, ["a"], {"page": 1}, Point("h", None, None))
    assert all(a is b for a, b in zip(redact_args(clean), clean, strict=True))
    assert redact_value(b"plain") == b"plain"


def test_redact_value_hides_text_urls_and_sensitive_fields() -> None:
    """Text and URLs are redacted, a sensitive field or key becomes ***, named tuples stay."""
    url = redact_value(FakeURL("http://u:p@h/x?token=t&q=1"))
    assert isinstance(url, FakeURL)
    assert str(url) == "http://***@h/x?token=***&q=1"
    point = redact_value(Point("h", object(), "hunter2"))
    assert isinstance(point, Point)
    assert (point.host, point.proxy_auth, point.password) == ("h", REDACTED, REDACTED)
    assert redact_value({"api_key": "k", "q": "/x?token=t"}) == {
        "api_key": REDACTED,
        "q": "/x?token=***",
    }
    assert redact_value([b"/x?sig=s"]) == ["/x?sig=***"]
    assert redact_args(("see /p?api_key=k",)) == ("see /p?api_key=***",)
    assert redact_kwargs({"message": "token=t", "password": "p", "status": 401}) == {
        "message": "token=***",
        "password": REDACTED,
        "status": 401,
    }


def test_redact_value_never_raises() -> None:
    """A value whose str() raises, or a hostile iterable, gives *** or nothing, never an error."""

    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    Hostile.__name__ = "URL"
    assert redact_value(Hostile()) == REDACTED
    assert redact_args(iter_raising()) == ()


def iter_raising() -> Iterator[object]:
    """An iterable that fails half way."""
    yield "a"
    raise RuntimeError("boom")


def test_scrub_exception_cleans_args_attributes_and_the_chain() -> None:
    """An exception's args, its string attributes and its causes lose their credentials in place."""
    root = OSError(111, "refused /p?token=T1")
    root.filename = "https://u:T2@h/"
    middle = ValueError("GET /p?api_key=T3 failed", Point("h", "T4", None))
    middle.url = "/p?sig=T5"  # type: ignore[attr-defined]
    middle.__cause__ = root
    top = RuntimeError(middle)
    top.__context__ = middle
    scrub_exception(top)
    assert top.args[0] is middle
    assert middle.args == ("GET /p?api_key=*** failed", Point("h", REDACTED, None))
    assert middle.url == "/p?sig=***"
    assert root.filename == "https://***@h/"
    assert root.args == (111, "refused /p?token=***")
    text = "".join(traceback.format_exception(top))
    for secret in ("T1", "T2", "T3", "T4", "T5"):
        assert secret not in text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see /p?API_KEY=,00000 now", "see /p?API_KEY=*** now"),  # found by Hypothesis
        ("see /p?sig=a,b,c&x=1 now", "see /p?sig=***&x=1 now"),
        ("x=1,token=abcdef12345 and", "x=1,token=*** and"),
        ("a=1,b=2 c=3", "a=1,b=2 c=3"),
    ],
)
def test_a_sensitive_value_in_text_is_hidden_commas_included(text: str, shown: str) -> None:
    """A secret's value runs past commas; other values end at theirs, and scanning goes on."""
    assert redact_text(text) == shown
