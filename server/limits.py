"""What a request may carry and what every response says about itself: body size by endpoint kind, JSON
depth, number size and text content, integer range, security headers, TRACE.

Each of these was a 500 or worse (finding 4, 5, 9 of issue 15): a 50 MB body read whole into a worker, JSON
nested 1,000 deep, a 5,001-digit number, a NUL byte or a lone surrogate in text (PostgreSQL refuses both),
an integer beyond 64 bits in a query; no CSP, frame-ancestors, nosniff or no-store on health data.
"""
from __future__ import annotations

import json
import math
import re

from flask import Flask, current_app, request
from flask_smorest import abort
from marshmallow import RAISE, ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from .errors import DomainError

MAX_DEPTH = 32  # the deepest body the API takes is about 5 (a sync push: records, fields, a list, a dict)
MAX_DIGITS = 30  # longer numbers are no measurement; int64 has 19 digits
INT64 = (-2 ** 63, 2 ** 63 - 1)
# Record ids are PostgreSQL INTEGER columns: an id beyond 32 bits names no record, and comparing one with
# them is an error on PostgreSQL ("integer out of range", a 500 the contract run found) where SQLite just
# finds nothing. Refused up front, the same on both, naming the field.
INT32 = (-2 ** 31, 2 ** 31 - 1)
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL; a surrogate left alone after JSON decoding
# C0 (tab and line breaks included), DEL and C1: no name holds one; spreadsheets and receipts break on them.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")

