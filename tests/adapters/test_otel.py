"""errorkit.otel over real sockets, for every client of every stack.

Each test instruments errorkit (and, where asked, the stack's official OpenTelemetry
instrumentation) with the SDK's in-memory span exporter and metric reader, runs one
logical request against the loopback `FaultServer` under a caller's span, and
asserts on what was exported and what the server received.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import errorkit
from errorkit import AdaptiveThrottle, RateLimitGate, RetryBudget, RetryPolicy
from errorkit.otel import ErrorkitInstrumentor
from errorkit.testing import FaultServer, InstantWaits, respond
from support.telemetry import Telemetry, official, telemetry_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace import ReadableSpan

    from .conftest import MakeClient

FAST = RetryPolicy(budget=None, initial_delay=0.01, throttle_delay=0.01, max_delay=0.05)
SECRET = "sk-live-4f9Qa7TOPSECRET"
KEY = "k3yV4lueSECRET"


@pytest.fixture(params=["errorkit", "with-official"])
def telemetry(request: pytest.FixtureRequest, stack: str) -> Iterator[Telemetry]:
    """errorkit instrumented alone, or beside the stack's official instrumentation."""
    officials = [] if request.param == "errorkit" else [official(stack)]
    if stack == "requests" and officials:
        officials.append(official("urllib3"))  # requests sends through urllib3
    yield from telemetry_for(officials)


def _sum(points: list[Any]) -> float:
    return sum(getattr(p, "value", 0) for p in points)


def test_each_attempt_is_one_client_span_under_the_callers(
    fault_server: FaultServer, make_client: MakeClient, telemetry: Telemetry, stack: str
) -> None:
    """503, 503, 200: three CLIENT spans, resend counts absent/1/2, siblings under the
    caller's span, each attempt's traceparent naming its own span; two retries counted,
    one duration point per attempt, and no credential anywhere in what was exported."""
    fault_server.script("/otel", [respond(503), respond(503), respond(200, body=b"ok")])
    client = make_client(policy=FAST)
    url = fault_server.url(f"/otel?api_key={KEY}&page=2")
    with telemetry.tracer.start_as_current_span("caller") as caller:
        result = client.request("GET", url, headers={"Authorization": f"Bearer {SECRET}"})
    assert result.status == 200, result.exception
    assert fault_server.hits("/otel") == 3

    spans = telemetry.client_spans()
    assert len(spans) == 3, [(s.name, s.instrumentation_scope) for s in spans]
    assert {s.instrumentation_scope.name for s in spans} == {"errorkit"}  # type: ignore[union-attr]
    context = caller.get_span_context()
    for span in spans:
        assert span.parent is not None
        assert span.parent.span_id == context.span_id
        assert span.context is not None
        assert span.context.trace_id == context.trace_id
        assert span.name == "GET"
    attributes = [dict(s.attributes or {}) for s in spans]
    assert [a.get("http.response.status_code") for a in attributes] == [503, 503, 200]
    assert [a.get("http.request.resend_count") for a in attributes] == [None, 1, 2]
    assert [a.get("error.type") for a in attributes] == ["503", "503", None]
    first = attributes[0]
    assert first["http.request.method"] == "GET"
    assert first["server.address"] == "127.0.0.1"
    assert first["server.port"] == fault_server.port
    assert first["url.full"] == fault_server.url("/otel?api_key=REDACTED&page=2")

    # Each attempt carried its own span's context: the server's span hangs under it.
    sent = [str(r.header("traceparent")).rsplit("-", 1)[0] for r in fault_server.requests("/otel")]
    expected = [f"00-{context.trace_id:032x}-{s.context.span_id:016x}" for s in spans]
    assert sent == expected

    # The two retry decisions, as events on the attempts they followed.
    events = [[e.name for e in s.events] for s in spans]
    assert events == [["errorkit.retry"], ["errorkit.retry"], []]
    retry = dict(spans[0].events[0].attributes or {})
    assert retry["errorkit.retry.reason"] == "retryable"
    assert retry["errorkit.wait.source"] == "backoff"
    assert 0 < float(retry["errorkit.wait.duration"]) <= 0.05  # type: ignore[arg-type]

    metrics = telemetry.metrics()
    assert _sum(metrics["errorkit.retries"]) == 2
    (attempts,) = metrics["errorkit.attempts"]
    assert (attempts.count, attempts.sum) == (1, 3)
    durations = metrics.get("http.client.request.duration", []) + metrics.get(
        "http.client.duration", []
    )
    assert sum(p.count for p in durations) == 3  # one per attempt, none twice
    waits = metrics["errorkit.wait.duration"]
    assert sum(p.count for p in waits) == 2

    dumped = telemetry.dump()
    assert SECRET not in dumped
    assert KEY not in dumped


