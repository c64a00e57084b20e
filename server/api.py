"""Project-wide API behaviour in one place: error shape, auth decorator, request ids, pagination."""
from __future__ import annotations

import functools
import logging
import threading
import uuid

import flask_smorest
import marshmallow as ma
from flask import current_app, g, jsonify, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import BaseConverter, IntegerConverter

from . import db, messages_zh
from .errors import DomainError
from .limits import StrictParser, body_too_large
from .scope import require_role

log = logging.getLogger("server")


def error_body(code: int, message: str | None = None, errors: dict | None = None,
               reason: str | None = None) -> dict:
    """The one error payload: flask-smorest's {code, status, message, errors}; `code` is the HTTP status, or
    the reason a client acts on when there is one (DomainError.code)."""
    body = {"code": reason or code, "status": HTTP_STATUS_CODES.get(code, "Unknown")}
    if message:
        body["message"] = message
    if errors:
        body["errors"] = errors
    return body


def error_response(code: int, message: str | None = None, errors: dict | None = None, headers=None,
                   reason: str | None = None):
    """A Flask response in the one error shape."""
    resp = jsonify(error_body(code, message, errors, reason))
    resp.status_code = code
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


class Api(flask_smorest.Api):
    """flask-smorest's Api with request ids, domain-error mapping and stack-trace-free 500s, and an OpenAPI
    document written when it is first read.

    Describing the ~110 operations took ~100 of create_app's ~145 ms of CPU. An app that never serves its
    document (production keeps it unpublished; most apps the tests build) does not pay for it: a
    blueprint's routes are registered at once, its description is added to the document, in the same order,
    the first time anything reads `spec` (/openapi.json, /docs, a test; serve-production reads it before
    forking when the document is published)."""

    def __init__(self, *args, **kwargs):
        self._undocumented = []  # what is still to be added to the document, in order: fn(spec) each
        # Readers wait while the document is written (threaded servers: two first readers at once).
        self._documenting = threading.RLock()
        self._writing = False
        super().__init__(*args, **kwargs)

    @property
    def spec(self):
        spec = self.__dict__.get("_spec")
        if self._undocumented:
            with self._documenting:
                if not self._writing:  # a step that reads `spec` itself gets the document so far
                    self._writing = True
                    try:
                        while self._undocumented:
                            self._undocumented[0](spec)
                            # Taken off once done: a step that failed is tried again by the next reader
                            # (a 500 each time, never a document with parts missing).
                            self._undocumented.pop(0)
                    finally:
                        self._writing = False
        return spec

    @spec.setter
    def spec(self, value):
        self.__dict__["_spec"] = value

    def document(self, add) -> None:
        """add(spec) when the document is written, after what was registered before it."""
        self._undocumented.append(add)

    def register_blueprint(self, blp, *, parameters=None, **options):
        """flask-smorest's register_blueprint, with the blueprint's description left for `spec`."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)

        def describe(spec):
            blp.register_views_in_doc(self, self._app, spec, name=name, parameters=parameters)
            spec.tag({"name": name, "description": blp.description})
        self.document(describe)

    def init_app(self, app, *args, **kwargs):
        # Path converters before any blueprint is registered: an <int:...> beyond 64 bits is a 404 (not an
        # overflow in the driver), and <uuid_text:...> matches only an id, so /followups/lost is never read
        # as the follow-up "lost" (whose GET would then be advertised in Allow).
        app.url_map.converters["int"] = BoundedInt
        app.url_map.converters["uuid_text"] = UuidText
        app.url_map.converters["big_int"] = BigInt
        super().init_app(app, *args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(own_openapi)
        self.register_converter(BoundedInt, lambda c: {"type": "integer", "minimum": 0, "maximum": c.max})
        self.register_converter(UuidText, lambda c: {"type": "string", "format": "uuid"})
        self.register_converter(BigInt, lambda c: {"type": "integer", "minimum": 0, "maximum": c.max})
        app.before_request(_assign_request_id)
        app.after_request(_echo_request_id)
        app.register_error_handler(DomainError, _handle_domain_error)
        app.register_error_handler(IntegrityError, _handle_integrity_error)
        app.register_error_handler(StaleDataError, _handle_stale)

    def handle_http_exception(self, error: HTTPException):
        if error.code and error.code >= 500:
            original = getattr(error, "original_exception", None)
            log.error("request %s failed: %s %s", _request_id(), request.method, request.path,
                      exc_info=original or error)
            _rollback()
            return error_response(error.code, f"Internal error; quote request id {_request_id()}.")
        if isinstance(error, RequestEntityTooLarge):
            # werkzeug's own (a multipart body cut off at max_content_length while parsed): the same 413 as
            # the limits raise themselves, not its English sentence.
            return _handle_domain_error(body_too_large(request.max_content_length or 0))
        data = getattr(error, "data", None)
        if error.code == 422 and isinstance(data, dict) and "messages" in data and "message" not in data:
            # webargs' schema errors come without a sentence: name the fields, as the domain errors do.
            data["message"] = "Invalid input: " + ", ".join(_field_paths(data["messages"])) + "."
            if prefers_chinese():
                data["messages"] = messages_zh.schema_messages(data["messages"])
                fields = [p.split(".", 1)[1] if p.split(".")[0] in _LOCATIONS else p
                          for p in _field_paths(data["messages"])]
                data["message"] = "输入有误：" + "、".join(fields) + "。"
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)  # werkzeug's sentence (413, 405, 404) if none
        if isinstance(error, MethodNotAllowed) and error.valid_methods:  # TRACE and the like: say what is
            headers = {**headers, "Allow": ", ".join(sorted(error.valid_methods))}
        return payload, code, headers


def own_openapi(converter, field, ret: dict) -> dict:
    """A field that knows its OpenAPI property better than its marshmallow class says (a form that is one
    of several generated schemas) describes itself through `openapi(converter, ret)`."""
    describe = getattr(field, "openapi", None)
    return describe(converter, ret) if describe else {}


_LOCATIONS = ("json", "query", "files", "form", "headers")

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


class BoundedInt(IntegerConverter):
    """werkzeug's int converter, at most a record id (an INTEGER column): beyond it no record, 404 (PostgreSQL
    would fail the comparison, a 500)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=INT32_MAX, signed=False):  # noqa: A002
        super().__init__(url_map, fixed_digits, min, max, signed)


