"""Rules for household health files: create, edit, move, status, registry. No HTTP here."""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, selectinload

from gpcore import health_file as hf
from gpcore import idcard, names, record_number
from gpcore.clock import china_today

from .. import messages_zh
from ..assignment.models import AssignmentChange
from ..audit import services as audit
from ..db import new_uuid, utcnow
from ..errors import Conflict, Invalid, NotFound, field_error
from ..followups.models import FollowUpStatus
from ..followups import status_rows as followups
from ..org.models import Center, Committee
from ..scope import Actor, new_household_team, require_care_role, require_visible, rows_visible
from .models import ChronicCondition, Household, Resident, ResidentMove

HOUSEHOLD_FIELDS = ("address", "phone", "health_problems", *hf.LIVING_ENVIRONMENT)


def _can_write(actor: Actor) -> None:
    require_care_role(actor, "Your role cannot change health files.")


# --- households -------------------------------------------------------------------------------

def get_household(session: Session, actor: Actor, household_id: str) -> Household:
    """A household the actor may see, with its members."""
    hh = session.scalar(select(Household).where(Household.id == household_id).options(
        selectinload(Household.members).selectinload(Resident.conditions)))
    return require_visible(actor, hh, "household")


def list_households(actor: Actor, args: dict):
    """A select of households in scope (with committee), ordered for a walking route (committee, address).

    Page it with api.paginate(..., then=household_rows): the page is cut from households and committees
    alone, and only its rows get their head's name and member count (not every household in scope).
    """
    stmt = (select(Household.id, Household.address, Household.committee_id,
                   Committee.name.label("committee_name"), Household.team_id, Household.head_id,
                   Committee.code.label("committee_code"))
            .join(Committee, Committee.id == Household.committee_id)
            .where(rows_visible(actor, Household.team_id, Household.center_id))
            .order_by(Committee.code, Household.address, Household.id))
    if "committee_id" in args:
        stmt = stmt.where(Household.committee_id == args["committee_id"])
    if "team_id" in args:
        stmt = stmt.where(Household.team_id == args["team_id"])
    if args.get("unassigned"):
        stmt = stmt.where(Household.team_id.is_(None))
    if args.get("address"):
        stmt = stmt.where(Household.address.contains(args["address"], autoescape=True))
    return stmt


def household_rows(page):
    """The list rows for one page of list_households (a subquery): head's name and active member count."""
    head = Resident.__table__.alias("head")
    members = (select(func.count()).where(Resident.household_id == page.c.id, Resident.status == "active")
               .correlate(page).scalar_subquery())
    return (select(page.c.id, page.c.address, page.c.committee_id, page.c.committee_name, page.c.team_id,
                   head.c.name.label("head_name"), members.label("member_count"))
            .select_from(page).outerjoin(head, head.c.id == page.c.head_id)
            .order_by(page.c.committee_code, page.c.address, page.c.id))


def create_household(session: Session, actor: Actor, data: dict) -> Household:
    """A new household in a committee of the actor's center; a GP's goes to the GP's own team."""
    _can_write(actor)
    committee = session.get(Committee, data["committee_id"])
    team_id = new_household_team(actor, committee)
    # A tablet opening a household offline names it with its own UUID (sync); the REST API does not.
    hh = Household(id=data.get("id") or new_uuid(), center_id=committee.center_id, committee_id=committee.id,
                   team_id=team_id, created_by=actor.user_id, **{k: data.get(k) for k in HOUSEHOLD_FIELDS})
    session.add(hh)
    session.flush()
    if team_id is not None:
        session.add(AssignmentChange(household_id=hh.id, from_team_id=None, to_team_id=team_id,
                                     changed_by=actor.user_id, reason="new household"))
    audit.record(session, actor, "create", "household", hh.id)
    return hh


def update_household(session: Session, actor: Actor, hh: Household, data: dict) -> Household:
    """Edit address, phone, head, living environment; the head must be an active member."""
    _can_write(actor)
    if "head_id" in data and data["head_id"] is not None:
        member = session.get(Resident, data["head_id"])
        if member is None or member.household_id != hh.id or member.status != "active":
            raise field_error("head_id", "the head must be an active member of this household")
    for key, value in data.items():
        setattr(hh, key, value)
    audit.record(session, actor, "update", "household", hh.id, detail={"fields": sorted(data)})
    return hh


# --- residents --------------------------------------------------------------------------------

