"""Lab results for people: the unmatched queue center staff resolve, reports for teams, 'seen', printing.

No HTTP here. A report is visible exactly when its resident is (server.scope: a GP sees their team's residents,
center staff their center's, admin all); a report no one is matched to is visible only through the queue.
The queue shows a message to staff of the centers its feed serves (LabFeed.centers) and to admin; a message
already matched only while its resident is in the staff member's scope as well (it names the resident and
their results, as a report does).
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload

import printing
from gpcore import patients
from gpcore.clock import china_date, china_wall_time, to_china
from gpcore.health_file import age_on

from ..audit import services as audit
from ..errors import Conflict, NotFound, field_error
from ..households.models import Resident
from ..households.services import get_resident
from ..org.models import Hospital
from ..scope import Actor, can_see, queue_visible, require_care_role, require_team_member, rows_visible
from . import alerts, matching
from .messages import ranges
from .messages.parsed import storable_range
from .models import (LabMessage, LabRejection, LabReport, LabReportSeen, LabResultRow, call_due, current_results,
                     lab_feed_centers, lab_message_reports)

# The flags printing knows (printing.AbnormalFlag), most severe first; others (e.g. HU, POS) print as A or AA.
PRINTABLE_FLAGS = ("HH", "LL", "AA", "H", "L", "A")
PRINTED_CRITICAL = ("HH", "LL", "AA")


# --- the unmatched queue ---------------------------------------------------------------------------

def _queue_visible(actor: Actor, feed_column=LabMessage.feed_id, what: str = "The unmatched queue"):
    """The queue rows (by feed) the actor may work on: the feeds serving their center (scope.queue_visible)."""
    return queue_visible(actor, lambda center_id: feed_column.in_(
        select(lab_feed_centers.c.feed_id).where(lab_feed_centers.c.center_id == center_id)), what)


def list_queue(actor: Actor, args: dict):
    """A select of queued messages the actor may resolve (status unmatched by default), oldest first unless
    args["order"] is "newest"."""
    arrival = (LabMessage.received_at, LabMessage.id)
    if args.get("order") == "newest":
        arrival = tuple(column.desc() for column in arrival)
    return (select(LabMessage).where(_queue_visible(actor), LabMessage.match_status == args["status"])
            .options(selectinload(LabMessage.reports), selectinload(LabMessage.hospital))
            .order_by(*arrival))


def get_queued(session: Session, actor: Actor, message_id: str) -> LabMessage:
    """One message of the queue (any status), with its reports and rows, if the actor may resolve it; a
    matched message only while its resident is in the actor's scope."""
    msg = session.scalar(select(LabMessage).where(LabMessage.id == message_id, _queue_visible(actor))
                         .options(selectinload(LabMessage.reports).selectinload(LabReport.results)))
    if msg is not None and msg.resident_id is not None:
        # The feed serving the actor's center is not enough once the message is filed: it then shows a
        # resident of another center (ID number, results) to staff who may not see that resident's reports.
        res = session.get(Resident, msg.resident_id)
        if res is None or not can_see(actor, res.team_id, res.center_id):
            msg = None
    if msg is None:
        raise NotFound("No such message in your queue.")
    audit.record(session, actor, "read", "lab_message", msg.id, msg.resident_id)
    return msg


def suggested_resident(session: Session, actor: Actor, msg: LabMessage) -> Resident | None:
    """The resident matching suggested for an unmatched message (suggested_resident_id), when the actor
    may see them and their file still has the message's name, birth date and sex and no other ID number."""
    if msg.match_status != "unmatched" or msg.suggested_resident_id is None:
        return None
    res = session.get(Resident, msg.suggested_resident_id)
    if res is None or not can_see(actor, res.team_id, res.center_id):
        return None  # a namesake of another center is staff's business there (or admin's), not named here
    # The file may have changed since the message came: suggest only what matching would still suggest.
    still = patients.same_patient(matching.message_identity(msg), matching.resident_identity(res),
                                  patients.Strictness.CANDIDATE)
    return res if still else None


