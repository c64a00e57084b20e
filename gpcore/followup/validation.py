"""Validation of follow-up records: plausible values, required boxes by visit mode, codes in their lists.

Validation never raises on bad input; it returns Problems, or an errors dict (field -> messages) that the
server can send as a 422 `errors` payload and the tablet can show in Chinese.  Nested fields are named
with dots: `medications.0.mg_per_time`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from . import codes
from .codes import Label
from .fields import Problem, sentence_start
from .measures import bmi
from .visits import (
    DiabetesVisit,
    FollowUpVisit,
    HypertensionVisit,
    build_visit,
    coerce_fields,
    field_label,
    field_specs,
)

# The basic public health service began in 2009; an earlier follow-up date is a typing slip.
EARLIEST_VISIT_DATE = date(2009, 1, 1)
MAX_BOOKING_DAYS = 366
BMI_TOLERANCE = 0.1  # a hand-computed BMI may differ from ours in the last rounded digit

# Plausible values, inclusive: beyond these a number is a typing slip, not a patient.
RANGES: dict[str, tuple[float, float, str]] = {
    "sbp": (50, 300, "mmHg"),
    "dbp": (30, 200, "mmHg"),
    "weight_kg": (2, 300, "kg"),
    "weight_target_kg": (2, 300, "kg"),
    "height_cm": (40, 250, "cm"),
    "bmi": (8, 80, "kg/m2"),
    "bmi_target": (10, 60, "kg/m2"),
    "heart_rate": (20, 250, "/min"),
    "temperature_c": (30, 45, "°C"),
    "cigarettes_per_day": (0, 100, ""),
    "cigarettes_per_day_target": (0, 100, ""),
    "liquor_liang_per_day": (0, 40, "两"),
    "liquor_liang_per_day_target": (0, 40, "两"),
    "exercise_times_per_week": (0, 21, ""),
    "exercise_times_per_week_target": (0, 21, ""),
    "exercise_minutes_per_time": (0, 600, "min"),
    "exercise_minutes_per_time_target": (0, 600, "min"),
    "staple_food_g_per_day": (0, 2000, "g"),
    "staple_food_g_per_day_target": (0, 2000, "g"),
    "fpg_mmol": (1, 40, "mmol/L"),
    "hba1c_percent": (3, 20, "%"),
}
MEDICATION_TIMES_PER_DAY = (1, 12)
MEDICATION_MG_PER_TIME = (0.001, 10000)

CODE_LISTS: dict[str, Mapping[int, Label]] = {
    "visit_mode": codes.VISIT_MODES,
    "salt_intake": codes.SALT_INTAKE,
    "salt_intake_target": codes.SALT_INTAKE,
    "psychological_adjustment": codes.PSYCHOLOGICAL_ADJUSTMENT,
    "compliance": codes.COMPLIANCE,
    "medication_adherence": codes.MEDICATION_ADHERENCE,
    "adverse_reaction": codes.ADVERSE_REACTION,
    "classification": codes.VISIT_CLASSIFICATIONS,
    "dorsalis_pedis": codes.DORSALIS_PEDIS_PULSE,
    "dorsalis_pedis_side": codes.PULSE_SIDES,
    "hypoglycaemia": codes.HYPOGLYCAEMIA,
}

# A phone visit measures nothing: these boxes stay empty unless the patient is seen.
MEASURED_FACE_TO_FACE = (
    "sbp",
    "dbp",
    "weight_kg",
    "bmi",
    "heart_rate",
    "temperature_c",
    "dorsalis_pedis",
    "fpg_mmol",
)


class _Check:
    """The values being validated and the problems found so far."""

    def __init__(self, cls: type, values: dict[str, Any], problems: list[Problem], today: date):
        self.cls, self.values, self.problems, self.today = cls, values, problems, today
        # Fields whose type was already wrong: rules stay silent about them instead of saying "required".
        self.bad = {problem.field.split(".")[0] for problem in problems}
        self.get = values.get

    def label(self, name: str) -> Label:
        return field_label(self.cls, name)

    def add(self, name: str, code: str, en: str, zh: str) -> None:
        self.problems.append(Problem(name, code, en, zh))

    def require(self, name: str, en_why: str, zh_why: str) -> None:
        if self.get(name) is None and name not in self.bad:
            label = self.label(name)
            self.add(
                name,
                "required",
                f"{sentence_start(label.en)} is required {en_why}.",
                f"{zh_why}须填写{label.zh}。",
            )


def check_hypertension_visit(data: Any, *, today: date, sex: str | int | None = None) -> list[Problem]:
    """Every problem with a hypertension follow-up record given as JSON data (or a HypertensionVisit)."""
    return _check_values(HypertensionVisit, data, today, sex)[1]


def check_diabetes_visit(data: Any, *, today: date, sex: str | int | None = None) -> list[Problem]:
    """Every problem with a diabetes follow-up record given as JSON data (or a DiabetesVisit)."""
    return _check_values(DiabetesVisit, data, today, sex)[1]


def parse_hypertension_visit(
    data: Any, *, today: date, sex: str | int | None = None
) -> tuple[HypertensionVisit | None, list[Problem]]:
    """Validate and load in one pass: (visit, []) when the record is valid, else (None, problems)."""
    return _parse(HypertensionVisit, data, today, sex)


def parse_diabetes_visit(
    data: Any, *, today: date, sex: str | int | None = None
) -> tuple[DiabetesVisit | None, list[Problem]]:
    """Validate and load in one pass: (visit, []) when the record is valid, else (None, problems)."""
    return _parse(DiabetesVisit, data, today, sex)


def validate_hypertension_visit(
    data: Any, *, today: date, language: str = "en", sex: str | int | None = None
) -> dict[str, list[str]]:
    """Errors of a hypertension record as field -> messages ("en" or "zh"); empty when the record is valid."""
    return errors_by_field(check_hypertension_visit(data, today=today, sex=sex), language)


def validate_diabetes_visit(
    data: Any, *, today: date, language: str = "en", sex: str | int | None = None
) -> dict[str, list[str]]:
    """Errors of a diabetes record as field -> messages ("en" or "zh"); empty when the record is valid."""
    return errors_by_field(check_diabetes_visit(data, today=today, sex=sex), language)


def errors_by_field(problems: Iterable[Problem], language: str = "en") -> dict[str, list[str]]:
    """Group problems into the `errors` dict of a 422 response, messages in English or Chinese."""
    if language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.field, []).append(problem.en if language == "en" else problem.zh)
    return errors


def _parse(cls: type, data: Any, today: date, sex: str | int | None) -> tuple[Any, list[Problem]]:
    values, problems = _check_values(cls, data, today, sex)
    return (None, problems) if problems else (build_visit(cls, values), problems)


def _check_values(cls: type, data: Any, today: date, sex: str | int | None = None) -> tuple[dict[str, Any], list[Problem]]:
    if isinstance(data, FollowUpVisit):
        data = data.to_dict()
    values, problems = coerce_fields(cls, data)
    check = _Check(cls, values, problems, today)
    symptom_codes, danger_codes, form_rules = _FORMS[cls]
    _check_dates(check)
    _check_codes(check)
    _check_multi_choice(check, "symptoms", "symptoms_other", symptom_codes, codes.NO_SYMPTOMS)
    _check_danger_signs(check, danger_codes)
    _check_urgent_symptom_answers(check, codes.URGENT_SYMPTOM_BOXES[cls.condition], symptom_codes)
    _check_maternal_status(check, sex)
    _check_ranges(check)
    _check_blood_pressure(check)
    _check_by_mode(check)
    _check_bmi(check)
    _check_adverse_reaction(check)
    _check_medications(check)
    _check_referral(check)
    for rule in form_rules:
        rule(check)
    return values, problems


def form_code_lists(cls: type) -> dict[str, Mapping[Any, Label]]:
    """Every coded box of a form (HypertensionVisit or DiabetesVisit) with the codes it accepts.

    The one list the validation above checks against, so that schemas built from it (the server's OpenAPI
    forms) cannot drift from what is accepted.
    """
    symptom_codes, danger_codes, _ = _FORMS[cls]
    names = {spec.name for spec in field_specs(cls)}
    lists: dict[str, Mapping[Any, Label]] = {
        name: allowed for name, allowed in CODE_LISTS.items() if name in names
    }
    lists["symptoms"] = symptom_codes
    lists["danger_signs"] = danger_codes
    urgent_boxes = codes.URGENT_SYMPTOM_BOXES[cls.condition]
    lists["symptoms_not_urgent"] = {box: symptom_codes[box] for box in urgent_boxes}
    return lists


def _check_dates(check: _Check) -> None:
    visit_date, next_date = check.get("visit_date"), check.get("next_visit_date")
    if visit_date is not None:
        if visit_date > check.today:
            check.add(
                "visit_date",
                "in_future",
                f"Visit date cannot be after today ({check.today.isoformat()}).",
                f"随访日期不能晚于今天（{check.today.isoformat()}）。",
            )
        if visit_date < EARLIEST_VISIT_DATE:
            check.add(
                "visit_date",
                "too_early",
                f"Visit date cannot be before {EARLIEST_VISIT_DATE.isoformat()}.",
                f"随访日期不能早于{EARLIEST_VISIT_DATE.isoformat()}。",
            )
    if next_date is not None and visit_date is not None:
        if next_date <= visit_date:
            check.add(
                "next_visit_date",
                "not_after_visit",
                "Next visit date must be after the visit date.",
                "下次随访日期必须晚于本次随访日期。",
            )
        elif (next_date - visit_date).days > MAX_BOOKING_DAYS:  # no date arithmetic near 9999-12-31
            check.add(
                "next_visit_date",
                "too_far",
                "Next visit date must be within a year of the visit.",
                "下次随访日期应在本次随访后一年内。",
            )


def _check_codes(check: _Check) -> None:
    for name, allowed in CODE_LISTS.items():
        value = check.get(name)
        if value is not None and value not in allowed:
            listed = ", ".join(f"{code} {label.en}" for code, label in allowed.items())
            listed_zh = "、".join(f"{code} {label.zh}" for code, label in allowed.items())
            label = check.label(name)
            check.add(
                name,
                "not_in_list",
                f"{sentence_start(label.en)} must be one of: {listed}.",
                f"{label.zh}只能选：{listed_zh}。",
            )


def _check_multi_choice(check: _Check, name: str, other: str, allowed: Mapping, none_code: int) -> None:
    chosen = check.get(name) or ()
    unknown = [code for code in chosen if code not in allowed]
    if unknown:
        check.add(
            name,
            "not_in_list",
            f"Symptoms has unknown codes {unknown}; allowed 1-{max(allowed)}.",
            f"症状代码{unknown}不存在。",
        )
    if none_code in chosen and (len(chosen) > 1 or check.get(other)):
        check.add(
            name,
            "none_with_others",
            "Symptoms cannot be 'none' together with a symptom.",
            "症状选择“无症状”时不能再选其他症状。",
        )


def _check_danger_signs(check: _Check, allowed: Mapping[str, Label]) -> None:
    chosen = check.get("danger_signs") or ()
    unknown = [code for code in chosen if code not in allowed]
    if unknown:
        check.add(
            "danger_signs",
            "not_in_list",
            f"Danger signs has unknown codes {unknown}; allowed: {', '.join(allowed)}.",
            f"危急情况代码{unknown}不存在。",
        )
    if codes.UNMANAGEABLE in chosen and not check.get("danger_sign_other"):
        check.add(
            "danger_sign_other",
            "required",
            "Describe the condition the facility cannot handle.",
            "请描述不能处理的其他疾病。",
        )
    if check.get("danger_sign_other") and codes.UNMANAGEABLE not in chosen:
        check.add(
            "danger_signs",
            "missing_code",
            f"Tick '{codes.UNMANAGEABLE}' when describing another condition.",
            "填写了其他危急情况时须勾选“存在不能处理的其他疾病”。",
        )


def _check_urgent_symptom_answers(check: _Check, urgent: Mapping[int, tuple[str, ...]],
                                  boxes: Mapping[int, Label]) -> None:
    # "Not urgent now" answers only a ticked box that names an urgent sign, and cannot sit beside that sign.
    answered = check.get("symptoms_not_urgent") or ()
    ticked, signs = check.get("symptoms") or (), set(check.get("danger_signs") or ())
    for box in answered:
        if box not in urgent:
            listed = "、".join(f"{code} {boxes[code].zh}" for code in urgent)
            check.add(
                "symptoms_not_urgent",
                "not_urgent_box",
                f"Symptom {box} is not one that names an urgent sign; only {', '.join(map(str, urgent))} are.",
                f"症状{box}不属于紧急转诊情况，无需确认；需确认的只有：{listed}。",
            )
        elif box not in ticked:
            check.add(
                "symptoms_not_urgent",
                "not_ticked",
                f"Symptom {box} is judged not urgent but is not ticked in symptoms.",
                f"症状“{boxes[box].zh}”未勾选，不能确认为非紧急。",
            )
        elif set(urgent[box]) & signs:
            check.add(
                "symptoms_not_urgent",
                "inconsistent",
                f"Symptom {box} is judged not urgent, but its danger sign is ticked.",
                f"已勾选对应的危急情况，症状“{boxes[box].zh}”不能同时确认为非紧急。",
            )


def _check_maternal_status(check: _Check, sex: str | int | None) -> None:
    # Only the resident's file knows the sex, so the caller passes it; unknown sex checks nothing.
    if sex is None or str(sex) != codes.MALE:
        return
    for name in ("pregnant", "lactating"):
        if check.get(name):
            label = check.label(name)
            check.add(
                name,
                "not_for_male",
                f"The resident is male: {label.en} cannot be ticked.",
                f"该居民为男性，不能勾选{label.zh}。",
            )


def _check_ranges(check: _Check) -> None:
    for name, value in check.values.items():  # the boxes filled in, in the record's order
        limits = RANGES.get(name)
        if limits is None:
            continue
        low, high, unit = limits
        if not low <= value <= high:
            label = check.label(name)
            check.add(
                name,
                "out_of_range",
                f"{sentence_start(label.en)} must be between {low} and {high} {unit}".rstrip() + ".",
                f"{label.zh}应在{low}～{high}{unit}之间。",
            )


def _check_blood_pressure(check: _Check) -> None:
    sbp, dbp = check.get("sbp"), check.get("dbp")
    if check.get("visit_mode") == codes.PHONE:
        return  # nothing is measured by phone; _check_by_mode reports any value given
    if (sbp is None) != (dbp is None):
        missing = "dbp" if dbp is None else "sbp"
        if missing not in check.bad:
            check.add(
                missing,
                "required",
                "Record both systolic and diastolic BP, or neither.",
                "收缩压和舒张压须同时填写。",
            )
    elif sbp is not None and dbp >= sbp:
        check.add("dbp", "not_below_sbp", "Diastolic BP must be below systolic BP.", "舒张压必须低于收缩压。")


def _check_by_mode(check: _Check) -> None:
    mode = check.get("visit_mode")
    if mode == codes.PHONE:
        for name in MEASURED_FACE_TO_FACE:
            if check.get(name) is not None:
                label = check.label(name)
                check.add(
                    name,
                    "not_measured_by_phone",
                    f"{sentence_start(label.en)} cannot be measured on a phone visit; leave it empty.",
                    f"电话随访无法测量{label.zh}，请留空。",
                )
    elif mode in codes.FACE_TO_FACE_MODES:
        # Both forms measure BP at every face-to-face visit (the diabetes form is the hypertension form plus
        # glucose boxes); a missing pair is reported once, on sbp.
        if check.get("sbp") is None and check.get("dbp") is None:
            check.require("sbp", "at a clinic or home visit", "门诊或家庭随访")


def _check_bmi(check: _Check) -> None:
    recorded, weight, height = check.get("bmi"), check.get("weight_kg"), check.get("height_cm")
    if None in (recorded, weight, height) or not (
        _in_range("weight_kg", weight) and _in_range("height_cm", height)
    ):
        return
    computed = bmi(weight, height)
    if abs(recorded - computed) > BMI_TOLERANCE + 1e-9:
        check.add(
            "bmi",
            "mismatch",
            f"BMI {recorded} does not match weight and height (they give {computed}).",
            f"体质指数{recorded}与身高体重不符（应为{computed}）。",
        )


def _in_range(name: str, value: float) -> bool:
    low, high, _ = RANGES[name]
    return low <= value <= high


def _check_adverse_reaction(check: _Check) -> None:
    reaction, text = check.get("adverse_reaction"), check.get("adverse_reaction_text")
    if reaction == codes.ADR and not text:
        check.add(
            "adverse_reaction_text", "required", "Describe the adverse drug reaction.", "请描述药物不良反应。"
        )
    if text and reaction != codes.ADR:
        check.add(
            "adverse_reaction",
            "inconsistent",
            "A reaction is described, so mark adverse drug reaction 'yes'.",
            "已填写不良反应描述，药物不良反应应选“有”。",
        )
    if check.get("adverse_reaction_hard_to_control") and reaction != codes.ADR:
        check.add(
            "adverse_reaction_hard_to_control",
            "inconsistent",
            "A reaction hard to control needs adverse drug reaction 'yes'.",
            "不良反应难以控制时药物不良反应应选“有”。",
        )


def _check_medications(check: _Check) -> None:
    for index, drug in enumerate(check.get("medications") or ()):
        prefix, number = f"medications.{index}", index + 1
        if not drug.name:
            check.add(
                f"{prefix}.name", "required", f"Drug {number} needs a name.", f"请填写第{number}种药物名称。"
            )
        low, high = MEDICATION_TIMES_PER_DAY
        if not low <= drug.times_per_day <= high:
            check.add(
                f"{prefix}.times_per_day",
                "out_of_range",
                f"Drug {number} times per day must be {low}-{high}.",
                f"第{number}种药物每日次数应为{low}～{high}次。",
            )
        low, high = MEDICATION_MG_PER_TIME
        if not low <= drug.mg_per_time <= high:
            check.add(
                f"{prefix}.mg_per_time",
                "out_of_range",
                f"Drug {number} mg per time must be above 0 and at most {high}.",
                f"第{number}种药物每次剂量应大于0且不超过{high}mg。",
            )


def _check_referral(check: _Check) -> None:
    reason = check.get("referral_reason")
    place = check.get("referral_institution") or check.get("referral_department")
    if reason and not check.get("referral_institution"):
        check.add(
            "referral_institution",
            "required",
            "A referral needs the institution referred to.",
            "转诊须填写转诊机构。",
        )
    if place and not reason:
        check.add("referral_reason", "required", "A referral needs its reason.", "转诊须填写转诊原因。")


def _check_glucose_by_mode(check: _Check) -> None:
    if check.get("visit_mode") not in codes.FACE_TO_FACE_MODES or "fpg_mmol" in check.bad:
        return
    has_value, has_reason = check.get("fpg_mmol") is not None, bool(check.get("fpg_missing_reason"))
    if not has_value and not has_reason:
        check.add(
            "fpg_mmol",
            "required",
            "Fasting glucose is required at a clinic or home visit, or give the reason it was not measured.",
            "门诊或家庭随访须填写空腹血糖，未测请注明原因。",
        )
    if has_value and has_reason:
        check.add(
            "fpg_missing_reason",
            "inconsistent",
            "Fasting glucose was measured; remove the missing reason.",
            "已填写空腹血糖，请删除未测原因。",
        )


def _check_hba1c(check: _Check) -> None:
    value, tested, visit_date = check.get("hba1c_percent"), check.get("hba1c_date"), check.get("visit_date")
    if value is not None:
        check.require("hba1c_date", "with an HbA1c value", "填写糖化血红蛋白时")
    if tested is not None and value is None and "hba1c_percent" not in check.bad:
        check.add(
            "hba1c_percent",
            "required",
            "An HbA1c test date needs the HbA1c value.",
            "有检查日期时须填写糖化血红蛋白值。",
        )
    if tested is not None and visit_date is not None and tested > visit_date:
        check.add(
            "hba1c_date",
            "after_visit",
            "HbA1c test date cannot be after the visit date.",
            "糖化血红蛋白检查日期不能晚于随访日期。",
        )


def _check_pulse_side(check: _Check) -> None:
    pulse, side = check.get("dorsalis_pedis"), check.get("dorsalis_pedis_side")
    if pulse in (2, 3):
        check.require(
            "dorsalis_pedis_side", "when the pulse is weakened or absent", "足背动脉搏动减弱或消失时"
        )
    elif side is not None:
        check.add(
            "dorsalis_pedis_side",
            "inconsistent",
            "A side is recorded only for a weakened or absent pulse.",
            "只有足背动脉搏动减弱或消失时才填写侧别。",
        )


def _check_insulin(check: _Check) -> None:
    if check.get("insulin_type") and not check.get("insulin_usage_dose"):
        check.add(
            "insulin_usage_dose", "required", "Give the insulin usage and dose.", "请填写胰岛素用法和用量。"
        )
    if check.get("insulin_usage_dose") and not check.get("insulin_type"):
        check.add("insulin_type", "required", "Give the insulin type.", "请填写胰岛素种类。")


# Per form: its symptom codes, its danger signs, and the rules only that form has.
_FORMS: dict[type, tuple[Mapping[int, Label], Mapping[str, Label], tuple]] = {
    HypertensionVisit: (codes.HYPERTENSION_SYMPTOMS, codes.HYPERTENSION_DANGER_SIGNS, ()),
    DiabetesVisit: (
        codes.DIABETES_SYMPTOMS,
        codes.DIABETES_DANGER_SIGNS,
        (_check_glucose_by_mode, _check_hba1c, _check_pulse_side, _check_insulin),
    ),
}