class BigInt(BoundedInt):
    """For the few BIGINT ids in a path (inbox items)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=INT64_MAX, signed=False):  # noqa: A002
        super().__init__(url_map, fixed_digits, min, max, signed)


class UuidText(BaseConverter):
    """A record id (a UUID), given to the view as the text it is stored as."""

    regex = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"


def _field_paths(messages, prefix: str = "") -> list[str]:
    """{"json": {"note": [...], "items": {0: {"x": [...]}}}} -> ["json.note", "json.items.0.x"]."""
    if not isinstance(messages, dict):
        return [prefix]
    paths = []
    for key, value in messages.items():
        paths += _field_paths(value, f"{prefix}.{key}" if prefix else str(key))
    return paths


class Schema(ma.Schema):
    """Base schema: unknown fields are refused so a typo in a field name is a 422, not silently lost."""

    class Meta:
        unknown = ma.RAISE


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with one auth decorator that also documents 401/403, and the strict
    argument parser (JSON depth, number size, NUL and lone surrogates, 64-bit integers: server/limits.py)."""

    ARGUMENTS_PARSER = StrictParser()

    def auth(self, *roles: str):
        """Require a valid access token; with roles, the caller's role must be one of them."""

        def decorator(view):
            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                verify_jwt_in_request()
                require_role(current_user, roles, f"This needs role {' or '.join(roles)}.")
                return view(*args, **kwargs)

            doc = {"security": [{"bearerAuth": []}]}
            wrapper = self.doc(**doc)(wrapper)
            wrapper = self.alt_response(401, description="Missing, invalid, expired or revoked token")(wrapper)
            if roles:
                wrapper = self.alt_response(403, description=f"Only for: {', '.join(roles)}")(wrapper)
            return wrapper

        return decorator


