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

_optional = lambda strategy: st.none() | strategy  # noqa: E731  (reads better inline)
_one_decimal = lambda low, high: st.integers(low * 10, high * 10).map(lambda n: n / 10)  # noqa: E731


@st.composite
def _symptoms(draw, symptom_codes) -> tuple[int, ...]:
    if draw(st.booleans()):
        return (codes.NO_SYMPTOMS,)
    others = sorted(code for code in symptom_codes if code != codes.NO_SYMPTOMS)
    return tuple(draw(st.lists(st.sampled_from(others), unique=True, max_size=3)))


@st.composite
def _danger(draw, sign_codes) -> dict:
    signs = (
        draw(st.lists(st.sampled_from(sorted(sign_codes)), unique=True, max_size=3))
        if draw(st.integers(0, 4)) == 0
        else []
    )
    other = "需要专科处理" if codes.UNMANAGEABLE in signs else ""
    return {"danger_signs": tuple(signs), "danger_sign_other": other}


@st.composite
def _shared_boxes(draw, symptom_codes, sign_codes) -> dict:
    mode = draw(st.sampled_from(sorted(codes.VISIT_MODES)))
    face_to_face = mode in codes.FACE_TO_FACE_MODES
    visit_date = draw(st.dates(date(2015, 1, 1), TODAY))
    boxes = {
        "visit_date": visit_date,
        "visit_mode": mode,
        "symptoms": draw(_symptoms(symptom_codes)),
        **draw(_danger(sign_codes)),
        "pregnant": draw(st.integers(0, 9)) == 0,
        "lactating": draw(st.integers(0, 9)) == 0,
    }
    if face_to_face:
        sbp = draw(st.integers(70, 260))
        boxes.update(
            sbp=sbp,
            dbp=draw(st.integers(40, min(sbp - 1, 180))),
            weight_kg=draw(_optional(_one_decimal(35, 150))),
            height_cm=draw(_optional(_one_decimal(140, 195))),
            heart_rate=draw(_optional(st.integers(40, 160))),
            temperature_c=draw(_optional(_one_decimal(35, 41))),
        )
    reaction = draw(st.sampled_from([None, codes.NO_ADR, codes.NO_ADR, codes.ADR]))
    boxes.update(
        cigarettes_per_day=draw(_optional(st.integers(0, 40))),
        cigarettes_per_day_target=draw(_optional(st.just(0))),
        liquor_liang_per_day=draw(_optional(_one_decimal(0, 8))),
        salt_intake=draw(_optional(st.integers(1, 3))),
        exercise_times_per_week=draw(_optional(st.integers(0, 14))),
        exercise_minutes_per_time=draw(_optional(st.integers(0, 120))),
        psychological_adjustment=draw(_optional(st.integers(1, 3))),
        compliance=draw(_optional(st.integers(1, 3))),
        medication_adherence=draw(_optional(st.integers(1, 3))),
        adverse_reaction=reaction,
        adverse_reaction_text="头晕乏力" if reaction == codes.ADR else "",
        adverse_reaction_hard_to_control=reaction == codes.ADR and draw(st.booleans()),
        new_or_worse_complication=draw(st.integers(0, 5)) == 0,
        medications=tuple(
            draw(
                st.lists(
                    st.builds(
                        Medication,
                        st.sampled_from(["氨氯地平", "缬沙坦", "二甲双胍"]),
                        st.integers(1, 3),
                        st.sampled_from([5.0, 80.0, 500.0]),
                    ),
                    max_size=3,
                )
            )
        ),
        next_visit_date=draw(
            _optional(st.integers(1, 120).map(lambda days: visit_date + timedelta(days=days)))
        ),
    )
    return boxes


@st.composite
def hypertension_visits(draw) -> HypertensionVisit:
    """Any valid hypertension visit."""
    return HypertensionVisit(
        **draw(_shared_boxes(codes.HYPERTENSION_SYMPTOMS, codes.HYPERTENSION_DANGER_SIGNS))
    )


@st.composite
def diabetes_visits(draw) -> DiabetesVisit:
    """Any valid diabetes visit, including glucose boxes."""
    boxes = draw(_shared_boxes(codes.DIABETES_SYMPTOMS, codes.DIABETES_DANGER_SIGNS))
    if boxes["visit_mode"] in codes.FACE_TO_FACE_MODES:
        fpg = draw(_optional(_one_decimal(2, 30)))
        boxes.update(
            fpg_mmol=fpg,
            fpg_missing_reason="" if fpg is not None else "未空腹",
            dorsalis_pedis=draw(_optional(st.sampled_from([1, 2, 3]))),
        )
        if boxes["dorsalis_pedis"] in (2, 3):
            boxes["dorsalis_pedis_side"] = draw(st.sampled_from([1, 2, 3]))
    if draw(st.booleans()):
        boxes.update(
            hba1c_percent=draw(_one_decimal(4, 14)),
            hba1c_date=boxes["visit_date"] - timedelta(days=draw(st.integers(0, 90))),
        )
    boxes.update(
        staple_food_g_per_day=draw(_optional(st.integers(100, 600))),
        staple_food_g_per_day_target=draw(_optional(st.integers(150, 400))),
        hypoglycaemia=draw(_optional(st.integers(1, 3))),
    )
    if draw(st.booleans()):
        boxes.update(insulin_type="门冬胰岛素", insulin_usage_dose="三餐前皮下注射，每次6单位")
    return DiabetesVisit(**boxes)


@pytest.fixture(scope="session")
def strategies():
    """Hypothesis strategies for valid visits (session-scoped so @given tests may use them via st.data())."""
    return SimpleNamespace(hypertension=hypertension_visits(), diabetes=diabetes_visits(), today=TODAY)
