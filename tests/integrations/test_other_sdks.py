"""google-genai, huggingface_hub, PyGithub, slack_sdk and boto3, as the docs plug errorkit in.

Each test builds the client with the documentation's own lines (`docblocks.run`)
against the session's FaultServer and asserts what the server received and what
the caller got. errorkit's waits are instant (`instant_waits`); huggingface_hub's
own sleeps go through the same virtual clock. Every SDK is imported (or skipped)
per test, so a missing SDK skips its own tests only. No test resolves any host
but the loopback one (`_loopback_only`).
"""

from __future__ import annotations

import json
import socket
import time
import types
from typing import TYPE_CHECKING, Any

import pytest

import errorkit
from errorkit.testing import FaultServer, InstantWaits, drop, respond
from integrations.docblocks import run

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator


#: Hosts a test may resolve: the FaultServer's, nothing on the internet.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")

GOOGLE_503 = {
    "error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
}
GOOGLE_429 = {
    "error": {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}],
    }
}
GEMINI_MODEL = {"name": "models/gemini-test", "displayName": "Gemini test"}
GENAI_GET = "/v1/models/gemini-test"
GENAI_GENERATE = "/v1/models/gemini-test:generateContent"

HF_503 = {"error": "Service Unavailable"}
HF_429 = {"error": "You have been rate-limited; you can retry this action in 1 second."}
HF_MODEL = {"id": "org/m", "_id": "0123", "private": False, "sha": "a" * 40}

GITHUB_503 = {"message": "Service Unavailable"}
GITHUB_SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you "
    "try again.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
