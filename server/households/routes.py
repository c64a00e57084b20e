"""Household health files: households, residents, the chronic-condition registry."""
from flask_jwt_extended import current_user

from .. import db
from ..api import Blueprint, page_schema, paginate, with_etag, check_if_match
from ..audit import services as audit
from ..referrals.moves import follow_resident
from ..scope import Actor
from ..search.services import planned_for_each_query, search_residents
from . import services
from .schemas import (ConditionSchema, ConditionUpdateSchema, HouseholdCreateSchema, HouseholdListArgs,
                      HouseholdRowSchema, HouseholdSchema, HouseholdUpdateSchema, ResidentMoveSchema,
                      ResidentCreateSchema, ResidentRowSchema, ResidentSchema, ResidentSearchArgs,
                      ResidentUpdateSchema, StatusSchema)

blp = Blueprint("households", __name__, url_prefix="/api/v1", description="Household health files")
WRITERS = ("gp", "center_staff", "admin")
HouseholdPage = page_schema(HouseholdRowSchema, "HouseholdPage")
ResidentPage = page_schema(ResidentRowSchema, "ResidentPage")


def _actor() -> Actor:
    return Actor.of(current_user)


def _commit():
    db.session().commit()


@blp.route("/households")
@blp.auth(*WRITERS)
@blp.arguments(HouseholdListArgs, location="query")
@blp.response(200, HouseholdPage)
def list_households(args):
    """Households in your scope, in route order (committee, address)."""
    session = db.session()
    return paginate(session, services.list_households(_actor(), args), args["page"], args["page_size"],
                    rows=True, then=services.household_rows)


@blp.route("/households", methods=["POST"])
@blp.auth(*WRITERS)
@blp.arguments(HouseholdCreateSchema)
@blp.response(201, HouseholdSchema)
def create_household(data):
    """Open a household file in a committee of your center."""
    hh = services.create_household(db.session(), _actor(), data)
    _commit()
    return with_etag(hh, 201)


@blp.route("/households/<household_id>")
@blp.auth(*WRITERS)
@blp.response(200, HouseholdSchema)
def get_household(household_id):
    """One household with its members (ETag for edits)."""
    session = db.session()
    hh = services.get_household(session, _actor(), household_id)
    audit.record(session, _actor(), "read", "household", hh.id)
    _commit()
    return with_etag(hh)


@blp.route("/households/<household_id>", methods=["PATCH"])
@blp.auth(*WRITERS)
@blp.arguments(HouseholdUpdateSchema)
@blp.response(200, HouseholdSchema)
@blp.alt_response(412, description="Stale If-Match")
@blp.alt_response(428, description="If-Match missing")
def update_household(data, household_id):
    """Edit a household; send If-Match with the ETag you read."""
    session = db.session()
    hh = services.get_household(session, _actor(), household_id)
    check_if_match(hh)
    services.update_household(session, _actor(), hh, data)
    _commit()
    return with_etag(hh)


@blp.route("/residents")
@blp.auth(*WRITERS)
@blp.arguments(ResidentSearchArgs, location="query")
@blp.response(200, ResidentPage)
def search(args):
    """Search residents in your scope by name, pinyin initials, ID, record number, phone or address."""
    session = db.session()
    planned_for_each_query(session)
    page = paginate(session, search_residents(_actor(), args), args["page"], args["page_size"])
    audit.record(session, _actor(), "search", "resident", None,
                 detail={"q": args.get("q"), "shown": [r.id for r in page["items"]]})
    _commit()
    return page


@blp.route("/residents", methods=["POST"])
@blp.auth(*WRITERS)
@blp.arguments(ResidentCreateSchema)
@blp.response(201, ResidentSchema)
def create_resident(data):
    """Open a resident's file in a household; the 17-digit record number is assigned."""
    res = services.create_resident(db.session(), _actor(), data)
    _commit()
    return with_etag(res, 201)


@blp.route("/residents/<resident_id>")
@blp.auth(*WRITERS)
@blp.response(200, ResidentSchema)
def get_resident(resident_id):
    """A resident's file (the read is logged)."""
    res = services.get_resident(db.session(), _actor(), resident_id)
    _commit()
    return with_etag(res)


@blp.route("/residents/<resident_id>", methods=["PATCH"])
@blp.auth(*WRITERS)
@blp.arguments(ResidentUpdateSchema)
@blp.response(200, ResidentSchema)
@blp.alt_response(412, description="Stale If-Match")
@blp.alt_response(428, description="If-Match missing")
def update_resident(data, resident_id):
    """Edit a resident's personal information; send If-Match with the ETag you read."""
    session = db.session()
    res = services.get_resident(session, _actor(), resident_id, log_read=False)
    check_if_match(res)
    services.update_resident(session, _actor(), res, data)
    _commit()
    return with_etag(res)


@blp.route("/residents/<resident_id>/move", methods=["POST"])
@blp.auth(*WRITERS)
@blp.arguments(ResidentMoveSchema)
@blp.response(200, ResidentSchema)
def move_resident(data, resident_id):
    """Move a resident to another household in your scope."""
    session = db.session()
    res = services.get_resident(session, _actor(), resident_id, log_read=False)
    check_if_match(res)
    services.move_resident(session, _actor(), res, data)
    follow_resident(session, _actor(), res.id, res.team_id, res.center_id)  # their referral cases follow
    _commit()
    return with_etag(res)


@blp.route("/residents/<resident_id>/status", methods=["POST"])
@blp.auth(*WRITERS)
@blp.arguments(StatusSchema)
@blp.response(200, ResidentSchema)
def set_status(data, resident_id):
    """Mark moved out or deceased (nothing is deleted)."""
    session = db.session()
    res = services.get_resident(session, _actor(), resident_id, log_read=False)
    check_if_match(res)
    services.set_status(session, _actor(), res, data)
    _commit()
    return with_etag(res)


@blp.route("/residents/<resident_id>/conditions", methods=["POST"])
@blp.auth(*WRITERS)
@blp.arguments(ConditionSchema)
@blp.response(201, ConditionSchema)
def add_condition(data, resident_id):
    """Enter the resident in the hypertension or type 2 diabetes registry."""
    session = db.session()
    res = services.get_resident(session, _actor(), resident_id, log_read=False)
    cond = services.add_condition(session, _actor(), res, data)
    _commit()
    return with_etag(cond, 201)


@blp.route("/conditions/<condition_id>", methods=["PATCH"])
@blp.auth(*WRITERS)
@blp.arguments(ConditionUpdateSchema)
@blp.response(200, ConditionSchema)
def update_condition(data, condition_id):
    """Change a registry entry's status (lost, terminated, ...); send If-Match."""
    session = db.session()
    cond = services.get_condition(session, _actor(), condition_id)
    check_if_match(cond)
    services.update_condition(session, _actor(), cond, data)
    _commit()
    return with_etag(cond)
