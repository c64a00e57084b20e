"""Factories and hypothesis strategies for follow-up visits (shared through fixtures: tests cannot import)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import strategies as st

from gpcore.followup import DiabetesVisit, HypertensionVisit, Medication, codes

TODAY = date(2026, 11, 22)


def _hypertension(**overrides) -> HypertensionVisit:
    base = HypertensionVisit(
        visit_date=date(2026, 6, 1),
        visit_mode=codes.CLINIC,
        symptoms=(codes.NO_SYMPTOMS,),
        sbp=130,
        dbp=80,
        weight_kg=65.0,
        height_cm=165.0,
        heart_rate=72,
        medication_adherence=1,
        adverse_reaction=codes.NO_ADR,
        medications=(Medication("氨氯地平", 1, 5.0),),
        doctor="李医生",
    )
    return replace(base, **overrides)


def _diabetes(**overrides) -> DiabetesVisit:
    base = DiabetesVisit(
        visit_date=date(2026, 6, 1),
        visit_mode=codes.CLINIC,
        symptoms=(codes.NO_SYMPTOMS,),
        sbp=128,
        dbp=78,
        weight_kg=70.0,
        height_cm=170.0,
        heart_rate=76,
        fpg_mmol=6.2,
        dorsalis_pedis=codes.PULSE_NORMAL,
        hypoglycaemia=1,
        medication_adherence=1,
        adverse_reaction=codes.NO_ADR,
        medications=(Medication("二甲双胍", 3, 500.0),),
        doctor="李医生",
    )
    return replace(base, **overrides)


@pytest.fixture(scope="session")
def hypertension_visit():
    """Build a valid, controlled clinic hypertension visit; keyword arguments replace boxes."""
    return _hypertension


@pytest.fixture(scope="session")
def diabetes_visit():
    """Build a valid, controlled clinic diabetes visit; keyword arguments replace boxes."""
    return _diabetes


# ---- hypothesis strategies: valid visits of every shape -------------------------------------------------
# Every strategy is built once, here, and only drawn from inside the composites: hypothesis validates a
# strategy and works out its properties the first time it is drawn from, so a strategy built anew inside
# each draw paid that again for every box of every example (80 % of these tests' time: 10 s of CPU for
# the follow-up property tests). The choices drawn, and so the examples, are the same.

_optional = lambda strategy: st.none() | strategy  # noqa: E731  (reads better inline)
_one_decimal = lambda low, high: st.integers(low * 10, high * 10).map(lambda n: n / 10)  # noqa: E731

_BOOL = st.booleans()
_ONE_IN_FIVE, _ONE_IN_SIX, _ONE_IN_TEN = st.integers(0, 4), st.integers(0, 5), st.integers(0, 9)
_VISIT_MODE = st.sampled_from(sorted(codes.VISIT_MODES))
_VISIT_DATE = st.dates(date(2015, 1, 1), TODAY)
_SBP = st.integers(70, 260)
_DBP_UP_TO = {high: st.integers(40, high) for high in range(69, 181)}  # dbp below sbp, at most 180
_WEIGHT, _HEIGHT = _optional(_one_decimal(35, 150)), _optional(_one_decimal(140, 195))
_HEART_RATE, _TEMPERATURE = _optional(st.integers(40, 160)), _optional(_one_decimal(35, 41))
_REACTION = st.sampled_from([None, codes.NO_ADR, codes.NO_ADR, codes.ADR])
_CIGARETTES, _CIGARETTES_TARGET = _optional(st.integers(0, 40)), _optional(st.just(0))
_LIQUOR, _SALT = _optional(_one_decimal(0, 8)), _optional(st.integers(1, 3))
_EXERCISE_TIMES, _EXERCISE_MINUTES = _optional(st.integers(0, 14)), _optional(st.integers(0, 120))
_ONE_TO_THREE = _optional(st.integers(1, 3))
_MEDICATIONS = st.lists(
    st.builds(
        Medication,
        st.sampled_from(["氨氯地平", "缬沙坦", "二甲双胍"]),
        st.integers(1, 3),
        st.sampled_from([5.0, 80.0, 500.0]),
    ),
    max_size=3,
)
_DAYS_TO_NEXT = _optional(st.integers(1, 120))
_FPG = _optional(_one_decimal(2, 30))
_PULSE, _PULSE_SIDE = _optional(st.sampled_from([1, 2, 3])), st.sampled_from([1, 2, 3])
_HBA1C, _HBA1C_DAYS_BEFORE = _one_decimal(4, 14), st.integers(0, 90)
_STAPLE, _STAPLE_TARGET = _optional(st.integers(100, 600)), _optional(st.integers(150, 400))


def _shared_boxes(symptom_codes, sign_codes):
    """The strategy for the boxes both forms share, given the condition's symptom and danger-sign codes."""
    others = sorted(code for code in symptom_codes if code != codes.NO_SYMPTOMS)
    symptoms = st.lists(st.sampled_from(others), unique=True, max_size=3)
    signs = st.lists(st.sampled_from(sorted(sign_codes)), unique=True, max_size=3)

    @st.composite
    def boxes(draw) -> dict:
        mode = draw(_VISIT_MODE)
        face_to_face = mode in codes.FACE_TO_FACE_MODES
        visit_date = draw(_VISIT_DATE)
        chosen_symptoms = (codes.NO_SYMPTOMS,) if draw(_BOOL) else tuple(draw(symptoms))
        danger = draw(signs) if draw(_ONE_IN_FIVE) == 0 else []
        out = {
            "visit_date": visit_date,
            "visit_mode": mode,
            "symptoms": chosen_symptoms,
            "danger_signs": tuple(danger),
            "danger_sign_other": "需要专科处理" if codes.UNMANAGEABLE in danger else "",
            "pregnant": draw(_ONE_IN_TEN) == 0,
            "lactating": draw(_ONE_IN_TEN) == 0,
        }
        if face_to_face:
            sbp = draw(_SBP)
            out.update(
                sbp=sbp,
                dbp=draw(_DBP_UP_TO[min(sbp - 1, 180)]),
                weight_kg=draw(_WEIGHT),
                height_cm=draw(_HEIGHT),
                heart_rate=draw(_HEART_RATE),
                temperature_c=draw(_TEMPERATURE),
            )
        reaction = draw(_REACTION)
        out.update(
            cigarettes_per_day=draw(_CIGARETTES),
            cigarettes_per_day_target=draw(_CIGARETTES_TARGET),
            liquor_liang_per_day=draw(_LIQUOR),
            salt_intake=draw(_SALT),
            exercise_times_per_week=draw(_EXERCISE_TIMES),
            exercise_minutes_per_time=draw(_EXERCISE_MINUTES),
            psychological_adjustment=draw(_ONE_TO_THREE),
            compliance=draw(_ONE_TO_THREE),
            medication_adherence=draw(_ONE_TO_THREE),
            adverse_reaction=reaction,
            adverse_reaction_text="头晕乏力" if reaction == codes.ADR else "",
            adverse_reaction_hard_to_control=reaction == codes.ADR and draw(_BOOL),
            new_or_worse_complication=draw(_ONE_IN_SIX) == 0,
            medications=tuple(draw(_MEDICATIONS)),
        )
        days_to_next = draw(_DAYS_TO_NEXT)
        out["next_visit_date"] = None if days_to_next is None else visit_date + timedelta(days=days_to_next)
        return out

    return boxes()