def _same_patient_keys(msg: LabMessage, other: LabMessage) -> list[str]:
    """Why two queued messages are about the same patient ("id_number", "hospital_patient_id",
    "name_birth_sex"), or [] when nothing ties them or something contradicts: different ID numbers, birth
    dates or (known) sexes are different people however much else agrees (gpcore.patients, RELATED)."""
    verdict = patients.same_patient(matching.message_identity(msg), matching.message_identity(other),
                                    patients.Strictness.RELATED)
    return list(verdict.ties) if verdict else []


def same_patient(session: Session, actor: Actor, msg: LabMessage) -> list[tuple[LabMessage, list[str]]]:
    """Other unmatched messages in the actor's queue about the same patient as `msg` (see
    _same_patient_keys), oldest first, each with the keys that tie them. Offered, never filed unasked."""
    arms = []
    if msg.patient_id_number:
        arms.append(LabMessage.patient_id_number == msg.patient_id_number)
    name = (msg.patient_name or "").strip()
    if name and msg.patient_birth_date:
        arms.append(and_(LabMessage.patient_name == name, LabMessage.patient_birth_date == msg.patient_birth_date))
    local = matching.message_identity(msg).hospital_numbers
    if local:
        # A coarse filter in SQL (the value appears in the JSON text); _same_patient_keys decides exactly.
        text = func.coalesce(cast(LabMessage.patient_identifiers, String), "")
        arms.append(and_(LabMessage.hospital_id == msg.hospital_id,
                         or_(*(text.contains(json.dumps(value), autoescape=True) for *_, value in local))))
    if not arms:
        return []
    others = session.scalars(select(LabMessage).where(
        _queue_visible(actor), LabMessage.match_status == "unmatched", LabMessage.id != msg.id, or_(*arms))
        .options(selectinload(LabMessage.reports)).order_by(LabMessage.received_at, LabMessage.id).limit(200))
    return [(other, keys) for other in others if (keys := _same_patient_keys(msg, other))]


def match_by_hand(session: Session, actor: Actor, msg: LabMessage, resident_id: str,
                  also: list[str] | tuple[str, ...] = ()) -> LabMessage:
    """File a queued message (and its reports) under a resident the actor may see; `also` files other
    queued messages of the same patient (same_patient) with it, in the same transaction. Any id in `also`
    that is not such a message refuses the whole request (422 naming `also`): nothing is filed by guess.
    Queued messages that brought rows to the same reports (a preliminary and its final, which intake joins
    only when their patients agree) are filed with it: a report has one owner, so a message left in the
    queue beside it could later be filed under someone else and take the report, and this message's rows,
    with it."""
    if msg.match_status == "matched":
        raise Conflict("This message is already matched.", {"match_status": ["matched"]})
    res = session.get(Resident, resident_id)
    # Only a resident the actor may see: filing under another center's resident would hand its team results
    # the actor could then never read back (that center's staff, or admin, resolve it).
    if res is None or not can_see(actor, res.team_id, res.center_id):
        raise field_error("resident_id", "no such resident in your scope")
    suggested = msg.suggested_resident_id
    siblings = {}
    if also:
        offered = {other.id: other for other, _keys in same_patient(session, actor, msg)}
        unknown = [i for i in also if i not in offered]
        if unknown:
            raise field_error("also", f"not a queued message of the same patient: {', '.join(sorted(unknown))}")
        siblings = {i: offered[i] for i in also}
    for other in _sharing_reports(session, [msg, *siblings.values()]):
        siblings.setdefault(other.id, other)
    now = dt.datetime.now(dt.timezone.utc)
    for one in (msg, *siblings.values()):
        one.match_status, one.match_method, one.resident_id = "matched", "manual", res.id
        one.resolved_by, one.resolved_at, one.dismiss_reason = actor.user_id, now, None
        for rep in one.reports:
            rep.resident_id = res.id
            _bounds_for(rep, res)
        detail = {"method": "manual", "reason": one.match_reason, "reports": [r.id for r in one.reports]}
        if one is msg and suggested is not None:
            detail["suggestion"] = "confirmed" if suggested == res.id else "overruled"
        if one is not msg:
            detail["with"] = msg.id  # filed together with the message staff matched
        audit.record(session, actor, "match", "lab_message", one.id, res.id, detail)
    return msg