GITHUB_PRIMARY = {
    "message": "API rate limit exceeded for 127.0.0.1.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
GITHUB_USER = {"login": "octocat", "id": 1, "type": "User"}

SLACK_429 = {"ok": False, "error": "ratelimited"}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, and record, any name resolution but the loopback's; no proxy either."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    refused: list[str] = []
    resolve = socket.getaddrinfo

    def loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in LOOPBACK:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not loopback (test)")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_getaddrinfo)
    yield refused
    assert refused == [], f"an SDK tried to reach {refused}"


# -- google-genai ---------------------------------------------------------------------


@pytest.fixture
def genai_names(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """What the docs' genai block defines; the environment can switch neither backend nor API."""
    pytest.importorskip("google.genai")
    for name in (
        "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_GENAI_API_VERSION",
        "GOOGLE_GENAI_HTTP_CLIENT",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    names = run("google-genai", fault_server.base_url)
    yield names
    names["http_client"].close()  # type: ignore[attr-defined]  # the SDK leaves it open


@pytest.fixture
def docs_genai(genai_names: dict[str, Any]) -> Any:
    return genai_names["client"]


def test_genai_get_succeeds_through_errorkits_retries(
    fault_server: FaultServer, docs_genai: Any, instant_waits: InstantWaits
) -> None:
    pytest.importorskip("google.genai")
    fault_server.script(GENAI_GET, [respond(503), respond(503), respond(200, body=GEMINI_MODEL)])
    assert docs_genai.models.get(model="gemini-test").name == "models/gemini-test"
    assert fault_server.hits(GENAI_GET) == 3


def test_genai_persistent_503_raises_its_server_error_after_three_hits(
    fault_server: FaultServer, docs_genai: Any, instant_waits: InstantWaits
) -> None:
    genai = pytest.importorskip("google.genai")
    fault_server.script(GENAI_GET, respond(503, body=GOOGLE_503))
    with pytest.raises(genai.errors.ServerError) as caught:
        docs_genai.models.get(model="gemini-test")
    assert fault_server.hits(GENAI_GET) == 3
    assert caught.value.code == 503
    info = errorkit.error_of(caught.value.response)
    assert info is not None
    assert (info.category, info.code) == (errorkit.Category.UNAVAILABLE, "UNAVAILABLE")


def test_genai_resource_exhausted_waits_the_bodys_retry_delay(
    fault_server: FaultServer, docs_genai: Any, instant_waits: InstantWaits
) -> None:
    """A 429 on generateContent (a POST): retried after RetryInfo's 1 s, then ClientError."""
    genai = pytest.importorskip("google.genai")
    fault_server.script(GENAI_GENERATE, respond(429, body=GOOGLE_429))
    with pytest.raises(genai.errors.ClientError) as caught:
        docs_genai.models.generate_content(model="gemini-test", contents="hi")
    assert fault_server.hits(GENAI_GENERATE) == 3
    first, second = instant_waits.delays
    assert 1.0 <= first <= 1.1
    assert 1.0 <= second <= 2.0
    info = errorkit.error_of(caught.value.response)
    assert info is not None
    assert (info.category, info.code, info.retry_after) == (
        errorkit.Category.RATE_LIMITED,
        "RESOURCE_EXHAUSTED",
        1.0,
    )


def test_genai_bare_503_on_generate_is_sent_once(
    fault_server: FaultServer, docs_genai: Any, instant_waits: InstantWaits
) -> None:
    """A POST without a key that may have been processed: neither errorkit nor the SDK re-sends."""
    genai = pytest.importorskip("google.genai")
    fault_server.script(GENAI_GENERATE, respond(503, body=GOOGLE_503))
    with pytest.raises(genai.errors.ServerError):
        docs_genai.models.generate_content(model="gemini-test", contents="hi")
    assert fault_server.hits(GENAI_GENERATE) == 1
    assert instant_waits.delays == []


def test_genai_retry_options_would_stack_to_fifteen_hits(
    fault_server: FaultServer, docs_genai: Any, instant_waits: InstantWaits
) -> None:
    """Why the docs leave retry_options unset: 5 SDK attempts x errorkit's 3."""
    genai = pytest.importorskip("google.genai")
    types_ = genai.types
    no_wait = types_.HttpRetryOptions(attempts=5, initial_delay=0, max_delay=0, jitter=0)
    config = types_.GenerateContentConfig(http_options=types_.HttpOptions(retry_options=no_wait))
    fault_server.script(GENAI_GENERATE, respond(429, body=GOOGLE_429))
    with pytest.raises(genai.errors.ClientError):
        docs_genai.models.generate_content(model="gemini-test", contents="hi", config=config)
    assert fault_server.hits(GENAI_GENERATE) == 15
    # errorkit's 2 retry waits in each SDK attempt, and each of the SDK's 4 re-sends
    # first waits at the rate-limit gate the 429's retryDelay (1 s) closed.
    assert len(instant_waits.delays) == 14
    assert all(0.99 <= delay <= 2.0 for delay in instant_waits.delays)


async def test_genai_async_client_goes_through_errorkit(
    fault_server: FaultServer, genai_names: dict[str, Any], instant_waits: InstantWaits
) -> None:
    pytest.importorskip("google.genai")
    fault_server.script(GENAI_GET, [respond(503), respond(503), respond(200, body=GEMINI_MODEL)])
    try:
        model = await genai_names["client"].aio.models.get(model="gemini-test")
    finally:
        await genai_names["async_http_client"].aclose()
    assert model.name == "models/gemini-test"
    assert fault_server.hits(GENAI_GET) == 3


# -- huggingface_hub ------------------------------------------------------------------


@pytest.fixture
def docs_hf(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch, instant_waits: InstantWaits
) -> Iterator[Any]:
    """HfApi as the docs build it; the Hub reached only through the FaultServer.

    huggingface_hub's own backoff sleeps on errorkit's virtual clock, and its
    agent-harness registry (fetched from the default endpoint once a day) is empty.
    The process-wide client factory is restored afterwards.
    """
    hub = pytest.importorskip("huggingface_hub")
    from huggingface_hub import constants
    from huggingface_hub.utils import _detect_agent, _http

    api = fault_server.base_url
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", api)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", api)
    monkeypatch.setattr(_detect_agent, "_registry", {"standardEnvVars": [], "harnesses": {}})
    monkeypatch.setattr(_http, "time", types.SimpleNamespace(sleep=instant_waits.sleep))
    factory = _http._GLOBAL_CLIENT_FACTORY
    try:
        yield run("huggingface_hub", api)["client"]
    finally:
        hub.set_client_factory(factory)  # closes the docs' client too


def test_hf_model_info_succeeds_through_errorkits_retries(
    fault_server: FaultServer, docs_hf: Any
) -> None:
    pytest.importorskip("huggingface_hub")
    fault_server.script(
        "/api/models/org/m", [respond(503), respond(503), respond(200, body=HF_MODEL)]
    )
    assert docs_hf.model_info("org/m").id == "org/m"
    assert fault_server.hits("/api/models/org/m") == 3


def test_hf_persistent_429_raises_its_own_error_after_three_hits(
    fault_server: FaultServer, docs_hf: Any, instant_waits: InstantWaits
) -> None:
    pytest.importorskip("huggingface_hub")
    from huggingface_hub.errors import HfHubHTTPError

    fault_server.script("/api/models/org/m", respond(429, {"Retry-After": "1"}, body=HF_429))
    with pytest.raises(HfHubHTTPError) as caught:
        docs_hf.model_info("org/m")
    assert fault_server.hits("/api/models/org/m") == 3
    assert len(instant_waits.delays) == 2
    assert all(delay >= 1.0 for delay in instant_waits.delays)
    info = errorkit.error_of(caught.value.response)
    assert info is not None
    assert (info.category, info.retry_after) == (errorkit.Category.RATE_LIMITED, 1.0)


def test_hf_keeps_its_specific_exceptions(fault_server: FaultServer, docs_hf: Any) -> None:
    """httpx2 underneath: hf_raise_for_status maps X-Error-Code to RepositoryNotFoundError."""
    pytest.importorskip("huggingface_hub")
    from huggingface_hub.errors import RepositoryNotFoundError

    fault_server.script(
        "/api/models/org/m",
        respond(404, {"X-Error-Code": "RepoNotFound"}, body={"error": "Repository not found"}),
    )
    with pytest.raises(RepositoryNotFoundError) as caught:
        docs_hf.model_info("org/m")
    assert fault_server.hits("/api/models/org/m") == 1
    info = errorkit.error_of(caught.value.response)
    assert info is not None
    assert info.category is errorkit.Category.NOT_FOUND


def test_hf_listings_stack_errorkits_attempts_inside_http_backoff(
    fault_server: FaultServer, docs_hf: Any, instant_waits: InstantWaits
) -> None:
    """list_models runs in http_backoff: 6 tries of errorkit's 3 attempts, as documented."""
    pytest.importorskip("huggingface_hub")
    from huggingface_hub.errors import HfHubHTTPError

    fault_server.script("/api/models", respond(503, body=HF_503))
    with pytest.raises(HfHubHTTPError):
        list(docs_hf.list_models(limit=1))
    assert fault_server.hits("/api/models") == 18
    assert len(instant_waits.delays) == 17  # errorkit's 2 per try, huggingface_hub's 5
    assert instant_waits.delays[2::3] == [1, 2, 4, 8, 8]  # huggingface_hub's own waits


def test_hf_upload_posts_get_only_its_own_tries(
    fault_server: FaultServer, docs_hf: Any, instant_waits: InstantWaits
) -> None:
    """The preupload POST on a bare 503: errorkit never re-sends it, http_backoff 5 times."""
    pytest.importorskip("huggingface_hub")
    from huggingface_hub.errors import HfHubHTTPError

    fault_server.script("/api/models/org/m/preupload/main", respond(503, body=HF_503))
    with pytest.raises(HfHubHTTPError):
        docs_hf.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id="org/m")
    assert fault_server.hits("/api/models/org/m/preupload/main") == 6
    assert fault_server.hits() == 6
    assert instant_waits.delays == [1, 2, 4, 8, 8]


def test_hf_upload_posts_rate_limited_stack_too(
    fault_server: FaultServer, docs_hf: Any, instant_waits: InstantWaits
) -> None:
    """A 429 was not processed: errorkit re-sends the POST, inside each of the 6 tries."""
    pytest.importorskip("huggingface_hub")
    from huggingface_hub.errors import HfHubHTTPError

    fault_server.script(
        "/api/models/org/m/preupload/main", respond(429, {"Retry-After": "1"}, body=HF_429)
    )
    with pytest.raises(HfHubHTTPError):
        docs_hf.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id="org/m")
    assert fault_server.hits("/api/models/org/m/preupload/main") == 18
    assert instant_waits.delays[2::3] == [2.0] * 5  # Retry-After + 1 s, huggingface_hub's


