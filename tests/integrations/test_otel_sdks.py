"""errorkit.otel under openai and anthropic (both on httpx2), over real sockets.

The clients are built by docs/integrations.md's own lines; `ErrorkitInstrumentor`
and the official httpx2 instrumentation are on, with the SDK's in-memory exporter.
Each physical attempt is one CLIENT span of errorkit's under the caller's span,
with the SDK's own re-sends counted in ``http.request.resend_count``, and the API
key appears nowhere in what was exported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from errorkit.testing import FaultServer, InstantWaits, respond
from integrations.docblocks import run
from support.telemetry import Telemetry, official, telemetry_for

if TYPE_CHECKING:
    from collections.abc import Iterator

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

OPENAI_503 = {"error": {"message": "The server is overloaded.", "type": "server_error"}}
ANTHROPIC_529 = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    yield from telemetry_for([official("httpx2")])


def _attempts(telemetry: Telemetry) -> list[tuple[Any, Any]]:
    spans = telemetry.client_spans()
    assert {s.instrumentation_scope.name for s in spans} <= {"errorkit"}  # type: ignore[union-attr]
    return [
        (
            dict(s.attributes or {}).get("http.response.status_code"),
            dict(s.attributes or {}).get("http.request.resend_count"),
        )
        for s in spans
    ]


def _under_caller(telemetry: Telemetry) -> bool:
    (caller,) = [s for s in telemetry.spans.get_finished_spans() if s.name == "caller"]
    ids = {s.parent.span_id for s in telemetry.client_spans() if s.parent is not None}
    return ids == {caller.context.span_id}


def test_openai_retried_by_errorkit(
    fault_server: FaultServer, telemetry: Telemetry, instant_waits: InstantWaits
) -> None:
    """503, 503, 200 on a GET: errorkit's three attempts, resend counts absent/1/2."""
    fault_server.script(
        "/v1/models",
        [respond(503, body=OPENAI_503), respond(503), respond(200, body={"data": []})],
    )
    names = run("openai", fault_server.base_url)
    try:
        with telemetry.tracer.start_as_current_span("caller"):
            assert names["client"].models.list().data == []  # type: ignore[attr-defined]
    finally:
        names["client"].close()  # type: ignore[attr-defined]
    assert _attempts(telemetry) == [(503, None), (503, 1), (200, 2)]
    assert _under_caller(telemetry)
    (retries,) = telemetry.metrics()["errorkit.retries"]
    assert retries.value == 2
    assert "sk-test" not in telemetry.dump()


def test_openai_re_sends_of_a_post_are_resends_of_one_call(
    fault_server: FaultServer, telemetry: Telemetry
) -> None:
    """A POST 503: errorkit does not re-send it, openai does, twice: three spans whose
    resend counts say they are one call (absent/1/2), and no errorkit retry counted."""
    fault_server.script("/v1/chat/completions", respond(503, body=OPENAI_503))
    names = run("openai", fault_server.base_url)
    try:
        with (
            telemetry.tracer.start_as_current_span("caller"),
            pytest.raises(openai.InternalServerError),
        ):
            names["client"].chat.completions.create(  # type: ignore[attr-defined]
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        names["client"].close()  # type: ignore[attr-defined]
    assert fault_server.hits("/v1/chat/completions") == 3
    assert _attempts(telemetry) == [(503, None), (503, 1), (503, 2)]
    assert _under_caller(telemetry)
    assert "errorkit.retries" not in telemetry.metrics()
    stops = [e.name for s in telemetry.client_spans() for e in s.events]
    assert stops == ["errorkit.stop"] * 3


def test_anthropic_async_retried_by_errorkit(
    fault_server: FaultServer, telemetry: Telemetry, instant_waits: InstantWaits
) -> None:
    """anthropic's async client, 529, 529, 200 on a GET: three spans under the caller."""
    import asyncio

    fault_server.script(
        "/v1/models",
        [respond(529, body=ANTHROPIC_529), respond(529), respond(200, body={"data": []})],
    )
    names = run("anthropic", fault_server.base_url)

    async def call() -> None:
        with telemetry.tracer.start_as_current_span("caller"):
            await names["aclient"].models.list()  # type: ignore[attr-defined]
        await names["aclient"].close()  # type: ignore[attr-defined]

    try:
        asyncio.run(call())
    finally:
        names["client"].close()  # type: ignore[attr-defined]
    assert _attempts(telemetry) == [(529, None), (529, 1), (200, 2)]
    assert _under_caller(telemetry)
    assert "sk-ant-test" not in telemetry.dump()
