"""The generic reader: message, code, type and request id found by what a field is.

Used for a JSON body no named shape claims, and to fill the fields a named shape
left empty. It walks the document (objects and arrays, at most `MAX_DEPTH` levels
and `MAX_NODES` values) and gives each member a *role* by its key, compared
without case or separators (``errorMessage`` = ``error_message`` =
``ErrorMessage`` = ``error-message``):

========== ==================================================== ==================
role       keys (normalised), in rank order                     value
========== ==================================================== ==================
message    message, msg, messages, errormessage, errmsg,        a non-blank string
           errormsg, usermessage, displaymessage,
           localizedmessage, humanmessage, messagetext,
           errortext;
           then detail, details, errordetail, errordetails,
           description, errordescription, explanation,
           faultstring, reason, cause, text;
           then error, err, errors, fault, exception;
           then title, summary, statusmessage, statustext
code       code, errorcode, errcode, errorkey, reasoncode,      a string or an
           faultcode, subcode, errno, errornumber                integer
type       type, errortype, errorclass, exceptiontype,          an identifier
           exceptionclass, exceptionname, name
request id requestid, reqid, xrequestid, traceid, correlationid, an identifier
           trackingid, incidentid, supportid, logid, errorref;
           then errorid, errortrace, errorreference
========== ==================================================== ==================

Choosing among the candidates of a role:

1. *Informative first* (message only): a human sentence beats a text that only
   restates the status's reason phrase (``"Not Found"`` on a 404), which beats an
   identifier (``invalid_token``, ``NOT_FOUND``): ``{"error": "invalid_grant",
   "error_description": "The code expired"}`` gives the description.
2. *Shallow first*: the top level, then each level of envelopes (``{"error":
   {...}}``, ``{"data": {"error": {...}}}``, ``{"errors": [{...}]}``); in an array,
   the first element speaks, the others are `details`.
3. *Rank*: the order of the table.

Values:

- a string that holds a JSON document (``"{\\"message\\": ...}"``) is read as that
  document, one level deeper, instead of as text;
- an array of strings is a list of messages (the first one, the rest `details`);
- an object whose every member is a list of strings is a set of field errors
  (``{"email": ["is invalid"]}`` gives ``email: is invalid``); under ``errors``, an
  object of strings maps fields to their messages (``{"errors": {"labels": "Field
  'labels' cannot be set"}}``), a field with a sensitive name (``password``) skipped;
- a numeric code is its decimal text, unless it only repeats the HTTP status
  (``"code": 404`` or ``"code": "404"`` on a 404), or sits in a ``status`` member;
- a key with an ``error``/``err`` prefix has the role of the rest
  (``errorSummary``, ``err_code``, ``errorId``); a request id must be an
  identifier, and ``id``, ``trace`` or ``ref`` count only with that prefix;
- with no message at all, the code stands in for it, then the type;
- a machine name where a message goes (``"reason": "PAGE_NOT_FOUND"``; an
  ``error`` string beside another message) is also a code, after the code keys
  (snake_case, UPPER_CASE, camelCase or dotted: not a word like ``Overloaded``);
- a type must be an identifier (no spaces, no URI), and is read only beside a
  message in the same object, where it names the error rather than the document
  or a resource (``"type": "error"`` or ``"error.list"`` says nothing and is
  skipped; a ``name`` must be a machine name, ``CepPromiseError``, not ``collab``).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import NamedTuple

from errorkit._formats._util import as_code, field_errors, field_message
from errorkit._redact import is_sensitive_name

#: Levels of nesting followed below the top-level object.
MAX_DEPTH = 6
#: JSON values looked at in one document, at most.
MAX_NODES = 400
#: Other errors kept as `details`, at most.
MAX_DETAILS = 20
#: Longest string tried as an embedded JSON document.
MAX_EMBEDDED = 16 * 1024


@functools.lru_cache(maxsize=4096)
def _normal(key: str) -> str:
    """The key without case or separators, and without an ``error``/``err`` prefix
    before another role's name (``errorSummary`` reads as ``summary``).

    Cached: an API sends the same few keys, and the answer depends on nothing else
    (it saves about 1.5 us a key)."""
    name = _bare(key)
    for prefix in ("error", "err"):
        rest = name.removeprefix(prefix)
        if rest != name and rest and _known(rest):
            return rest
    return name


def _field_texts(member: object) -> bool:
    """Whether `member` maps field names to message strings (no member has a role)."""
    return (
        isinstance(member, dict)
        and bool(member)
        and all(isinstance(value, str) for value in member.values())
        and not any(_has_role(_normal(key), value) for key, value in member.items())
    )


def _bare(key: str) -> str:
    """The key without case or separators: ``error_Message`` -> ``errormessage``."""
    return key.lower().replace("_", "").replace("-", "").replace(" ", "").replace(".", "")


def _known(name: str) -> bool:
    return name in _MESSAGE or name in _CODE or name in _TYPE or name in _REQUEST_ID


def _ranked(*groups: tuple[str, ...]) -> dict[str, int]:
    return {key: rank for rank, group in enumerate(groups) for key in group}


_MESSAGE = _ranked(
    (
        "message",
        "msg",
        "messages",
        "errormessage",
        "errmsg",
        "errormsg",
        "usermessage",
        "displaymessage",
        "localizedmessage",
        "humanmessage",
        "messagetext",
        "errortext",
    ),
    (
        "detail",
        "details",
        "errordetail",
        "errordetails",
        "description",
        "errordescription",
        "explanation",
        "faultstring",
        "reason",
        "cause",
        "text",
    ),
    ("error", "err", "errors", "fault", "exception"),
    ("title", "summary", "statusmessage", "statustext"),
)
_CODE = _ranked(
    ("code", "errorcode", "errcode", "errorkey", "reasoncode", "faultcode"),
    ("subcode", "errno", "errornumber"),
)
_TYPE = _ranked(
    ("type", "errortype", "errorclass", "exceptiontype", "exceptionclass", "exceptionname"),
    ("name",),
)
_REQUEST_ID = _ranked(
    ("requestid", "reqid", "xrequestid"),
    ("traceid", "correlationid", "trackingid", "incidentid", "supportid", "logid", "errorref"),
    ("id", "trace", "ref", "reference"),  # as ``errorId``, ``error_trace``: see `_normal`
)
#: Request-id keys that count only with an ``error`` prefix (a bare ``id`` names a
#: resource, a bare ``trace`` may be a stack trace).
_PREFIXED_ONLY = frozenset({"id", "trace", "ref", "reference"})
#: Members whose object may map field names to their error text.
_ERRORS = frozenset({"errors", "fielderrors", "validationerrors", "invalidparams"})
#: The rank of a message found as a field's error text, after every message key.
_FIELD_RANK = 4
#: Members that hold either a message or, beside one, a code.
_BARE_ERROR = frozenset({"error", "err"})
#: Type values that name the document, not the error.
_NO_TYPE = frozenset({"error", "errors", "object", "exception", "fault", "problem"})
#: Members of a response envelope that say it failed, not what failed.
_STATUS_WORDS = frozenset({"error", "fail", "failed", "failure", "false", "ko", "nok"})
_PHRASES = frozenset(status.phrase.lower() for status in HTTPStatus)
_IDENTIFIER = re.compile(r"(?=[\w.#-]*[A-Za-z])[A-Za-z0-9_.#-]{1,100}", re.ASCII)
#: A status number with its usual words around it: "HTTP 503", "Error 404 -".
_STATUS_LINE = re.compile(r"^(?:http(?:/[\d.]+)?\s*)?(?:error\s*)?\d{3}\s*(?:error)?[\s:.-]*")


class _Candidate(NamedTuple):
    """A value for one role; the smallest `key` wins (each key is unique: its last
    item is the member's order in the document)."""

    key: tuple[int, int, int, int]
    value: str
    #: The other errors beside this one (the rest of its array), for a message.
    details: tuple[object, ...] = ()


@dataclass
class Found:
    """What the generic reader found; any field may be None."""

    message: str | None = None
    code: str | None = None
    type: str | None = None
    request_id: str | None = None
    details: tuple[object, ...] = ()


def _has_role(name: str, member: object) -> bool:
    """Whether a member (by its normalised key) has a role: then its object is no
    field dict. (A ``name`` or ``type`` has one only with a string:
    ``{"name": ["is blank"]}`` is a field error.)"""
    if name in _TYPE:
        return isinstance(member, str)
    return name in _MESSAGE or name in _CODE or name in _REQUEST_ID


def is_identifier(text: str) -> bool:
    """True for a machine name such as ``invalid_token``, ``NotFound``, ``E_AUTH.1``:
    ASCII letters, digits and ``_-.#``, a letter among them (a sentence in a script
    written without spaces, ``该资源不存在``, is no identifier)."""
    return _IDENTIFIER.fullmatch(text) is not None


def _machine_name(text: str) -> bool:
    """An identifier no person would write as a message: ``not_found``,
    ``PAGE_NOT_FOUND``, ``ResourceNotFound``, ``E.AUTH`` (not ``Overloaded``)."""
    if not is_identifier(text):
        return False
    camel = any(a.islower() and b.isupper() for a, b in itertools.pairwise(text))
    return camel or "_" in text or "." in text or (text.isupper() and len(text) > 2)


def informative(text: str) -> int:
    """0 for a sentence, 1 for a status line or bare reason phrase (``Not Found``,
    ``503 Service Unavailable``, ``Error 404``), 2 for an identifier."""
    if is_identifier(text):
        return 2
    bare = _STATUS_LINE.sub("", text.strip(" .!").lower())
    return 1 if not bare or bare in _PHRASES else 0


class _Walk:
    """One pass over a JSON document, collecting the candidates of each role."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.nodes = 0
        self.order = 0
        self.messages: list[_Candidate] = []
        self.codes: list[_Candidate] = []
        self.types: list[_Candidate] = []
        self.request_ids: list[_Candidate] = []
        #: The rest of the array the value being walked heads, if it heads one.
        self.siblings: tuple[object, ...] = ()

    def value(self, value: object, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            self.obj(value, depth)
        elif isinstance(value, list) and value:
            self.array(value, depth)

    def array(self, values: list[object], depth: int) -> None:
        outer, self.siblings = self.siblings, tuple(values[1 : 1 + MAX_DETAILS])
        head = values[0]
        if isinstance(head, str):
            self.message(head, depth, 0)
        else:
            self.value(head, depth + 1)
        self.siblings = outer

    def obj(self, obj: dict[str, object], depth: int) -> None:
        members = [(key, _normal(key), member) for key, member in obj.items()]
        if not any(_has_role(name, member) for _, name, member in members):
            fields = field_errors(obj)
            if fields:  # {"email": ["is invalid"], ...}
                rank = (0, depth, 0, self.order)
                self.messages.append(_Candidate(rank, field_message(fields[0]), tuple(fields)))
                return
        # A message member other than ``error``: then an identifier there is a code.
        has_message = any(name in _MESSAGE and name not in _BARE_ERROR for _, name, _ in members)
        for key, name, member in members:
            self.order += 1
            self.member(key, name, member, depth, has_message=has_message)

    def member(self, key: str, name: str, member: object, depth: int, *, has_message: bool) -> None:
        if name in _MESSAGE:
            self.message_member(name, member, depth, has_message=has_message)
        if name in _CODE:
            self.code(name, member, depth)
        if name in _TYPE and has_message:
            self.type(name, member, depth)
        if name in _REQUEST_ID and (name not in _PREFIXED_ONLY or name != _bare(key)):
            found = as_code(member)
            if found is not None and is_identifier(found):
                rank = (depth, _REQUEST_ID[name], 0, self.order)
                self.request_ids.append(_Candidate(rank, found))
        if isinstance(member, (dict, list)) and name not in _TYPE:
            self.nested(name, member, depth)

    def nested(self, name: str, member: dict[str, object] | list[object], depth: int) -> None:
        if name in _ERRORS and isinstance(member, dict) and _field_texts(member):
            # {"errors": {"labels": "Field 'labels' cannot be set"}}: field -> message
            for field_name, text in member.items():
                if not is_sensitive_name(field_name):
                    self.message(str(text), depth + 1, _FIELD_RANK)
            return
        outer, self.siblings = self.siblings, ()
        self.value(member, depth + 1)
        self.siblings = outer

    def message_member(self, name: str, member: object, depth: int, *, has_message: bool) -> None:
        if not isinstance(member, str):
            return
        text = member.strip()
        if text[:1] in "{[" and len(text) <= MAX_EMBEDDED:
            try:
                embedded = json.loads(text)
            except ValueError:
                embedded = None
            if isinstance(embedded, (dict, list)):
                self.value(embedded, depth + 1)
                return
        if _machine_name(text) and (has_message or name not in _BARE_ERROR):
            # {"error": "not_found", "message": "..."}, {"reason": "PAGE_NOT_FOUND",
            # "message": "Not Found"}: an identifier where a message goes is a code
            self.codes.append(_Candidate((depth, 5, 0, self.order), text))
        self.message(text, depth, _MESSAGE[name])

    def message(self, text: str, depth: int, rank: int) -> None:
        text = text.strip()
        if text and text.lower() not in _STATUS_WORDS:
            key = (informative(text), depth, rank, self.order)
            self.messages.append(_Candidate(key, text, self.siblings))

    def code(self, name: str, member: object, depth: int) -> None:
        found = as_code(member)
        if found is not None and found == str(self.status):
            return  # the HTTP status again (``"code": 404`` or ``"504"``), not a code
        if found is not None and not (isinstance(member, str) and " " in found.strip()):
            self.codes.append(_Candidate((depth, _CODE[name], 0, self.order), found))

    def type(self, name: str, member: object, depth: int) -> None:
        if isinstance(member, str) and is_identifier(member.strip()):
            text = member.strip()
            if name == "name" and not _machine_name(text):
                return  # {"name": "collab"}: a field or resource, not an error class
            if text.lower() not in _NO_TYPE and not text.lower().startswith("error."):
                self.types.append(_Candidate((depth, _TYPE[name], 0, self.order), text))


def read_fields(value: object, status: int = 0) -> Found:
    """Message, code, type, request id and details of a JSON value, by the table above."""
    walk = _Walk(status)
    walk.value(value, 0)
    message = min(walk.messages) if walk.messages else None
    code, kind = _best(walk.codes), _best(walk.types)
    return Found(
        message=code or kind if message is None else message.value,
        code=code,
        type=kind,
        request_id=_best(walk.request_ids),
        details=() if message is None else message.details,
    )


def _best(candidates: list[_Candidate]) -> str | None:
    return min(candidates).value if candidates else None
