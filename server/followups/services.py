"""Rules for follow-up records: record, amend, lost to follow-up, death, read and list. No HTTP here.

The decisions (classification, emergency, referral, next visit) come from gpcore.followup, re-run on every
record the server receives; nothing clinical is decided in this module.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json

from sqlalchemy import and_, bindparam, case, delete, exists, extract, func, insert, select
from sqlalchemy.orm import Session, aliased

from gpcore import followup as rules
from gpcore import health_file as hf
from gpcore.followup import codes
from gpcore.followup.compact import is_empty_box
from gpcore.followup.decisions import record_decisions
from gpcore.followup.worklist import due_from

from ..audit import services as audit
from ..errors import Conflict, Invalid, NotFound, field_error
from ..households import services as households
from ..households.models import ChronicCondition, Resident
from ..org.models import Team
from ..scope import (FOLLOWUP_RECORDERS, Actor, require_followup_recorder, require_team_access, require_visible,
                     rows_visible)
from .models import DEATH, LOST, VISIT, FollowUp, FollowUpStatus, FollowUpYear
from .status_rows import add_status_rows, empty_status

# Registry code (server/households) -> the national form that records it (gpcore).
FORMS = {"hypertension": rules.HypertensionVisit, "t2dm": rules.DiabetesVisit}
PARSERS = {"hypertension": rules.parse_hypertension_visit, "t2dm": rules.parse_diabetes_visit}
RECORDERS = FOLLOWUP_RECORDERS

# Boxes of the national form a complete record has filled (the completeness indicator). Phone visits
# measure nothing, so measurements count only at clinic or home visits.
COMPLETE_ALWAYS = ("symptoms", "cigarettes_per_day", "liquor_liang_per_day", "exercise_times_per_week",
                   "salt_intake", "psychological_adjustment", "compliance", "medication_adherence",
                   "adverse_reaction", "classification", "next_visit_date", "doctor")
COMPLETE_FACE_TO_FACE = ("sbp", "dbp", "weight_kg", "heart_rate")
COMPLETE_DIABETES = ("staple_food_g_per_day", "hypoglycaemia")
COMPLETE_DIABETES_FACE_TO_FACE = ("fpg_mmol", "dorsalis_pedis")
# Decisions compared between the tablet's run of the rules and the server's.
COMPARED = ("classification", "emergency", "referral", "next_visit_date")


# One alias for every use: building a new aliased() per call cost ~5 ms of CPU per signed visit.
_LATER = aliased(FollowUp, name="later_version")


def effective():
    """WHERE clause: the record has not been amended (it is the effective version of its chain)."""
    return ~exists(select(_LATER.id).where(_LATER.amends_id == FollowUp.id))


def _can_record(actor: Actor) -> None:
    require_followup_recorder(actor)


# --- reading --------------------------------------------------------------------------------------

def get_followup(session: Session, actor: Actor, followup_id: str, *, log_read: bool = True) -> FollowUp:
    """A record whose resident the actor may see; the read is logged."""
    row = session.get(FollowUp, followup_id)
    res = session.get(Resident, row.resident_id) if row is not None else None
    if row is None or res is None:
        raise NotFound("No such follow-up record.")
    require_visible(actor, res, "follow-up record")
    if log_read:
        audit.record(session, actor, "read", "followup", row.id, row.resident_id)
    return row


def superseded_by(session: Session, row: FollowUp) -> str | None:
    """The id of the amendment that replaced this record, if any."""
    return session.scalar(select(FollowUp.id).where(FollowUp.amends_id == row.id))


def effective_id(session: Session, row: FollowUp) -> str:
    """The id of the effective (latest) version of the record's chain."""
    return session.scalar(select(FollowUp.id).where(FollowUp.original_id == row.original_id)
                          .order_by(FollowUp.revision.desc()).limit(1))


def resident_followups(session: Session, actor: Actor, resident_id: str, args: dict):
    """A select of a resident's records, newest first; only effective ones unless asked for all."""
    res = households.get_resident(session, actor, resident_id, log_read=False)
    stmt = (select(FollowUp).where(FollowUp.resident_id == res.id)
            .order_by(FollowUp.visit_date.desc(), FollowUp.received_at.desc(), FollowUp.id))
    if args.get("condition"):
        stmt = stmt.where(FollowUp.condition == args["condition"])
    if not args.get("include_superseded"):
        stmt = stmt.where(effective())
    return res, stmt


