"""Catalogs: the seeds' error tables as data, and the registry users extend."""

from __future__ import annotations

import json
import time
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

import errorkit
import errorkit._catalog as catalog_module
from errorkit._catalog import (
    BUILTIN_CATALOGS,
    Catalog,
    CatalogEntry,
    catalog_names,
    lookup_hint,
    register_catalog,
    unregister_catalog,
)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the test its own copy of the catalog registry, restored afterwards."""
    catalog_module._current()
    assert catalog_module._registry is not None
    monkeypatch.setattr(catalog_module, "_registry", list(catalog_module._registry))
    monkeypatch.setattr(catalog_module, "_index", None)


def _generic(status: int) -> str | None:
    return catalog_module._load_builtin("generic").lookup(status, "", None)  # type: ignore[union-attr]


# Every "Common error messages" row of the OneCLI reference: message, status, a
# fragment of the cause/what-to-do the hint must carry.
ONECLI_ROWS = [
    ("Invalid API key or token.", 401, "oc_org_"),
    ("Invalid API key or token.", 401, "POST /user/api-key/regenerate"),
    ("X-Project-Id header is required", 400, "project context"),
    ("Insufficient permissions", 403, "admin or owner role"),
    ("Too small: expected string to have >=1 characters", 400, "1-255 characters"),
    ("Too big: expected string to have <=255 characters", 400, "1-255 characters"),
    ("String must contain at least 1 character(s)", 400, "1-255 characters"),
    ("String must contain at most 255 character(s)", 400, "1-255 characters"),
    (
        (
            "Identifier must be 1-50 characters, start with a letter or number, and contain"
            " only lowercase letters, numbers, and hyphens"
        ),
        400,
        "invalid format",
    ),
    ("An agent with this identifier already exists", 409, "different identifier"),
    ("Cannot delete the default agent", 400, "default agent cannot be deleted"),
    ("Agent is already the default", 400, "already set as the project's default"),
    ("One or more secrets not found", 400, "do not exist in the project"),
    ("Agent not found", 404, "agent ID does not exist"),
    ("Enter a hostname, not a URL (remove http:// or https://)", 400, "protocol prefix"),
    ("Enter a hostname only, not a path (use the path pattern field for paths)", 400, "/ path"),
    ("Host pattern must not contain spaces", 400, "whitespace"),
    (
        "Header name, parameter name, or URL path template is required for generic secrets",
        400,
        "injectionConfig has no injection method",
    ),
    ("1Password is only available for project-scoped secrets", 400, "organization secret"),
    ("No fields to update", 400, "empty body"),
    ("Secret not found", 404, "secret ID does not exist"),
    (
        "rateLimit and rateLimitWindow are required when action is rate_limit",
        400,
        "rateLimit or rateLimitWindow is missing",
    ),
    ("Rate limit rules require a rate limit and window", 400, "without a valid rate"),
    ("At least one field must be provided", 400, "empty body"),
    ("Policy rule not found", 404, "rule ID does not exist"),
    ("Unknown tool: gmail.send", 400, "the tool gmail.send, which is not in the app's"),
    ("Only agent-scoped app permissions can be set to inherit", 400, "without an agentId"),
    ("Unknown provider: acme", 404, "The provider acme is not in the app registry"),
    ('Provider "acme" is not available', 400, "The app acme exists but is not available"),
    ("Missing fields in request body", 400, "no fields object"),
    ("apiKey is required", 400, "The required field apiKey is missing or empty"),
    ("Connection not found", 404, "not owned by the caller"),
    ("Label is required", 400, "non-empty label"),
    ("Invalid request body", 400, "required credential fields"),
]


@pytest.mark.parametrize(("message", "status", "fragment"), ONECLI_ROWS)
def test_onecli_rows(message: str, status: int, fragment: str) -> None:
    """Every OneCLI message row gives its own cause and what to do, not the generic text."""
    hint = lookup_hint(status, message, None)
    assert hint is not None
    assert fragment in hint
    assert hint != _generic(status)


AGENT_CODES = [
    ("invalid_request", 400, "malformed or missing required fields"),
    ("validation_error", 400, "fails validation"),
    ("unauthorized", 401, "invalid, expired or missing"),
    ("forbidden", 403, "does not have permission"),
    ("not_found", 404, "(sandbox, thread, vault, credential)"),
    ("conflict", 409, "same serverUrl"),
    ("credential_cap_exceeded", 422, "max 20 active credentials per vault"),
    ("vault_coverage_missing", 422, "VAULT_COVERAGE_MODE is strict"),
    ("rate_limit_exceeded", 429, "retryAfter seconds"),
    ("sandbox_error", 500, "runtime error"),
    ("budget_exceeded", 429, "budget limit"),
    ("stream_active", 409, "already active for this sandbox"),
]


@pytest.mark.parametrize(("code", "status", "fragment"), AGENT_CODES)
def test_agents_codes(code: str, status: int, fragment: str) -> None:
    """Every agents error code gives its description and what to do, on any message."""
    hint = lookup_hint(status, "Some message", code)
    assert hint is not None
    assert fragment in hint


@pytest.mark.parametrize(
    ("status", "fragment"),
    [
        (400, "schema"),
        (401, "regenerate the key"),
        (403, "correct project"),
        (404, "list endpoint"),
        (409, "different identifier"),
        (429, "Retry-After"),
        (500, "exponential backoff"),
        (503, "Retry-After"),
        (418, "client error"),
        (599, "exponential backoff"),
    ],
)
def test_generic_status_fallback(status: int, fragment: str) -> None:
    """An unknown message falls back to status-level advice that fits any API."""
    hint = lookup_hint(status, "Something we have never seen", None)
    assert hint is not None
    assert fragment in hint
    assert "OneCLI" not in hint
    assert "oc_org_" not in hint


@pytest.mark.parametrize("status", [None, 200, 204, 302])
def test_no_fallback_without_an_error_status(status: int | None) -> None:
    """No status (or a success status) and no match give no hint."""
    assert lookup_hint(status, "Something we have never seen", None) is None


@pytest.mark.parametrize(
    "message",
    ["invalid api key or token", "  Invalid   API key or token.  ", "INVALID API KEY OR TOKEN."],
)
def test_exact_messages_ignore_case_whitespace_and_final_period(message: str) -> None:
    """Exact messages match regardless of case, spacing and a final period."""
    hint = lookup_hint(401, message, None)
    assert hint is not None
    assert "oc_org_" in hint


def test_status_restriction() -> None:
    """An entry restricted to a status does not answer for another status."""
    hint = lookup_hint(400, "Agent not found", None)
    assert hint == _generic(400)


def test_message_beats_code_and_code_beats_template() -> None:
    """Within a catalog: exact message, then exact code, then templates."""
    catalog = Catalog(
        name="t",
        entries=(
            CatalogEntry(template="{field} is required", hint="by template"),
            CatalogEntry(code="invalid", hint="by code"),
            CatalogEntry(message="Name is required", hint="by message"),
        ),
    )
    assert catalog.lookup(400, "Name is required", "invalid") == "by message"
    assert catalog.lookup(400, "Label is required", "invalid") == "by code"
    assert catalog.lookup(400, "Label is required", None) == "by template"


def test_catalogs_are_asked_in_order() -> None:
    """A coded error gets the agents advice before OneCLI's messages or templates."""
    coded = lookup_hint(403, "Insufficient permissions", "forbidden")
    assert coded is not None
    assert "does not have permission" in coded
    by_code = lookup_hint(400, "sandboxId is required", "invalid_request")
    assert by_code is not None
    assert "malformed" in by_code
    by_template = lookup_hint(400, "sandboxId is required", None)
    assert by_template is not None
    assert "sandboxId" in by_template