def test_retry_after_and_budget_refusal_are_visible(
    fault_server: FaultServer, make_client: MakeClient, telemetry: Telemetry, instant_waits: Any
) -> None:
    """A 429 with Retry-After: 1 is a retry whose wait came from the header; a budget
    that grants no retry stops the next 503 (an `errorkit.stop` event, a refusal
    counted)."""
    fault_server.script(
        "/limited", [respond(429, headers={"Retry-After": "1"}), respond(503), respond(200)]
    )
    budget = RetryBudget(ratio=0.0, min_per_second=0.0)
    client = make_client(policy=dataclasses.replace(FAST, budget=budget))
    with telemetry.tracer.start_as_current_span("caller"):
        result = client.request("GET", fault_server.url("/limited"))
    assert result.status == 503
    assert fault_server.hits("/limited") == 2
    (waited,) = instant_waits.delays
    assert 1.0 <= waited < 1.25  # the hint, plus the policy's spread over callers

    spans = telemetry.client_spans()
    assert [dict(s.attributes or {}).get("http.response.status_code") for s in spans] == [429, 503]
    first, second = (list(s.events) for s in spans)
    assert [e.name for e in first] == ["errorkit.retry"]
    assert dict(first[0].attributes or {})["errorkit.wait.source"] == "retry_after"
    assert dict(first[0].attributes or {})["errorkit.wait.duration"] == waited
    assert [e.name for e in second] == ["errorkit.stop"]
    assert dict(second[0].attributes or {})["errorkit.retry.reason"] == "budget_exhausted"

    metrics = telemetry.metrics()
    assert _sum(metrics["errorkit.budget.refusals"]) == 1
    assert _sum(metrics["errorkit.retries"]) == 1
    (wait,) = metrics["errorkit.wait.duration"]
    assert dict(wait.attributes)["errorkit.wait.source"] == "retry_after"
    assert wait.sum == waited


def test_a_transport_failure_names_its_exception(
    fault_server: FaultServer, make_client: MakeClient, telemetry: Telemetry
) -> None:
    """A dropped connection, then a 200: the first span's error.type is the stack's
    exception type, it has no status code, and the retry is counted with that type."""
    from errorkit.testing import drop

    fault_server.script("/drop", [drop(), respond(200)])
    client = make_client(policy=FAST)
    with telemetry.tracer.start_as_current_span("caller"):
        result = client.request("GET", fault_server.url("/drop"))
    assert result.status == 200, result.exception
    spans = telemetry.client_spans()
    assert len(spans) == 2
    failed = dict(spans[0].attributes or {})
    assert "http.response.status_code" not in failed
    error_type = failed["error.type"]
    assert isinstance(error_type, str)
    assert error_type not in ("", "_OTHER")
    assert not error_type.isdigit()
    (retries,) = telemetry.metrics()["errorkit.retries"]
    assert dict(retries.attributes)["error.type"] == error_type


def test_nothing_is_recorded_once_uninstrumented(
    fault_server: FaultServer, make_client: MakeClient
) -> None:
    """After uninstrument() the loop has no observer and no patch is left."""
    import errorkit._observe

    for _ in telemetry_for([]):
        assert errorkit._observe.OBSERVER is not None
    assert errorkit._observe.OBSERVER is None
    import aiohttp
    import requests

    assert not hasattr(requests.Session.request, "__wrapped__")
    assert not hasattr(aiohttp.ClientSession._request, "__wrapped__")
    fault_server.script("/off", [respond(503), respond(200)])
    result = make_client(policy=FAST).request("GET", fault_server.url("/off"))
    assert result.status == 200
    assert "traceparent" not in fault_server.requests("/off")[0].headers


def test_the_entry_point_names_the_instrumentor() -> None:
    """`opentelemetry-instrument` finds errorkit by its entry point."""
    from importlib.metadata import entry_points

    (found,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "errorkit"]
    assert found.load() is ErrorkitInstrumentor


