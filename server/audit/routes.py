"""Admins read the access log."""
import datetime as dt

import marshmallow as ma
from sqlalchemy import select

from .. import db
from ..api import MAX_PAGE, Blueprint, Schema, page_schema, paginate
from .models import AuditEvent

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Access log (admin)")


class AuditArgs(Schema):
    resident_id = ma.fields.String()
    user_id = ma.fields.Integer()
    action = ma.fields.String()
    since = ma.fields.AwareDateTime(default_timezone=dt.timezone.utc)
    until = ma.fields.AwareDateTime(default_timezone=dt.timezone.utc)
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    page_size = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=1, max=1000))


class AuditEventSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    user_id = ma.fields.Integer(allow_none=True)
    username = ma.fields.String()
    role = ma.fields.String()
    action = ma.fields.String()
    entity = ma.fields.String()
    entity_id = ma.fields.String(allow_none=True)
    resident_id = ma.fields.String(allow_none=True)
    address = ma.fields.String()
    device = ma.fields.String(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    detail = ma.fields.Dict(allow_none=True)


@blp.route("/")
@blp.auth("admin")
@blp.arguments(AuditArgs, location="query")
@blp.response(200, page_schema(AuditEventSchema, "AuditPage"))
def query(args):
    """Access events, newest first, filtered by resident, user, action and time."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    for key in ("resident_id", "user_id", "action"):
        if key in args:
            stmt = stmt.where(getattr(AuditEvent, key) == args[key])
    if "since" in args:
        stmt = stmt.where(AuditEvent.at >= args["since"])
    if "until" in args:
        stmt = stmt.where(AuditEvent.at < args["until"])
    return paginate(db.session(), stmt, args["page"], args["page_size"])