def team_followups(session: Session, actor: Actor, args: dict):
    """A select of list rows of effective records in scope, newest first, with the list's filters."""
    stmt = (select(FollowUp.id, FollowUp.resident_id, Resident.name.label("resident_name"),
                   Resident.team_id, FollowUp.condition, FollowUp.kind, FollowUp.visit_date,
                   FollowUp.visit_mode, FollowUp.sbp, FollowUp.dbp, FollowUp.fpg_mmol, FollowUp.classification,
                   FollowUp.emergency, FollowUp.referral, FollowUp.referred, FollowUp.next_visit_date,
                   FollowUp.signed_by, FollowUp.revision, FollowUp.received_at)
            .join(Resident, Resident.id == FollowUp.resident_id)
            .where(rows_visible(actor, Resident.team_id, Resident.center_id), effective())
            .order_by(FollowUp.visit_date.desc(), FollowUp.received_at.desc(), FollowUp.id))
    if "team_id" in args:
        require_team(session, actor, args["team_id"])
        stmt = stmt.where(Resident.team_id == args["team_id"])
    if args.get("condition"):
        stmt = stmt.where(FollowUp.condition == args["condition"])
    if args.get("kind"):
        stmt = stmt.where(FollowUp.kind == args["kind"])
    if args.get("date_from"):
        stmt = stmt.where(FollowUp.visit_date >= args["date_from"])
    if args.get("date_to"):
        stmt = stmt.where(FollowUp.visit_date <= args["date_to"])
    if "member_id" in args:
        stmt = stmt.where(FollowUp.signed_by == args["member_id"])
    return stmt


def require_team(session: Session, actor: Actor, team_id: int) -> Team:
    """A team the actor may see (a GP their own, center staff their center's); others are not found."""
    return require_team_access(actor, session.get(Team, team_id))


# --- recording ------------------------------------------------------------------------------------

def record_visit(session: Session, actor: Actor, data: dict, *, today: dt.date,
                 language: str = "en") -> tuple[FollowUp, bool]:
    """Sign a visit record; returns (record, created). A repeat of the same id and content is not an error."""
    _can_record(actor)
    res, _ = _registered(session, actor, data["resident_id"], data["condition"])
    visit = _parse(data["condition"], data["form"], today, language, res.sex)
    row = _visit_row(session, res, data, visit, amends=None)
    return _store(session, actor, row, "create")


def amend(session: Session, actor: Actor, followup_id: str, data: dict, *, today: dt.date,
          language: str = "en") -> tuple[FollowUp, bool]:
    """Correct a signed visit with a new record that points to it and gives the reason."""
    _can_record(actor)
    target = get_followup(session, actor, followup_id, log_read=False)
    if target.kind != VISIT:
        raise Conflict("Only visit records are amended; a lost or death entry is recorded anew.",
                       {"kind": [target.kind]})
    repeat = session.get(FollowUp, data["id"])
    if repeat is None:
        # An amendment of an amendment points to the latest version, so no correction is lost.
        latest = effective_id(session, target)
        if latest != target.id:
            raise Conflict("This record was already amended; amend the latest version.",
                           {"followup_id": [f"latest version is {latest}"]})
    res = session.get(Resident, target.resident_id)
    visit = _parse(target.condition, data["form"], today, language, res.sex)
    row = _visit_row(session, res, {**data, "resident_id": res.id, "condition": target.condition},
                     visit, amends=target)
    return _store(session, actor, row, "amend")


def record_lost(session: Session, actor: Actor, data: dict, *, today: dt.date) -> tuple[FollowUp, bool]:
    """Record that a patient is lost to follow-up (with the reason); the registry entry becomes lost."""
    _can_record(actor)
    res, cond = _registered(session, actor, data["resident_id"], data["condition"])
    if data["date"] > today:
        raise field_error("date", "the date is in the future", zh="日期不能晚于今天")
    entry = {"date": data["date"].isoformat(), "reason": data["reason"]}
    row = _entry_row(res, data, LOST, entry)
    row, created = _store(session, actor, row, "lost")
    if created:
        households.update_condition(session, actor, cond, {"status": "lost", "status_date": data["date"],
                                                           "status_reason": data["reason"]}, today)
    return row, created


