"""Hypothesis strategies for response bodies, headers and statuses, hostile ones included.

Shared by every test that feeds `errorkit.parse()` or the body-shape seam: bodies
are built from the keys real error shapes use, with values of every JSON type
(so each known field also appears with the wrong type), plus raw bytes, invalid
UTF-8, markup fragments and deep nesting.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

#: Every key a recognizer reads, top level or nested.
KNOWN_KEYS = (
    "error",
    "errors",
    "message",
    "Message",
    "msg",
    "detail",
    "title",
    "type",
    "status",
    "statusCode",
    "code",
    "reason",
    "details",
    "data",
    "ok",
    "success",
    "kind",
    "apiVersion",
    "result",
    "messages",
    "warning",
    "response_metadata",
    "retryAfter",
    "retry_after",
    "retry_after_seconds",
    "retryAfterSeconds",
    "retry_after_ms",
    "retryDelay",
    "estimated_time",
    "error_type",
    "request_id",
    "requestId",
    "RequestId",
    "traceId",
    "error_description",
    "error_uri",
    "documentation_url",
    "global",
    "param",
    "decline_code",
    "doc_url",
    "request_log_url",
    "object",
    "__type",
    "innererror",
    "innerError",
    "target",
    "odata.error",
    "extensions",
    "locations",
    "path",
    "source",
    "jsonapi",
    "loc",
    "non_field_errors",
    "timestamp",
    "instance",
    "invalid-params",
    "@type",
    "fieldViolations",
    "violations",
    "seconds",
    "nanos",
    "value",
    "_errors",
    "retryable",
)

#: Values of every JSON type, including the awkward ones.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 10**18, "", " ", "\n", "nan", "inf", "-5s", "1.5s"]),
    st.text(max_size=40),
    st.sampled_from(["error", "Status", "Failure", "application/problem+json"]),
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value, with objects keyed mostly by the keys error shapes use."""
    keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10))
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(keys, children, max_size=6),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def error_objects(draw: st.DrawFn) -> dict[str, Any]:
    """An object shaped like an error body, some known fields wrongly typed."""
    top = draw(st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values(8), max_size=6))
    if draw(st.booleans()):
        top["error"] = draw(
            st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values(8), max_size=6)
        )
    return top


def _dump(value: object) -> str:
    return json.dumps(value, allow_nan=True)


#: Bodies of every kind: JSON text, raw bytes, markup, nesting bombs.
bodies = st.one_of(
    st.none(),
    st.binary(max_size=300),
    st.text(max_size=300),
    error_objects().map(_dump),
    json_values().map(_dump),
    error_objects().map(lambda obj: _dump(obj).encode("utf-8")),
    st.builds(
        lambda head, body: f"<html><title>{head}</title><h1>{body}</h1>",
        st.text(max_size=40),
        st.text(max_size=40),
    ),
    st.builds(
        lambda code, message: f"<Error><Code>{code}</Code><Message>{message}</Message></Error>",
        st.text(max_size=20),
        st.text(max_size=40),
    ),
    st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n),
    st.integers(min_value=1, max_value=5000).map(lambda n: '{"a":' * n),
    st.sampled_from([b"\xff\xfe\x00", b"\xef\xbb\xbf{", b"\x00" * 10, b"\xc3", b"{\xff}"]),
)

_CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/problem+json",
        "application/json; charset=utf-16",
        "text/html; charset=nope",
        "text/plain; charset=base64",
        "application/xml",
        "text/xml; charset=latin-1",
        "application/vnd.api+json",
        ";;;",
        "",
    ]
)
_HEADER_NAMES = st.sampled_from(
    [
        "content-type",
        "Content-Type",
        "www-authenticate",
        "x-amzn-errortype",
        "retry-after",
        "x-request-id",
    ]
)

#: Header collections: mostly plausible names, arbitrary values.
headers = st.one_of(
    st.dictionaries(
        _HEADER_NAMES,
        st.one_of(_CONTENT_TYPES, st.text(max_size=100)),
        max_size=4,
    ),
    st.builds(
        lambda value: {"www-authenticate": value},
        st.text(alphabet='Bearer error="=,\\ abc_', max_size=200),
    ),
)

#: HTTP statuses, including unknown (0) and out-of-range ones.
statuses = st.one_of(
    st.sampled_from([0, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 529]),
    st.integers(min_value=-1000, max_value=100000),
)

_NAMES = st.one_of(_HEADER_NAMES, st.text(max_size=20), st.binary(max_size=20))
_VALUES = st.one_of(
    _CONTENT_TYPES,
    st.text(max_size=60),
    st.binary(max_size=60),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)

#: Anything a caller might pass as headers: real shapes, junk pairs, junk objects.
junk_headers = st.one_of(
    headers,
    st.none(),
    st.integers(),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.dictionaries(_NAMES, st.one_of(_VALUES, st.lists(_VALUES, max_size=3)), max_size=6),
    st.lists(
        st.one_of(
            st.tuples(_NAMES, _VALUES),
            st.tuples(_NAMES),
            st.tuples(_NAMES, _VALUES, _VALUES),
            st.lists(_VALUES, max_size=3),
            st.text(max_size=60),
            st.binary(max_size=60),
            st.integers(),
            st.none(),
        ),
        max_size=8,
    ),
)

#: Anything a caller might pass as a status: ints of any range, numeric strings,
#: None, booleans, floats and text that is no number (letters only).
junk_statuses = st.one_of(
    statuses,
    st.none(),
    st.booleans(),
    st.floats(),
    st.integers(min_value=-1000, max_value=2000).map(str),
    st.text(alphabet="abcxyz -", max_size=10),
)
