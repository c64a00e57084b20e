"""Referral rules on the server: prefill, send, act (through gpcore's state machine), thread, summary.

No HTTP here: refusals are domain errors (404 out of scope, 403 no part in the case, 409 the action does
not fit the current state, 412/428 If-Match, 422 bad fields), mapped by the API layer.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case as sql_case, func, select
from sqlalchemy.orm import Session

import printing
from gpcore import referral as rules
from gpcore.referral import metrics as metrics_rules, prefill as prefill_rules
from printing import referrals as slips
from gpcore.followup import codes
from gpcore.referral.machine import SYSTEM, TEAM

from ..api import etag_of
from ..audit import services as audit
from ..auth.models import User
from ..db import utcnow
from ..directory.models import SpecialistEntry
from ..directory.services import department_of
from ..errors import Conflict, DomainError, Forbidden, Invalid, PreconditionFailed, field_error
from ..followups.models import FollowUp
from ..followups.services import effective
from ..households.models import Resident
from ..labs.models import LabReport
from ..notifications import triggers as notify
from ..org.models import Center, Hospital, Team
from ..scope import (Actor, addressable_specialist, referrals_visible, require_referral,
                     require_referral_sender)
from .deadlines import response_due
from .models import Referral, ReferralMessage

RECENT_VISITS = prefill_rules.RECENT_VISITS
RECENT_LAB_REPORTS = 10
SYSTEM_AUTHOR = "系统"  # the author name of an entry the server writes itself
# What each action carries, checked by gpcore before the state machine runs.
DETAILS = {"decline": rules.REASON, "pass_to_pool": rules.REASON, "cancel": rules.REASON,
           "ask_info": rules.QUESTION, "give_info": rules.INFO}


def _errors(problems) -> Invalid:
    errors = rules.errors_by_field(problems, "zh")
    return Invalid("请检查：" + "、".join(errors) + "。", errors)


def party(actor: Actor) -> rules.Party:
    """The gpcore Party of the signed-in actor."""
    return rules.Party(actor.user_id, actor.role, actor.team_id, actor.hospital_id, actor.department)


def case_of(row: Referral) -> rules.Case:
    """The gpcore Case of a stored referral."""
    return rules.Case(row.state, row.team_id, row.hospital_id, row.department, row.specialist_id, row.owner_id,
                      row.info_from)


# --- the health file, as the upward form and the specialist's summary see it -------------------------

def _resident_lines(session: Session, res: Resident) -> dict:
    """Conditions, allergies, medications and the last visits of a resident, as lines of text (the rule is
    gpcore.referral.prefill's, shared with the tablet); "visits" holds the FollowUp rows themselves."""
    visits = session.scalars(select(FollowUp).where(FollowUp.resident_id == res.id, FollowUp.kind == "visit",
                                                    effective())
                             .order_by(FollowUp.visit_date.desc(), FollowUp.received_at.desc())
                             .limit(RECENT_VISITS)).all()
    resident = {"past_diseases": res.past_diseases, "drug_allergies": res.drug_allergies,
                "drug_allergy_other": res.drug_allergy_other}
    lines = prefill_rules.health_lines([(c.condition, c.status) for c in res.conditions], resident,
                                       [_visit_dict(v) for v in visits])
    return {**lines, "visits": visits}


def _visit_dict(v: FollowUp) -> dict:
    return {"id": v.id, "visit_date": v.visit_date, "condition": v.condition, "sbp": v.sbp, "dbp": v.dbp,
            "fpg_mmol": v.fpg_mmol, "form": v.form, "emergency": v.emergency, "referral": v.referral,
            "assessment": v.assessment}


def rule_visits(session: Session, resident_ids: list[str]) -> dict[str, list[dict]]:
    """The two latest effective visits of each condition of these residents, newest first: what gpcore's
    asked_by_the_rules reads (the latest asks or not; the one before it makes "second uncontrolled")."""
    if not resident_ids:
        return {}
    order = (FollowUp.visit_date.desc(), FollowUp.received_at.desc(), FollowUp.id)
    ranked = (select(FollowUp.id, FollowUp.resident_id, FollowUp.condition, FollowUp.kind, FollowUp.visit_date,
                     FollowUp.received_at, FollowUp.form, FollowUp.emergency, FollowUp.referral,
                     func.row_number().over(partition_by=(FollowUp.resident_id, FollowUp.condition),
                                            order_by=order).label("n"))
              .where(FollowUp.resident_id.in_(resident_ids), FollowUp.kind == "visit", effective())
              .subquery())
    out: dict[str, list[dict]] = {}
    for row in session.execute(select(ranked).where(ranked.c.n <= 2)
                               .order_by(ranked.c.visit_date.desc(), ranked.c.received_at.desc(), ranked.c.id)):
        out.setdefault(row.resident_id, []).append(row._asdict())
    return out


def _lab_reports(session: Session, resident_id: str) -> list[LabReport]:
    return session.scalars(select(LabReport).where(LabReport.resident_id == resident_id)
                           .order_by(LabReport.reported_at.desc().nulls_last(), LabReport.created_at.desc())
                           .limit(RECENT_LAB_REPORTS)).all()


def _lab_row(report: LabReport) -> dict:
    return {"id": report.id, "panel_name": report.panel_name, "reported_at": report.reported_at,
            "abnormal": report.abnormal, "critical": report.critical}


def _identity(res: Resident, today: dt.date) -> dict:
    """The stub's patient identity, from the health file (the server's copy wins over the client's)."""
    return prefill_rules.identity({"name": res.name, "sex": res.sex, "birth_date": res.birth_date,
                                   "id_number": res.id_number, "record_number": res.record_number,
                                   "phone": res.phone}, res.household.address, res.household.phone, today)


def prefill(session: Session, actor: Actor, resident_id: str, today: dt.date, condition: str | None = None) -> dict:
    """The upward form pre-filled from the resident's file, with the lab reports the team may attach, and the
    referral the follow-up rules asked for (of `condition`'s latest visit, if given)."""
    res = session.get(Resident, resident_id)
    require_referral_sender(actor, res)
    me = session.get(User, actor.user_id)
    center = session.get(Center, res.center_id)
    team = session.get(Team, res.team_id) if res.team_id is not None else None
    lines = _resident_lines(session, res)
    visits = [v for v in rule_visits(session, [res.id]).get(res.id, []) if condition in (None, v["condition"])]
    suggested = prefill_rules.asked_by_the_rules(visits, res.birth_date)
    form = prefill_rules.upward_form(_identity(res, today), lines, suggested, today=today, doctor=me.full_name,
                                     doctor_phone=me.phone or (team.phone if team else None) or center.phone,
                                     institution=center.name)
    audit.record(session, actor, "read", "referral_prefill", res.id, res.id)
    return {"resident_id": res.id, "form": form,
            "lab_reports": [_lab_row(r) for r in _lab_reports(session, res.id)], "suggested": suggested}


# --- sending --------------------------------------------------------------------------------------

def _addressee(session: Session, data: dict) -> tuple[int, str, User | None]:
    """(hospital_id, department, named specialist or None) of a new case; the pool must be in the directory."""
    if data.get("specialist_id") is not None:
        spec = session.get(User, data["specialist_id"])
        if not addressable_specialist(spec):
            raise field_error("specialist_id", "没有这位专科医生。")
        if (data.get("hospital_id") not in (None, spec.hospital_id)
                or data.get("department") not in (None, spec.department)):
            raise field_error("specialist_id", "专科医生与所选医院或科室不符。")
        entry = session.get(SpecialistEntry, spec.id)
        if data["kind"] == "econsult" and entry is not None and not entry.takes_econsult:
            raise field_error("kind", "这位专科医生不接受线上会诊，请转诊至门诊或发给科室。")
        return spec.hospital_id, spec.department or "", spec
    if data.get("hospital_id") is None or not data.get("department"):
        raise field_error("department", "请选择专科医生，或医院和科室。")
    if department_of(session, data["hospital_id"], data["department"]) is None:
        raise field_error("department", "该医院没有这个科室（见专科目录）。")
    return data["hospital_id"], data["department"], None


def create(session: Session, actor: Actor, data: dict, today: dt.date, referral_id: str | None = None) -> Referral:
    """Send a case up: a GP of the resident's team, the upward form checked by gpcore. referral_id: the id a
    tablet gave a case written offline (sync push)."""
    res = session.get(Resident, data["resident_id"])
    require_referral_sender(actor, res)
    if res.status != "active":
        raise field_error("resident_id", "该居民档案已迁出或死亡，不能转诊。")
    problems = (rules.check_choice("urgency", data.get("urgency"), rules.URGENCIES, "紧急程度")
                + rules.check_choice("kind", data.get("kind"), rules.KINDS, "转诊方式"))
    if problems:
        raise _errors(problems)
    hospital_id, department, spec = _addressee(session, data)
    hospital = session.get(Hospital, hospital_id)
    form = {**(data.get("form") or {}), **_identity(res, today), "to_institution": hospital.name,
            "to_department": department}
    if spec is not None:
        form["receiving_doctor"] = spec.full_name
    form = {k: v for k, v in form.items() if v is not None}
    problems = rules.check_upward_form(form, today=today)
    if problems:
        raise _errors(problems)
    report_ids = residents_reports(session, res.id, data.get("lab_report_ids") or [])
    now = utcnow()  # the case's sending time and its first entry's: the metrics count from it
    row = Referral(created_at=now, resident_id=res.id, team_id=res.team_id, center_id=res.center_id, created_by=actor.user_id,
                   hospital_id=hospital_id, department=department, specialist_id=spec.id if spec else None,
                   state="requested", urgency=data["urgency"], kind=data["kind"], form=form,
                   lab_report_ids=report_ids, sent_on=today,
                   response_due=response_due(today, data["urgency"]),
                   **({"id": referral_id} if referral_id else {}))
    session.add(row)
    session.flush()
    post(session, actor, row, "create", data.get("note"), at=now)
    audit.record(session, actor, "create", "referral", row.id, res.id)
    return row


def residents_reports(session: Session, resident_id: str, report_ids: list[str]) -> list[str]:
    """The ids, once each in their order, if every one is a lab report of this resident; else 422."""
    report_ids = list(dict.fromkeys(report_ids))
    if report_ids:
        found = set(session.scalars(select(LabReport.id).where(LabReport.id.in_(report_ids),
                                                               LabReport.resident_id == resident_id)))
        if missing := [i for i in report_ids if i not in found]:
            raise field_error("lab_report_ids", f"这些化验报告不属于该居民：{'、'.join(missing)}")
    return report_ids


# --- reading --------------------------------------------------------------------------------------

def list_referrals(actor: Actor, args: dict, today: dt.date):
    """A select of the cases in the actor's scope, most urgent and oldest first, with the list's filters."""
    urgency_rank = {"emergency": 0, "urgent": 1, "routine": 2}
    stmt = (select(Referral.id, Referral.resident_id, Resident.name.label("resident_name"), Referral.team_id,
                   Referral.center_id, Referral.hospital_id, Referral.department, Referral.specialist_id,
                   Referral.owner_id, Referral.state, Referral.urgency, Referral.kind, Referral.sent_on,
                   Referral.response_due, Referral.answered_on, Referral.follow_up_due, Referral.updated_at,
                   Referral.escalated_at, and_(Referral.state == "requested", Referral.response_due < today)
                   .label("overdue"))
            .join(Resident, Resident.id == Referral.resident_id)
            .where(referrals_visible(actor, Referral))
            .order_by(sql_case(urgency_rank, value=Referral.urgency), Referral.response_due, Referral.created_at,
                      Referral.id))
    if args.get("state"):
        stmt = stmt.where(Referral.state.in_(args["state"]))
    if args.get("urgency"):
        stmt = stmt.where(Referral.urgency == args["urgency"])
    if args.get("team_id") is not None:
        stmt = stmt.where(Referral.team_id == args["team_id"])
    if args.get("resident_id"):
        stmt = stmt.where(Referral.resident_id == args["resident_id"])
    if args.get("overdue"):
        # Waiting for the specialist's first response past its deadline (deadlines.py: calendar days).
        stmt = stmt.where(Referral.state == "requested", Referral.response_due < today)
    return stmt


def get(session: Session, actor: Actor, referral_id: str, *, log_read: bool = True) -> Referral:
    """A case the actor may see (the read is logged: it carries the resident's health data)."""
    row = require_referral(actor, session.get(Referral, referral_id))
    if log_read:
        audit.record(session, actor, "read", "referral", row.id, row.resident_id)
    return row


def allowed_actions(actor: Actor, row: Referral) -> list[str]:
    """What the actor may do with the case now (for the client's buttons)."""
    return rules.allowed_actions(case_of(row), party(actor))


def resident_summary(session: Session, actor: Actor, referral_id: str) -> dict:
    """The resident's file summary through a case: identity, conditions, allergies, medications, the last
    visits with BP and glucose, the attached lab reports. Read-audited; nothing else of the household."""
    row = get(session, actor, referral_id, log_read=False)
    res = session.get(Resident, row.resident_id)
    lines = _resident_lines(session, res)
    reports = session.scalars(select(LabReport).where(LabReport.id.in_(row.lab_report_ids or []))).all()
    audit.record(session, actor, "read", "resident_summary", row.id, res.id,
                 detail={"referral_id": row.id, "lab_reports": [r.id for r in reports]})
    return {"referral_id": row.id, "resident_id": res.id, **_identity(res, row.sent_on),
            "birth_date": res.birth_date,
            **{k: lines[k] for k in ("conditions", "allergies", "medications", "recent_followups")},
            "visits": [{"id": v.id, "visit_date": v.visit_date, "condition": v.condition, "sbp": v.sbp,
                        "dbp": v.dbp, "fpg_mmol": v.fpg_mmol} for v in lines["visits"]],
            "lab_reports": [{**_lab_row(r), "results": _results(r)} for r in reports]}


def _results(report: LabReport) -> list[dict]:
    """A report's current result rows (corrections replace what they correct), with the lab's flags."""
    return [{"name": row.name or row.code,
             "value": row.value_text or ("" if row.value_num is None else str(row.value_num)),
             "unit": row.unit, "range": row.range_text, "flags": row.flags, "critical": row.critical}
            for row in report.results if row.superseded_by_id is None]


def printable(session: Session, actor: Actor, referral_id: str, part: str):
    """(layout, document) of a case's slip: the upward slip with its stub, or the return form (409 before
    the hospital wrote one). The read is logged like reading the case."""
    row = get(session, actor, referral_id)
    record = {"id": row.id, "sent_on": row.sent_on, "department": row.department, "form": row.form,
              "return_form": row.return_form}
    if part == "return":
        try:
            return printing.return_slip, slips.return_document(record)
        except slips.NoReturnForm:
            raise Conflict(f"此转诊还没有回转单（当前状态：{rules.STATE_LABELS[row.state]}）。",
                           {"part": ["no return form yet"], "state": [row.state]}) from None
    return printing.referral_slip, slips.referral_document(record)


# --- acting ---------------------------------------------------------------------------------------

def require_if_match(if_match: str | None) -> None:
    """An action on a case must say which version it was decided on (428 without)."""
    if not if_match:
        err = DomainError("Send If-Match with the ETag you last read.", {"If-Match": ["required"]})
        err.status = 428
        raise err


def check_fresh(row: Referral, if_match: str) -> None:
    """Refuse a stale If-Match (412), naming the current state."""
    tags = [t.strip() for t in if_match.split(",")]
    if "*" not in tags and etag_of(row) not in tags:
        raise PreconditionFailed(
            f"转诊已被他人更新（当前状态：{rules.STATE_LABELS[row.state]}），请刷新后再试。",
            {"If-Match": [f"current ETag is {etag_of(row)}"], "state": [row.state]})


def _refusal(err: rules.TransitionRefused) -> DomainError:
    if err.code == "not_allowed":
        return Forbidden(err.zh, {"authorization": "referral", "state": [err.state]})
    return Conflict(err.zh, {"state": [err.state], "action": [err.action]})


def act(session: Session, actor: Actor, referral_id: str, action: str, data: dict, if_match: str | None,
        today: dt.date) -> Referral:
    """Take an action on a case: scope (404), If-Match (428), state (409), part in the case (403), stale
    ETag (412), the action's fields (422); then gpcore moves the case and the thread records it."""
    row = get(session, actor, referral_id, log_read=False)
    require_if_match(if_match)
    try:
        after = rules.apply(case_of(row), party(actor), action)
    except rules.TransitionRefused as err:
        raise _refusal(err) from None
    check_fresh(row, if_match)
    text = _details(session, row, action, data, today)
    row.state, row.owner_id, row.specialist_id, row.info_from = (after.state, after.owner_id, after.specialist_id,
                                                                 after.info_from)
    # One moment for the thread entry and what is stamped on the case: the metrics read the stamp where
    # they read the entry's time before (migration r401), and must find the same.
    now = utcnow()
    row.updated_at = now
    if action in metrics_rules.RESPONSES and row.first_response_at is None:
        row.first_response_at = now
    if action == "return_case":
        row.returned_at = row.returned_at or now  # the first return, as r401's backfill reads it
    message = post(session, actor, row, action, text, at=now)
    if action == "accept":  # the pool's other specialists can no longer open it: their notices say so
        notify.claimed(session, row, message.author_name)
    audit.record(session, actor, action, "referral", row.id, row.resident_id)
    session.flush()  # the version check happens here: a concurrent change gives StaleDataError (412)
    return row


def _details(session: Session, row: Referral, action: str, data: dict, today: dt.date) -> str | None:
    """Check and store what the action carries; the text that goes into the thread."""
    if action in DETAILS:
        problems = rules.check_details(DETAILS[action], data)
        if problems:
            raise _errors(problems)
        return next(iter(data.values())).strip()
    if action == "answer":
        if problems := rules.check_answer(data, today=today):
            raise _errors(problems)
        row.answer = {k: v for k, v in data.items() if v is not None}
        row.outcome = data["outcome"]
        row.answered_on = today
        row.follow_up_due = rules.follow_up_due(today)
        return f"{rules.OUTCOMES[data['outcome']]}：{data['advice'].strip()}\n随访方案：{data['plan'].strip()}"
    if action == "return_case":
        if problems := rules.check_return_form(data.get("form"), today=today):
            raise _errors(problems)
        row.return_form = data["form"]
        row.follow_up_due = rules.follow_up_due(today)  # the 2 weeks start again from the return
        return f"回转：{data['form']['diagnosis']}"
    if action == "close":
        visit = session.get(FollowUp, data.get("followup_id") or "")
        if visit is None or visit.resident_id != row.resident_id or visit.kind != "visit":
            raise field_error("followup_id", "请选择该居民的一次随访记录。")
        if row.answered_on is not None and visit.visit_date < row.answered_on:
            raise field_error("followup_id", f"结案须有专科答复（{row.answered_on.isoformat()}）之后的随访。")
        row.closing_followup_id = visit.id
        row.followed_up_on = visit.visit_date  # a signed record never changes (an amendment is a new one)
        return (data.get("note") or "").strip() or f"已随访（{visit.visit_date.isoformat()}）"
    return (data.get("note") or "").strip() or None  # accept


def post_message(session: Session, actor: Actor, referral_id: str, text: str,
                 client_id: str | None = None) -> ReferralMessage:
    """Add a message to the case's thread (anyone with a part in the case, until it ends); client_id: the
    tablet's id of a message written offline (sync push)."""
    row = require_writer(session, actor, referral_id)
    if problems := rules.check_details(rules.MESSAGE, {"text": text}):
        raise _errors(problems)
    message = post(session, actor, row, "message", text.strip())
    message.client_id = client_id
    audit.record(session, actor, "message", "referral", row.id, row.resident_id)
    return message


def require_writer(session: Session, actor: Actor, referral_id: str) -> Referral:
    """A case the actor may write in (message, attachment): a part in it (403), until it ends (409)."""
    row = get(session, actor, referral_id, log_read=False)
    if not rules.may_write_message(case_of(row), party(actor)):
        if row.state in rules.TERMINAL:
            raise Conflict(f"转诊已{rules.STATE_LABELS[row.state]}，不能再留言。", {"state": [row.state]})
        raise Forbidden("您不能在此转诊中留言。", {"authorization": "referral", "state": [row.state]})
    return row


def post(session: Session, actor: Actor, row: Referral, kind: str, text: str | None,
         at: dt.datetime | None = None) -> ReferralMessage:
    """Write one entry of the case's thread (at `at`, default now), with the other side's notices, in the
    caller's transaction."""
    author = session.get(User, actor.user_id)
    message = ReferralMessage(referral_id=row.id, at=at or utcnow(), author_id=actor.user_id,
                              author_name=author.full_name, author_role=actor.role, kind=kind, text=text,
                              state_after=row.state)
    session.add(message)
    notify.referral_event(session, actor.user_id, author.full_name, row, kind, text,  # inbox, SMS: same transaction
                          team_side=TEAM in rules.relations(case_of(row), party(actor)))
    return message


def post_system(session: Session, row: Referral, kind: str, text: str, *, center_staff: bool = False
                ) -> ReferralMessage:
    """Write an entry nobody signed in wrote (an escalation, a household's move: gpcore's ENTRY_LABELS) in the
    case's thread, with notices to both sides (center_staff: and the center's staff), in the caller's
    transaction. It syncs to the team's tablets like any entry (the change log's flush event)."""
    message = ReferralMessage(referral_id=row.id, author_id=None, author_name=SYSTEM_AUTHOR, author_role=SYSTEM,
                              kind=kind, text=text, state_after=row.state)
    session.add(message)
    notify.system_event(session, row, kind, text, center_staff=center_staff)
    return message


def thread(session: Session, row: Referral) -> list[ReferralMessage]:
    """The case's thread, oldest first."""
    return session.scalars(select(ReferralMessage).where(ReferralMessage.referral_id == row.id)
                           .order_by(ReferralMessage.id)).all()
