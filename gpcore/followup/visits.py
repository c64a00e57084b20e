"""Follow-up visit records (高血压/2型糖尿病患者随访服务记录表): every box of the national forms, as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from functools import cache
from typing import Any, Callable, NamedTuple

from .codes import Label
from .fields import (
    FieldError,
    Problem,
    as_bool,
    as_date,
    as_int,
    as_int_codes,
    as_long_text,
    as_number,
    as_short_text,
    as_str_codes,
    key_name,
    sentence_start,
)


def _box(coerce: Callable[[Any], Any], zh: str, en: str, default: Any = None, *, added_later: bool = False) -> Any:
    """A form box: its default, how JSON turns into it, and its label.

    added_later: a box added after records were signed; to_dict leaves it out while it holds its default, so
    an old record's canonical form (and the content hash a resend is compared by) stays what it was.
    """
    return field(default=default, metadata={"coerce": coerce, "label": Label(zh, en), "added_later": added_later})


def _required(coerce: Callable[[Any], Any], zh: str, en: str) -> Any:
    return field(metadata={"coerce": coerce, "label": Label(zh, en)})


class Medication(NamedTuple):
    """One named drug on the form: 用法用量 每日 N 次, 每次 M mg."""

    name: str
    times_per_day: int
    mg_per_time: float


MAX_MEDICATIONS = 3
_MEDICATION_PARTS = (
    ("name", as_short_text, "药物名称"),
    ("times_per_day", as_int, "每日次数"),
    ("mg_per_time", as_number, "每次剂量"),
)
_MEDICATION_NAMES = frozenset(name for name, _, _ in _MEDICATION_PARTS)


def as_medications(value: Any) -> tuple[Medication, ...]:
    """Up to three named drugs, each with times per day and mg per time."""
    if type(value) not in (list, tuple):
        raise FieldError("not_list", "must be a list", "必须是列表")
    if len(value) > MAX_MEDICATIONS:
        raise FieldError(
            "too_many", f"can list at most {MAX_MEDICATIONS} drugs", f"最多填写{MAX_MEDICATIONS}种药物"
        )
    return tuple([_medication(index, item) for index, item in enumerate(value)])


def _medication(index: int, item: Any) -> Medication:
    if type(item) is not dict and not isinstance(item, Mapping):
        raise FieldError(
            "not_object", f"entry {index + 1} must be an object", f"第{index + 1}种药物格式错误", f".{index}"
        )
    if not _MEDICATION_NAMES.issuperset(item.keys()):
        unknown = sorted(map(key_name, item.keys() - _MEDICATION_NAMES))
        raise FieldError(
            "unknown_field",
            f"entry {index + 1} has unknown fields {unknown}",
            f"第{index + 1}种药物有未知字段",
            f".{index}",
        )
    (name, as_name, name_zh), (times, as_times, times_zh), (mg, as_mg, mg_zh) = _MEDICATION_PARTS
    return Medication(
        _medication_part(index, item, name, as_name, name_zh),
        _medication_part(index, item, times, as_times, times_zh),
        _medication_part(index, item, mg, as_mg, mg_zh),
    )


def _medication_part(index: int, item: Mapping, name: str, coerce: Callable[[Any], Any], name_zh: str) -> Any:
    raw = item.get(name)
    if raw is None:
        raise FieldError(
            "required",
            f"entry {index + 1} needs {name}",
            f"第{index + 1}种药物缺少{name_zh}",
            f".{index}.{name}",
        )
    try:
        return coerce(raw)
    except FieldError as error:
        raise FieldError(
            error.code,
            f"entry {index + 1} {name} {error.en}",
            f"第{index + 1}种药物{name_zh}{error.zh}",
            f".{index}.{name}",
        ) from None


class VisitDataError(ValueError):
    """from_dict was given data whose shape or types are wrong; `problems` says which fields."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(problem.en for problem in problems))
        self.problems = problems