def record_death(session: Session, actor: Actor, data: dict, *, today: dt.date) -> tuple[FollowUp, bool]:
    """Record a death (date, cause); the resident's file is marked deceased, which closes the registry."""
    _can_record(actor)
    res, _ = _registered(session, actor, data["resident_id"], data["condition"])
    if data["date"] > today:
        raise field_error("date", "the date is in the future", zh="日期不能晚于今天")
    if data["date"] < res.birth_date:
        raise field_error("date", "the date is before the resident's birth", zh="日期不能早于居民出生日期")
    if res.status == "deceased" and res.status_date != data["date"]:
        raise Conflict("The resident is already recorded as deceased on another date.",
                       {"date": [f"recorded date of death is {res.status_date}"]})
    entry = {"date": data["date"].isoformat(), "cause": data["cause"]}
    row = _entry_row(res, data, DEATH, entry)
    row, created = _store(session, actor, row, "death")
    if created:
        households.set_status(session, actor, res, {"status": "deceased", "date": data["date"],
                                                    "death_cause": data["cause"]}, today)
    return row, created


def _registered(session: Session, actor: Actor, resident_id: str, condition: str):
    # Scope first: a resident out of scope is "not found" before anything about the registry is said.
    res = households.get_resident(session, actor, resident_id, log_read=False)
    cond = next((c for c in res.conditions if c.condition == condition), None)
    if cond is None:
        named = hf.CHRONIC_CONDITION.get(condition, condition)
        raise Invalid("The resident is not in this condition's registry; add the condition first.",
                      {"condition": [f"resident is not registered for {condition}"]},
                      zh=f"这位居民还没有登记为{named}管理对象，请先登记。",
                      zh_errors={"condition": [f"未登记{named}管理"]})
    return res, cond


def _parse(condition: str, form: dict, today: dt.date, language: str, sex: str | None):
    visit, problems = PARSERS[condition](form, today=today, sex=sex)
    if problems:
        errors = rules.errors_by_field(problems, language)
        labels = {spec.name: spec.label.zh for spec in rules.visits.field_specs(FORMS[condition])}
        named_zh = [labels.get(name.split(".")[0], name) for name in errors]
        # Both languages ride on the error: a tablet's sync answer picks by its Accept-Language, as REST does.
        raise Invalid("The follow-up form has invalid fields: " + ", ".join(errors) + ".", {"form": errors},
                      zh="随访表填写有误：" + "、".join(dict.fromkeys(named_zh)) + "。",
                      zh_errors={"form": rules.errors_by_field(problems, "zh")})
    return visit


def _visit_row(session: Session, res: Resident, data: dict, visit, amends: FollowUp | None) -> FollowUp:
    if res.status == "deceased" and res.status_date is not None and visit.visit_date > res.status_date:
        raise field_error("form.visit_date", f"the resident died on {res.status_date.isoformat()}",
                          zh=f"居民已于 {res.status_date.isoformat()} 死亡")
    condition = data["condition"]
    skip = amends.original_id if amends else None
    previous = _previous_visit(session, res.id, condition, visit.visit_date, skip)
    earlier = _earlier_face_to_face(session, res.id, condition, visit.visit_date, skip)
    columns, result = decide(condition, visit, res.birth_date, previous, earlier)
    device = data.get("device_assessment")
    device = {key: _plain(value) for key, value in device.items()} if device else None
    row = FollowUp(
        id=data["id"], resident_id=res.id, condition=condition, kind=VISIT,
        original_id=amends.original_id if amends else data["id"],
        revision=amends.revision + 1 if amends else 0,
        amends_id=amends.id if amends else None, amendment_reason=data.get("reason"),
        device_assessment=device, disagreement=disagreement(result, columns["form"], device),
        recorded_at=data.get("recorded_at"), **columns)
    row.content_hash = content_hash(row)
    return row