def _events(span: ReadableSpan, name: str) -> list[dict[str, Any]]:
    return [dict(e.attributes or {}) for e in span.events if e.name == name]


def _caller(telemetry: Telemetry) -> ReadableSpan:
    (caller,) = [s for s in telemetry.spans.get_finished_spans() if s.name == "caller"]
    return caller


def test_a_wait_at_the_gate_and_a_refusal_by_it_are_events_on_the_callers_span(
    fault_server: FaultServer,
    make_client: MakeClient,
    telemetry: Telemetry,
    instant_waits: InstantWaits,
) -> None:
    """A 429 with Retry-After: 30 closes the gate: the next call waits 30 s there
    (`errorkit.gate.wait`, a wait of source ``gate``); with Retry-After: 120, above
    max_retry_after, the next call is refused unsent (`errorkit.gate.refused`)."""
    fault_server.script(
        "/g",
        [respond(429, {"Retry-After": "30"}), respond(200), respond(429, {"Retry-After": "120"})],
    )
    client = make_client(policy=dataclasses.replace(FAST, gate=RateLimitGate(), max_attempts=1))
    assert client.request("GET", fault_server.url("/g")).status == 429
    with telemetry.tracer.start_as_current_span("caller"):
        assert client.request("GET", fault_server.url("/g")).status == 200
    (waited,) = instant_waits.delays
    (event,) = _events(_caller(telemetry), "errorkit.gate.wait")
    assert event["errorkit.wait.duration"] == waited
    assert event["server.address"] == "127.0.0.1"
    (wait,) = telemetry.metrics()["errorkit.wait.duration"]
    assert dict(wait.attributes)["errorkit.wait.source"] == "gate"
    assert wait.sum == waited

    assert client.request("GET", fault_server.url("/g")).status == 429
    telemetry.spans.clear()
    with telemetry.tracer.start_as_current_span("caller"):
        refused = client.request("GET", fault_server.url("/g"))
    assert isinstance(refused.exception, errorkit.RateLimitError)
    assert fault_server.hits("/g") == 3
    assert telemetry.client_spans() == []  # nothing was sent: no attempt span
    (event,) = _events(_caller(telemetry), "errorkit.gate.refused")
    assert "120" in str(event["errorkit.detail"])


def test_a_throttle_rejection_is_counted_and_an_event(
    stack: str, fault_server: FaultServer, make_client: MakeClient, telemetry: Telemetry
) -> None:
    """Requests the adaptive throttle rejects locally: no span of an attempt, an
    `errorkit.throttle.rejected` event on the caller's span each, and the counter."""
    if stack == "urllib3":
        pytest.skip("errorkit.urllib3 refuses a throttle (test_urllib3_refuses_a_throttle)")
    draws = itertools.cycle([0.0] * 9 + [0.95])  # every tenth draw is above the 0.9 cap
    throttle = AdaptiveThrottle(random=lambda: next(draws))
    policy = RetryPolicy(budget=None, gate=None, max_attempts=1, throttle=throttle)
    client = make_client(policy=policy)
    fault_server.script("/o", respond(503))
    with telemetry.tracer.start_as_current_span("caller"):
        outage = [client.request("GET", fault_server.url("/o")) for _ in range(10)]
    rejected = [r for r in outage if r.exception is not None]
    assert rejected
    assert len(telemetry.client_spans()) == fault_server.hits("/o") == 10 - len(rejected)
    events = _events(_caller(telemetry), "errorkit.throttle.rejected")
    assert len(events) == len(rejected)
    (counted,) = telemetry.metrics()["errorkit.throttle.rejections"]
    assert counted.value == len(rejected)
    assert dict(counted.attributes) == {"server.address": "127.0.0.1"}


