"""What the views do not audit themselves: every other read of the API, and every refused attempt.

The views audit the health-file reads they know (a resident's file, a search, a sync pull) with the record
in hand. This hook catches the rest in one place, so a new list view or export cannot forget: a GET
answered 2xx that wrote no audit row gets one ("view", or "export" for a file), and a 401 or 403 anywhere
in the API or the console gets a "denied" row, with the user when the token was good (a role refused) and
the name tried at sign-in. Refusals are bounded: only the first per minute, address, caller, endpoint and
status gets its row; the repeats are counted in denied_attempts (anyone can send refused requests, and each
used to add a row). The query is kept redacted (server/logs.py): the audit says a search was made,
the view's own row says for whom.
"""
from __future__ import annotations

import logging

from flask import Flask, g, request

from .. import db
from ..api import client_address
from ..db import utcnow
from ..logs import redacted_query, signed_in
from ..scope import Actor
from . import services

log = logging.getLogger("server")

# Reads that carry no health data or are about the caller alone: no row for each of them.
NOT_AUDITED = frozenset({"auth.me", "health.healthz", "health.readyz", "api-docs.openapi_json"})
_ANONYMOUS = Actor(None, "-", "anonymous")


def init_app(app: Flask) -> None:
    app.before_request(_nothing_recorded_yet)
    app.after_request(_audit_what_the_view_did_not)


def _nothing_recorded_yet():
    # A request's own, also where one app context serves several requests (tests, a command's loop).
    g.audit_recorded = False


def _audit_what_the_view_did_not(resp):
    path = request.path
    if not (path.startswith("/api/") or path.startswith("/console/")) or request.endpoint in NOT_AUDITED:
        return resp
    try:
        if resp.status_code in (401, 403):
            _record_denied(resp)
        elif request.method == "GET" and 200 <= resp.status_code < 300 and path.startswith("/api/") \
                and not g.get("audit_recorded"):
            actor = signed_in()
            if actor is not None:
                action = "view" if resp.mimetype == "application/json" else "export"
                _write(actor, action, {"endpoint": request.endpoint, "path": path[:200],
                                       "query": redacted_query(request.query_string.decode("latin-1"))})
    except Exception:  # noqa: BLE001 -- the answer is already made; a lost audit row is logged, not raised
        db.session().rollback()
        log.exception("could not write the audit row for %s %s", request.method, path)
    return resp


def _record_denied(resp) -> None:
    actor = signed_in() or _ANONYMOUS
    session = db.session()
    # Counted per minute, address, caller, endpoint and status; only the first of each gets an audit row
    # (the repeats are in denied_attempts' count), so refused requests cannot fill the access log.
    seen = services.count_denial(session, client_address(), actor.username[:60],
                                 (request.endpoint or "unmatched")[:120], resp.status_code, utcnow())
    if seen > 1:
        session.commit()
        return
    detail = {"method": request.method, "path": request.path[:200], "status": resp.status_code,
              "endpoint": request.endpoint}
    if request.endpoint == "auth.login":
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("username"), str):
            detail["username_tried"] = body["username"][:60]
    _write(actor, "denied", detail)


def _write(actor: Actor, action: str, detail: dict) -> None:
    # The view's transaction has ended (committed, or rolled back by the error handler): this row is its own.
    session = db.session()
    services.record(session, actor, action, (request.blueprint or "-")[:30], None, detail=detail)
    session.commit()