def decide(condition: str, visit, birth_date: dt.date, previous, earlier_face_to_face: int):
    """The structured columns the shared rules decide for one visit, and gpcore's Assessment (no database).

    `previous` is the patient's effective visit before this one (a gpcore visit or None);
    `earlier_face_to_face` counts clinic/home visits earlier in the same calendar year. The decisions are
    gpcore's record_decisions (the tablet writes the same on a visit it signs offline).
    """
    decided, result = record_decisions(condition, visit, birth_date, previous, earlier_face_to_face)
    form = visit.to_dict()
    missing = missing_fields(condition, form)
    columns = dict(
        visit_date=visit.visit_date, visit_mode=visit.visit_mode, sbp=visit.sbp, dbp=visit.dbp,
        fpg_mmol=getattr(visit, "fpg_mmol", None), **decided, missing_fields=missing,
        missing_count=len(missing), form=form)
    return columns, result


def _entry_row(res: Resident, data: dict, kind: str, entry: dict) -> FollowUp:
    row = FollowUp(id=data["id"], resident_id=res.id, condition=data["condition"], kind=kind,
                   original_id=data["id"], revision=0, visit_date=data["date"], emergency=False,
                   referred=False, missing_fields=[], missing_count=0, form=entry, disagreement=[],
                   recorded_at=data.get("recorded_at"))
    row.content_hash = content_hash(row)
    return row


def _store(session: Session, actor: Actor, row: FollowUp, action: str) -> tuple[FollowUp, bool]:
    existing = session.get(FollowUp, row.id)
    if existing is not None:
        # A tablet resends what it is not sure arrived: the same content is the same record.
        if existing.content_hash == row.content_hash and existing.resident_id == row.resident_id:
            audit.record(session, actor, "resend", "followup", existing.id, existing.resident_id)
            return existing, False
        raise Conflict("A different record was already stored under this id; signed records do not change.",
                       {"id": ["already used for a different record"]})
    row.signed_by = actor.user_id
    row.device = _device()
    session.add(row)
    session.flush()
    if row.kind == VISIT:
        refresh_status(session, row.resident_id, row.condition, row)
        # The amended record leaves its year's figures, the amendment joins its own (perhaps another) year.
        years = {row.visit_date.year} | ({session.get(FollowUp, row.amends_id).visit_date.year}
                                         if row.amends_id else set())
        for year in sorted(years):
            refresh_year(session, row.resident_id, row.condition, year)
    audit.record(session, actor, action, "followup", row.id, row.resident_id,
                 {"condition": row.condition, "kind": row.kind, "amends": row.amends_id})
    return row, True


_STATUS_COLUMNS = ("resident_id", "condition", "followup_id", "visit_date", "visit_mode", "classification",
                   "emergency", "referral", "referred", "next_visit_date", "signed_by", "last_face_to_face",
                   "team_id", "due_from", "reassessed")
# What re-running the rules for the latest visit can change (the rest comes from the form as signed).
_REDECIDED = ("classification", "emergency", "referral", "next_visit_date")


def _latest_effective_visits(*where):
    """A select of the latest effective visit per patient and condition, as FollowUpStatus values (less
    due_from), with `reassessed` saying whether its stored decisions may be stale: an effective visit of
    the same patient was received after it, and so (being older by date) was not there when it was
    assessed. Rows received at the same instant count as signed in date order."""
    part = (FollowUp.resident_id, FollowUp.condition)
    face_to_face = FollowUp.visit_mode.in_(sorted(codes.FACE_TO_FACE_MODES))
    ranked = (select(FollowUp.resident_id, FollowUp.condition, FollowUp.id.label("followup_id"),
                     FollowUp.visit_date, FollowUp.visit_mode, FollowUp.classification, FollowUp.emergency,
                     FollowUp.referral, FollowUp.referred, FollowUp.next_visit_date, FollowUp.signed_by,
                     FollowUp.received_at,
                     func.max(case((face_to_face, FollowUp.visit_date))).over(partition_by=part)
                     .label("last_face_to_face"),
                     func.max(FollowUp.received_at).over(partition_by=part).label("last_received"),
                     func.row_number().over(partition_by=part, order_by=(FollowUp.visit_date.desc(),
                                                                         FollowUp.received_at.desc(),
                                                                         FollowUp.id.desc())).label("rn"))
              .where(FollowUp.kind == VISIT, effective(), *where)).subquery()
    columns = [ranked.c[name] for name in _STATUS_COLUMNS[:12]]
    return (select(*columns, Resident.team_id, (ranked.c.last_received > ranked.c.received_at).label("reassessed"))
            .join(Resident, Resident.id == ranked.c.resident_id)
            .where(ranked.c.rn == 1))