@dataclass(frozen=True, kw_only=True)
class FollowUpVisit:
    """The boxes the hypertension and diabetes forms share.

    Besides the printed boxes, a few flags the rules need and the form leaves to the doctor's judgement:
    danger_signs (+ danger_sign_other), pregnant, lactating, temperature_c, adverse_reaction_hard_to_control
    and new_or_worse_complication.  `classification` is what the doctor ticked; assess_*() suggests one.
    """

    visit_date: date = _required(as_date, "随访日期", "visit date")
    visit_mode: int = _required(as_int, "随访方式", "visit mode")
    symptoms: tuple[int, ...] = _box(as_int_codes, "症状", "symptoms", ())
    symptoms_other: str = _box(as_long_text, "其他症状", "other symptoms", "")
    # The doctor's answer for a ticked box that names an urgent sign (codes.URGENT_SYMPTOM_BOXES): listed here,
    # the box is not an urgent sign today (e.g. palpitations last month, none now); unlisted, it raises the
    # emergency.  Not a printed box: the record keeps the answer the tablet asked for.
    symptoms_not_urgent: tuple[int, ...] = _box(
        as_int_codes, "经医生确认目前非紧急的症状", "symptoms the doctor judged not urgent now", (), added_later=True
    )
    danger_signs: tuple[str, ...] = _box(as_str_codes, "危急情况", "danger signs", ())
    danger_sign_other: str = _box(as_long_text, "其他危急情况", "other danger condition", "")
    pregnant: bool = _box(as_bool, "妊娠期", "pregnant", False)
    lactating: bool = _box(as_bool, "哺乳期", "lactating", False)
    sbp: int | None = _box(as_int, "收缩压", "systolic BP")
    dbp: int | None = _box(as_int, "舒张压", "diastolic BP")
    weight_kg: float | None = _box(as_number, "体重", "weight")
    weight_target_kg: float | None = _box(as_number, "目标体重", "target weight")
    height_cm: float | None = _box(as_number, "身高", "height")
    bmi: float | None = _box(as_number, "体质指数", "BMI")
    bmi_target: float | None = _box(as_number, "目标体质指数", "target BMI")
    heart_rate: int | None = _box(as_int, "心率", "heart rate")
    temperature_c: float | None = _box(as_number, "体温", "temperature")
    other_signs: str = _box(as_long_text, "其他体征", "other signs", "")
    cigarettes_per_day: int | None = _box(as_int, "日吸烟量", "cigarettes per day")
    cigarettes_per_day_target: int | None = _box(as_int, "目标日吸烟量", "target cigarettes per day")
    liquor_liang_per_day: float | None = _box(as_number, "日饮酒量", "liquor per day")
    liquor_liang_per_day_target: float | None = _box(as_number, "目标日饮酒量", "target liquor per day")
    exercise_times_per_week: int | None = _box(as_int, "运动次数", "exercise times per week")
    exercise_times_per_week_target: int | None = _box(
        as_int, "目标运动次数", "target exercise times per week"
    )
    exercise_minutes_per_time: int | None = _box(as_int, "每次运动时间", "exercise minutes per time")
    exercise_minutes_per_time_target: int | None = _box(
        as_int, "目标每次运动时间", "target exercise minutes per time"
    )
    salt_intake: int | None = _box(as_int, "摄盐情况", "salt intake")
    salt_intake_target: int | None = _box(as_int, "目标摄盐情况", "target salt intake")
    psychological_adjustment: int | None = _box(as_int, "心理调整", "psychological adjustment")
    compliance: int | None = _box(as_int, "遵医行为", "compliance with advice")
    tests_since_last_visit: str = _box(as_long_text, "辅助检查", "tests since last visit", "")
    medication_adherence: int | None = _box(as_int, "服药依从性", "medication adherence")
    adverse_reaction: int | None = _box(as_int, "药物不良反应", "adverse drug reaction")
    adverse_reaction_text: str = _box(as_long_text, "不良反应描述", "adverse reaction description", "")
    adverse_reaction_hard_to_control: bool = _box(
        as_bool, "不良反应难以控制", "adverse reaction hard to control", False
    )
    new_or_worse_complication: bool = _box(as_bool, "新发或加重的并发症", "new or worse complication", False)
    classification: int | None = _box(as_int, "此次随访分类", "visit classification")
    medications: tuple[Medication, ...] = _box(as_medications, "用药情况", "medications", ())
    other_drugs: str = _box(as_long_text, "其他药物", "other drugs", "")
    referral_reason: str = _box(as_long_text, "转诊原因", "referral reason", "")
    referral_institution: str = _box(as_short_text, "转诊机构", "referral institution", "")
    referral_department: str = _box(as_short_text, "转诊科别", "referral department", "")
    next_visit_date: date | None = _box(as_date, "下次随访日期", "next visit date")
    doctor: str = _box(as_short_text, "随访医生", "doctor", "")

    condition = ""  # overridden by each form; a class attribute, not a field

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FollowUpVisit":
        """Build a visit from JSON data; raises VisitDataError if a field is missing, unknown or mistyped."""
        values, problems = coerce_fields(cls, data)
        if problems:
            raise VisitDataError(problems)
        return build_visit(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """The visit as JSON-ready data (dates as YYYY-MM-DD, lists for multi-choice boxes)."""
        return {
            spec.name: _to_json(getattr(self, spec.name))
            for spec in field_specs(type(self))
            if not spec.added_later or getattr(self, spec.name) != spec.default
        }


@dataclass(frozen=True, kw_only=True)
class HypertensionVisit(FollowUpVisit):
    """高血压患者随访服务记录表, one record per visit."""

    condition = "hypertension"


@dataclass(frozen=True, kw_only=True)
class DiabetesVisit(FollowUpVisit):
    """2型糖尿病患者随访服务记录表: the shared boxes plus foot pulse, staple food, glucose and insulin."""

    dorsalis_pedis: int | None = _box(as_int, "足背动脉搏动", "dorsalis pedis pulse")
    dorsalis_pedis_side: int | None = _box(as_int, "足背动脉搏动侧别", "dorsalis pedis side")
    staple_food_g_per_day: int | None = _box(as_int, "主食量", "staple food per day")
    staple_food_g_per_day_target: int | None = _box(as_int, "目标主食量", "target staple food per day")
    fpg_mmol: float | None = _box(as_number, "空腹血糖", "fasting glucose")
    # Not a printed box: a face-to-face visit needs FPG "or a note" saying why it was not measured.
    fpg_missing_reason: str = _box(
        as_long_text, "未测空腹血糖原因", "reason fasting glucose was not measured", ""
    )
    hba1c_percent: float | None = _box(as_number, "糖化血红蛋白", "HbA1c")
    hba1c_date: date | None = _box(as_date, "糖化血红蛋白检查日期", "HbA1c test date")
    hypoglycaemia: int | None = _box(as_int, "低血糖反应", "hypoglycaemia")
    insulin_type: str = _box(as_short_text, "胰岛素种类", "insulin type", "")
    insulin_usage_dose: str = _box(as_short_text, "胰岛素用法和用量", "insulin usage and dose", "")

    condition = "diabetes"


class FieldSpec(NamedTuple):
    """How one box is read from JSON."""

    name: str
    coerce: Callable[[Any], Any]
    label: Label
    required: bool
    added_later: bool = False
    default: Any = None


@cache
def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The boxes of a visit class, in form order."""
    return tuple(
        FieldSpec(
            f.name,
            f.metadata["coerce"],
            f.metadata["label"],
            f.default is MISSING and f.default_factory is MISSING,
            f.metadata.get("added_later", False),
            None if f.default is MISSING else f.default,
        )
        for f in fields(cls)
    )


@cache
def _specs_by_name(cls: type) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in field_specs(cls)}


@cache
def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


def build_visit(cls: type, values: dict[str, Any]) -> Any:
    """A visit from values that coerce_fields produced without problems (all typed, required ones present)."""
    # The generated __init__ of a frozen dataclass with ~50 fields costs about 10 us (one object.__setattr__
    # per field), a fifth of the whole validate + assess budget; the values are already checked, so fill the
    # instance dict directly.  Every default is immutable (None, "", (), False), so sharing them is safe.
    visit = object.__new__(cls)
    visit.__dict__.update(_defaults(cls))
    visit.__dict__.update(values)
    return visit


@cache
def _coercers(cls: type) -> dict[str, Callable[[Any], Any]]:
    # A plain name -> function dict: this lookup runs for every box of every record.
    return {spec.name: spec.coerce for spec in field_specs(cls)}


@cache
def _required(cls: type) -> tuple[FieldSpec, ...]:
    return tuple(spec for spec in field_specs(cls) if spec.required)


def field_label(cls: type, name: str) -> Label:
    """The label of a box, for messages."""
    return _specs_by_name(cls)[name].label


def coerce_fields(cls: type, data: Any) -> tuple[dict[str, Any], list[Problem]]:
    """Typed values of the boxes present in `data`; a Problem for each missing, unknown or mistyped box."""
    if type(data) is not dict and not isinstance(data, Mapping):
        return {}, [
            Problem("_schema", "not_object", "The visit must be a JSON object.", "随访记录格式错误。")
        ]
    coercers = _coercers(cls)
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, raw in data.items():
        coerce = coercers.get(key) if type(key) is str else None
        if coerce is None:
            problems.append(Problem(key_name(key), "unknown_field", "Unknown field.", "未知字段。"))
        elif raw is not None:
            try:
                values[key] = coerce(raw)
            except FieldError as error:
                problems.append(error.problem(key, field_label(cls, key)))
    for spec in _required(cls):
        if data.get(spec.name) is None:
            problems.append(
                Problem(
                    spec.name,
                    "required",
                    f"{sentence_start(spec.label.en)} is required.",
                    f"请填写{spec.label.zh}。",
                )
            )
    return values, problems


def _to_json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Medication):  # before tuple: a Medication is a NamedTuple
        return value._asdict()
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    return value
