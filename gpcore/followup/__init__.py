"""Chronic-disease follow-up rules (hypertension, type 2 diabetes) shared by the server and the tablet.

Plain Python: the standard library, and `chinese_calendar` for official holidays (schedule.py).  Typical use:

    errors = validate_hypertension_visit(data, today=today)      # {} when valid, else field -> messages
    visit = HypertensionVisit.from_dict(data)
    # or in one pass: visit, problems = parse_hypertension_visit(data, today=today)
    result = assess_hypertension_visit(visit, patient_age=67, previous=last_visit, earlier_visits_this_year=2)
    result.to_dict()                                             # JSON, with RULES_VERSION
"""

from .assessment import (
    Assessment,
    Control,
    assess_diabetes_visit,
    assess_hypertension_visit,
    bp_control,
    fpg_control,
)
from .codes import (
    ADVERSE_REACTION,
    COMPLIANCE,
    DIABETES_DANGER_SIGNS,
    DIABETES_SYMPTOMS,
    DORSALIS_PEDIS_PULSE,
    DRINKS,
    HYPERTENSION_DANGER_SIGNS,
    HYPERTENSION_SYMPTOMS,
    HYPOGLYCAEMIA,
    MEDICATION_ADHERENCE,
    PSYCHOLOGICAL_ADJUSTMENT,
    PULSE_SIDES,
    REFERRAL_LEVELS,
    SALT_INTAKE,
    VISIT_CLASSIFICATIONS,
    VISIT_MODES,
    Label,
    Reason,
)
from .fields import Problem
from ..health_file import age_on  # one home for the age rule; exported here for the follow-up forms
from .guidance import advice_for_patient_zh
from .measures import bmi, liquor_equivalent_liang
from .schedule import is_working_day, next_routine_visit_date, on_working_day, visits_needed_this_year
from .settings import EDITION_2011, EDITION_2017, RULES_VERSION, RuleSettings
from .validation import (
    check_diabetes_visit,
    check_hypertension_visit,
    errors_by_field,
    parse_diabetes_visit,
    parse_hypertension_visit,
    validate_diabetes_visit,
    validate_hypertension_visit,
)
from .visits import DiabetesVisit, FollowUpVisit, HypertensionVisit, Medication, VisitDataError

__all__ = [
    "ADVERSE_REACTION",
    "COMPLIANCE",
    "DIABETES_DANGER_SIGNS",
    "DIABETES_SYMPTOMS",
    "DORSALIS_PEDIS_PULSE",
    "DRINKS",
    "EDITION_2011",
    "EDITION_2017",
    "HYPERTENSION_DANGER_SIGNS",
    "HYPERTENSION_SYMPTOMS",
    "HYPOGLYCAEMIA",
    "MEDICATION_ADHERENCE",
    "PSYCHOLOGICAL_ADJUSTMENT",
    "PULSE_SIDES",
    "REFERRAL_LEVELS",
    "RULES_VERSION",
    "SALT_INTAKE",
    "VISIT_CLASSIFICATIONS",
    "VISIT_MODES",
    "Assessment",
    "Control",
    "DiabetesVisit",
    "FollowUpVisit",
    "HypertensionVisit",
    "Label",
    "Medication",
    "Problem",
    "Reason",
    "RuleSettings",
    "VisitDataError",
    "advice_for_patient_zh",
    "age_on",
    "assess_diabetes_visit",
    "assess_hypertension_visit",
    "bmi",
    "bp_control",
    "check_diabetes_visit",
    "check_hypertension_visit",
    "errors_by_field",
    "fpg_control",
    "is_working_day",
    "liquor_equivalent_liang",
    "next_routine_visit_date",
    "on_working_day",
    "parse_diabetes_visit",
    "parse_hypertension_visit",
    "validate_diabetes_visit",
    "validate_hypertension_visit",
    "visits_needed_this_year",
]