# -- PyGithub -------------------------------------------------------------------------


@pytest.fixture
def docs_github(fault_server: FaultServer) -> Iterator[Any]:
    pytest.importorskip("github")
    client = run("PyGithub", fault_server.base_url)["client"]
    yield client
    client.close()  # type: ignore[attr-defined]


def test_github_succeeds_through_errorkits_retries(
    fault_server: FaultServer, docs_github: Any, instant_waits: InstantWaits
) -> None:
    pytest.importorskip("github")
    fault_server.script(
        "/users/octocat", [respond(503), respond(503), respond(200, body=GITHUB_USER)]
    )
    assert docs_github.get_user("octocat").login == "octocat"
    assert fault_server.hits("/users/octocat") == 3


def test_github_persistent_503_raises_github_exception_after_three_hits(
    fault_server: FaultServer, docs_github: Any, instant_waits: InstantWaits
) -> None:
    """3 hits, not GithubRetry's 11: errorkit's Retry replaced it, nothing stacks."""
    github = pytest.importorskip("github")
    fault_server.script("/users/octocat", respond(503, body=GITHUB_503))
    with pytest.raises(github.GithubException) as caught:
        docs_github.get_user("octocat")
    assert type(caught.value) is github.GithubException
    assert fault_server.hits("/users/octocat") == 3
    exc = caught.value
    info = errorkit.parse(exc.status, exc.headers, json.dumps(exc.data))
    assert info is not None
    assert (info.status, info.category) == (503, errorkit.Category.UNAVAILABLE)


