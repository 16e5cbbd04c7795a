"""JSON-RPC 2.0 error responses (https://www.jsonrpc.org/specification#error_object).

``{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found",
"data": ...}, "id": 1}``. Servers answer errors with a 200 as often as not (Ethereum
nodes do), so on a 2xx it is an in-band error. Older servers (Bitcoin Core) leave out
``"jsonrpc"`` but keep ``id`` and a ``result`` of null beside the error. The codes
the specification reserves name the category; the others are the application's.
"""

from __future__ import annotations

from errorkit._formats._base import Document, Extracted
from errorkit._formats._util import as_code, as_text, envelope, shape
from errorkit._info import Category

#: The codes the specification reserves, and what each means.
_RESERVED = {
    -32700: Category.BAD_REQUEST,  # parse error
    -32600: Category.BAD_REQUEST,  # invalid request
    -32601: Category.NOT_FOUND,  # method not found
    -32602: Category.BAD_REQUEST,  # invalid params
    -32603: Category.SERVER,  # internal error
}


@shape("jsonrpc", keys=["jsonrpc", "id"])
def jsonrpc(doc: Document) -> Extracted | None:
    obj = doc.json
    err = envelope(obj, "error")
    if not isinstance(obj, dict) or err is None or "id" not in obj:
        return None
    code = err.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    if obj.get("jsonrpc") != "2.0" and not ("result" in obj and obj["result"] is None):
        return None
    data = err.get("data")
    return Extracted(
        format="jsonrpc",
        message=as_text(err.get("message")),
        code=as_code(code),
        category=_RESERVED.get(code),
        in_band=doc.status < 400,
        extra={} if data is None else {"data": data},
    )
