"""The visit slip (随访/预约单) a patient takes home, from a signed follow-up record (no HTTP).

It says what the record says: the values measured, the classification in words, the booked next date (the
layout adds its weekday) and advice written to the patient (gpcore's advice_for_patient_zh), from the
record's stored decisions rather than rules run again, so paper and file cannot disagree.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

import printing
from gpcore.followup import VISIT_CLASSIFICATIONS, advice_for_patient_zh, age_on, codes

from ..auth.models import User
from ..errors import Conflict
from ..households.models import Resident
from ..org.models import Center, Team
from .models import VISIT, FollowUp
from .services import FORMS

PROGRAMMES = {"hypertension": "高血压患者健康管理", "t2dm": "2型糖尿病患者健康管理"}


def printable(session: Session, row: FollowUp) -> printing.FollowUpSlip:
    """printing's FollowUpSlip for a signed visit record (lost and death entries have no slip)."""
    if row.kind != VISIT:
        raise Conflict("Only a visit record has a visit slip.", {"kind": [row.kind]})
    res = session.get(Resident, row.resident_id)
    visit = FORMS[row.condition].from_dict(row.form)
    measured = []
    if row.sbp is not None and row.dbp is not None:
        measured.append(("血压", f"{row.sbp}/{row.dbp} mmHg"))
    if row.fpg_mmol is not None:
        measured.append(("空腹血糖", f"{row.fpg_mmol:g} mmol/L"))
    controlled = row.fpg_controlled if row.condition == "t2dm" else row.bp_controlled
    label = VISIT_CLASSIFICATIONS.get(row.classification)
    advice = advice_for_patient_zh(visit, controlled=controlled, emergency=bool(row.emergency),
                                   referral=row.referral or codes.NO_REFERRAL,
                                   bmi=(row.assessment or {}).get("bmi"))
    signer = session.get(User, row.signed_by) if row.signed_by else None
    team = session.get(Team, res.team_id) if res.team_id else None
    center = session.get(Center, res.center_id)
    return printing.FollowUpSlip(
        patient=printing.Patient(name=res.name, sex=int(res.sex) if res.sex.isdigit() else res.sex,
                                 age=age_on(res.birth_date, row.visit_date), record_number=res.record_number),
        visit_date=row.visit_date, classification=label.zh if label else "本次未测量，未评价",
        next_visit_date=row.next_visit_date, advice="\n".join(advice),
        doctor=(signer.full_name if signer and signer.full_name else visit.doctor),
        team_phone=(team.phone or "") if team else "", programme=PROGRAMMES[row.condition],
        institution=center.name if center else "", measurements=tuple(measured))
