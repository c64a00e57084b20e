"""The in-app inbox (each user's own) and the SMS delivery status (scoped: server/scope.sms_visible)."""
from flask_jwt_extended import current_user

from .. import db
from ..api import Blueprint, page_schema, paginate
from ..audit import services as audit
from ..scope import Actor
from . import services
from .schemas import InboxArgs, InboxPageSchema, SmsArgs, SmsStatusSchema, UnreadSchema

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Inbox and SMS delivery status")
SmsPage = page_schema(SmsStatusSchema, "SmsStatusPage")


def _actor() -> Actor:
    return Actor.of(current_user)


@blp.route("/inbox")
@blp.auth()
@blp.arguments(InboxArgs, location="query")
@blp.response(200, InboxPageSchema)
def inbox(args):
    """Your notices, newest first (unread=true: only those not read), with your unread count."""
    session = db.session()
    page = paginate(session, services.inbox(_actor(), args["unread"]), args["page"], args["page_size"])
    # Notices name patients and their referrals: the read is logged like the cases' list.
    audit.record(session, _actor(), "list", "inbox", None,
                 detail={"referrals": sorted({i.referral_id for i in page["items"] if i.referral_id})})
    result = {**page, "unread": services.unread_count(session, _actor())}
    session.commit()
    return result


@blp.route("/inbox/unread-count")
@blp.auth()
@blp.response(200, UnreadSchema)
def unread_count():
    """How many of your notices you have not read (for the badge)."""
    return {"unread": services.unread_count(db.session(), _actor())}


@blp.route("/inbox/<big_int:item_id>/read", methods=["POST"])
@blp.auth()
@blp.response(200, UnreadSchema)
def mark_read(item_id):
    """Mark one of your notices read."""
    session = db.session()
    marked = services.mark_read(session, _actor(), item_id)
    session.commit()
    return {"marked": marked, "unread": services.unread_count(session, _actor())}


@blp.route("/inbox/read-all", methods=["POST"])
@blp.auth()
@blp.response(200, UnreadSchema)
def mark_all_read():
    """Mark all your notices read."""
    session = db.session()
    marked = services.mark_read(session, _actor())
    session.commit()
    return {"marked": marked, "unread": 0}


@blp.route("/notifications/sms")
@blp.auth()
@blp.arguments(SmsArgs, location="query")
@blp.response(200, SmsPage)
def sms_status(args):
    """SMS and their delivery status (pending, sent, failed; attempts, last error): your own, and those
    about your team's or center's cases and residents (admin: all)."""
    session = db.session()
    page = paginate(session, services.sms_status(_actor(), args), args["page"], args["page_size"])
    audit.record(session, _actor(), "list", "sms", None, detail={"shown": [m.id for m in page["items"]]})
    session.commit()
    return page