MAX_PAGE = 100_000  # with 500 a page, 50 million rows: more than any list; beyond, the offset overflows


class PageArgs(Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    page_size = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))


def paginate(session, stmt, page: int, page_size: int, count_stmt=None, rows: bool = False, then=None) -> dict:
    """Run a select with LIMIT/OFFSET and a total count; return {items, page, page_size, total}.

    With rows=True the items are column mappings (list views) rather than ORM objects. With then, the
    page is cut first and then(page_subquery) gives the select that is run: costly columns (joins,
    counts) are computed for the page's rows only; it must order its rows itself.
    """
    from sqlalchemy import func, select

    count_stmt = count_stmt if count_stmt is not None else select(func.count()).select_from(
        stmt.order_by(None).subquery())
    total = session.scalar(count_stmt)
    paged = stmt.limit(page_size).offset((page - 1) * page_size)
    if then is not None:
        paged = then(paged.subquery("page"))
    items = session.execute(paged).mappings().all() if rows else session.scalars(paged).all()
    return {"items": items, "page": page, "page_size": page_size, "total": total}


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page-of-items schema for the OpenAPI document."""
    return type(name, (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "page": ma.fields.Integer(),
        "page_size": ma.fields.Integer(),
        "total": ma.fields.Integer(),
    })


def _request_id() -> str:
    return getattr(g, "request_id", "-")


def _assign_request_id():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isascii() else uuid.uuid4().hex


def _echo_request_id(resp):
    resp.headers["X-Request-ID"] = _request_id()
    return resp


def _rollback():
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def prefers_chinese() -> bool:
    """The caller asked for Chinese (Accept-Language: zh...), as the console and the tablet do."""
    return request.accept_languages.best_match(["en", "zh"], default="en") == "zh"


def _handle_domain_error(err: DomainError):
    _rollback()
    headers = {}
    if getattr(err, "retry_after", None) is not None:
        headers["Retry-After"] = str(err.retry_after)
    if err.zh and prefers_chinese():
        return error_response(err.status, err.zh, err.zh_errors or err.errors, headers, err.code)
    return error_response(err.status, err.message, err.errors, headers, err.code)


def _handle_integrity_error(err: IntegrityError):
    _rollback()
    log.info("request %s integrity error: %s", _request_id(), err.orig)
    return error_response(409, "The change conflicts with existing data (a duplicate or a missing reference).")


def _handle_stale(_err):
    _rollback()
    return error_response(412, "Someone changed this record at the same moment; reload and try again.")


def client_address() -> str:
    """The caller's address: as this server saw it, or as the outermost of TRUSTED_PROXIES saw it."""
    return (request.remote_addr or "-")[:64]


def device_id() -> str | None:
    """The tablet's device id, when it sends one."""
    return request.headers.get("X-Device-ID") or None


__all__ = ["Api", "Blueprint", "Schema", "PageArgs", "MAX_PAGE", "paginate", "page_schema", "error_body",
           "error_response", "client_address", "device_id", "db", "current_app"]


def etag_of(row) -> str:
    """A strong ETag for a versioned row."""
    return f'"{row.id}-v{row.version}"'


def check_if_match(row) -> None:
    """Require If-Match on an edit and refuse a stale one (412), so no edit silently overwrites."""
    from .errors import DomainError, PreconditionFailed

    header = request.headers.get("If-Match")
    if not header:
        err = DomainError("Send If-Match with the ETag you last read.", {"If-Match": ["required"]})
        err.status = 428
        raise err
    tags = [t.strip() for t in header.split(",")]
    if "*" not in tags and etag_of(row) not in tags:
        raise PreconditionFailed("Someone changed this record since you read it; reload and try again.",
                                 {"If-Match": [f"current ETag is {etag_of(row)}"]})


def with_etag(row, status: int = 200):
    """A view result that carries the row's ETag header."""
    return row, status, {"ETag": etag_of(row)}
