"""Validation of follow-up records: ranges, required boxes by visit mode, codes, cross-field rules."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpcore.followup import (
    DiabetesVisit,
    HypertensionVisit,
    check_diabetes_visit,
    check_hypertension_visit,
    parse_diabetes_visit,
    parse_hypertension_visit,
    validate_diabetes_visit,
    validate_hypertension_visit,
)
from gpcore.followup.visits import field_specs

P = pytest.param
TODAY = date(2026, 11, 22)


def _clinic(**boxes) -> dict:
    return {"visit_date": "2026-11-20", "visit_mode": 1, "symptoms": [1], "sbp": 132, "dbp": 84, **boxes}


def _diabetes_clinic(**boxes) -> dict:
    return _clinic(**{"fpg_mmol": 6.4, **boxes})


def _codes(problems) -> set[tuple[str, str]]:
    return {(problem.field, problem.code) for problem in problems}


def test_a_plain_clinic_visit_is_valid():
    assert validate_hypertension_visit(_clinic(), today=TODAY) == {}
    assert validate_diabetes_visit(_diabetes_clinic(), today=TODAY) == {}


RANGE_CASES = [
    P("sbp", 50, 49, id="SBP 50-300 (low edge)"),
    P("sbp", 300, 301, id="SBP 50-300 (high edge)"),
    P("dbp", 30, 29, id="DBP 30-200 (low edge)"),
    P("heart_rate", 20, 19, id="heart rate 20-250 (low edge)"),
    P("heart_rate", 250, 251, id="heart rate 20-250 (high)"),
    P("weight_kg", 2, 1.9, id="weight 2-300 kg (low)"),
    P("weight_kg", 300, 300.5, id="weight 2-300 kg (high)"),
    P("height_cm", 250, 251, id="height 40-250 cm"),
    P("temperature_c", 45, 45.1, id="temperature 30-45 C"),
    P("cigarettes_per_day", 0, -1, id="cigarettes per day: non-smoker 0, never negative"),
    P("liquor_liang_per_day", 0, -0.5, id="liquor per day: non-drinker 0, never negative"),
]


@pytest.mark.parametrize("name, accepted, refused", RANGE_CASES)
def test_plausible_ranges(name, accepted, refused):
    boxes = {"sbp": {"dbp": 40}, "dbp": {"sbp": 250}}.get(name, {})
    assert validate_hypertension_visit(_clinic(**{**boxes, name: accepted}), today=TODAY) == {}
    errors = validate_hypertension_visit(_clinic(**{**boxes, name: refused}), today=TODAY)
    assert list(errors) == [name] and "between" in errors[name][0]


@pytest.mark.parametrize(
    "name, accepted, refused",
    [
        P("fpg_mmol", 1, 0.9, id="glucose 1-40 mmol/L (low)"),
        P("fpg_mmol", 40, 40.1, id="glucose 1-40 mmol/L (high)"),
        P("hba1c_percent", 3, 2.9, id="HbA1c 3-20 % (low)"),
        P("hba1c_percent", 20, 20.1, id="HbA1c 3-20 % (high)"),
    ],
)
def test_diabetes_ranges(name, accepted, refused):
    extra = {"hba1c_date": "2026-11-01"} if name == "hba1c_percent" else {}
    assert validate_diabetes_visit(_diabetes_clinic(**{name: accepted, **extra}), today=TODAY) == {}
    assert list(validate_diabetes_visit(_diabetes_clinic(**{name: refused, **extra}), today=TODAY)) == [name]


INVALID_CASES = [
    P(_clinic(dbp=132), {("dbp", "not_below_sbp")}, id="DBP below SBP (equal refused)"),
    P(_clinic(sbp=None, dbp=None), {("sbp", "required")}, id="clinic/home visits require BP"),
    P(_clinic(visit_mode=2, sbp=None, dbp=None), {("sbp", "required")}, id="home visits require BP"),
    P(_clinic(dbp=None), {("dbp", "required")}, id="SBP/DBP recorded as a pair"),
    P(
        _clinic(visit_mode=3),
        {("sbp", "not_measured_by_phone"), ("dbp", "not_measured_by_phone")},
        id="a phone visit has no BP measured",
    ),
    P(
        _clinic(visit_mode=3, sbp=None, dbp=None, weight_kg=60, heart_rate=70),
        {("weight_kg", "not_measured_by_phone"), ("heart_rate", "not_measured_by_phone")},
        id="a phone visit has no weight/heart rate measured",
    ),
    P(_clinic(visit_mode=4), {("visit_mode", "not_in_list")}, id="visit mode 1 clinic, 2 home, 3 phone"),
    P(
        _clinic(symptoms=[1, 2]),
        {("symptoms", "none_with_others")},
        id="'none' symptom exclusive with others",
    ),
    P(
        _clinic(symptoms=[1], symptoms_other="乏力"),
        {("symptoms", "none_with_others")},
        id="'none' symptom exclusive with other text",
    ),
    P(_clinic(symptoms=[10]), {("symptoms", "not_in_list")}, id="symptoms 1-9"),
    P(_clinic(symptoms=[2, 2]), {("symptoms", "duplicate")}, id="symptom codes distinct"),
    P(_clinic(visit_date="2026-11-23"), {("visit_date", "in_future")}, id="visit date not in the future"),
    P(
        _clinic(visit_date="2008-12-31"),
        {("visit_date", "too_early")},
        id="visit date not before the service began",
    ),
    P(_clinic(visit_date="2026-02-30"), {("visit_date", "not_date")}, id="visit date a real date"),
    P({"visit_mode": 1, "sbp": 120, "dbp": 80}, {("visit_date", "required")}, id="visit date required"),
    P(
        _clinic(next_visit_date="2026-11-20"),
        {("next_visit_date", "not_after_visit")},
        id="next visit after visit",
    ),
    P(_clinic(salt_intake=4), {("salt_intake", "not_in_list")}, id="salt intake light/medium/heavy"),
    P(
        _clinic(psychological_adjustment=0),
        {("psychological_adjustment", "not_in_list")},
        id="psychological adjustment 1 good, 2 fair, 3 poor",
    ),
    P(
        _clinic(medication_adherence=4),
        {("medication_adherence", "not_in_list")},
        id="medication adherence 1 regular, 2 intermittent, 3 not taking",
    ),
    P(_clinic(classification=5), {("classification", "not_in_list")}, id="visit classification 1-4"),
    P(
        _clinic(adverse_reaction=2),
        {("adverse_reaction_text", "required")},
        id="adverse drug reaction 2 yes (describe)",
    ),
    P(
        _clinic(adverse_reaction=1, adverse_reaction_text="咳嗽"),
        {("adverse_reaction", "inconsistent")},
        id="adverse drug reaction 1 none has no description",
    ),
    P(
        _clinic(medications=[{"name": "a", "times_per_day": 1, "mg_per_time": 5}] * 4),
        {("medications", "too_many")},
        id="medications: up to 3 named drugs",
    ),
    P(
        _clinic(medications=[{"name": "缬沙坦", "times_per_day": 0, "mg_per_time": 80}]),
        {("medications.0.times_per_day", "out_of_range")},
        id="medications: times per day",
    ),
    P(
        _clinic(medications=[{"name": "缬沙坦", "times_per_day": 1}]),
        {("medications.0.mg_per_time", "required")},
        id="medications: mg per time",
    ),
    P(_clinic(referral_institution="县医院"), {("referral_reason", "required")}, id="referral: reason"),
    P(
        _clinic(referral_reason="血压控制不满意"),
        {("referral_institution", "required")},
        id="referral: institution and department",
    ),
    P(_clinic(weight_kg=70, height_cm=170, bmi=22.0), {("bmi", "mismatch")}, id="BMI = weight / height^2"),
    P(
        _clinic(danger_signs=["unmanageable_condition"]),
        {("danger_sign_other", "required")},
        id="another condition the facility cannot handle (described)",
    ),
    P(
        _clinic(danger_signs=["acetone_breath"]),
        {("danger_signs", "not_in_list")},
        id="hypertension danger signs are section 1's list",
    ),
    P(_clinic(sbp="130"), {("sbp", "not_integer")}, id="SBP is a number of mmHg"),
    P(_clinic(pregnant="yes"), {("pregnant", "not_bool")}, id="pregnancy flag true/false"),
    P(_clinic(weight_kg=10**400), {("weight_kg", "too_large")}, id="weight 2-300 kg (a 400-digit number)"),
    P(_clinic(sbp=10**5000), {("sbp", "too_large")}, id="SBP 50-300 (a 5000-digit number)"),
    P(_clinic(symptoms=[10**5000]), {("symptoms", "too_large")}, id="symptoms 1-9 (a 5000-digit code)"),
    P(
        _clinic(visit_date="9999-12-31", next_visit_date="9999-12-31"),
        {("visit_date", "in_future"), ("next_visit_date", "not_after_visit")},
        id="visit date not in the future (9999)",
    ),
    P(
        {**_clinic(), 10**5000: 1},
        {("<int key>", "unknown_field")},
        id="unknown boxes refused (a non-text key)",
    ),
    P(_clinic(colour="red"), {("colour", "unknown_field")}, id="unknown boxes refused"),
]


@pytest.mark.parametrize("data, expected", INVALID_CASES)
def test_invalid_hypertension_records(data, expected):
    assert _codes(check_hypertension_visit(data, today=TODAY)) == expected


DIABETES_INVALID_CASES = [
    P(_clinic(), {("fpg_mmol", "required")}, id="clinic/home visits require FPG or note"),
    P(_clinic(fpg_missing_reason="患者未空腹"), set(), id="FPG or note: the note is enough"),
    P(
        _diabetes_clinic(fpg_missing_reason="未空腹"),
        {("fpg_missing_reason", "inconsistent")},
        id="FPG or note, not both",
    ),
    P(_clinic(visit_mode=3, sbp=None, dbp=None), set(), id="a phone visit needs no FPG"),
    P(
        _clinic(visit_mode=3, sbp=None, dbp=None, fpg_mmol=6.0),
        {("fpg_mmol", "not_measured_by_phone")},
        id="a phone visit has no FPG measured",
    ),
    P(_diabetes_clinic(hba1c_percent=7.1), {("hba1c_date", "required")}, id="HbA1c % with test date"),
    P(
        _diabetes_clinic(hba1c_date="2026-11-01"),
        {("hba1c_percent", "required")},
        id="HbA1c test date with a value",
    ),
    P(
        _diabetes_clinic(hba1c_percent=7.1, hba1c_date="2026-11-21"),
        {("hba1c_date", "after_visit")},
        id="HbA1c tested before the visit",
    ),
    P(
        _diabetes_clinic(dorsalis_pedis=2),
        {("dorsalis_pedis_side", "required")},
        id="dorsalis pedis pulse weakened (both, left, right)",
    ),
    P(
        _diabetes_clinic(dorsalis_pedis=1, dorsalis_pedis_side=2),
        {("dorsalis_pedis_side", "inconsistent")},
        id="dorsalis pedis side only when weakened or absent",
    ),
    P(
        _diabetes_clinic(hypoglycaemia=4),
        {("hypoglycaemia", "not_in_list")},
        id="hypoglycaemia 1 none, 2 occasional, 3 frequent",
    ),
    P(
        _diabetes_clinic(insulin_type="甘精胰岛素"),
        {("insulin_usage_dose", "required")},
        id="insulin: type; usage and dose",
    ),
    P(
        _diabetes_clinic(symptoms=[1, 9]),
        {("symptoms", "none_with_others")},
        id="diabetes 'none' symptom exclusive",
    ),
    P(
        _diabetes_clinic(staple_food_g_per_day=2500),
        {("staple_food_g_per_day", "out_of_range")},
        id="staple food grams per day",
    ),
]


@pytest.mark.parametrize("data, expected", DIABETES_INVALID_CASES)
def test_invalid_diabetes_records(data, expected):
    assert _codes(check_diabetes_visit(data, today=TODAY)) == expected


def test_errors_dict_is_json_for_a_422_in_english_and_chinese():
    data = _clinic(sbp=400, visit_date="2027-01-01")
    english = validate_hypertension_visit(data, today=TODAY)
    chinese = validate_hypertension_visit(data, today=TODAY, language="zh")
    assert english == {
        "visit_date": ["Visit date cannot be after today (2026-11-22)."],
        "sbp": ["Systolic BP must be between 50 and 300 mmHg."],
    }
    assert chinese == {
        "visit_date": ["随访日期不能晚于今天（2026-11-22）。"],
        "sbp": ["收缩压应在50～300mmHg之间。"],
    }
    json.dumps(english), json.dumps(chinese, ensure_ascii=False)


def test_a_visit_object_validates_like_its_json(hypertension_visit):
    visit = hypertension_visit(visit_date=date(2026, 12, 1))
    assert validate_hypertension_visit(visit, today=TODAY) == validate_hypertension_visit(
        visit.to_dict(), today=TODAY
    )
    assert "visit_date" in validate_hypertension_visit(visit, today=TODAY)


def test_not_an_object():
    assert validate_hypertension_visit([1, 2], today=TODAY) == {
        "_schema": ["The visit must be a JSON object."]
    }


@given(data=st.data())
def test_generated_valid_visits_pass_validation(strategies, data):
    visit = data.draw(strategies.hypertension)
    assert validate_hypertension_visit(visit.to_dict(), today=TODAY) == {}
    diabetes = data.draw(strategies.diabetes)
    assert validate_diabetes_visit(diabetes.to_dict(), today=TODAY) == {}


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**5000)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_keys = (
    st.sampled_from([spec.name for spec in field_specs(DiabetesVisit)]) | st.text(max_size=12) | st.integers()
)


@given(data=st.dictionaries(_keys, _json | st.dates().map(str), max_size=20) | _json)
def test_validation_never_raises_on_arbitrary_data(data):
    # Errors come back as a dict of message lists, whatever the tablet sends.
    for validate in (validate_hypertension_visit, validate_diabetes_visit):
        for language in ("en", "zh"):
            errors = validate(data, today=TODAY, language=language)
            assert isinstance(errors, dict)
            assert all(
                isinstance(k, str) and v and all(isinstance(m, str) for m in v) for k, v in errors.items()
            )
    json.dumps(errors)


@given(
    data=st.data(), name=st.sampled_from([spec.name for spec in field_specs(HypertensionVisit)]), value=_json
)
def test_one_bad_box_never_raises(strategies, data, name, value):
    record = data.draw(strategies.hypertension).to_dict()
    record[name] = value
    errors = validate_hypertension_visit(record, today=TODAY)
    if not errors:  # the value happened to be acceptable: it must then load
        HypertensionVisit.from_dict(record)


def test_parse_validates_and_loads_in_one_pass():
    visit, problems = parse_diabetes_visit(_diabetes_clinic(hypoglycaemia=2), today=TODAY)
    assert problems == [] and visit == DiabetesVisit.from_dict(_diabetes_clinic(hypoglycaemia=2))
    assert visit.hypoglycaemia == 2 and visit.insulin_type == "" and visit.medications == ()
    visit, problems = parse_hypertension_visit(_clinic(sbp=301), today=TODAY)
    assert visit is None and [(p.field, p.code) for p in problems] == [("sbp", "out_of_range")]


def test_loaded_visits_stay_immutable():
    visit, _ = parse_hypertension_visit(_clinic(), today=TODAY)
    with pytest.raises(FrozenInstanceError):
        visit.sbp = 200


# --- issue 14: pregnancy for a male resident, answers to urgent symptom boxes ------------------------------

MATERNAL_CASES = [
    P("1", {"pregnant": True}, {("pregnant", "not_for_male")}, id="male resident marked pregnant"),
    P(1, {"lactating": True}, {("lactating", "not_for_male")}, id="male resident (int code) marked lactating"),
    P("1", {"pregnant": True, "lactating": True}, {("pregnant", "not_for_male"), ("lactating", "not_for_male")},
      id="male resident marked both"),
    P("2", {"pregnant": True, "lactating": True}, set(), id="female resident"),
    P("0", {"pregnant": True}, set(), id="sex unknown (0): not refused"),
    P(None, {"pregnant": True}, set(), id="sex not given by the caller"),
    P("1", {"pregnant": False}, set(), id="male resident, box unticked"),
]


@pytest.mark.parametrize("sex, boxes, found", MATERNAL_CASES)
@pytest.mark.parametrize("check, form", [(check_hypertension_visit, _clinic), (check_diabetes_visit, _diabetes_clinic)])
def test_pregnancy_and_lactation_are_refused_for_a_male_resident(check, form, sex, boxes, found):
    assert _codes(check(form(**boxes), today=TODAY, sex=sex)) == found


def test_the_male_pregnancy_message_is_chinese_and_names_the_field():
    errors = validate_hypertension_visit(_clinic(pregnant=True), today=TODAY, sex="1", language="zh")
    assert errors == {"pregnant": ["该居民为男性，不能勾选妊娠期。"]}
    visit, problems = parse_diabetes_visit(_diabetes_clinic(lactating=True), today=TODAY, sex="1")
    assert visit is None and _codes(problems) == {("lactating", "not_for_male")}


ANSWER_CASES = [
    P({"symptoms": [6], "symptoms_not_urgent": [6]}, set(), id="box 6 ticked and answered"),
    P({"symptoms": [2], "symptoms_not_urgent": [2]}, {("symptoms_not_urgent", "not_urgent_box")},
      id="box 2 names no urgent sign: nothing to answer"),
    P({"symptoms": [3], "symptoms_not_urgent": [6]}, {("symptoms_not_urgent", "not_ticked")},
      id="box 6 answered but not ticked"),
    P({"symptoms": [6], "symptoms_not_urgent": [6], "danger_signs": ["chest_tightness"]},
      {("symptoms_not_urgent", "inconsistent")}, id="box 6 answered not urgent while chest tightness is ticked"),
    P({"symptoms": [6], "symptoms_not_urgent": ["6"]}, {("symptoms_not_urgent", "not_integer")},
      id="answer codes are integers"),
]


@pytest.mark.parametrize("boxes, found", ANSWER_CASES)
def test_answers_to_urgent_symptom_boxes(boxes, found):
    assert _codes(check_hypertension_visit(_clinic(**boxes), today=TODAY)) == found


def test_an_unanswered_record_keeps_its_old_canonical_form():
    # symptoms_not_urgent came later: left out while empty, so a record signed before it hashes the same.
    visit, _ = parse_hypertension_visit(_clinic(symptoms=[6]), today=TODAY)
    assert "symptoms_not_urgent" not in visit.to_dict()
    visit, _ = parse_hypertension_visit(_clinic(symptoms=[6], symptoms_not_urgent=[6]), today=TODAY)
    assert visit.to_dict()["symptoms_not_urgent"] == [6]
