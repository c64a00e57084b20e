"""The service's logs: one JSON object a line, the request id on every line, no personal data.

Logs travel further than the database (a log shipper, an operator's terminal, a support ticket), so what a
resident could be known by never reaches them: ID numbers, phone numbers and the text of a search are
redacted from messages, URLs and database errors (PostgreSQL puts the clashing value in a constraint's
DETAIL; SQLAlchemy puts a statement's parameters in its error text).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from urllib.parse import parse_qsl

from flask import Flask, g, has_request_context, request

REDACTED = "…"
_ID_NUMBER = re.compile(r"(?<![0-9])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0\d{2,3}-\d{7,8}(?![0-9])")
# PostgreSQL: DETAIL:  Key (id_number)=(110101199003071234) already exists.
_KEY_VALUE = re.compile(r"(Key \([^)]*\)=\()[^)]*(\))")
# SQLAlchemy: [SQL: ...] [parameters: (...)] -- the statement is kept, the values are not.
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background|\Z|\n))", re.S)
# Query values kept as they are: paging, codes and ids that say nothing about a person.
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.,:-]{0,40}$")
_ALWAYS_REDACTED = frozenset({"q", "name", "id_number", "phone", "address", "contact", "search", "username"})


def redact(text: str) -> str:
    """`text` with ID numbers, phone numbers, constraint values and statement parameters replaced."""
    text = _PARAMETERS.sub(f"[parameters: {REDACTED}]", text)
    text = _KEY_VALUE.sub(rf"\g<1>{REDACTED}\g<2>", text)
    text = _ID_NUMBER.sub(REDACTED, text)
    text = _MOBILE.sub(REDACTED, text)
    return _LANDLINE.sub(REDACTED, text)


def redacted_query(query_string: str) -> dict:
    """A URL's query as a mapping, each value kept only when it is a plain code or number and its name is
    not one that carries a person (the search box above all)."""
    out = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        plain = (_PLAIN_VALUE.match(value) and key not in _ALWAYS_REDACTED
                 and not (value.isdigit() and len(value) >= 7))
        out[key[:40]] = value if plain else REDACTED
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, and the traceback if any,
    all redacted. No colour codes, whatever the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or _current_request_id(),
        }
        for key in ("method", "path", "query", "status", "ms", "user_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The same redaction for a person reading a terminal (LOG_FORMAT=text)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or _current_request_id() or "-"
        return redact(super().format(record))


def _current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def formatter(kind: str) -> logging.Formatter:
    return TextFormatter() if kind == "text" else JsonFormatter()


def configure(kind: str = "json", level: int = logging.INFO) -> None:
    """The process's log handler: one, on the root logger, with our formatter (called once per app; a
    second app in the same process, as in the tests, replaces rather than adds)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_gpo", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._gpo = True
        root.addHandler(handler)
    handler.setFormatter(formatter(kind))
    root.setLevel(level)
    # werkzeug's own request line prints the raw URL (search text, ID numbers) with colour codes: ours
    # below replaces it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, each run


def gunicorn_logconfig(kind: str) -> dict:
    """gunicorn's own lines (start, workers, timeouts) in the same format; its access log stays off, since
    the app writes the redacted request line itself."""
    name = "TextFormatter" if kind == "text" else "JsonFormatter"
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"gpo": {"()": f"server.logs.{name}"}},
            "handlers": {"gpo": {"class": "logging.StreamHandler", "formatter": "gpo", "stream": "ext://sys.stderr"}},
            "root": {"handlers": ["gpo"], "level": "INFO"},  # gunicorn's defaults name handlers we replace
            "loggers": {"gunicorn.error": {"handlers": ["gpo"], "level": "INFO", "propagate": False}}}


access_log = logging.getLogger("server.access")


def signed_in():
    """The Actor whose token this request verified, as it was then (remember_signed_in), or None: no token, a
    bad one, or a view without auth."""
    return g.get("signed_in")


def remember_signed_in(actor) -> None:
    """Called when a token is verified (server/auth/tokens.py)."""
    g.signed_in = actor


def init_app(app: Flask) -> None:
    configure(app.config.get("LOG_FORMAT", "json"))

    @app.before_request
    def _start_clock():
        g.started = time.perf_counter()
        g.signed_in = None  # a request's own, also where one app context serves several requests (tests)

    @app.after_request
    def _access_line(resp):
        started = g.get("started")
        access_log.info("%s %s %s", request.method, redact(request.path), resp.status_code, extra={
            "request_id": g.get("request_id"), "method": request.method, "path": redact(request.path),
            "query": redacted_query(request.query_string.decode("latin-1")),
            "status": resp.status_code, "user_id": getattr(signed_in(), "user_id", None),
            "ms": round((time.perf_counter() - started) * 1000, 1) if started else None})
        return resp