def get_resident(session: Session, actor: Actor, resident_id: str, *, log_read: bool = True) -> Resident:
    """A resident's file the actor may see; the read is logged."""
    res = session.scalar(_resident_with_file(), {"resident_id": resident_id})
    require_visible(actor, res, "resident")
    if log_read:
        audit.record(session, actor, "read", "resident", res.id, res.id)
    return res


@functools.cache
def _resident_with_file():
    """get_resident's select, built once with the id bound: most requests about a resident (every signed
    visit too) read one, and building it afresh with its loader options made a read 950 µs of CPU instead of
    720 on SQLite."""
    return (select(Resident).where(Resident.id == bindparam("resident_id"))
            .options(selectinload(Resident.conditions), selectinload(Resident.household)))


def _check(data: dict, today: dt.date) -> None:
    errors = hf.check_codes(data)
    for field, messages in hf.check_identity(data, today).items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        # The identity checks' words are the import's (the same gpcore checks), so its Chinese serves here.
        raise Invalid("The health file has invalid fields.", errors, zh="居民健康档案填写有误。",
                      zh_errors={f: [messages_zh.import_problem(m) for m in ms] for f, ms in errors.items()})


def _normalised_id(session: Session, raw: str | None, resident_id: str | None) -> str | None:
    if not raw:
        return None
    number = idcard.parse(raw).number
    clash = session.scalar(select(Resident.id).where(Resident.id_number == number))
    if clash is not None and clash != resident_id:
        # Do not say where: the other file may belong to another team.
        raise Conflict("This ID number is already on another health file; ask the center to check.",
                       {"id_number": ["already registered"]})
    return number


def next_record_number(session: Session, committee: Committee, center: Center) -> str:
    """Take the committee's next serial atomically and compose the 17-digit record number."""
    serial = session.execute(update(Committee).where(Committee.id == committee.id)
                             .values(last_serial=Committee.last_serial + 1)
                             .returning(Committee.last_serial)).scalar_one()
    return record_number.compose(center.county_code, center.township_code, committee.code, serial)


def _set_name(res: Resident, name: str) -> None:
    forms = names.search_forms(name)
    res.name, res.name_pinyin, res.name_initials = forms["name"], forms["name_pinyin"], forms["name_initials"]


def create_resident(session: Session, actor: Actor, data: dict, today: dt.date | None = None) -> Resident:
    """A new resident in a household the actor may see; gets the next record number."""
    _can_write(actor)
    today = today or china_today()
    hh = require_visible(actor, session.get(Household, data["household_id"]), "household")
    _check(data, today)
    fields = {k: v for k, v in data.items() if k not in ("household_id", "name", "id_number")}
    res = Resident(household_id=hh.id, team_id=hh.team_id, center_id=hh.center_id,
                   id_number=_normalised_id(session, data.get("id_number"), None),
                   record_number=next_record_number(session, hh.committee, session.get(Center, hh.center_id)),
                   created_by=actor.user_id, **fields)
    _set_name(res, data["name"])
    session.add(res)
    session.flush()
    if data.get("relation_to_head") == "02" and hh.head_id is None:
        hh.head_id = res.id
    audit.record(session, actor, "create", "resident", res.id, res.id)
    return res


def update_resident(session: Session, actor: Actor, res: Resident, data: dict,
                    today: dt.date | None = None) -> Resident:
    """Edit personal information in place; identity fields are re-checked together."""
    _can_write(actor)
    merged = {"id_number": res.id_number, "sex": res.sex, "birth_date": res.birth_date, **data}
    _check(merged, today or china_today())
    if "id_number" in data:
        res.id_number = _normalised_id(session, data["id_number"], res.id)
    for key, value in data.items():
        if key == "name":
            _set_name(res, value)
        elif key != "id_number":
            setattr(res, key, value)
    detail = {"fields": sorted(data)}
    if "sms_consent" in data:  # who recorded the consent, and when, is in the access log
        res.sms_consent_at = utcnow()
        detail["sms_consent"] = data["sms_consent"]
    audit.record(session, actor, "update", "resident", res.id, res.id, detail)
    return res