def test_github_secondary_rate_limit_is_waited_then_raised(
    fault_server: FaultServer, docs_github: Any, instant_waits: InstantWaits
) -> None:
    github = pytest.importorskip("github")
    headers = {"Retry-After": "1", "x-ratelimit-remaining": "0", "x-github-request-id": "AB:12"}
    fault_server.script("/users/octocat", respond(403, headers, body=GITHUB_SECONDARY))
    with pytest.raises(github.RateLimitExceededException) as caught:
        docs_github.get_user("octocat")
    assert fault_server.hits("/users/octocat") == 3
    assert len(instant_waits.delays) == 2
    assert all(delay >= 1.0 for delay in instant_waits.delays)
    exc = caught.value
    info = errorkit.parse(exc.status, exc.headers, json.dumps(exc.data))
    assert info is not None
    assert (info.category, info.request_id, info.retry_after) == (
        errorkit.Category.RATE_LIMITED,
        "AB:12",
        1.0,
    )


def test_github_primary_limit_an_hour_away_raises_at_once(
    fault_server: FaultServer, docs_github: Any, instant_waits: InstantWaits
) -> None:
    """GithubRetry would sleep until the reset; errorkit's max_retry_after stops at once."""
    github = pytest.importorskip("github")
    reset = str(int(time.time()) + 3600)
    headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    fault_server.script("/users/octocat", respond(403, headers, body=GITHUB_PRIMARY))
    with pytest.raises(github.RateLimitExceededException):
        docs_github.get_user("octocat")
    assert fault_server.hits("/users/octocat") == 1
    assert instant_waits.delays == []


def test_github_post_503_is_not_re_sent(
    fault_server: FaultServer, docs_github: Any, instant_waits: InstantWaits
) -> None:
    """GithubRetry re-sends POSTs on 5xx; errorkit does not re-send one without a key."""
    github = pytest.importorskip("github")
    fault_server.script("/repos/o/r/issues", respond(503, body=GITHUB_503))
    repo = docs_github.withLazy(lazy=True).get_repo("o/r")
    with pytest.raises(github.GithubException) as caught:
        repo.create_issue(title="once")
    assert caught.value.status == 503
    assert fault_server.hits("/repos/o/r/issues", method="POST") == 1
    assert fault_server.hits() == 1


# -- slack_sdk ------------------------------------------------------------------------


@pytest.fixture
async def docs_slack(fault_server: FaultServer) -> AsyncIterator[Any]:
    """The AsyncWebClient of the docs, made in the test's loop; its session closed after."""
    pytest.importorskip("slack_sdk")
    names = run("slack_sdk", fault_server.base_url)
    make_client: Callable[[], Awaitable[Any]] = names["make_client"]  # type: ignore[assignment]
    client = await make_client()
    yield client
    await client.session.close()