def _bounds_for(rep: LabReport, res: Resident) -> None:
    """A report's bounds read again now that its patient is known: a range with bands by sex or age stored
    none while the message waited in the queue (ranges.resident_bounds; a range without bands is kept)."""
    for row in rep.results:
        if not ranges.is_banded(row.range_text):
            continue
        when = row.observed_at or rep.collected_at or row.received_at
        low, high = ranges.resident_bounds(row.range_text, (row.range_low, row.range_high), res.sex,
                                           res.birth_date, china_date(when))
        row.range_low, row.range_high = storable_range(low, high, "", [])


def _sharing_reports(session: Session, messages: list[LabMessage]) -> list[LabMessage]:
    """Unmatched messages that share a report with any of `messages`, and with those, transitively."""
    seen = {m.id for m in messages}
    frontier = reports = {rep.id for m in messages for rep in m.reports}
    found: list[LabMessage] = []
    while frontier:
        more = session.scalars(select(LabMessage).join(lab_message_reports).where(
            lab_message_reports.c.report_id.in_(frontier), LabMessage.match_status == "unmatched",
            LabMessage.id.not_in(seen)).options(selectinload(LabMessage.reports))).unique().all()
        found += more
        seen |= {m.id for m in more}
        frontier = {rep.id for m in more for rep in m.reports} - reports
        reports |= frontier
    return found


def dismiss(session: Session, actor: Actor, msg: LabMessage, reason: str) -> LabMessage:
    """Take a message off the queue without filing it (e.g. not a resident of the district); kept, not deleted."""
    if msg.match_status != "unmatched":
        raise Conflict("Only an unmatched message can be dismissed.", {"match_status": [msg.match_status]})
    msg.match_status, msg.dismiss_reason = "dismissed", reason
    msg.resolved_by, msg.resolved_at = actor.user_id, dt.datetime.now(dt.timezone.utc)
    audit.record(session, actor, "dismiss", "lab_message", msg.id, None, {"reason": reason})
    return msg


# --- refused messages -----------------------------------------------------------------------------

def list_rejections(actor: Actor, args: dict):
    """A select of refused messages of the feeds serving the actor's center (admin: all), newest first."""
    stmt = (select(LabRejection).where(_queue_visible(actor, LabRejection.feed_id, "The list of refused messages"))
            .options(selectinload(LabRejection.hospital), defer(LabRejection.raw), defer(LabRejection.ack)))
    if args.get("feed_id") is not None:
        stmt = stmt.where(LabRejection.feed_id == args["feed_id"])
    if args.get("since") is not None:
        stmt = stmt.where(LabRejection.received_at >= args["since"])
    return stmt.order_by(LabRejection.received_at.desc(), LabRejection.id)


def get_rejection(session: Session, actor: Actor, rejection_id: str) -> LabRejection:
    """One refused message with its bytes; the read is logged (it may name a patient)."""
    rej = session.scalar(select(LabRejection).where(
        LabRejection.id == rejection_id, _queue_visible(actor, LabRejection.feed_id, "The list of refused messages")))
    if rej is None:
        raise NotFound("No such refused message.")
    audit.record(session, actor, "read", "lab_rejection", rej.id)
    return rej


# --- reports for teams -----------------------------------------------------------------------------

def _report_rows():
    seen = LabReportSeen.__table__.alias("seen")
    reported = func.coalesce(LabReport.reported_at, LabReport.changed_at)
    last_visit = alerts.last_visit_date()
    stmt = (select(LabReport.id, LabReport.resident_id, Resident.name.label("resident_name"),
                   Resident.team_id, Hospital.name.label("hospital_name"), LabReport.filler_no,
                   LabReport.panel_code, LabReport.panel_name, LabReport.specimen_type, LabReport.status,
                   LabReport.reported_at, LabReport.changed_at, LabReport.critical, LabReport.abnormal,
                   LabReport.comments, seen.c.seen_at, last_visit.label("last_visit_date"),
                   case((alerts.new_since_visit(last_visit), True), else_=False).label("new_since_visit"))
            .join(Resident, Resident.id == LabReport.resident_id)
            .join(Hospital, Hospital.id == LabReport.hospital_id)
            .outerjoin(seen, and_(seen.c.report_id == LabReport.id, seen.c.team_id == Resident.team_id)))
    return stmt, seen, reported


