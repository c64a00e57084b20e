"""Clinical demo data: a year of follow-up visits and some hospital lab results, through the real services.

Everything goes through the same paths a tablet or a hospital feed uses (`followups.services.record_visit`,
`labs.intake.receive_hl7`), so the worklist, the indicators and the unmatched queue show what they would
show in a real district: patients due and overdue, 2-week rechecks, a few emergencies, critical values.
Dates are relative to the day the demo is loaded, so a fresh demo always has someone due this week.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpcore.clock import to_china
from gpcore.followup.schedule import working_day_for

from ..auth.models import User
from ..followups import services as followups
from ..households.models import ChronicCondition, Resident
from ..labs import intake
from ..org.models import Center, Hospital
from ..scope import Actor

DRUGS = {"hypertension": ("氨氯地平", "缬沙坦", "硝苯地平控释片", "厄贝沙坦"),
         "t2dm": ("二甲双胍", "格列美脲", "阿卡波糖")}
# (code, name, unit, reference range, typical low, typical high) of a chronic-care chemistry panel.
PANEL = (("GLU", "葡萄糖", "mmol/L", "3.9-6.1", 4.5, 11.0), ("HBA1C", "糖化血红蛋白", "%", "4.0-6.0", 5.2, 9.0),
         ("K", "钾", "mmol/L", "3.5-5.5", 3.6, 5.2), ("CR", "肌酐", "umol/L", "57-111", 55, 140),
         ("TC", "总胆固醇", "mmol/L", "<5.2", 3.8, 6.8), ("LDL", "低密度脂蛋白胆固醇", "mmol/L", "<3.4", 2.0, 4.6))


def visit_form(rng: random.Random, condition: str, day: dt.date, uncontrolled: bool) -> dict:
    """One plausible national-form visit; an uncontrolled visit books the 2-week recheck."""
    mode = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    # The doctor books a working day, as gpcore's rules do (off weekends and official holidays).
    booked, _ = working_day_for(day, day + dt.timedelta(days=14 if uncontrolled else 90))
    form = {"visit_date": day.isoformat(), "visit_mode": mode, "symptoms": [1],
            "cigarettes_per_day": rng.choice((0, 0, 0, 10)), "liquor_liang_per_day": rng.choice((0, 0, 1)),
            "exercise_times_per_week": rng.randint(0, 7), "exercise_minutes_per_time": rng.choice((0, 30, 60)),
            "salt_intake": rng.randint(1, 2), "psychological_adjustment": 1, "compliance": 1,
            "medication_adherence": rng.choices((1, 2), weights=(85, 15))[0], "adverse_reaction": 1,
            "medications": [{"name": n, "times_per_day": 1, "mg_per_time": 5}
                            for n in rng.sample(DRUGS[condition], rng.randint(1, 2))],
            "doctor": "家庭医生", "classification": 2 if uncontrolled else 1,
            "next_visit_date": booked.isoformat()}
    if mode != 3:  # a phone visit measures nothing
        sbp = rng.randint(150, 172) if uncontrolled else rng.randint(112, 136)
        form.update(sbp=sbp, dbp=min(sbp - 30, rng.randint(92, 100) if uncontrolled else rng.randint(68, 86)),
                    weight_kg=round(rng.uniform(52, 86), 1), height_cm=float(rng.randint(152, 178)),
                    heart_rate=rng.randint(62, 90))
        if condition == "t2dm":
            form.update(fpg_mmol=round(rng.uniform(7.8, 10.5) if uncontrolled else rng.uniform(5.0, 6.9), 1),
                        dorsalis_pedis=1, staple_food_g_per_day=300, hypoglycaemia=1)
    elif condition == "t2dm":
        form.update(staple_food_g_per_day=300, hypoglycaemia=1)
    return form


def load_followups(session: Session, today: dt.date, seed: int = 20261129) -> int:
    """About a year of quarterly visits for every registered patient; returns how many were recorded.

    Some patients were last seen more than a quarter ago (overdue), some were uncontrolled last time (their
    2-week recheck is due), a few have not been seen at all (new to the registry).
    """
    rng = random.Random(seed)
    leaders = {u.team_id: u for u in session.scalars(select(User).where(User.role == "gp",
                                                                       User.is_team_leader.is_(True)))}
    # In ID-number order (the generator's, fixed by the seed), not by the random row ids: the same seed gives
    # the same visits.
    entries = session.execute(select(ChronicCondition.resident_id, ChronicCondition.condition, Resident.team_id)
                              .join(Resident, Resident.id == ChronicCondition.resident_id)
                              .order_by(Resident.id_number, ChronicCondition.condition)).all()
    recorded = 0
    for resident_id, condition, team_id in entries:
        if team_id not in leaders or rng.random() < 0.05:
            continue  # not yet seen: shows as "not seen this year"
        actor = Actor.of(leaders[team_id])
        tendency = rng.choice((0.05, 0.15, 0.3, 0.5))
        # Quarterly visits counted back from the last one, which was days ago (a recheck may be due) or
        # more than a quarter ago (overdue).
        last = today - dt.timedelta(days=rng.choice((3, 6, 10, 40, 70, 85, 95, 110, 130)))
        first = today - dt.timedelta(days=rng.randint(330, 400))
        days = []
        while last >= first:
            days.append(last)
            last -= dt.timedelta(days=rng.randint(85, 95))
        for day in reversed(days):
            uncontrolled = rng.random() < tendency
            for when in (day, day + dt.timedelta(days=14)):
                if when >= today:
                    break
                data = {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "resident_id": resident_id,
                        "condition": condition, "form": visit_form(rng, condition, when, uncontrolled)}
                followups.record_visit(session, actor, data, today=today, language="zh")
                recorded += 1
                if not uncontrolled:
                    break
                uncontrolled = rng.random() < 0.3  # the 2-week recheck: most are controlled by then
    session.commit()
    return recorded


def hl7_message(n: int, hospital: str, resident: Resident | None, when: dt.datetime, rng: random.Random,
                critical: bool = False, potassium_note: str = "", with_id_number: bool = True) -> bytes:
    """An ORU^R01 as a hospital LIS sends it: one chemistry order, six results with flags; the lab's note on
    the potassium (an NTE) when given."""
    # Chinese LIS stamp wall-clock China time without an offset (intake reads it so): an aware `when` (the
    # loader passes UTC) is written in China time, or a report would read 8 hours before it was received.
    stamp = (to_china(when) if when.tzinfo else when).strftime("%Y%m%d%H%M%S")
    if resident is None:  # a patient the hospital registered without an ID number: goes to the queue
        pid = f"PID|1||H{n:06d}^^^{hospital}^MR||周未知||19521103|F"
    else:  # without the ID number, name + birth date + sex only suggest the resident: queued for staff
        number = f"{resident.id_number}^^^^ID~" if with_id_number else ""
        pid = (f"PID|1||{number}H{n:06d}^^^{hospital}^MR||{resident.name}||"
               f"{resident.birth_date:%Y%m%d}|{'M' if resident.sex == '1' else 'F'}")
    segs = [f"MSH|^~\\&|LIS|{hospital}|GPO|PD-WF|{stamp}||ORU^R01^ORU_R01|DEMO-{n}|P|2.5.1|||||CHN|UNICODE UTF-8",
            pid, f"OBR|1|P{n}|F{n}|CHEM^生化^L|||{stamp}|||||||{stamp}|SER^血清|||||||{stamp}|||F|||||||"
                 "0101&李&明||0202&王&强"]
    for i, (code, name, unit, ref, lo, hi) in enumerate(PANEL, 1):
        value = round(rng.uniform(lo, hi), 1)
        if critical and code == "K":
            value = 6.8
        low, _, high = ref.partition("-")
        top = float(high or low.lstrip("<"))
        flag = "HH" if critical and code == "K" else ("H" if value > top else ("L" if high and value < float(low)
                                                                               else "N"))
        segs.append(f"OBX|{i}|NM|{code}^{name}^L||{value}|{unit}|{ref}|{flag}|||F|||{stamp}")
        if code == "K" and potassium_note:
            segs.append(f"NTE|1|L|{potassium_note}")
    return ("\r".join(segs) + "\r").encode()


def load_labs(session: Session, admin: User, now: dt.datetime, seed: int = 20261129, reports: int = 40) -> int:
    """A lab feed for the first hospital and `reports` results for chronic patients: one critical (with the
    lab's note of its call), one with a haemolysed specimen; then one for an unknown patient and one sent
    without the ID number, which the queue shows with the resident suggested."""
    rng = random.Random(seed)
    hospital = session.scalars(select(Hospital).order_by(Hospital.id)).first()
    centers = session.scalars(select(Center.id)).all()
    feed, _ = intake.create_feed(session, Actor.of(admin), {"hospital_id": hospital.id, "name": f"{hospital.name} LIS",
                                                            "center_ids": list(centers)})
    session.commit()
    patients = session.scalars(select(Resident).join(ChronicCondition, ChronicCondition.resident_id == Resident.id)
                               .where(Resident.id_number.is_not(None)).order_by(Resident.id_number).distinct()).all()
    stored = 0
    notes = {1: "危急值已电话通知家庭医生团队", 2: "标本轻度溶血，结果仅供参考"}
    chosen = rng.sample(patients, min(reports + 1, len(patients)))
    for n, resident in enumerate(chosen[:reports], 1):
        when = now - dt.timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 8))
        raw = hl7_message(n, hospital.code, resident, when, rng, critical=n == 1, potassium_note=notes.get(n, ""))
        stored += intake.receive_hl7(session, feed, raw, transport="demo").ack_code == "AA"
    for raw in (hl7_message(reports + 1, hospital.code, None, now, rng),
                hl7_message(reports + 2, hospital.code, chosen[-1], now, rng, with_id_number=False)):
        stored += intake.receive_hl7(session, feed, raw, transport="demo").ack_code == "AA"
    return stored