def test_template_matching_is_anchored_and_bounded() -> None:
    """Templates match the whole message only, with placeholders of 1-200 characters."""
    assert lookup_hint(400, "Unknown tool: ", None) == _generic(400)
    assert lookup_hint(400, "Error: Unknown tool: x", None) == _generic(400)
    assert lookup_hint(400, "Unknown tool: " + "x" * 201, None) == _generic(400)
    hint = lookup_hint(400, "unknown TOOL: x.", None)
    assert hint is not None
    assert "the tool x," in hint


def test_templates_are_fast_on_long_messages() -> None:
    """Long adversarial messages are each checked against every template quickly."""
    start = time.perf_counter()
    for i in range(200):
        lookup_hint(400, "a is required " * 150 + str(i), None)  # distinct: none cached
    assert time.perf_counter() - start < 1.0


@pytest.mark.usefixtures("registry")
def test_register_first_wins_over_builtins() -> None:
    """A user catalog registered first answers before the built-in ones."""
    mine = Catalog(
        name="mine",
        entries=(CatalogEntry(message="Agent not found", hint="Mine: agent missing."),),
    )
    assert register_catalog(mine) is mine
    assert catalog_names() == ("mine", *BUILTIN_CATALOGS)
    assert lookup_hint(404, "Agent not found", None) == "Mine: agent missing."


