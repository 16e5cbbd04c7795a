"""OAuth 2.0 errors: the token endpoint's body and the resource server's header.

RFC 6749 section 5.2: ``{"error": "invalid_grant", "error_description", "error_uri"}``.
It is told from a flat ``{"error": "<free text>"}`` (the OneCLI seed) by its
``error_description``/``error_uri`` members or by a registered error code. RFC
6750 section 3: ``WWW-Authenticate: Bearer error="invalid_token",
error_description="..."``, read when the body says nothing better.
"""

from __future__ import annotations

import re

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import as_text, is_token, shape
from errorkit._info import Category

# Error codes registered for OAuth 2.0 and its extensions (RFC 6749, 6750, 7591,
# 8628, 8693, 9126, 9449, OpenID Connect).
REGISTERED = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "unsupported_response_type",
        "server_error",
        "temporarily_unavailable",
        "invalid_token",
        "insufficient_scope",
        "invalid_redirect_uri",
        "invalid_client_metadata",
        "invalid_software_statement",
        "unapproved_software_statement",
        "authorization_pending",
        "slow_down",
        "expired_token",
        "invalid_target",
        "invalid_request_uri",
        "invalid_request_object",
        "invalid_dpop_proof",
        "use_dpop_nonce",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
    }
)
_CATEGORIES = {
    "invalid_client": Category.AUTHENTICATION,
    "invalid_token": Category.AUTHENTICATION,
    "insufficient_scope": Category.PERMISSION,
    "access_denied": Category.PERMISSION,
    "slow_down": Category.RATE_LIMITED,
    "temporarily_unavailable": Category.UNAVAILABLE,
    "server_error": Category.SERVER,
}
#: Most auth-params read from one header.
_MAX_PARAMS = 32
# Anchored at a known position by `match`, never searched: linear.
_QUOTED = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@shape("oauth", keys=["error", "error_description"])
def oauth(doc: Document) -> Extracted | None:
    """``{"error": "invalid_grant", "error_description": "...", "error_uri": "..."}``."""
    obj = doc.json
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    description = as_text(obj.get("error_description"))
    token = as_text(err)
    linked = token is not None and isinstance(obj.get("error_uri"), str)
    if description is None and not linked and token not in REGISTERED:
        return None
    machine = token if token is not None and is_token(token) else None
    return Extracted(
        format="oauth",
        message=description or token,
        code=machine,
        category=_CATEGORIES.get(machine or ""),
        extra=_uri(obj.get("error_uri")),
    )


def _uri(value: object) -> dict[str, object]:
    uri = as_text(value)
    return {"error_uri": uri} if uri else {}


def www_authenticate(doc: Document) -> Extracted | None:
    """A Bearer challenge's ``error`` and ``error_description``, when it has them."""
    header = doc.headers.get("www-authenticate")
    if not header or "error" not in header.lower():
        return None
    params = auth_params(header)
    token = as_text(params.get("error"))
    if token is None:
        return None
    return Extracted(
        format="www-authenticate",
        message=as_text(params.get("error_description")) or token,
        code=token,
        category=_CATEGORIES.get(token),
        extra=_uri(params.get("error_uri")),
    )


def auth_params(header: str) -> dict[str, str]:
    """``name=value`` and ``name="quoted value"`` pairs of a challenge, first wins.

    One left-to-right pass: the name is the last word before each ``=``, a value is
    a quoted string (escapes undone) or runs to the next comma or space.
    """
    params: dict[str, str] = {}
    position = 0
    while len(params) < _MAX_PARAMS:
        equals = header.find("=", position)
        if equals == -1:
            break
        words = header[position:equals].replace(",", " ").split()
        name = words[-1].lower() if words else ""
        value, position = _value(header, equals + 1)
        if name and name not in params:
            params[name] = value
    return params


def _value(header: str, start: int) -> tuple[str, int]:
    while start < len(header) and header[start] in " \t":
        start += 1
    if header.startswith('"', start):
        match = _QUOTED.match(header, start + 1)
        if match is None:
            return _ESCAPE.sub(r"\1", header[start + 1 :]), len(header)
        return _ESCAPE.sub(r"\1", header[start + 1 : match.end() - 1]), match.end()
    end = start
    while end < len(header) and header[end] not in ", \t":
        end += 1
    return header[start:end], end
