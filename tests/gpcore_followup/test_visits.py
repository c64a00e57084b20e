"""Visit records as JSON, code lists, BMI and liquor equivalents."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpcore.followup import (
    DiabetesVisit,
    HypertensionVisit,
    RuleSettings,
    VisitDataError,
    bmi,
    codes,
    liquor_equivalent_liang,
)


@given(data=st.data())
def test_json_round_trip(strategies, data):
    for visit in (data.draw(strategies.hypertension), data.draw(strategies.diabetes)):
        wire = json.loads(json.dumps(visit.to_dict(), ensure_ascii=False))
        assert type(visit).from_dict(wire) == visit


def test_from_dict_names_every_bad_field():
    with pytest.raises(VisitDataError) as raised:
        HypertensionVisit.from_dict({"visit_mode": "clinic", "sbp": True, "weight": 60})
    assert {(p.field, p.code) for p in raised.value.problems} == {
        ("visit_mode", "not_integer"),
        ("sbp", "not_integer"),
        ("weight", "unknown_field"),
        ("visit_date", "required"),
    }


def test_integral_floats_from_json_clients_are_whole_numbers():
    visit = HypertensionVisit.from_dict(
        {"visit_date": "2026-01-05", "visit_mode": 1.0, "sbp": 120.0, "dbp": 80}
    )
    assert visit.visit_mode == 1 and type(visit.sbp) is int


# Every box of the national forms (standards.md s.1-2), by the name it has here.
HYPERTENSION_FORM = {
    "visit_date",
    "visit_mode",
    "symptoms",
    "symptoms_other",
    "sbp",
    "dbp",
    "weight_kg",
    "weight_target_kg",
    "height_cm",
    "bmi",
    "bmi_target",
    "heart_rate",
    "other_signs",
    "cigarettes_per_day",
    "cigarettes_per_day_target",
    "liquor_liang_per_day",
    "liquor_liang_per_day_target",
    "exercise_times_per_week",
    "exercise_times_per_week_target",
    "exercise_minutes_per_time",
    "exercise_minutes_per_time_target",
    "salt_intake",
    "salt_intake_target",
    "psychological_adjustment",
    "compliance",
    "tests_since_last_visit",
    "medication_adherence",
    "adverse_reaction",
    "adverse_reaction_text",
    "classification",
    "medications",
    "other_drugs",
    "referral_reason",
    "referral_institution",
    "referral_department",
    "next_visit_date",
    "doctor",
}
DIABETES_ADDITIONS = {
    "dorsalis_pedis",
    "dorsalis_pedis_side",
    "staple_food_g_per_day",
    "staple_food_g_per_day_target",
    "fpg_mmol",
    "hba1c_percent",
    "hba1c_date",
    "hypoglycaemia",
    "insulin_type",
    "insulin_usage_dose",
}


def test_every_form_box_is_a_field():
    hypertension = {f.name for f in fields(HypertensionVisit)}
    assert HYPERTENSION_FORM <= hypertension
    assert HYPERTENSION_FORM | DIABETES_ADDITIONS <= {f.name for f in fields(DiabetesVisit)}
    # The flags the emergency rules need (pregnancy, temperature, danger signs, complication) are boxes too.
    assert {
        "pregnant",
        "lactating",
        "temperature_c",
        "danger_signs",
        "new_or_worse_complication",
    } <= hypertension


@pytest.mark.parametrize(
    "code_list, size",
    [
        (codes.VISIT_MODES, 3),
        (codes.HYPERTENSION_SYMPTOMS, 9),
        (codes.DIABETES_SYMPTOMS, 9),
        (codes.SALT_INTAKE, 3),
        (codes.PSYCHOLOGICAL_ADJUSTMENT, 3),
        (codes.COMPLIANCE, 3),
        (codes.MEDICATION_ADHERENCE, 3),
        (codes.ADVERSE_REACTION, 2),
        (codes.VISIT_CLASSIFICATIONS, 4),
        (codes.DORSALIS_PEDIS_PULSE, 3),
        (codes.PULSE_SIDES, 3),
        (codes.HYPOGLYCAEMIA, 3),
    ],
)
def test_form_code_lists_number_from_one_with_labels(code_list, size):
    assert list(code_list) == list(range(1, size + 1))
    assert all(label.zh and label.en for label in code_list.values())


def test_symptom_lists_follow_the_forms():
    assert (
        codes.HYPERTENSION_SYMPTOMS[7].zh == "鼻衄出血不止"
        and codes.DIABETES_SYMPTOMS[9].zh == "体重明显下降"
    )


@pytest.mark.parametrize(
    "weight, height, expected",
    [
        (70.0, 170.0, 24.2),
        (60.0, 160.0, 23.4),
        (100.0, 200.0, 25.0),
        (71.4, 172.0, 24.1),  # 24.1346...
        (39.2, 140.0, 20.0),
    ],
)
def test_bmi_is_weight_over_height_squared_to_one_decimal(weight, height, expected):
    assert bmi(weight, height) == expected


def test_bmi_rounds_half_up():
    assert bmi(48.6, 180.0) == 15.0
    assert bmi(61.36, 160.0) == 24.0  # 23.96875
    assert bmi(62.08, 160.0) == 24.3  # 24.25 exactly: half-up, not banker's 24.2


def test_liquor_equivalents_follow_the_documented_rule():
    # beer /10, wine /4, rice wine /5; a 500 mL (10 liang) bottle of beer = 1 liang of liquor.
    assert liquor_equivalent_liang({"beer": 10}) == 1.0
    assert liquor_equivalent_liang({"liquor": 1, "wine": 4, "rice_wine": 5}) == 3.0
    other_rule = RuleSettings(liquor_divisors={"liquor": 1.0, "beer": 12.8, "wine": 4.0, "rice_wine": 5.0})
    assert liquor_equivalent_liang({"beer": 12.8}, other_rule) == 1.0
    with pytest.raises(ValueError):
        liquor_equivalent_liang({"cider": 2})


def test_settings_refuse_an_unknown_edition_and_impossible_intervals():
    with pytest.raises(ValueError):
        RuleSettings(edition="2009")
    with pytest.raises(ValueError):
        RuleSettings(min_routine_interval_days=10)


def test_dates_travel_as_iso_text():
    visit = DiabetesVisit(
        visit_date=date(2026, 3, 1), visit_mode=1, hba1c_percent=6.8, hba1c_date=date(2026, 2, 20)
    )
    data = visit.to_dict()
    assert data["visit_date"] == "2026-03-01" and data["hba1c_date"] == "2026-02-20"
