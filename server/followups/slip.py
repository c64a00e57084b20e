"""The visit slip (随访/预约单) a patient takes home, from a signed follow-up record (no HTTP).

The slip itself is printing.visit_slip's builder, the one the tablet prints with too: the values measured,
the classification in words, the booked next date (the layout adds its weekday) and advice written to the
patient, from the record's stored decisions. Here: the row's columns, the patient, the signer, the team.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

import printing
from gpcore.followup import age_on
from printing.visit_slip import follow_up_slip_for_record

from ..auth.models import User
from ..errors import Conflict
from ..households.models import Resident
from ..org.models import Center, Team
from .models import VISIT, FollowUp

RECORD_COLUMNS = ("condition", "kind", "form", "visit_date", "next_visit_date", "sbp", "dbp", "fpg_mmol",
                  "classification", "bp_controlled", "fpg_controlled", "emergency", "referral")


def printable(session: Session, row: FollowUp) -> printing.FollowUpSlip:
    """printing's FollowUpSlip for a signed visit record (lost and death entries have no slip)."""
    if row.kind != VISIT:
        raise Conflict("Only a visit record has a visit slip.", {"kind": [row.kind]})
    res = session.get(Resident, row.resident_id)
    signer = session.get(User, row.signed_by) if row.signed_by else None
    team = session.get(Team, res.team_id) if res.team_id else None
    center = session.get(Center, res.center_id)
    patient = printing.Patient(name=res.name, sex=int(res.sex) if res.sex.isdigit() else res.sex,
                               age=age_on(res.birth_date, row.visit_date), record_number=res.record_number)
    return follow_up_slip_for_record(
        {name: getattr(row, name) for name in RECORD_COLUMNS}, patient,
        signer=signer.full_name if signer and signer.full_name else "",
        team_phone=(team.phone or "") if team else "", institution=center.name if center else "")