# Endpoints that take a body other than API JSON; every other endpoint gets MAX_JSON_BYTES.
BODY_KINDS = {"imports.import_residents": "MAX_IMPORT_BYTES",
              "labs.post_hl7": "MAX_LAB_MESSAGE_BYTES", "labs.post_fhir": "MAX_LAB_MESSAGE_BYTES",
              "referral_attachments.upload_image": "MAX_ATTACHMENT_BODY_BYTES"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI's page starts itself with an inline script (only served when API_DOCS is on).
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'")


class BodyTooLarge(DomainError):
    """A request body over its endpoint's limit: 413 in the one error shape, naming the limit, in Chinese for
    a reader who asks for it (the console and the tablet do), as every other refusal."""

    status = 413


def body_too_large(limit: int, field: str = "body") -> BodyTooLarge:
    """The one 413 of every body limit (JSON, an import upload, a lab message, an image upload)."""
    size = _size(limit)
    return BodyTooLarge(f"The body is larger than this endpoint takes ({limit} bytes).",
                        {field: [f"larger than {limit} bytes"]},
                        zh=f"提交的内容超过此处允许的大小（{size}），请拆分或压缩后再提交。",
                        zh_errors={field: [f"超过 {size}（{limit} 字节）"]})


def _size(limit: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= scale:
            return f"{limit / scale:.3g} {unit}"
    return f"{limit} 字节"


def init_app(app: Flask) -> None:
    """Wire the body limit and the response headers into the app."""
    app.before_request(_limit_body)
    app.after_request(_security_headers)


def body_limit(endpoint: str | None, cfg) -> int:
    """The largest body, in bytes, the endpoint takes."""
    return cfg[BODY_KINDS.get(endpoint or "", "MAX_JSON_BYTES")]


def _limit_body():
    limit = body_limit(request.endpoint, current_app.config)
    # Checked on Content-Length before anything is read; a chunked body is cut off at the limit while read.
    request.max_content_length = limit
    if (request.content_length or 0) > limit:
        raise body_too_large(limit)


def _security_headers(resp):
    headers = resp.headers
    headers.setdefault("Content-Security-Policy", DOCS_CSP if request.path == "/docs" else CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        # Every API answer is personal (health files, tokens, a user's own lists): no cache keeps it.
        headers["Cache-Control"] = "no-store"
    return resp


class BodyRefused(ValueError):
    """A JSON body the API does not take; `path` names where."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


class _LongNumber(str):
    """A number not taken (too long, or beyond a float), kept as its text until the walk names where it is."""


def _int(text: str):
    return _LongNumber(text) if len(text) > MAX_DIGITS else int(text)


def _float(text: str):
    value = float(text) if len(text) <= MAX_DIGITS else math.inf
    return value if math.isfinite(value) else _LongNumber(text)


def _constant(name: str):
    raise BodyRefused("_body", f"{name} is not a JSON number")


class _Suspect(Exception):
    """The fast way met something to look at closely."""


# Found in the raw bytes at C speed: a run of 19+ digits (an integer that may pass 64 bits), an escaped NUL
# or surrogate (a raw NUL is invalid JSON; a raw surrogate is invalid UTF-8, which loads_strict decodes
# strictly).
_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
_LONG_RUN = b"0" * 19
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def loads_strict(raw: bytes | str):
    """Parse a JSON body, refusing NaN/Infinity, numbers of more than MAX_DIGITS digits or beyond a float,
    integers beyond 64 bits, nesting deeper than MAX_DEPTH and text with NUL or a lone surrogate
    (BodyRefused, naming where).

    Ordinary bodies take the fast way (bench/bench_limits.py): byte searches over the raw body, the plain
    parse, a walk that follows containers and looks at floats only; a body any of them flags is parsed
    again and walked value by value to name the field."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    # UTF-8 only (RFC 8259), decoded strictly, a byte order mark allowed: json.loads would take UTF-16 and
    # UTF-32 too (past the byte searches below) and UTF-8 with raw surrogates (which no database stores).
    text = raw.decode("utf-8-sig")
    try:
        if (b"\\u0000" in raw or _SURROGATE.search(raw) is not None
                or _LONG_RUN in raw.translate(_DIGITS)):
            raise _Suspect
        data = json.loads(text, parse_constant=_constant)
        if _shallow(data):
            return data
    except RecursionError:
        raise BodyRefused("_body", f"nested deeper than {MAX_DEPTH} levels") from None
    except _Suspect:
        pass
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise BodyRefused("_body", f"nested deeper than {MAX_DEPTH} levels") from None
    check(data)
    return data


def _shallow(data) -> bool:
    """True when no container is nested deeper than MAX_DEPTH and every float is finite (the cheap walk:
    containers are followed, floats looked at, every other value only has its type read)."""
    stack = [(data, 0)] if type(data) in (dict, list) else []
    while stack:
        value, depth = stack.pop()
        if depth >= MAX_DEPTH:
            return False
        for item in (value.values() if type(value) is dict else value):
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is float and item - item != 0.0:  # inf - inf is nan
                return False
            elif kind is int and not INT32[0] <= item <= INT32[1]:  # may be an id no record has: look closer
                return False
    return type(data) is not float or data - data == 0.0


def check(data) -> None:
    """Walk parsed JSON value by value (no recursion) and raise BodyRefused naming the first one not taken."""
    stack = [(data, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if isinstance(value, _LongNumber):
                raise BodyRefused(_dotted(path), f"a number of more than {MAX_DIGITS} digits, or infinite")
            if BAD_TEXT.search(value):
                raise BodyRefused(_dotted(path), "text with a NUL character or a lone surrogate")
        elif isinstance(value, int) and not isinstance(value, bool):
            if not INT64[0] <= value <= INT64[1]:
                raise BodyRefused(_dotted(path), "an integer beyond 64 bits")
            if _names_an_id(path) and not INT32[0] <= value <= INT32[1]:
                raise BodyRefused(_dotted(path), "an id beyond 32 bits: no such record")
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise BodyRefused(_dotted(path), f"nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and BAD_TEXT.search(key):
                    raise BodyRefused(_dotted(path), "a name with a NUL character or a lone surrogate")
                stack.append((item, (*path, key), depth + 1))


def _names_an_id(path: tuple) -> bool:
    """`team_id: 7`, `id: 7`, or an item of `household_ids: [...]`."""
    key = path[-1] if path else None
    if isinstance(key, int) and len(path) > 1:
        key = path[-2]
        return isinstance(key, str) and key.endswith("_ids")
    return isinstance(key, str) and (key == "id" or key.endswith("_id"))


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "_body"


def no_control_characters(value: str | None) -> None:
    """A marshmallow validator for names: no control characters (422 naming the field)."""
    if value is not None and CONTROL_CHARACTERS.search(value):
        raise ValidationError("contains a control character")


class StrictParser(FlaskParser):
    """webargs' Flask parser with the checks above on JSON bodies and query strings, each answered 422 in
    the one error shape naming the field, as a schema error would be. An unknown query parameter is refused
    like an unknown body field (webargs would drop it): `?pagesize=500` is a typo to name, not to ignore."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE}

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        if req.content_length is None and req.max_content_length is not None \
                and len(raw) >= req.max_content_length:
            # werkzeug stops a chunked body at the limit without a word: what reached it is too large
            raise body_too_large(req.max_content_length)
        try:
            return loads_strict(raw)
        except BodyRefused as err:
            abort(422, messages={"json": {err.path: [err.message]}})
        except json.JSONDecodeError as err:  # webargs' answer was werkzeug's "The browser (or proxy)..."
            raise DomainError(f"The body is not JSON: {err.msg} at line {err.lineno} column {err.colno}.",
                              {"json": [f"{err.msg} at line {err.lineno} column {err.colno}."]},
                              zh="请求体不是有效的 JSON。",
                              zh_errors={"json": [f"第 {err.lineno} 行第 {err.colno} 列不是有效的 JSON。"]}) from None
        except UnicodeDecodeError as err:  # counted from 1, as the line and column above are
            raise DomainError(f"The body is not UTF-8 text (byte {err.start + 1}).",
                              {"json": [f"not UTF-8 text at byte {err.start + 1}."]}, zh="请求体不是 UTF-8 文字。",
                              zh_errors={"json": [f"第 {err.start + 1} 字节起不是 UTF-8 文字。"]}) from None
        except ValueError as err:  # no body of the API's should reach here; if one does, a 400, not a 500
            raise DomainError(f"The body is not JSON the API takes: {err}.", {"json": [str(err)]},
                              zh="请求体不是有效的 JSON。") from None

    def load_querystring(self, req, schema):
        for name, value in req.args.items(multi=True):
            if BAD_TEXT.search(value) or BAD_TEXT.search(name):
                abort(422, messages={"query": {name: ["text with a NUL character"]}})
        return super().load_querystring(req, schema)

    def parse(self, *args, **kwargs):
        parsed = super().parse(*args, **kwargs)
        location = kwargs.get("location") or "json"
        if location != "json":  # JSON was checked as parsed; query, form and path values are checked here
            try:
                check(parsed)
            except BodyRefused as err:
                abort(422, messages={location: {err.path: [err.message]}})
        return parsed