def list_for_resident(session: Session, actor: Actor, resident_id: str, args: dict | None = None):
    """A select of a visible resident's reports, newest first; since_visit=true: only those new since the
    last follow-up visit, critical values first. The read is logged."""
    res = get_resident(session, actor, resident_id, log_read=False)
    audit.record(session, actor, "read", "lab_reports", None, res.id)
    stmt, _seen, reported = _report_rows()
    stmt = stmt.where(LabReport.resident_id == res.id)
    if (args or {}).get("since_visit"):
        return stmt.where(alerts.new_since_visit(alerts.last_visit_date())).order_by(
            case((LabReport.critical.is_(True), 0), else_=1), reported.desc(), LabReport.id)
    return stmt.order_by(reported.desc(), LabReport.id)


def list_reports(actor: Actor, args: dict):
    """A select of reports in the actor's scope: critical first, then newest; new=true: not seen since changed."""
    require_care_role(actor, "Lab reports are for GP teams and center staff.")
    stmt, seen, reported = _report_rows()
    stmt = stmt.where(rows_visible(actor, Resident.team_id, Resident.center_id))
    if args.get("new"):
        stmt = stmt.where(or_(seen.c.seen_at.is_(None), seen.c.seen_at < LabReport.changed_at))
    if args.get("since_visit"):
        stmt = stmt.where(alerts.new_since_visit(alerts.last_visit_date()))
    if args.get("critical"):
        stmt = stmt.where(LabReport.critical.is_(True))
    if "team_id" in args:
        stmt = stmt.where(Resident.team_id == args["team_id"])
    return stmt.order_by(case((LabReport.critical.is_(True), 0), else_=1), reported.desc(), LabReport.id)


def get_report(session: Session, actor: Actor, report_id: str) -> LabReport:
    """A report whose resident the actor may see, with every row (current and history); the read is logged."""
    rep = session.scalar(select(LabReport).where(LabReport.id == report_id)
                         .options(selectinload(LabReport.results), selectinload(LabReport.hospital)))
    res = session.get(Resident, rep.resident_id) if rep is not None and rep.resident_id else None
    if res is None or not can_see(actor, res.team_id, res.center_id):
        raise NotFound("No such lab report.")
    rep.resident = res  # for the schema and the printout; not a mapped relationship
    rep.seen_at = session.scalar(select(LabReportSeen.seen_at).where(
        LabReportSeen.report_id == rep.id, LabReportSeen.team_id == res.team_id)) if res.team_id else None
    audit.record(session, actor, "read", "lab_report", rep.id, res.id)
    return rep


def mark_seen(session: Session, actor: Actor, rep: LabReport) -> LabReportSeen:
    """The actor's team has seen the report as it is now (a later correction makes it new again)."""
    require_team_member(actor, "Only a GP team marks its reports seen.")
    seen = session.get(LabReportSeen, (rep.id, actor.team_id))
    now = dt.datetime.now(dt.timezone.utc)
    if seen is None:
        seen = LabReportSeen(report_id=rep.id, team_id=actor.team_id, seen_by=actor.user_id, seen_at=now)
        session.add(seen)
    else:
        seen.seen_by, seen.seen_at = actor.user_id, now
    audit.record(session, actor, "seen", "lab_report", rep.id, rep.resident_id)
    return seen


