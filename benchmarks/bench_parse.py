"""What parsing an error body costs, next to what decoding its JSON alone costs.

For one representative body per format family, prints the median microseconds of
one `errorkit.parse(status, headers, body, in_band=True)` call, of the body-shape
seam alone (`recognize(build_document(...))`) and of `json.loads(body)`, and the
ratios to `json.loads`, then the median ratio over the JSON families. The Slack
and GraphQL samples are in-band errors inside a 200: ``in_band=True`` has them
parsed as errors (by default parse() returns None for any 2xx at once). While
`parse()` cannot run end to end, its column stays empty. There is no speed
target: parse() runs only on error responses, which are followed by a raise or
a backoff.

Then, for the OpenAI 429 with its real headers and without, where one `parse()`
goes: each stage timed alone on that stage's real input, next to what code
written by hand for that one shape costs (``json.loads`` and three look-ups: no
other shape, no hint, no classification). "The rest" is `parse()` minus the
stages: its own glue and the `ErrorInfo`, and what the stages cost in sequence
over alone (alone, each runs with warm caches).

Most samples carry only a Content-Type; the ``+headers`` rows carry the dozen
headers a real API sends (Date, request id, rate-limit state), as the adapters
pass them. Every loop is bounded: about 0.2 s per measurement (0.02 s with
``--quick``), five repeats (three), median taken.

Usage: python benchmarks/bench_parse.py [--json out.json] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from pathlib import Path
from typing import TYPE_CHECKING, Any

import errorkit
from errorkit._catalog import lookup_hint
from errorkit._classify import classify
from errorkit._formats import MAX_BODY, build_document, recognize
from errorkit._headers import normalize_headers
from errorkit._hints import read_hints

if TYPE_CHECKING:
    from collections.abc import Callable

JSON = {"Content-Type": "application/json"}
#: What a real API response carries besides its body (OpenAI's 429, abridged).
REAL_HEADERS = {
    "Date": "Tue, 14 Nov 2023 22:13:20 GMT",
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": "212",
    "Connection": "keep-alive",
    "x-request-id": "req_8d6f2b1c9e0a4f7d",
    "openai-processing-ms": "31",
    "x-ratelimit-limit-requests": "3",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "20s",
    "retry-after": "20",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "Server": "cloudflare",
    "CF-RAY": "82579a1b2c3d4e5f-SJC",
}
#: A plain error's headers: a request id, no retry hint.
PLAIN_HEADERS = {
    "Date": "Tue, 14 Nov 2023 22:13:20 GMT",
    "Content-Type": "application/json",
    "Content-Length": "196",
    "Connection": "keep-alive",
    "Request-Id": "req_L8x1fY3bQ0aZ9c",
    "Stripe-Version": "2023-10-16",
    "Server": "nginx",
    "Cache-Control": "no-cache, no-store",
}

#: Bodies measured twice: with a Content-Type only, and with a real API's headers.
OPENAI_429 = {
    "error": {
        "message": "Rate limit reached for gpt-4 on requests per min (RPM): Limit 3.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
STRIPE_404 = {
    "error": {
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such customer: 'cus_123'",
        "param": "id",
        "type": "invalid_request_error",
    }
}

SAMPLES: dict[str, tuple[int, dict[str, str], object]] = {
    "agents": (
        429,
        JSON,
        {
            "error": {
                "code": "rate_limit_exceeded",
                "message": "Too many requests. Please retry after 60 seconds.",
                "status": 429,
                "retryAfter": 60,
            }
        },
    ),
    "onecli": (
        401,
        JSON,
        {"error": {"message": "Invalid API key or token.", "type": "authentication_error"}},
    ),
    "problem+json": (
        403,
        {"Content-Type": "application/problem+json"},
        {
            "type": "https://example.com/probs/out-of-credit",
            "title": "You do not have enough credit.",
            "status": 403,
            "detail": "Your current balance is 30, but that costs 50.",
            "instance": "/account/12345/msgs/abc",
        },
    ),
    "google": (
        429,
        JSON,
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaMetric": "requests", "quotaId": "PerMinute"}],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "43s"},
                ],
            }
        },
    ),
    "aws": (
        400,
        {"Content-Type": "application/x-amz-json-1.0"},
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            "message": "Rate of requests exceeds the allowed throughput.",
        },
    ),
    "aws-xml": (
        503,
        {"Content-Type": "application/xml"},
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            "<Message>Please reduce your request rate.</Message>"
            "<RequestId>7B5D2C</RequestId><HostId>x</HostId></Error>"
        ),
    ),
    "azure": (
        401,
        JSON,
        {
            "error": {
                "code": "InvalidAuthenticationToken",
                "message": "Access token is empty.",
                "innerError": {"date": "2024-05-01T12:00:00", "request-id": "0a1b2c3d"},
            }
        },
    ),
    "stripe": (
        404,
        JSON,
        STRIPE_404,
    ),
    "github": (
        422,
        JSON,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
            "status": "422",
        },
    ),
    "openai": (
        429,
        JSON,
        OPENAI_429,
    ),
    "anthropic": (
        529,
        JSON,
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
        },
    ),
    "oauth": (
        400,
        JSON,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    ),
    "graphql": (
        200,
        JSON,
        {
            "errors": [
                {
                    "message": "You must be logged in",
                    "locations": [{"line": 2, "column": 3}],
                    "path": ["me"],
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ],
            "data": None,
        },
    ),
    "jsonapi": (
        422,
        {"Content-Type": "application/vnd.api+json"},
        {
            "errors": [
                {
                    "status": "422",
                    "source": {"pointer": "/data/attributes/firstName"},
                    "title": "Invalid Attribute",
                    "detail": "First name must contain at least two characters.",
                }
            ]
        },
    ),
    "fastapi": (
        422,
        JSON,
        {
            "detail": [
                {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {}}
            ]
        },
    ),
    "drf": (
        400,
        JSON,
        {"username": ["This field is required."], "email": ["Enter a valid email address."]},
    ),
    "kubernetes": (
        429,
        JSON,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Too many requests, please try again later.",
            "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 1},
            "code": 429,
        },
    ),
    "cloudflare": (
        403,
        JSON,
        {
            "success": False,
            "errors": [{"code": 10000, "message": "Authentication error"}],
            "messages": [],
            "result": None,
        },
    ),
    "discord": (
        429,
        JSON,
        {"message": "You are being rate limited.", "retry_after": 64.57, "global": False},
    ),
    "slack": (200, JSON, {"ok": False, "error": "ratelimited"}),
    "huggingface": (
        503,
        JSON,
        {"error": "Model bigscience/bloom is currently loading", "estimated_time": 20.0},
    ),
    "json (unknown)": (400, JSON, {"message": "Invalid input", "code": "BAD_INPUT"}),
    "openai +headers": (
        429,
        REAL_HEADERS,
        OPENAI_429,
    ),
    "stripe +headers": (
        404,
        PLAIN_HEADERS,
        STRIPE_404,
    ),
    # Larger bodies: the seam's cost is nearly constant, json.loads's grows with size.
    "google 1.2 KiB": (
        400,
        JSON,
        {
            "error": {
                "code": 400,
                "message": "Request contains an invalid argument.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [
                            {"field": f"requests[{i}].content", "description": "Invalid value"}
                            for i in range(12)
                        ],
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "f2e3"},
                ],
            }
        },
    ),
    "graphql 2.6 KiB": (
        200,
        JSON,
        {
            "errors": [
                {
                    "message": f"Field 'f{i}' doesn't exist on type 'Query'",
                    "locations": [{"line": i + 1, "column": 3}],
                    "path": ["query", f"f{i}"],
                    "extensions": {"code": "undefinedField", "typeName": "Query"},
                }
                for i in range(14)
            ],
            "data": None,
        },
    ),
    "html": (
        502,
        {"Content-Type": "text/html"},
        (
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        ),
    ),
    "text": (503, {"Content-Type": "text/plain"}, "upstream connect error or disconnect"),
    "empty": (503, {}, ""),
}


def _body(raw: object) -> bytes:
    return (raw if isinstance(raw, str) else json.dumps(raw)).encode()


def _median_us(call: Callable[[], object], quick: bool) -> float:
    """Median microseconds per call over bounded, timeit-style repeated runs."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()  # enough calls for about 0.2 s
    number = max(1, number // 10) if quick else number
    runs = timer.repeat(repeat=3 if quick else 5, number=number)
    return statistics.median(runs) / number * 1e6


def _parse(status: int, headers: dict[str, str], body: bytes) -> errorkit.ErrorInfo | None:
    """One parse() as the samples need it: in-band errors inside a 200 count."""
    return errorkit.parse(status, headers, body, in_band=True)


def _parse_works() -> bool:
    """True once `errorkit.parse` runs end to end (its collaborators are no stubs)."""
    status, headers, raw = SAMPLES["agents"]
    try:
        info = _parse(status, headers, _body(raw))
    except Exception:
        return False
    return info is not None and info.format != "unparsed"


def _row(name: str, quick: bool, parse_works: bool) -> dict[str, Any]:
    status, headers, raw = SAMPLES[name]
    body = _body(raw)
    heads = normalize_headers(headers)
    found = recognize(build_document(status, heads, body, MAX_BODY))
    row: dict[str, Any] = {"family": name, "format": found.format, "bytes": len(body)}
    row["seam_us"] = _median_us(
        lambda: recognize(build_document(status, heads, body, MAX_BODY)), quick
    )
    row["parse_us"] = (
        _median_us(lambda: _parse(status, headers, body), quick) if parse_works else None
    )
    try:
        json.loads(body)
    except ValueError:
        row["json_us"] = None
    else:
        row["json_us"] = _median_us(lambda: json.loads(body), quick)
    for key in ("seam", "parse"):
        mine, base = row[f"{key}_us"], row["json_us"]
        row[f"{key}_ratio"] = mine / base if mine is not None and base else None
    return row


#: The bodies whose stages are timed.
STAGED = ("openai", "openai +headers")


def _by_hand(body: bytes) -> tuple[object, object, object]:
    """What code written for the OpenAI shape alone does with an error body."""
    error = json.loads(body).get("error") or {}
    return error.get("message"), error.get("code"), error.get("type")


def _stages(name: str, quick: bool) -> dict[str, float]:
    """Median microseconds of each stage of one `parse()` of the sample `name`."""
    status, headers, raw = SAMPLES[name]
    body = _body(raw)
    heads = normalize_headers(headers)
    doc = build_document(status, heads, body, MAX_BODY)
    found = recognize(doc)
    hints = read_hints(heads)
    message = found.message or ""
    out = {
        "json.loads": _median_us(lambda: json.loads(body), quick),
        "by hand (json.loads + 3 gets)": _median_us(lambda: _by_hand(body), quick),
        "parse()": _median_us(lambda: _parse(status, headers, body), quick),
    }
    stages = {
        "headers": _median_us(lambda: normalize_headers(headers), quick),
        "document (decode + json.loads)": _median_us(
            lambda: build_document(status, heads, body, MAX_BODY), quick
        ),
        "recognize": _median_us(lambda: recognize(doc), quick),
        "header hints": _median_us(lambda: read_hints(heads), quick),
        "classify": _median_us(lambda: classify(status, found, hints), quick),
        "catalog hint": _median_us(lambda: lookup_hint(status, message, found.code), quick),
    }
    rest = max(out["parse()"] - sum(stages.values()), 0.0)
    return out | stages | {"the rest (parse() - stages)": rest}


def _print_stages(stages: dict[str, dict[str, float]]) -> None:
    names = list(stages)
    print(f"\n{'where one parse() goes (us)':<30}" + "".join(f"{n:>17}" for n in names))
    for key in stages[names[0]]:
        print(f"{key:<30}" + "".join(f"{stages[n][key]:>17.2f}" for n in names))


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over the JSON families (the rows with a json.loads baseline)."""
    out: dict[str, float] = {}
    for key in ("json", "seam", "parse"):
        values = [row[f"{key}_us"] for row in rows if row["json_us"] and row[f"{key}_us"]]
        if values:
            out[f"median_{key}_us"] = statistics.median(values)
    for key in ("seam", "parse"):
        ratios = [row[f"{key}_ratio"] for row in rows if row[f"{key}_ratio"] is not None]
        if ratios:
            out[f"median_{key}_ratio"] = statistics.median(ratios)
    return out


def _print(rows: list[dict[str, Any]], summary: dict[str, float]) -> None:
    head = (
        f"{'family':<15} {'format':<13} {'bytes':>5} {'json.loads':>10} "
        f"{'seam':>8} {'x':>5} {'parse':>8} {'x':>5}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        print(
            f"{row['family']:<15} {row['format']:<13} {row['bytes']:>5} "
            f"{_cell(row['json_us'], '10.2f')} {_cell(row['seam_us'], '8.2f')} "
            f"{_cell(row['seam_ratio'], '5.2f')} {_cell(row['parse_us'], '8.2f')} "
            f"{_cell(row['parse_ratio'], '5.2f')}"
        )
    for key in ("seam", "parse"):
        if f"median_{key}_ratio" in summary:
            print(
                f"median {key} / json.loads over JSON bodies: "
                f"{summary[f'median_{key}_ratio']:.2f}x "
                f"({summary[f'median_{key}_us']:.2f} us vs {summary['median_json_us']:.2f} us)"
            )
    print("(microseconds per call, medians; x = ratio to json.loads of the same body)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args(argv)
    parse_works = _parse_works()
    rows = [_row(name, args.quick, parse_works) for name in SAMPLES]
    summary = _summary(rows)
    _print(rows, summary)
    stages = {name: _stages(name, args.quick) for name in STAGED} if parse_works else {}
    if stages:
        _print_stages(stages)
    else:
        print("errorkit.parse() does not run end to end yet: its column is empty.")
    if args.json:
        meta = {"python": sys.version.split()[0], "parse_works": parse_works}
        document = {"meta": meta, "summary": summary, "rows": rows, "stages": stages}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