_HYPERTENSION_BOXES = _shared_boxes(codes.HYPERTENSION_SYMPTOMS, codes.HYPERTENSION_DANGER_SIGNS)
_DIABETES_BOXES = _shared_boxes(codes.DIABETES_SYMPTOMS, codes.DIABETES_DANGER_SIGNS)


@st.composite
def hypertension_visits(draw) -> HypertensionVisit:
    """Any valid hypertension visit."""
    return HypertensionVisit(**draw(_HYPERTENSION_BOXES))


@st.composite
def diabetes_visits(draw) -> DiabetesVisit:
    """Any valid diabetes visit, including glucose boxes."""
    boxes = draw(_DIABETES_BOXES)
    if boxes["visit_mode"] in codes.FACE_TO_FACE_MODES:
        fpg = draw(_FPG)
        boxes.update(
            fpg_mmol=fpg,
            fpg_missing_reason="" if fpg is not None else "未空腹",
            dorsalis_pedis=draw(_PULSE),
        )
        if boxes["dorsalis_pedis"] in (2, 3):
            boxes["dorsalis_pedis_side"] = draw(_PULSE_SIDE)
    if draw(_BOOL):
        boxes.update(
            hba1c_percent=draw(_HBA1C),
            hba1c_date=boxes["visit_date"] - timedelta(days=draw(_HBA1C_DAYS_BEFORE)),
        )
    boxes.update(
        staple_food_g_per_day=draw(_STAPLE),
        staple_food_g_per_day_target=draw(_STAPLE_TARGET),
        hypoglycaemia=draw(_ONE_TO_THREE),
    )
    if draw(_BOOL):
        boxes.update(insulin_type="门冬胰岛素", insulin_usage_dose="三餐前皮下注射，每次6单位")
    return DiabetesVisit(**boxes)


@pytest.fixture(scope="session")
def strategies():
    """Hypothesis strategies for valid visits (session-scoped so @given tests may use them via st.data())."""
    return SimpleNamespace(hypertension=hypertension_visits(), diabetes=diabetes_visits(), today=TODAY)