@functools.cache
def _patients_latest_visit():
    """_latest_effective_visits for one patient and condition (bound: for_resident, for_condition), built
    once. Made afresh for every signed visit (the select, its window functions, the subquery's columns and
    SQLAlchemy's cache key for it), it was about a fifth of record_visit's CPU under the profiler; with the
    three statements below built once too, a visit signed through the API took 9 ms of CPU instead of 15-17."""
    return _latest_effective_visits(FollowUp.resident_id == bindparam("for_resident"),
                                    FollowUp.condition == bindparam("for_condition"))


def _status_values(session: Session, row) -> dict:
    """FollowUpStatus values from a _latest_effective_visits row, re-deciding a stale latest visit."""
    values = dict(row)
    if values["reassessed"]:
        values.update(_redecide(session, values["followup_id"]))
    values["due_from"] = due_from(values)
    return values


def _redecide(session: Session, followup_id: str) -> dict:
    """The rules re-run for a signed visit against today's history: the effective visit before it by date
    and the face-to-face visits earlier that year. The signed record itself is not touched."""
    rec = session.get(FollowUp, followup_id)
    res = session.get(Resident, rec.resident_id)
    visit = FORMS[rec.condition].from_dict(rec.form)
    previous = _previous_visit(session, rec.resident_id, rec.condition, rec.visit_date, rec.original_id)
    earlier = _earlier_face_to_face(session, rec.resident_id, rec.condition, rec.visit_date, rec.original_id)
    columns, _ = decide(rec.condition, visit, res.birth_date, previous, earlier)
    return {name: columns[name] for name in _REDECIDED}


def refresh_status(session: Session, resident_id: str, condition: str, signed: FollowUp | None = None) -> None:
    """Recompute one patient's worklist row from the records after `signed` was stored.

    The row is the latest effective visit by visit date: an older visit that arrives late (a tablet syncing
    days later) or an amendment of an older visit does not replace it, but changes the history the latest
    visit was assessed against ("second uncontrolled in a row", the yearly count behind the next-visit
    date), so the latest visit's decisions are then re-run for the row.

    Writers for one patient take turns from here to their commit: the patient's row is locked (FOR NO KEY
    UPDATE, which the key-share locks of the visits' foreign keys do not block, so two writers cannot
    deadlock). Without the turn, two concurrent visits both deleted the row and both inserted one (409 for
    the second), or the later commit wrote a row computed without the other's visit. Each statement after
    the lock sees every visit committed before it (READ COMMITTED); SQLite lets one writer in at a time.
    """
    session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update(key_share=True))
    row = session.execute(_patients_latest_visit(),
                          {"for_resident": resident_id, "for_condition": condition}).mappings().first()
    session.execute(delete(FollowUpStatus).where(FollowUpStatus.resident_id == resident_id,
                                                 FollowUpStatus.condition == condition))
    if row is None:  # no effective visit (not reached after a signed visit; kept for repairs)
        team_id = session.scalar(select(Resident.team_id).where(Resident.id == resident_id))
        session.execute(insert(FollowUpStatus), [empty_status(resident_id, condition, team_id)])
        return
    row = dict(row)
    if signed is not None and signed.id != row["followup_id"] and signed.visit_date < row["visit_date"]:
        row["reassessed"] = True  # exact even when both were received at the same instant
    session.execute(insert(FollowUpStatus).values(**_status_values(session, row)))