def slack_info(response: Any) -> errorkit.ErrorInfo:
    """errorkit's reading of a SlackApiError's response, as the docs say to read it."""
    info = errorkit.parse(
        response.status_code, response.headers, json.dumps(response.data), in_band=True
    )
    assert info is not None
    return info


async def test_slack_get_succeeds_through_errorkits_retries(
    fault_server: FaultServer, docs_slack: Any, instant_waits: InstantWaits
) -> None:
    pytest.importorskip("slack_sdk")
    fault_server.script(
        "/api/users.info",
        [respond(503), respond(503), respond(200, body={"ok": True, "user": {"id": "U1"}})],
    )
    response = await docs_slack.users_info(user="U1")
    assert response["user"] == {"id": "U1"}
    assert fault_server.hits("/api/users.info") == 3
    assert docs_slack.retry_handlers == []


async def test_slack_rate_limited_post_raises_slack_api_error_after_three_hits(
    fault_server: FaultServer, docs_slack: Any, instant_waits: InstantWaits
) -> None:
    """chat.postMessage, persistent 429: errorkit waits Retry-After twice, then the SDK raises."""
    errors = pytest.importorskip("slack_sdk.errors")
    fault_server.script("/api/chat.postMessage", respond(429, {"Retry-After": "1"}, body=SLACK_429))
    with pytest.raises(errors.SlackApiError) as caught:
        await docs_slack.chat_postMessage(channel="C1", text="hi")
    assert fault_server.hits("/api/chat.postMessage") == 3
    assert len(instant_waits.delays) == 2
    assert all(delay >= 1.0 for delay in instant_waits.delays)
    response = caught.value.response
    info = slack_info(response)
    assert (info.category, info.code, info.retry_after) == (
        errorkit.Category.RATE_LIMITED,
        "ratelimited",
        1.0,
    )
    with pytest.raises(TypeError, match="SlackResponse"):
        errorkit.error_of(response)  # an SDK wrapper, not a stack's response


async def test_slack_dropped_post_is_sent_once(
    fault_server: FaultServer, docs_slack: Any, instant_waits: InstantWaits
) -> None:
    """No SDK handler re-sends a POST that may have been processed (retry_handlers=[])."""
    aiohttp = pytest.importorskip("aiohttp")
    pytest.importorskip("slack_sdk")
    fault_server.script("/api/chat.postMessage", drop())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await docs_slack.chat_postMessage(channel="C1", text="hi")
    assert fault_server.hits("/api/chat.postMessage") == 1


async def test_slack_in_band_error_reads_as_its_category(
    fault_server: FaultServer, docs_slack: Any
) -> None:
    errors = pytest.importorskip("slack_sdk.errors")
    fault_server.script(
        "/api/conversations.info", respond(200, body={"ok": False, "error": "channel_not_found"})
    )
    with pytest.raises(errors.SlackApiError) as caught:
        await docs_slack.conversations_info(channel="C1")
    assert fault_server.hits("/api/conversations.info") == 1
    info = slack_info(caught.value.response)
    assert (info.category, info.code) == (errorkit.Category.NOT_FOUND, "channel_not_found")


# -- boto3 ----------------------------------------------------------------------------


def test_boto3_parse_snippet_reads_an_s3_slowdown(capsys: pytest.CaptureFixture[str]) -> None:
    """The docs' snippet runs without boto3 (which errorkit cannot plug into)."""
    names = run("boto3", "http://127.0.0.1:9")
    assert capsys.readouterr().out == "rate_limited SlowDown 4442587FB7D0A2F9\n"
    info = names["info"]
    assert isinstance(info, errorkit.ErrorInfo)
    assert (info.status, info.format, info.retryable) == (503, "aws-xml", True)
    assert info.message == "Please reduce your request rate."


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"}),
        ({"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/"}, {}),
    ],
    ids=["__type", "x-amzn-errortype"],
)
def test_boto3_json_throttling_reads_as_rate_limited(
    headers: dict[str, str], body: dict[str, str]
) -> None:
    info = errorkit.parse(
        400,
        {"x-amzn-RequestId": "req-1", **headers},
        json.dumps({"message": "Rate exceeded", **body}),
    )
    assert info is not None
    assert (info.category, info.code, info.request_id) == (
        errorkit.Category.RATE_LIMITED,
        "ThrottlingException",
        "req-1",
    )