def move_resident(session: Session, actor: Actor, res: Resident, data: dict) -> Resident:
    """Move a resident to another household the actor may see; the old head slot is cleared."""
    _can_write(actor)
    target = session.get(Household, data["household_id"])
    if target is None or not _visible(actor, target):
        raise field_error("household_id", "no such household in your scope")
    if target.id == res.household_id:
        raise field_error("household_id", "the resident already lives in this household")
    old = res.household
    if old.head_id == res.id:
        old.head_id = None
    session.add(ResidentMove(resident_id=res.id, from_household_id=old.id, to_household_id=target.id,
                             moved_by=actor.user_id, reason=data["reason"]))
    res.household_id, res.team_id, res.center_id = target.id, target.team_id, target.center_id
    # The follow-up worklist starts from its status rows' team: they move with the resident.
    session.execute(update(FollowUpStatus).where(FollowUpStatus.resident_id == res.id)
                    .values(team_id=target.team_id), execution_options={"synchronize_session": False})
    res.relation_to_head = data.get("relation_to_head")
    audit.record(session, actor, "move", "resident", res.id, res.id,
                 {"from": old.id, "to": target.id, "reason": data["reason"]})
    return res


def _visible(actor: Actor, hh: Household) -> bool:
    try:
        require_visible(actor, hh, "household")
    except NotFound:
        return False
    return True


def set_status(session: Session, actor: Actor, res: Resident, data: dict,
               today: dt.date | None = None) -> Resident:
    """Mark a resident moved out, deceased, or active again; death closes every registry entry."""
    _can_write(actor)
    today = today or china_today()
    if data["date"] > today:
        raise field_error("date", "the date is in the future")
    if res.status == "deceased" and data["status"] != "deceased":
        raise Conflict("A deceased resident's file cannot be reopened.", {"status": ["deceased"]})
    if data["status"] == "deceased" and not data.get("death_cause"):
        raise field_error("death_cause", "give the cause of death")
    res.status, res.status_date = data["status"], data["date"]
    res.death_cause = data.get("death_cause") if data["status"] == "deceased" else None
    if data["status"] != "active" and res.household.head_id == res.id:
        res.household.head_id = None
    if data["status"] == "deceased":
        for cond in res.conditions:
            cond.status, cond.status_date, cond.status_reason = "deceased", data["date"], data.get("death_cause")
    audit.record(session, actor, "status", "resident", res.id, res.id,
                 {"status": data["status"], "reason": data.get("reason")})
    return res


# --- chronic-condition registry ----------------------------------------------------------------

def add_condition(session: Session, actor: Actor, res: Resident, data: dict,
                  today: dt.date | None = None) -> ChronicCondition:
    """Enter a resident in the hypertension or type 2 diabetes registry."""
    _can_write(actor)
    today = today or china_today()
    if any(c.condition == data["condition"] for c in res.conditions):
        raise Conflict("The resident is already in this registry.", {"condition": ["already registered"]})
    if data.get("diagnosed_on") and not res.birth_date <= data["diagnosed_on"] <= today:
        raise field_error("diagnosed_on", "diagnosis date must lie between birth and today")
    if res.status != "active":
        raise Conflict("Only an active resident can join a registry.", {"status": [res.status]})
    # The follow-up worklist reads one status row per registry entry, visited or not. Written before the
    # entry is added: the autoflush this may cause must not flush the entry (sync sets its id afterwards).
    followups.add_status_rows(session, [(res.id, data["condition"], res.team_id)])
    cond = ChronicCondition(resident_id=res.id, condition=data["condition"],
                            diagnosed_on=data.get("diagnosed_on"))
    session.add(cond)
    res.conditions.append(cond)
    audit.record(session, actor, "create", "condition", None, res.id, {"condition": data["condition"]})
    return cond


def get_condition(session: Session, actor: Actor, condition_id: str) -> ChronicCondition:
    """A registry entry whose resident the actor may see."""
    cond = session.get(ChronicCondition, condition_id)
    if cond is None:
        raise NotFound("No such registry entry.")
    require_visible(actor, cond.resident, "registry entry")
    return cond


def update_condition(session: Session, actor: Actor, cond: ChronicCondition, data: dict,
                     today: dt.date | None = None) -> ChronicCondition:
    """Change a registry entry's management status (managed, lost, terminated, deceased)."""
    _can_write(actor)
    if data["status_date"] > (today or china_today()):
        raise field_error("status_date", "the date is in the future")
    if data["status"] in ("lost", "terminated") and not data.get("status_reason"):
        raise field_error("status_reason", "give the reason")
    for key, value in data.items():
        setattr(cond, key, value)
    audit.record(session, actor, "status", "condition", cond.id, cond.resident_id,
                 {"status": data["status"]})
    return cond