def rebuild_status(session: Session, chunk: int = 5000) -> None:
    """Recompute every patient's worklist row (after a bulk load or to repair the cache)."""
    session.execute(delete(FollowUpStatus))
    # Streamed in chunks (a district has ~170,000 rows); due_from and re-decisions are computed in Python,
    # the same code refresh_status runs, so the two cannot disagree.
    rows = session.execute(_latest_effective_visits().order_by(None),
                           execution_options={"yield_per": chunk}).mappings()
    batch = []
    for row in rows:
        batch.append(_status_values(session, row))
        if len(batch) == chunk:
            session.execute(insert(FollowUpStatus), batch)
            batch = []
    if batch:
        session.execute(insert(FollowUpStatus), batch)
    # Registry entries nobody has visited yet.
    unvisited = (select(ChronicCondition.resident_id, ChronicCondition.condition, Resident.team_id)
                 .join(Resident, Resident.id == ChronicCondition.resident_id)
                 .where(~exists().where(FollowUpStatus.resident_id == ChronicCondition.resident_id,
                                        FollowUpStatus.condition == ChronicCondition.condition)))
    add_status_rows(session.connection(), session.execute(unvisited).all())


_YEAR_COLUMNS = ("resident_id", "condition", "year", "face_to_face", "visits", "complete", "emergencies",
                 "bp_date", "bp_controlled", "fpg_date", "fpg_controlled")


def _year_rows(*where):
    """A select of FollowUpYear rows from the effective visit records (one per patient, condition, year)."""
    year = extract("year", FollowUp.visit_date)

    def as_int(flag):
        return func.sum(case((flag, 1), else_=0))

    def latest(flag):
        # The day of the latest measurement, and the latest day it was controlled: controlled at the latest
        # measurement exactly when the two are the same day.
        return (func.max(case((flag.is_not(None), FollowUp.visit_date))),
                func.max(case((flag, FollowUp.visit_date))))

    bp_date, bp_ok = latest(FollowUp.bp_controlled)
    fpg_date, fpg_ok = latest(FollowUp.fpg_controlled)
    per_year = (select(FollowUp.resident_id, FollowUp.condition, year.label("year"),
                       as_int(FollowUp.visit_mode.in_(sorted(codes.FACE_TO_FACE_MODES))).label("face_to_face"),
                       func.count().label("visits"), as_int(FollowUp.missing_count == 0).label("complete"),
                       as_int(FollowUp.emergency).label("emergencies"),
                       bp_date.label("bp_date"), bp_ok.label("bp_ok"), fpg_date.label("fpg_date"),
                       fpg_ok.label("fpg_ok"))
                .where(FollowUp.kind == VISIT, effective(), *where)
                .group_by(FollowUp.resident_id, FollowUp.condition, year)).subquery()

    def controlled(day, ok):
        return case((day.is_(None), None), (ok == day, True), else_=False)  # ok is null: not controlled

    c = per_year.c
    return select(c.resident_id, c.condition, c.year, c.face_to_face, c.visits, c.complete, c.emergencies,
                  c.bp_date, controlled(c.bp_date, c.bp_ok).label("bp_controlled"), c.fpg_date,
                  controlled(c.fpg_date, c.fpg_ok).label("fpg_controlled"))


def refresh_year(session: Session, resident_id: str, condition: str, year: int) -> None:
    """Recompute one patient's figures for one year from the records (after a signed visit or amendment)."""
    session.execute(delete(FollowUpYear).where(FollowUpYear.resident_id == resident_id,
                                               FollowUpYear.condition == condition, FollowUpYear.year == year))
    session.execute(_patients_year(), {"for_resident": resident_id, "for_condition": condition,
                                       "first_day": dt.date(year, 1, 1), "last_day": dt.date(year, 12, 31)})


@functools.cache
def _patients_year():
    """The insert of one patient's FollowUpYear row for one condition and year (bound: for_resident,
    for_condition, first_day, last_day), built once, as _patients_latest_visit. Into the table, not the
    mapped class: with the mapped class, the session would take the bound values for rows to insert (an ORM
    bulk insert)."""
    return insert(FollowUpYear.__table__).from_select(_YEAR_COLUMNS, _year_rows(
        FollowUp.resident_id == bindparam("for_resident"), FollowUp.condition == bindparam("for_condition"),
        FollowUp.visit_date.between(bindparam("first_day"), bindparam("last_day"))))


def rebuild_years(session: Session) -> None:
    """Recompute every patient's yearly figures (after a bulk load or to repair the cache)."""
    session.execute(delete(FollowUpYear))
    session.execute(insert(FollowUpYear).from_select(_YEAR_COLUMNS, _year_rows()))