@pytest.mark.usefixtures("registry")
def test_register_last_and_status_phase() -> None:
    """A catalog registered last answers only what the others leave open."""
    mine = Catalog(
        name="mine",
        entries=(
            CatalogEntry(message="Agent not found", hint="Mine: agent missing."),
            CatalogEntry(message="Brand new", hint="Mine: brand new."),
            CatalogEntry(status=404, hint="Mine: any 404."),
        ),
    )
    register_catalog(mine, first=False)
    assert catalog_names()[-1] == "mine"
    assert lookup_hint(404, "Agent not found", None) != "Mine: agent missing."
    assert lookup_hint(404, "Brand new", None) == "Mine: brand new."
    assert lookup_hint(404, "unknown", None) == _generic(404)


@pytest.mark.usefixtures("registry")
def test_register_same_name_replaces_and_unregister() -> None:
    """Registering a name again replaces it; unregister removes it; unknown names raise."""
    register_catalog(Catalog(name="mine", entries=(CatalogEntry(code="x", hint="one"),)))
    register_catalog(Catalog(name="mine", entries=(CatalogEntry(code="x", hint="two"),)))
    assert catalog_names().count("mine") == 1
    assert lookup_hint(400, "m", "X") == "two"
    unregister_catalog("mine")
    assert "mine" not in catalog_names()
    with pytest.raises(KeyError):
        unregister_catalog("mine")
    with pytest.raises(TypeError):
        register_catalog("not a catalog")  # type: ignore[arg-type]


@pytest.mark.usefixtures("registry")
def test_unregister_builtin() -> None:
    """A built-in catalog can be removed, and its hints go with it."""
    unregister_catalog("onecli")
    assert lookup_hint(401, "Invalid API key or token.", None) == _generic(401)


def test_entry_status_class_and_code_restriction() -> None:
    """Entries can be restricted to a status class and combine message with code."""
    catalog = Catalog(
        name="t",
        entries=(
            CatalogEntry(message="Boom", code="e1", hint="boom with e1"),
            CatalogEntry(template="Missing {thing}", status="4xx", hint="need {thing} {other}"),
            CatalogEntry(status="5xx", hint="server side"),
        ),
    )
    assert catalog.lookup(400, "boom", "E1") == "boom with e1"
    assert catalog.lookup(400, "boom", "e2") is None
    assert catalog.lookup(404, "Missing key", None) == "need key {other}"
    assert catalog.lookup(500, "Missing key", None) == "server side"
    assert catalog.lookup(None, "Missing key", None) is None


def test_from_json_round_trip() -> None:
    """A catalog written as JSON loads into the same entries."""
    data = {
        "name": "acme",
        "description": "ACME API",
        "entries": [
            {"message": "Nope", "status": 403, "hint": "Ask an admin."},
            {"template": "Bad {x}", "hint": "Fix {x}."},
            {"code": "acme_limit", "hint": "Wait."},
            {"status": "4xx", "hint": "Client."},
        ],
    }
    catalog = Catalog.from_json(json.dumps(data))
    assert catalog.name == "acme"
    assert len(catalog.entries) == 4
    assert catalog.lookup(403, "Nope", None) == "Ask an admin."
    assert catalog.lookup(400, "Bad y", None) == "Fix y."
    assert catalog.lookup(400, "?", "ACME_LIMIT") == "Wait."


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], TypeError),
        ({"name": "x"}, TypeError),
        ({"name": "x", "entries": ["nope"]}, TypeError),
        ({"name": "", "entries": []}, ValueError),
        ({"name": "x", "entries": [{"message": "m"}]}, TypeError),
        ({"name": "x", "entries": [{"message": "m", "hint": ""}]}, ValueError),
        ({"name": "x", "entries": [{"message": "m", "hint": "h", "cause": "c"}]}, ValueError),
        ({"name": "x", "entries": [{"message": "m", "template": "{a}", "hint": "h"}]}, ValueError),
        ({"name": "x", "entries": [{"hint": "h"}]}, ValueError),
        ({"name": "x", "entries": [{"status": 99, "hint": "h"}]}, ValueError),
        ({"name": "x", "entries": [{"status": "4XX", "hint": "h"}]}, ValueError),
        ({"name": "x", "entries": [{"status": True, "hint": "h"}]}, ValueError),
        ({"name": "x", "entries": [{"template": "no placeholder", "hint": "h"}]}, ValueError),
        ({"name": "x", "entries": [{"template": "{a} and {a}", "hint": "h"}]}, ValueError),
        ({"name": "x", "entries": [{"code": "  ", "hint": "h"}]}, ValueError),
    ],
)
def test_malformed_catalogs_fail_loudly(data: object, error: type[Exception]) -> None:
    """A malformed catalog raises at construction, never later at lookup."""
    with pytest.raises(error):
        Catalog.from_dict(data)