def test_an_official_span_errorkit_cannot_avoid_is_the_parent_counted_once(
    fault_server: FaultServer,
) -> None:
    """``Session.send`` called directly under the official requests instrumentation:
    its CLIENT span (the logical call) is the attempts' parent, and the duration
    metric has its one point, none of errorkit's beside it."""
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    from errorkit.requests import RetryAdapter

    for telemetry in telemetry_for([RequestsInstrumentor()]):
        fault_server.script("/s", [respond(503), respond(200)])
        with requests.Session() as session:
            session.mount("http://", RetryAdapter(FAST))
            prepared = session.prepare_request(requests.Request("GET", fault_server.url("/s")))
            with telemetry.tracer.start_as_current_span("caller"):
                assert session.send(prepared).status_code == 200
        spans = telemetry.client_spans()
        (official,) = [s for s in spans if s.instrumentation_scope.name != "errorkit"]  # type: ignore[union-attr]
        attempts = [s for s in spans if s is not official]
        assert [s.parent.span_id for s in attempts] == [official.context.span_id] * 2  # type: ignore[union-attr]
        statuses = [dict(s.attributes or {}).get("http.response.status_code") for s in attempts]
        assert statuses == [503, 200]
        metrics = telemetry.metrics()
        durations = metrics.get("http.client.request.duration", []) + metrics.get(
            "http.client.duration", []
        )
        assert sum(p.count for p in durations) == 1


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@api.example/v1?x=1", "https://REDACTED:REDACTED@api.example/v1?x=1"),
        (
            "https://s3.example/o?AWSAccessKeyId=AKIA&Signature=abc&X-Goog-Signature=d&e=1",
            (
                "https://s3.example/o?AWSAccessKeyId=REDACTED&Signature=REDACTED"
                "&X-Goog-Signature=REDACTED&e=1"
            ),
        ),
        (
            "https://h/p?access_token=t0k&sig=s#frag",
            "https://h/p?access_token=REDACTED&sig=REDACTED",
        ),
        ("https://h/p\x1b[31m?q=1", "https://h/p\\x1b[31m?q=1"),
    ],
)
def test_url_full_is_redacted_as_the_conventions_say(url: str, shown: str) -> None:
    """Userinfo and the values of sensitive query parameters become REDACTED; no
    fragment; control characters escaped."""
    from urllib.parse import urlsplit

    from errorkit.otel import _full

    assert _full(urlsplit(url)) == shown


def test_a_redirect_urllib3_follows_is_an_attempt_span_of_its_own(
    fault_server: FaultServer,
) -> None:
    """urllib3 follows a 302 by a nested send: the 302 is its own span (status 302,
    ended when the redirect was followed), the 200 a sibling, both under the caller."""
    from errorkit.urllib3 import PoolManager

    for telemetry in telemetry_for([]):
        fault_server.script("/from", respond(302, {"Location": "/to"}))
        fault_server.script("/to", respond(200))
        with PoolManager(FAST) as pool, telemetry.tracer.start_as_current_span("caller"):
            assert pool.request("GET", fault_server.url("/from")).status == 200
        spans = telemetry.client_spans()
        shown = [
            (dict(s.attributes or {}).get("http.response.status_code"), s.end_time) for s in spans
        ]
        assert [status for status, _ in shown] == [302, 200]
        assert shown[0][1] <= spans[1].start_time  # type: ignore[operator]
        caller = _caller(telemetry).context.span_id
        assert [s.parent.span_id for s in spans] == [caller, caller]  # type: ignore[union-attr]


_AUTO = """
import requests
from errorkit import RetryPolicy
from errorkit.requests import RetryAdapter
from errorkit.testing import FaultServer, respond

with FaultServer() as server, requests.Session() as session:
    server.script("/auto", [respond(503), respond(200)])
    session.mount("http://", RetryAdapter(RetryPolicy(budget=None, initial_delay=0.01)))
    assert session.get(server.url("/auto"), timeout=5).status_code == 200
"""


def test_opentelemetry_instrument_picks_errorkit_up(tmp_path: Path) -> None:
    """``opentelemetry-instrument python app.py``, every installed instrumentor on
    (requests' and urllib3's among them): the console exporter prints errorkit's two
    attempt spans, the second with resend count 1, and no other CLIENT span."""
    script = tmp_path / "app.py"
    script.write_text(_AUTO)
    command = Path(sys.executable).parent / "opentelemetry-instrument"
    environment = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "errorkit-test",
    }
    done = subprocess.run(
        [str(command), sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    decoder = json.JSONDecoder()
    spans, text = [], done.stdout.strip()
    while text:
        span, end = decoder.raw_decode(text)
        spans.append(span)
        text = text[end:].strip()
    clients = [s for s in spans if s["kind"] == "SpanKind.CLIENT"]
    assert [s["attributes"].get("http.response.status_code") for s in clients] == [503, 200]
    assert [s["attributes"].get("http.request.resend_count") for s in clients] == [None, 1]