def note_critical_call(session: Session, actor: Actor, rep: LabReport, note: str, report_changed_at: dt.datetime,
                       called_at: dt.datetime | None = None) -> LabReport:
    """The team phoned the patient (or their family) about the report's critical values as of
    `report_changed_at` (the version the caller read): what was said, and when (default now). A later call
    replaces the note; every one stays in the audit log."""
    require_team_member(actor, "Only a GP team notes the call to its patient.")
    if not rep.critical:
        raise Conflict("This report has no critical value to phone through.", {"critical": ["false"]})
    now = dt.datetime.now(dt.timezone.utc)
    called_at = called_at or now
    if called_at.tzinfo is None:
        called_at = to_china(called_at)  # a wall-clock time as the doctor reads it
    if called_at > now + dt.timedelta(minutes=5):  # tablets' clocks drift a little
        raise field_error("called_at", "is in the future")
    earliest = rep.collected_at or rep.reported_at or rep.changed_at
    if called_at < earliest:
        raise field_error("called_at", "is before the specimen was taken")
    # Only while the report is the version the caller read, read again under a row lock (PostgreSQL): a
    # correction being stored meanwhile is either committed first (then this answers 409) or waits for this
    # note and then changes changed_at, so the call is due again (the note covers the version it names).
    session.refresh(rep, ["changed_at"], with_for_update=True)
    if report_changed_at != rep.changed_at:
        raise Conflict("The report has changed since you read it: read it again before noting the call.",
                       {"report_changed_at": [f"the report changed at {rep.changed_at.isoformat()}; send its "
                                              "changed_at back exactly as received"]})
    rep.critical_call_at, rep.critical_call_noted_at, rep.critical_call_covers = called_at, now, rep.changed_at
    rep.critical_call_by, rep.critical_call_note = actor.user_id, note.strip()
    audit.record(session, actor, "critical_call", "lab_report", rep.id, rep.resident_id,
                 {"called_at": called_at.isoformat(), "note": rep.critical_call_note,
                  "covers": rep.changed_at.isoformat()})
    return rep


# --- printing --------------------------------------------------------------------------------------

def _print_flag(row: LabResultRow) -> str:
    """The flag printed for a row; the paper shows a critical value (危急值 section) exactly when the stored
    row is critical, as the report lists and alerts say."""
    flags = [f for f in PRINTABLE_FLAGS if f in (row.flags or [])]
    if not row.critical:
        # printing lists every HH/LL/AA under 危急值; a row the report does not call critical prints H/L/A.
        flags = [f[0] if f in PRINTED_CRITICAL else f for f in flags]
    elif not any(f in PRINTED_CRITICAL for f in flags):
        flags.insert(0, "AA")  # critical by a flag printing does not know: very abnormal, no direction
    if flags:
        return "~".join(dict.fromkeys(flags))
    return "A" if row.abnormal else ""


def printable(rep: LabReport, resident: Resident) -> printing.LabReport:
    """printing's LabReport (section 6 fields) for a stored report of a resident."""
    # Printed as China's wall clocks show it, without an offset.
    reported = china_wall_time(rep.reported_at) or china_wall_time(rep.changed_at)
    received = china_wall_time(rep.specimen_received_at) or china_wall_time(rep.collected_at) or reported
    patient = printing.Patient(name=resident.name, sex=int(resident.sex) if resident.sex.isdigit() else resident.sex,
                               age=age_on(resident.birth_date, reported.date()),
                               record_number=resident.record_number)
    results = [printing.LabResult(item=r.name or r.code, result=r.value_text, unit=r.unit,
                                  reference_range=r.range_text, flag=_print_flag(r), code=r.code,
                                  comments=tuple(r.comments or ()))
               for r in current_results(rep)]
    # The QR code carries the record's id (36 characters, one scan opens it); the number printed is the
    # hospital's own, which the patient and the lab know.
    return printing.LabReport(report_id=rep.id, report_number=rep.filler_no or "", patient=patient,
                              specimen_type=rep.specimen_type, received_at=received, reported_at=reported,
                              tester=rep.tester, reviewer=rep.reviewer, results=results,
                              institution=rep.hospital.name if rep.hospital else "",
                              department=rep.panel_name, critical_call_note=_call_line(rep),
                              comments=tuple(rep.comments or ()))


def _call_line(rep: LabReport) -> str:
    # Only a call that covers the values printed: one noted before a correction arrived does not.
    if not rep.critical or call_due(rep):
        return ""
    caller = rep.critical_caller.full_name if rep.critical_caller else ""
    called = china_wall_time(rep.critical_call_at)
    return f"{called:%m-%d %H:%M} {rep.critical_call_note}" + (f"（{caller}）" if caller else "")


__all__ = ["list_queue", "get_queued", "suggested_resident", "same_patient", "match_by_hand", "dismiss",
           "list_rejections", "get_rejection", "list_for_resident", "list_reports", "get_report", "mark_seen", "note_critical_call", "printable"]
