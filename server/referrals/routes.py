"""Referrals to hospital specialists: send, read, act on (one path per action, with If-Match), thread."""
import marshmallow as ma
from flask import request
from flask_jwt_extended import current_user

from gpcore.referral import ACTION_LABELS

from .. import clock, db, printouts
from ..api import Blueprint, page_schema, paginate, with_etag
from ..audit import services as audit
from ..scope import Actor
from . import services
from .schemas import (ACTION_BODIES, MessageCreateSchema, MessageSchema, PrefillArgs, PrefillSchema,
                      ReferralCreateSchema, ReferralListArgs, ReferralRowSchema, ReferralSchema, SummarySchema)

blp = Blueprint("referrals", __name__, url_prefix="/api/v1", description="Referrals to hospital specialists")
READERS = ("gp", "center_staff", "specialist", "admin")
ACTORS = ("gp", "specialist")  # center staff and admin read; only the team and the specialists act
ReferralPage = page_schema(ReferralRowSchema, "ReferralPage")


def _actor() -> Actor:
    return Actor.of(current_user)



def _case(row, status: int = 200):
    """The case as the API shows it: with the caller's allowed actions, the thread and the ETag."""
    row.allowed_actions = services.allowed_actions(_actor(), row)
    row.messages = services.thread(db.session(), row)
    return with_etag(row, status)


@blp.route("/referrals/prefill")
@blp.auth("gp")
@blp.arguments(PrefillArgs, location="query")
@blp.response(200, PrefillSchema)
def prefill(args):
    """The upward form pre-filled from a resident's health file (your team's residents; the read is logged)."""
    session = db.session()
    result = services.prefill(session, _actor(), args["resident_id"], clock.today(), args.get("condition"))
    session.commit()
    return result


@blp.route("/referrals", methods=["POST"])
@blp.auth("gp")
@blp.arguments(ReferralCreateSchema)
@blp.response(201, ReferralSchema)
def create(data):
    """Send a case up to a named specialist or to a department's pool (a GP of the resident's team)."""
    session = db.session()
    row = services.create(session, _actor(), data, clock.today())
    session.commit()
    return _case(row, 201)


@blp.route("/referrals")
@blp.auth(*READERS)
@blp.arguments(ReferralListArgs, location="query")
@blp.response(200, ReferralPage)
def list_referrals(args):
    """Cases in your scope, most urgent and earliest deadline first (filters: state, urgency, team, overdue)."""
    session = db.session()
    page = paginate(session, services.list_referrals(_actor(), args, clock.today()), args["page"], args["page_size"],
                    rows=True)
    audit.record(session, _actor(), "list", "referral", None, detail={"shown": [i["id"] for i in page["items"]]})
    session.commit()
    return page


@blp.route("/referrals/<referral_id>")
@blp.auth(*READERS)
@blp.response(200, ReferralSchema)
def get(referral_id):
    """One case with its forms, answer, thread and what you may do (ETag for actions; the read is logged)."""
    session = db.session()
    row = services.get(session, _actor(), referral_id)
    session.commit()
    return _case(row)


@blp.route("/referrals/<referral_id>/resident-summary")
@blp.auth(*READERS)
@blp.response(200, SummarySchema)
def resident_summary(referral_id):
    """The resident's file summary through this case, for the specialist (the read is logged)."""
    session = db.session()
    result = services.resident_summary(session, _actor(), referral_id)
    session.commit()
    return result


class SlipArgs(printouts.PrintArgs):
    part = ma.fields.String(load_default="referral", validate=ma.validate.OneOf(["referral", "return"]), metadata={
        "description": "referral: the upward slip with its stub (转出单 + 存根); return: the return form (回转单)"})


@blp.route("/referrals/<referral_id>/slip")
@blp.auth(*READERS)
@blp.arguments(SlipArgs, location="query")
@blp.doc(responses={**printouts.RESPONSES, "409": {"description": "part=return before the return form is written"}})
def get_slip(args, referral_id):
    """The referral slip with its stub, or the return form, of a case: ESC/POS bytes or their PNG preview
    (58 or 80 mm, Chinese font or raster; logged as a read of the case)."""
    session = db.session()
    layout, document = services.printable(session, _actor(), referral_id, args["part"])
    session.commit()
    return printouts.response(layout, document, args, f"referral-{args['part']}")


@blp.route("/referrals/<referral_id>/messages", methods=["POST"])
@blp.auth(*ACTORS)
@blp.arguments(MessageCreateSchema)
@blp.response(201, MessageSchema)
def post_message(data, referral_id):
    """Add a message to the case's thread (the team and the specialist; until the case ends)."""
    session = db.session()
    message = services.post_message(session, _actor(), referral_id, data["text"])
    session.commit()
    return message


def _action_view(action: str):
    def view(data, referral_id):
        session = db.session()
        row = services.act(session, _actor(), referral_id, action, data, request.headers.get("If-Match"), clock.today())
        session.commit()
        return _case(row)

    view.__name__ = f"act_{action}"
    view.__doc__ = (f"{ACTION_LABELS[action]} ({action}); send If-Match with the case's ETag. "
                    "409 when the case's state does not allow it (the state is named), 412 when stale.")
    return view


for _action, _body in ACTION_BODIES.items():
    _view = _action_view(_action)
    _view = blp.alt_response(428, description="If-Match missing")(_view)
    _view = blp.alt_response(412, description="Stale If-Match: the case changed since you read it")(_view)
    _view = blp.alt_response(409, description="The case's current state does not allow this action")(_view)
    _view = blp.response(200, ReferralSchema)(_view)
    _view = blp.arguments(_body)(_view)
    _view = blp.auth(*ACTORS)(_view)
    blp.route(f"/referrals/<referral_id>/{_action.replace('_case', '').replace('_', '-')}",
              methods=["POST"], endpoint=f"act_{_action}")(_view)
