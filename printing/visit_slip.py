"""The visit slip (随访/预约单) of a signed follow-up record: one builder for the server and the tablet.

A pure function from the record's values to printing's FollowUpSlip: the values measured (blood pressure,
fasting glucose), the classification in words, the booked next date (the layout adds its weekday) and
advice written to the patient (gpcore's advice_for_patient_zh), all from the record's stored decisions
rather than rules run again, so paper and file cannot disagree. The server passes its FollowUp row's
columns, the tablet its store row; the patient block is the caller's (each has its own resident file).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from gpcore.followup import VISIT_CLASSIFICATIONS, advice_for_patient_zh, codes
from gpcore.followup.assessment import visit_bmi
from gpcore.followup.visits import DiabetesVisit, HypertensionVisit

from printing.model import FollowUpSlip, Patient

PROGRAMMES = {"hypertension": "高血压患者健康管理", "t2dm": "2型糖尿病患者健康管理"}
NOT_CLASSIFIED = "本次未测量，未评价"
_FORMS = {"hypertension": HypertensionVisit, "t2dm": DiabetesVisit}


class NotAVisit(ValueError):
    """Only a visit record has a slip (a lost-to-follow-up or death entry has none)."""


def _date(value) -> dt.date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _flag(value) -> bool | None:
    return None if value is None else bool(int(value)) if isinstance(value, (int, str)) else bool(value)


def measurements(record: Mapping) -> tuple[tuple[str, str], ...]:
    """What was measured at the visit, as (label, value with unit)."""
    out = []
    if record.get("sbp") is not None and record.get("dbp") is not None:
        out.append(("血压", f"{int(record['sbp'])}/{int(record['dbp'])} mmHg"))
    if record.get("fpg_mmol") is not None:
        out.append(("空腹血糖", f"{float(record['fpg_mmol']):g} mmol/L"))
    return tuple(out)


def follow_up_slip_for_record(record: Mapping, patient: Patient, *, signer: str = "", team_phone: str = "",
                              institution: str = "") -> FollowUpSlip:
    """The slip of one signed visit record.

    `record` holds the record's columns: condition, kind, form (the national form as a dict), visit_date,
    next_visit_date, sbp, dbp, fpg_mmol, classification, bp_controlled, fpg_controlled, emergency,
    referral (dates as dates or ISO strings). `signer` is the signing account's name (the form's doctor box
    when empty)."""
    if (record.get("kind") or "visit") != "visit":
        raise NotAVisit(f"a {record.get('kind')} record has no visit slip")
    condition = record["condition"]
    visit = _FORMS[condition].from_dict(record["form"])
    controlled = _flag(record.get("fpg_controlled") if condition == "t2dm" else record.get("bp_controlled"))
    classification = record.get("classification")
    label = VISIT_CLASSIFICATIONS.get(int(classification)) if classification not in (None, "") else None
    advice = advice_for_patient_zh(visit, controlled=controlled, emergency=bool(_flag(record.get("emergency"))),
                                   referral=record.get("referral") or codes.NO_REFERRAL, bmi=visit_bmi(visit))
    return FollowUpSlip(
        patient=patient, visit_date=_date(record["visit_date"]),
        classification=label.zh if label else NOT_CLASSIFIED,
        next_visit_date=_date(record.get("next_visit_date")), advice="\n".join(advice),
        doctor=signer or visit.doctor or "", team_phone=team_phone, programme=PROGRAMMES[condition],
        institution=institution, measurements=measurements(record))
