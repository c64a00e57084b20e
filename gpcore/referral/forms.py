"""The two-way referral forms (双向转诊单) and the details of each action, validated field by field.

Fields follow ../shared/domain/standards.md section 5. The upward form (转出单): the stub's patient identity,
record number, address, phone, date, destination institution and department, receiving doctor, referring
doctor; the main part's initial impression, present illness (the reason for referral), past history,
treatment so far, doctor, phone, institution, date. The return form (回转单): diagnosis, inpatient record
number, main test results, treatment, next treatment plan and rehabilitation advice, doctor, phone,
institution, date.

Like gpcore.followup.validation, nothing here raises on bad input: each check returns Problems, which
errors_by_field turns into a 422 `errors` payload in Chinese or English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from ..followup.fields import FieldError, Problem, as_date, as_long_text, as_short_text, key_name

URGENCIES = {"routine": "普通", "urgent": "紧急", "emergency": "急诊"}
KINDS = {"econsult": "远程会诊（线上咨询）", "transfer": "转诊至专科门诊"}
OUTCOMES = {"advice": "仅给出建议", "clinic": "预约专科门诊", "admit": "收住院"}
SESSIONS = {"am": "上午", "pm": "下午"}
EARLIEST_DATE = date(2009, 1, 1)  # as for follow-ups: an earlier date is a typing slip
MAX_APPOINTMENT_DAYS = 180

Field = tuple[Callable[[Any], Any], str, bool]  # (coercer, Chinese label, required)

# 转出单. Identity fields come from the health file (the server fills them in); the team writes the rest.
UPWARD_FORM: dict[str, Field] = {
    "patient_name": (as_short_text, "患者姓名", True),
    "patient_sex": (as_short_text, "性别", True),
    "patient_age": (lambda v: _whole(v, 0, 130), "年龄", True),
    "id_number": (as_short_text, "身份证号", False),
    "record_number": (as_short_text, "档案编号", True),
    "address": (as_long_text, "家庭住址", True),
    "phone": (as_short_text, "联系电话", False),
    "referral_date": (as_date, "转出日期", True),
    "to_institution": (as_short_text, "转入医院", True),
    "to_department": (as_short_text, "转入科室", True),
    "receiving_doctor": (as_short_text, "接诊医生", False),
    "initial_impression": (as_long_text, "初步印象", True),
    "present_illness": (as_long_text, "主要现病史（转出原因）", True),
    "past_history": (as_long_text, "主要既往史", True),
    "treatment": (as_long_text, "治疗经过", False),
    "referring_doctor": (as_short_text, "转诊医生", True),
    "doctor_phone": (as_short_text, "联系电话（医生）", True),
    "institution": (as_short_text, "转出机构", True),
    # Pre-filled from the health file for the specialist to read; the team may trim them.
    "conditions": (lambda v: _texts(v, 20), "慢性病", False),
    "allergies": (lambda v: _texts(v, 20), "药物过敏史", False),
    "medications": (lambda v: _texts(v, 20), "用药情况", False),
    "recent_followups": (lambda v: _texts(v, 10), "近期随访", False),
}

# 回转单
RETURN_FORM: dict[str, Field] = {
    "diagnosis": (as_long_text, "诊断结果", True),
    "inpatient_record_number": (as_short_text, "住院病案号", False),
    "main_results": (as_long_text, "主要检查结果", True),
    "treatment": (as_long_text, "治疗经过", True),
    "plan": (as_long_text, "下一步治疗方案及康复建议", True),
    "doctor": (as_short_text, "回转医生", True),
    "doctor_phone": (as_short_text, "联系电话", True),
    "institution": (as_short_text, "回转机构", True),
    "return_date": (as_date, "回转日期", True),
}

# The specialist's answer: advice only, see in clinic (date and half-day), or admit.
ANSWER: dict[str, Field] = {
    "outcome": (as_short_text, "答复结果", True),
    "advice": (as_long_text, "专科意见", True),
    "plan": (as_long_text, "给团队的随访方案", True),
    "clinic_date": (as_date, "门诊日期", False),
    "clinic_session": (as_short_text, "门诊时段", False),
    "admit_date": (as_date, "入院日期", False),
}

REASON: dict[str, Field] = {"reason": (as_long_text, "原因", True)}
QUESTION: dict[str, Field] = {"question": (as_long_text, "需补充的资料", True)}
INFO: dict[str, Field] = {"info": (as_long_text, "补充资料", True)}
MESSAGE: dict[str, Field] = {"text": (as_long_text, "留言", True)}


def _whole(value: Any, low: int, high: int) -> int:
    if type(value) is not int:
        raise FieldError("not_integer", "must be a whole number", "必须是整数")
    if not low <= value <= high:
        raise FieldError("out_of_range", f"must be between {low} and {high}", f"应在{low}～{high}之间")
    return value


def _texts(value: Any, most: int) -> tuple[str, ...]:
    if type(value) not in (list, tuple):
        raise FieldError("not_list", "must be a list", "必须是列表")
    if len(value) > most:
        raise FieldError("too_many", f"may hold at most {most} lines", f"最多{most}条")
    return tuple(as_long_text(item) for item in value)


def coerce(fields: Mapping[str, Field], data: Any) -> tuple[dict[str, Any], list[Problem]]:
    """Typed values of the known fields, and a Problem for every bad, missing or unknown one."""
    if not isinstance(data, Mapping):
        return {}, [Problem("form", "not_object", "The form must be an object.", "表单格式不正确。")]
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in data:
        if key not in fields:
            name = key_name(key)
            problems.append(Problem(name, "unknown", f"Unknown field {name}.", f"未知字段{name}。"))
    for name, (coercer, label, required) in fields.items():
        raw = data.get(name)
        if raw is None or raw == "":
            if required:
                problems.append(Problem(name, "required", f"{name} is required.", f"须填写{label}。"))
            continue
        try:
            value = coercer(raw)
        except FieldError as err:
            problems.append(Problem(name, err.code, f"{name} {err.en}.", f"{label}{err.zh}。"))
            continue
        if value == "" and required:
            problems.append(Problem(name, "required", f"{name} is required.", f"须填写{label}。"))
            continue
        values[name] = value
    return values, problems


def _date_window(values: dict, problems: list[Problem], name: str, label: str, today: date) -> None:
    day = values.get(name)
    if day is None:
        return
    if day > today:
        problems.append(Problem(name, "in_future", f"{name} cannot be after today.", f"{label}不能晚于今天。"))
    elif day < EARLIEST_DATE:
        problems.append(Problem(name, "too_early", f"{name} cannot be before {EARLIEST_DATE}.",
                                f"{label}不能早于{EARLIEST_DATE.isoformat()}。"))


def _one_of(values: dict, problems: list[Problem], name: str, label: str, allowed: Mapping[str, str]) -> None:
    value = values.get(name)
    if value is not None and value not in allowed:
        listed = "、".join(f"{code}（{zh}）" for code, zh in allowed.items())
        problems.append(Problem(name, "not_in_list", f"{name} must be one of: {', '.join(allowed)}.",
                                f"{label}只能选：{listed}。"))


def check_upward_form(data: Any, *, today: date) -> list[Problem]:
    """Every problem with an upward referral form (转出单)."""
    values, problems = coerce(UPWARD_FORM, data)
    _date_window(values, problems, "referral_date", "转出日期", today)
    _one_of(values, problems, "patient_sex", "性别", {"0": "未知", "1": "男", "2": "女", "9": "未说明"})
    return problems


def check_return_form(data: Any, *, today: date) -> list[Problem]:
    """Every problem with a return form (回转单)."""
    values, problems = coerce(RETURN_FORM, data)
    _date_window(values, problems, "return_date", "回转日期", today)
    return problems


def check_answer(data: Any, *, today: date) -> list[Problem]:
    """Every problem with a specialist's answer: a clinic visit needs its date and half-day."""
    values, problems = coerce(ANSWER, data)
    _one_of(values, problems, "outcome", "答复结果", OUTCOMES)
    _one_of(values, problems, "clinic_session", "门诊时段", SESSIONS)
    outcome = values.get("outcome")
    if outcome == "clinic":
        for name, label in (("clinic_date", "门诊日期"), ("clinic_session", "门诊时段")):
            if name not in values and not any(p.field == name for p in problems):
                problems.append(Problem(name, "required", f"A clinic appointment needs {name}.",
                                        f"预约门诊须填写{label}。"))
        day = values.get("clinic_date")
        if day is not None and not 0 <= (day - today).days <= MAX_APPOINTMENT_DAYS:
            problems.append(Problem("clinic_date", "out_of_window",
                                    f"The clinic date must be from today to {MAX_APPOINTMENT_DAYS} days ahead.",
                                    f"门诊日期应在今天至{MAX_APPOINTMENT_DAYS}天内。"))
    elif outcome is not None:
        for name in ("clinic_date", "clinic_session"):
            if name in values:
                problems.append(Problem(name, "inconsistent", f"{name} belongs to a clinic appointment only.",
                                        "只有预约门诊时才填写门诊日期和时段。"))
    if "admit_date" in values and outcome != "admit":
        problems.append(Problem("admit_date", "inconsistent", "admit_date belongs to an admission only.",
                                "只有收住院时才填写入院日期。"))
    return problems


def check_details(fields: Mapping[str, Field], data: Any) -> list[Problem]:
    """Every problem with a short action payload (a reason, a question, information, a message)."""
    return coerce(fields, data)[1]


def check_choice(name: str, value: Any, allowed: Mapping[str, str], label: str) -> list[Problem]:
    """A Problem when value is not one of allowed (urgency, kind)."""
    if type(value) is str and value in allowed:
        return []
    listed = "、".join(f"{code}（{zh}）" for code, zh in allowed.items())
    return [Problem(name, "not_in_list", f"{name} must be one of: {', '.join(allowed)}.", f"{label}只能选：{listed}。")]
