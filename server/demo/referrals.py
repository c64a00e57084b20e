"""Demo referrals: the directory (departments, the two specialists' entries) and a few cases in every
state, made through the real services so `make run` shows an inbox, a pool, a thread and the worklist's
referral answers."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..directory.models import Department, SpecialistEntry
from ..households.models import ChronicCondition, Resident
from ..org.models import Hospital
from ..referrals import services as referrals
from ..scope import Actor

DEPARTMENTS = (("RJ-EAST", "心内科", "心血管内科 高血压 冠心病 心衰", "021-38800001"),
               ("DF-HOSP", "内分泌科", "内分泌 糖尿病 甲状腺", "021-38800002"))
ENTRIES = {"spec-cardio": ("高血压 冠心病", "chief", [(2, "am"), (4, "pm")], True, "021-38801234"),
           "spec-endo": ("糖尿病 甲状腺疾病", "associate_chief", [(1, "am"), (3, "am")], True, "021-38805678")}


def load_referrals(session: Session, today: dt.date) -> int:
    """The directory and six demo cases (requested by name, in the pool, overdue, asked for information,
    answered, returned); returns how many cases. Needs the demo district with its follow-ups. Commits."""
    hospitals = {h.code: h for h in session.scalars(select(Hospital))}
    for code, name, specialty, phone in DEPARTMENTS:
        session.add(Department(hospital_id=hospitals[code].id, name=name, specialty=specialty, phone=phone))
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(
        ("spec-cardio", "spec-endo", "t1-doctor", "t2-doctor"))))}
    for username, (specialty, title, sessions, econsult, phone) in ENTRIES.items():
        session.add(SpecialistEntry(user_id=users[username].id, specialty=specialty, title=title,
                                    clinic_sessions=[{"weekday": w, "half_day": h} for w, h in sessions],
                                    takes_econsult=econsult, phone_for_teams=phone))
    session.flush()
    t1, t2 = Actor.of(users["t1-doctor"]), Actor.of(users["t2-doctor"])
    cardio, endo = Actor.of(users["spec-cardio"]), Actor.of(users["spec-endo"])
    htn = _patients(session, t1.team_id, "hypertension", 5)
    dm = _patients(session, t2.team_id, "t2dm", 1)

    def send(actor, resident_id, urgency, impression, why, **to):
        form = referrals.prefill(session, actor, resident_id, today)["form"]
        form.update(initial_impression=impression, present_illness=why)
        form.setdefault("doctor_phone", "021-58880000")
        data = {"resident_id": resident_id, "urgency": urgency, "kind": "econsult", "form": form, **to}
        return referrals.create(session, actor, data, today)

    def act(actor, case, action, **data):
        referrals.act(session, actor, case.id, action, data, "*", today)

    rj, df = hospitals["RJ-EAST"].id, hospitals["DF-HOSP"].id
    send(t1, htn[0], "urgent", "高血压3级，控制不满意", "连续两次随访血压>170/100，已联合用药",
         specialist_id=cardio.user_id)
    send(t1, htn[1], "routine", "高血压2级伴心悸", "心悸两周，心电图示早搏", hospital_id=rj, department="心内科")
    late = send(t1, htn[2], "routine", "高血压伴胸闷", "活动后胸闷一月", hospital_id=rj, department="心内科")
    late.sent_on, late.response_due = today - dt.timedelta(days=7), today - dt.timedelta(days=4)  # sent last week
    asked = send(t1, htn[3], "urgent", "高血压，肾功能异常", "肌酐升高", specialist_id=cardio.user_id)
    act(cardio, asked, "accept")
    act(cardio, asked, "ask_info", question="请补充近三个月的肾功能和尿常规结果")
    answered = send(t1, htn[4], "urgent", "难治性高血压", "三药联合血压仍>160/100", specialist_id=cardio.user_id)
    act(cardio, answered, "accept")
    act(cardio, answered, "answer", outcome="clinic", advice="建议排查继发性高血压，先加用螺内酯20mg qd",
        plan="两周内复测血压、查血钾", clinic_date=(today + dt.timedelta(days=3)).isoformat(), clinic_session="am")
    returned = send(t2, dm[0], "routine", "2型糖尿病血糖控制不佳", "空腹血糖>10mmol/L，二甲双胍足量", hospital_id=df,
                    department="内分泌科")
    act(endo, returned, "accept")
    act(endo, returned, "answer", outcome="admit", advice="收住院调整降糖方案", plan="出院后两周内随访血糖")
    act(endo, returned, "return_case", form={
        "diagnosis": "2型糖尿病", "inpatient_record_number": "DF2026-01234", "main_results": "HbA1c 9.1%",
        "treatment": "起始基础胰岛素", "plan": "甘精胰岛素10U睡前，监测空腹血糖，两周后随访", "doctor": "李代谢",
        "doctor_phone": "021-38805678", "institution": "东方医院", "return_date": today.isoformat()})
    session.commit()
    return 6


def _patients(session: Session, team_id: int, condition: str, n: int) -> list[str]:
    """The first n registered patients of a team (by record number: the same ones every time)."""
    return list(session.scalars(select(Resident.id)
                                .join(ChronicCondition, ChronicCondition.resident_id == Resident.id)
                                .where(Resident.team_id == team_id, ChronicCondition.condition == condition,
                                       Resident.status == "active")
                                .order_by(Resident.record_number).limit(n)))
