"""Tablet sync: pull a page of the team's records, push a batch of saved records, review conflicts."""
from flask_jwt_extended import current_user
from sqlalchemy.exc import IntegrityError

from .. import db
from ..api import Blueprint, page_schema, paginate, prefers_chinese
from .. import metrics
from ..audit import services as audit
from ..devices.hooks import watch_sync
from ..scope import Actor
from . import push as push_service
from . import services
from .encoding import json_response
from .schemas import ConflictArgs, ConflictSchema, PullArgs, PullPageSchema, PushAnswerSchema, PushSchema

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Tablet sync")
ConflictPage = page_schema(ConflictSchema, "SyncConflictPage")
watch_sync(blp)  # the tablet protocol (issue 18): X-Device-Id recorded, lost tablets refused, X-Device-State


@blp.route("/pull")
@blp.auth("gp")
@blp.arguments(PullArgs, location="query")
@blp.response(200, PullPageSchema)
def pull(args):
    """A page of your team's records changed since the cursor (gzip if accepted); no cursor: everything.
    When there is more, the X-Sync-Next-Cursor header carries the page's `cursor`."""
    session = db.session()
    actor = Actor.of(current_user)
    page = services.pull(session, actor, args["cursor"], args["limit"], args["ref"], args["forms"] == "compact")
    rows = sum(len(e["rows"]) for e in page["entities"].values())
    audit.record(session, actor, "sync_pull", "team", str(actor.team_id), detail={"mode": page["mode"], "rows": rows})
    session.commit()
    metrics.sync_page("pull", page["mode"], rows)
    resp = json_response(page)
    if page.get("more") and page.get("cursor"):
        # Where the next page starts, readable before the body is decoded: a tablet asks for it at once, so
        # the server is not idle while the tablet unpacks this one (fieldapp/sync/engine.py).
        resp.headers["X-Sync-Next-Cursor"] = page["cursor"]
    return resp


@blp.route("/push", methods=["POST"])
@blp.auth("gp")
@blp.arguments(PushSchema)
@blp.response(200, PushAnswerSchema)
def push(body):
    """Upload saved records; one answer per record. The same batch again gets the same answer."""
    session = db.session()
    actor = Actor.of(current_user)
    answer = push_service.push(session, actor, body, zh=prefers_chinese())
    try:
        session.commit()
    except IntegrityError:
        # The same batch arrived twice at once and the other request committed first: give its answer.
        session.rollback()
        answer = push_service.stored_answer(session, actor, body["batch_id"])
        if answer is None:
            raise
    metrics.sync_page("push", "batch", len(body["records"]))
    return json_response(answer)


@blp.route("/conflicts")
@blp.auth("gp", "center_staff", "admin")
@blp.arguments(ConflictArgs, location="query")
@blp.response(200, ConflictPage)
def conflicts(args):
    """Values that lost a same-field edit race, newest first, for a person to review."""
    return paginate(db.session(), services.list_conflicts(Actor.of(current_user), args), args["page"],
                    args["page_size"])
