"""Server hits per SDK call, with errorkit plugged in under the real SDKs and without.

For each SDK (openai, anthropic, stripe) and each case (a
persistent 503 on a GET and on a POST, a persistent 429 with ``Retry-After: 1`` on
a GET and on a POST), one SDK call is made against a local `FaultServer`, once
with the SDK's default retries and once with its retries off, and the script
records: the server hits for that call, the elapsed time, the exception the
caller got, and on every hit the retry-related headers the server saw (plus a
digest of the body, to show what stays identical between re-sends).

Run it from the checkout (the SDKs come with ``pip install -e ".[dev]"``)::

    python benchmarks/sdk_hits.py [--json OUT] [--only SDK] [--cases "GET 503,POST 429"]

To compare with another errorkit, put its ``src`` first on ``PYTHONPATH``.

Every call is bounded: SDK timeout 10 s (stripe: RequestsClient(timeout=10)),
errorkit policy ``RetryPolicy(initial_delay=0.01, throttle_delay=0.01)``, a fresh
policy (hence a fresh retry budget) per call so the budget of one case never
bites another. The short backoff bases do not change what is measured: a hit
count depends only on max_attempts and on whether a layer retries, and the
``Retry-After: 1`` hint is a floor errorkit still waits in full.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anthropic
import httpx2
import openai
import requests
import stripe

import errorkit
import errorkit.httpx2
import errorkit.requests
from errorkit.testing import FaultServer, RecordedRequest, respond

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

TIMEOUT = 10.0

# Request headers that tell a re-send from a first send, or tie the re-sends of one
# call together. Everything else the SDKs send is identical on every hit.
WATCHED = (
    "x-stainless-retry-count",
    "x-stainless-read-timeout",
    "x-stainless-timeout",
    "idempotency-key",
    "x-stripe-client-telemetry",
)


@dataclass
class Hit:
    """One request the server received."""

    t: float  # seconds since the call started
    conn: int
    headers: dict[str, str]
    body_sha: str  # first 12 hex digits of the body's SHA-256, "" for no body


@dataclass
class Row:
    """One SDK call of one case."""

    sdk: str
    plug: str
    case: str
    sdk_retries: str
    hits: int
    elapsed: float
    outcome: str
    records: list[Hit] = field(default_factory=list)


def policy() -> errorkit.RetryPolicy:
    """A fresh policy (with its own budget) whose backoff bases are short."""
    return errorkit.RetryPolicy(initial_delay=0.01, throttle_delay=0.01)


# Vendor-shaped error bodies; the status and headers are what matters here.
OPENAI_503 = {"error": {"message": "The server is overloaded.", "type": "server_error"}}
OPENAI_429 = {"error": {"message": "Rate limit reached.", "type": "requests", "code": None}}
ANTHROPIC_503 = {"type": "error", "error": {"type": "api_error", "message": "Unavailable"}}
ANTHROPIC_429 = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
STRIPE_503 = {"error": {"type": "api_error", "message": "Service unavailable."}}
STRIPE_429 = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Rate"}}


def step_503(body: Mapping[str, object]) -> Any:
    return respond(503, body=body)


def step_429(body: Mapping[str, object]) -> Any:
    return respond(429, {"Retry-After": "1"}, body=body)


# ---- openai -------------------------------------------------------------------


def stainless_options(plug: str, retries: int | None) -> dict[str, Any]:
    """The options openai and anthropic (both Stainless SDKs on httpx2) share here."""
    options: dict[str, Any] = {"timeout": TIMEOUT}
    if plug == "errorkit":
        options["http_client"] = httpx2.Client(transport=errorkit.httpx2.RetryTransport(policy()))
    if retries is not None:
        options["max_retries"] = retries
    return options


def openai_client(server: FaultServer, plug: str, retries: int | None) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test", base_url=server.url("/v1"), **stainless_options(plug, retries)
    )


def openai_get(client: openai.OpenAI) -> object:
    return client.models.list()


def openai_post(client: openai.OpenAI) -> object:
    return client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}]
    )


# ---- anthropic ----------------------------------------------------------------


def anthropic_client(server: FaultServer, plug: str, retries: int | None) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-ant-test", base_url=server.base_url, **stainless_options(plug, retries)
    )


def anthropic_get(client: anthropic.Anthropic) -> object:
    return client.models.list()


def anthropic_post(client: anthropic.Anthropic) -> object:
    return client.messages.create(
        model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )


# ---- stripe -------------------------------------------------------------------


def stripe_client(server: FaultServer, plug: str, retries: int | None) -> stripe.StripeClient:
    session = requests.Session()
    if plug == "errorkit":
        adapter = errorkit.requests.RetryAdapter(policy())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return stripe.StripeClient(
        "sk_test_x",
        http_client=stripe.RequestsClient(session=session, timeout=TIMEOUT),
        base_addresses={"api": server.base_url},
        max_network_retries=retries,
    )


def stripe_get(client: stripe.StripeClient) -> object:
    return client.v1.customers.retrieve("cus_1")


def stripe_post(client: stripe.StripeClient) -> object:
    return client.v1.customers.create(params={"email": "a@example.com"})


# ---- the table ----------------------------------------------------------------

SDKS: dict[str, dict[str, Any]] = {
    "openai": {
        "client": openai_client,
        "calls": {"GET": (openai_get, "/v1/models"), "POST": (openai_post, "/v1/chat/completions")},
        "bodies": (OPENAI_503, OPENAI_429),
        "plugs": ("errorkit", "sdk-alone"),
        # (label, value passed as max_retries; None = the SDK's default)
        "retries": (("default", None), ("0", 0)),
    },
    "anthropic": {
        "client": anthropic_client,
        "calls": {"GET": (anthropic_get, "/v1/models"), "POST": (anthropic_post, "/v1/messages")},
        "bodies": (ANTHROPIC_503, ANTHROPIC_429),
        "plugs": ("errorkit", "sdk-alone"),
        "retries": (("default", None), ("0", 0)),
    },
    "stripe": {
        "client": stripe_client,
        "calls": {
            "GET": (stripe_get, "/v1/customers/cus_1"),
            "POST": (stripe_post, "/v1/customers"),
        },
        "bodies": (STRIPE_503, STRIPE_429),
        "plugs": ("errorkit", "sdk-alone"),
        # StripeClient's default is max_network_retries=None; the module-level API
        # (stripe.Customer.retrieve) uses stripe.max_network_retries = 2.
        "retries": (("default", None), ("2", 2), ("0", 0)),
    },
}


def records_since(server: FaultServer, path: str, start: float) -> Iterator[Hit]:
    for rec in server.requests(path):
        yield hit_of(rec, start)


def hit_of(rec: RecordedRequest, start: float) -> Hit:
    headers = {name: rec.header(name) or "" for name in WATCHED if rec.header(name) is not None}
    if "x-stripe-client-telemetry" in headers:
        headers["x-stripe-client-telemetry"] = "present"
    digest = hashlib.sha256(rec.body).hexdigest()[:12] if rec.body else ""
    return Hit(t=round(rec.t - start, 3), conn=rec.conn_id, headers=headers, body_sha=digest)


def run_one(
    server: FaultServer,
    sdk: str,
    plug: str,
    case: str,
    retries: tuple[str, int | None],
) -> Row:
    spec = SDKS[sdk]
    method, status = case.split(" ")
    call, path = spec["calls"][method]
    body_503, body_429 = spec["bodies"]
    server.reset()
    server.script(path, step_503(body_503) if status == "503" else step_429(body_429))
    client = spec["client"](server, plug, retries[1])
    start = time.monotonic()
    try:
        call(client)
        outcome = "returned"
    except Exception as exc:  # the exception type is what is recorded
        outcome = type(exc).__module__.split(".")[0] + "." + type(exc).__name__
        cause = exc.__cause__ or exc.__context__
        if outcome.endswith("APIConnectionError") and cause is not None:
            outcome += f" (from {type(cause).__name__})"
    elapsed = time.monotonic() - start
    with contextlib.suppress(Exception):
        client.close()
    hits = list(records_since(server, path, start))
    return Row(
        sdk=sdk,
        plug=plug,
        case=case,
        sdk_retries=retries[0],
        hits=len(hits),
        elapsed=round(elapsed, 2),
        outcome=outcome,
        records=hits,
    )


CASES = ("GET 503", "POST 503", "GET 429", "POST 429")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write every row, with its per-hit records, here")
    parser.add_argument("--only", choices=sorted(SDKS), action="append")
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated, from {','.join(CASES)}"
    )
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    print(
        f"python {sys.version.split()[0]}; openai {openai.__version__}, anthropic "
        f"{anthropic.__version__}, stripe {stripe.VERSION}, "
        f"httpx2 {httpx2.__version__}, requests {requests.__version__}, errorkit "
        f"{errorkit.__version__} ({errorkit.__file__})",
        flush=True,
    )
    rows: list[Row] = []
    with FaultServer() as server:
        for sdk in args.only or list(SDKS):
            spec = SDKS[sdk]
            for plug in spec["plugs"]:
                for case in cases:
                    for retries in spec["retries"]:
                        row = run_one(server, sdk, plug, case, retries)
                        rows.append(row)
                        print(format_row(row), flush=True)
    if args.json:
        with Path(args.json).open("w", encoding="utf-8") as out:
            json.dump([asdict(r) for r in rows], out, indent=1)
    return 0


def format_row(row: Row) -> str:
    seen = "; ".join(
        f"{h.t:.2f}s c{h.conn} "
        + ",".join(f"{k.removeprefix('x-stainless-')}={v}" for k, v in h.headers.items())
        + (f" body={h.body_sha}" if h.body_sha else "")
        for h in row.records
    )
    return (
        f"| {row.sdk} | {row.plug} | {row.case} | {row.sdk_retries} | {row.hits} | "
        f"{row.elapsed:.2f} | {row.outcome} |\n    hits: {seen}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
