"""What a signed visit record decides, from the shared rules: the columns the server stores with a visit and
the tablet writes on the visit it signs offline (so an emergency is in the tablet's emergency bucket at
once, not after the next sync). No database: the caller passes the patient's previous effective visit and
the count of earlier face-to-face visits this year from its own records.

    columns, result = record_decisions("hypertension", visit, birth_date, previous, earlier_face_to_face=1)
"""
from __future__ import annotations

import datetime as dt

from ..health_file import age_on
from .assessment import Assessment, assess_diabetes_visit, assess_hypertension_visit, bp_control


def record_decisions(condition: str, visit, birth_date: dt.date, previous,
                     earlier_face_to_face: int) -> tuple[dict, Assessment]:
    """The decided columns of a visit record (classification, control, emergency, referral, referred, next
    visit date, rules version, the assessment as JSON) and gpcore's Assessment.

    `previous` is the patient's effective visit before this one (a gpcore visit or None);
    `earlier_face_to_face` counts clinic/home visits earlier in the same calendar year."""
    age = age_on(birth_date, visit.visit_date)
    if condition == "hypertension":
        prev_age = age_on(birth_date, previous.visit_date) if previous else None
        result = assess_hypertension_visit(visit, patient_age=age, previous=previous,
                                           previous_patient_age=prev_age,
                                           earlier_visits_this_year=earlier_face_to_face)
        bp_ok, fpg_ok = result.controlled, None
    else:
        # The glucose target does not depend on age; the BP on a diabetes form is judged like hypertension's.
        result = assess_diabetes_visit(visit, previous=previous, earlier_visits_this_year=earlier_face_to_face)
        bp_ok, fpg_ok = bp_control(visit, age).controlled, result.controlled
    columns = dict(
        classification=result.classification, bp_controlled=bp_ok, fpg_controlled=fpg_ok,
        emergency=result.emergency, referral=result.referral, referred=bool(visit.referral_reason),
        rules_next_visit_date=result.next_visit_date,
        next_visit_date=visit.next_visit_date or result.next_visit_date, rules_version=result.rules_version,
        assessment=result.to_dict())
    return columns, result
