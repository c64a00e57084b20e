"""Probes for a service manager or load balancer: /healthz (the process answers) and /readyz (the database
answers and its schema is at the migrations' head). Unauthenticated; they carry no health data."""
from __future__ import annotations

import functools
import logging

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app
from sqlalchemy.exc import SQLAlchemyError

from .api import error_response

blp = Blueprint("health", __name__)
log = logging.getLogger("server")


@functools.cache
def head_revisions() -> frozenset[str]:
    """The migrations' heads, read once from migrations/ (they do not change while the process runs)."""
    from .manage import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


@blp.route("/healthz")
def healthz():
    """Alive: the process answers requests (no database call)."""
    return {"status": "ok"}


@blp.route("/readyz")
def readyz():
    """Ready: the database answers and its schema is at the migrations' head; else 503 in the error shape."""
    try:
        with current_app.extensions["db_engine"].connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        log.warning("readyz: database unreachable: %s", exc.__class__.__name__)
        return error_response(503, "The database does not answer.", {"database": "unreachable"},
                              {"Retry-After": "5"})
    if current != head_revisions():
        return error_response(503, "The database is not migrated to this version; run migrate.",
                              {"migrations": "not_at_head"},
                              {"Retry-After": "30"})
    return {"status": "ready"}