def test_catalog_rejects_non_entries() -> None:
    """A catalog's entries must be CatalogEntry values."""
    with pytest.raises(TypeError):
        Catalog(name="x", entries=("nope",))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", BUILTIN_CATALOGS)
def test_builtin_catalogs_ship_as_package_data(name: str) -> None:
    """Each built-in catalog is a JSON file under errorkit/catalogs that loads cleanly."""
    path = resources.files("errorkit").joinpath("catalogs").joinpath(f"{name}.json")
    catalog = Catalog.from_json(path.read_text(encoding="utf-8"))
    assert catalog.name == name
    assert catalog.entries


def test_broken_builtin_is_skipped() -> None:
    """A missing or corrupt built-in catalog costs its hints, not an exception."""
    assert catalog_module._load_builtin("no-such-catalog") is None


@pytest.mark.usefixtures("registry")
def test_a_broken_index_still_gives_parse_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the catalog index breaks, parse() answers with an unparsed error, never raising."""

    def broken() -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog_module, "_current", broken)
    with pytest.raises(RuntimeError, match="boom"):
        lookup_hint(500, "x", None)
    info = errorkit.parse(500, {}, b"x")
    assert info is not None
    assert (info.status, info.format) == (500, "unparsed")


@given(
    st.one_of(st.none(), st.integers()),
    st.one_of(st.text(max_size=300), st.none(), st.integers()),
    st.one_of(st.text(max_size=40), st.none(), st.integers()),
)
def test_lookup_hint_is_total(status: int | None, message: object, code: object) -> None:
    """Any status, message and code give a hint string or None, never an error."""
    hint = lookup_hint(status, message, code)  # type: ignore[arg-type]
    assert hint is None or hint.strip()


# -- catalogs scoped to their API's shape ------------------------------------------------

OPENAI_429 = (
    b'{"error": {"message": "Rate limit reached for gpt-4o", "type": "requests",'
    b' "param": null, "code": "rate_limit_exceeded"}}'
)
AGENTS_429 = (
    b'{"error": {"code": "rate_limit_exceeded", "message": "Slow down",'
    b' "status": 429, "retryAfter": 5}}'
)


def test_a_seed_catalogs_advice_stays_with_its_api() -> None:
    """OpenAI's 429 shares the agents API's code: it gets the generic 429 advice."""
    agents_hint = catalog_module._load_builtin("agents").lookup(  # type: ignore[union-attr]
        429, "", "rate_limit_exceeded"
    )
    openai = errorkit.parse(429, {}, OPENAI_429)
    agents = errorkit.parse(429, {}, AGENTS_429)
    assert openai is not None
    assert agents is not None
    assert (openai.format, agents.format) == ("openai", "agents")
    assert agents.hint == agents_hint
    assert openai.hint == _generic(429)
    assert openai.hint != agents_hint


@pytest.mark.usefixtures("registry")
def test_a_user_catalog_speaks_for_the_shapes_it_names() -> None:
    mine = Catalog.from_json(
        json.dumps(
            {
                "name": "acme",
                "formats": ["openai"],
                "entries": [
                    {"code": "rate_limit_exceeded", "hint": "Acme: lower the concurrency."},
                    {"status": 429, "hint": "Acme: any 429."},
                ],
            }
        )
    )
    register_catalog(mine)
    openai, agents = errorkit.parse(429, {}, OPENAI_429), errorkit.parse(429, {}, AGENTS_429)
    assert openai is not None
    assert agents is not None
    assert openai.hint == "Acme: lower the concurrency."
    assert agents.hint != "Acme: lower the concurrency."
    other = errorkit.parse(429, {}, b"busy")  # no known shape: not acme's either
    assert other is not None
    assert other.hint == _generic(429)
    # Asked without a shape (a direct lookup), every catalog may answer.
    assert lookup_hint(429, "", "rate_limit_exceeded") == "Acme: lower the concurrency."
    assert mine.lookup(429, "", None, "agents") is None


@pytest.mark.parametrize(
    ("formats", "error"), [("openai", TypeError), ([""], ValueError), ([7], ValueError)]
)
def test_a_catalogs_formats_are_checked(formats: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Catalog.from_dict({"name": "x", "formats": formats, "entries": []})