def _device() -> str | None:
    from flask import has_request_context

    from ..api import device_id
    return device_id() if has_request_context() else None


def content_hash(row: FollowUp) -> str:
    """SHA-256 of what the client submitted, in a canonical form (the form as gpcore normalised it)."""
    submitted = {
        "resident_id": row.resident_id, "condition": row.condition, "kind": row.kind, "amends": row.amends_id,
        "reason": row.amendment_reason, "form": row.form, "device": row.device_assessment,
        "recorded_at": row.recorded_at.astimezone(dt.timezone.utc).isoformat() if row.recorded_at else None,
    }
    text = json.dumps(submitted, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _history_filter(skipping: bool):
    """WHERE clause: one patient's effective visits for one condition (bound: for_resident, for_condition;
    and skip_chain when skipping: the record being corrected is not its own past)."""
    where = [FollowUp.resident_id == bindparam("for_resident"), FollowUp.condition == bindparam("for_condition"),
             FollowUp.kind == VISIT, effective()]
    if skipping:
        where.append(FollowUp.original_id != bindparam("skip_chain"))
    return and_(*where)


def _history_values(resident_id: str, condition: str, visit_date: dt.date, skip_chain: str | None) -> dict:
    values = {"for_resident": resident_id, "for_condition": condition, "before": visit_date}
    if skip_chain is not None:
        values["skip_chain"] = skip_chain
    return values


# Built once for each of the two shapes (with or without a chain to skip), as _patients_latest_visit: every
# signed visit and every re-decision reads its history through both.
@functools.cache
def _previous_visit_form(skipping: bool):
    return (select(FollowUp.form).where(_history_filter(skipping), FollowUp.visit_date < bindparam("before"))
            .order_by(FollowUp.visit_date.desc(), FollowUp.received_at.desc()).limit(1))


@functools.cache
def _face_to_face_count(skipping: bool):
    return select(func.count()).where(
        _history_filter(skipping), FollowUp.visit_mode.in_(sorted(codes.FACE_TO_FACE_MODES)),
        FollowUp.visit_date >= bindparam("year_start"), FollowUp.visit_date < bindparam("before"))


def _previous_visit(session: Session, resident_id: str, condition: str, visit_date: dt.date,
                    skip_chain: str | None):
    form = session.scalar(_previous_visit_form(skip_chain is not None),
                          _history_values(resident_id, condition, visit_date, skip_chain))
    return FORMS[condition].from_dict(form) if form is not None else None


def _earlier_face_to_face(session: Session, resident_id: str, condition: str, visit_date: dt.date,
                          skip_chain: str | None) -> int:
    return session.scalar(_face_to_face_count(skip_chain is not None),
                          {**_history_values(resident_id, condition, visit_date, skip_chain),
                           "year_start": dt.date(visit_date.year, 1, 1)})


def missing_fields(condition: str, form: dict) -> list[str]:
    """The boxes of the national form this record leaves empty (see COMPLETE_* for which count)."""
    face_to_face = form.get("visit_mode") in codes.FACE_TO_FACE_MODES
    names = list(COMPLETE_ALWAYS) + list(COMPLETE_FACE_TO_FACE if face_to_face else ())
    if condition == "t2dm":
        names += list(COMPLETE_DIABETES) + list(COMPLETE_DIABETES_FACE_TO_FACE if face_to_face else ())
    return [name for name in names if is_empty_box(form.get(name))]


def disagreement(result, form: dict, device: dict | None) -> list[str]:
    """Decisions where the tablet (or the doctor's classification box) differs from the server's rules."""
    ours = {"classification": result.classification, "emergency": result.emergency,
            "referral": result.referral, "next_visit_date": result.next_visit_date.isoformat()}
    differs = []
    for key in COMPARED:
        if device and device.get(key) is not None and _plain(device[key]) != ours[key]:
            differs.append(f"device.{key}")
    if form.get("classification") is not None and form["classification"] != result.classification:
        differs.append("form.classification")
    return differs


def _plain(value):
    return value.isoformat() if isinstance(value, dt.date) else value
