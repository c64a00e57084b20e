"""Guidance for the doctor in Chinese: what to do now, why, and when to come back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from . import codes
from .schedule import visits_needed_this_year
from .settings import RuleSettings
from .visits import DiabetesVisit, FollowUpVisit

OVERWEIGHT_BMI = 24.0  # standards.md s.1: BMI 24-<28 overweight, >= 28 obese
OBESE_BMI = 28.0


def guidance_zh(
    decided: Mapping[str, Any], visit: FollowUpVisit, visits_this_year: int | None, settings: RuleSettings
) -> tuple[str, ...]:
    """Sentences for the doctor: the action now, health education, the yearly count and the next visit.

    `decided` holds the Assessment's fields (everything but the guidance itself).
    """
    lines = [*_action_lines(decided, visit), *_advice_lines(visit, decided["bmi"], patient=False)]
    lines.extend(_yearly_lines(visits_this_year, settings))
    lines.append(f"下次随访：{decided['next_visit_date'].isoformat()}（{decided['next_visit_reason'].zh}）。")
    return tuple(lines)


def _action_lines(decided: Mapping[str, Any], visit: FollowUpVisit) -> list[str]:
    lines = []
    measure, drugs = ("空腹血糖", "降糖") if isinstance(visit, DiabetesVisit) else ("血压", "降压")
    if decided["emergency"]:
        found = "；".join(reason.zh for reason in decided["emergency_reasons"])
        lines.append(f"危急情况：{found}。请立即处理，紧急转诊，2周内主动随访转诊情况。")
    control = decided["classification_reasons"][0].zh
    if decided["consecutive_uncontrolled"]:
        lines.append(
            f"连续两次随访{measure}控制不满意（{control}）：建议转诊到上级医院，2周内主动随访转诊情况。"
        )
    elif decided["controlled"] is False:
        lines.append(
            f"{measure}控制不满意（{control}）：结合服药依从性，必要时增加现用药物剂量、"
            f"更换或增加不同类的{drugs}药物，2周内随访。"
        )
    elif decided["controlled"] is True:
        lines.append(f"{measure}控制满意（{control}）：继续当前治疗。")
    else:
        lines.append(f"{control}：请尽快面对面随访并测量{measure}。")
    if visit.adverse_reaction == codes.ADR:
        what = f"（{visit.adverse_reaction_text}）" if visit.adverse_reaction_text else ""
        if visit.adverse_reaction_hard_to_control:
            lines.append(f"药物不良反应难以控制{what}：建议转诊，2周内主动随访转诊情况。")
        else:
            lines.append(f"出现药物不良反应{what}：调整用药，2周内随访。")
    if visit.new_or_worse_complication:
        lines.append("出现新的并发症或原有并发症加重：建议转诊，2周内主动随访转诊情况。")
    return lines


# Findings that call for advice, each once: when it applies, the sentence for the doctor (guidance_zh) and the
# sentence for the patient's slip (advice_for_patient_zh). In the order both print them.
class _Finding(NamedTuple):
    applies: Callable[[FollowUpVisit, float | None], bool]
    for_doctor: Callable[[FollowUpVisit, float | None], str]
    for_patient: Callable[[FollowUpVisit, float | None], str]


def _is_diabetes(visit: FollowUpVisit) -> bool:
    return isinstance(visit, DiabetesVisit)


def _overweight(bmi: float | None) -> bool:
    return bmi is not None and bmi >= OVERWEIGHT_BMI


def _irregular(visit: FollowUpVisit) -> bool:
    return visit.medication_adherence is not None and visit.medication_adherence != codes.REGULAR_ADHERENCE


def _too_much_staple(visit: FollowUpVisit) -> bool:
    food, goal = getattr(visit, "staple_food_g_per_day", None), getattr(visit, "staple_food_g_per_day_target", None)
    return food is not None and goal is not None and food > goal


_FINDINGS = (
    _Finding(
        lambda v, bmi: bool(v.cigarettes_per_day),
        lambda v, bmi: f"吸烟{v.cigarettes_per_day}支/日：劝其戒烟{_target(v.cigarettes_per_day_target, '支/日')}。",
        lambda v, bmi: "请戒烟。" if not v.cigarettes_per_day_target
        else f"请少吸烟，每天不超过{v.cigarettes_per_day_target}支，争取戒烟。",
    ),
    _Finding(
        lambda v, bmi: bool(v.liquor_liang_per_day),
        lambda v, bmi: f"饮酒{v.liquor_liang_per_day}两/日（白酒当量）：建议限酒"
        f"{_target(v.liquor_liang_per_day_target, '两/日')}。",
        lambda v, bmi: "请戒酒。" if not v.liquor_liang_per_day_target
        else f"请限制饮酒，每天白酒不超过{v.liquor_liang_per_day_target}两。",
    ),
    _Finding(
        lambda v, bmi: _overweight(bmi),
        lambda v, bmi: f"体质指数{bmi}（{'肥胖' if bmi >= OBESE_BMI else '超重'}）：建议控制饮食、增加运动、减轻体重"
        f"{_target(v.weight_target_kg, 'kg')}。",
        lambda v, bmi: "请控制饮食、多运动，减轻体重"
        + (f"，目标体重{v.weight_target_kg}公斤。" if v.weight_target_kg is not None else "。"),
    ),
    _Finding(
        lambda v, bmi: v.salt_intake == codes.HEAVY_SALT,
        lambda v, bmi: "摄盐偏重：建议清淡饮食，减少食盐摄入。",
        lambda v, bmi: "请清淡饮食，少吃盐。",
    ),
    _Finding(
        lambda v, bmi: _irregular(v),
        lambda v, bmi: f"服药依从性{_label(codes.MEDICATION_ADHERENCE, v.medication_adherence)}："
        "强调遵医嘱规律服药，不可自行停药。",
        lambda v, bmi: "请按医嘱每天按时服药，不要自行停药。",
    ),
    _Finding(
        lambda v, bmi: _is_diabetes(v) and v.hypoglycaemia == codes.FREQUENT_HYPOGLYCAEMIA,
        lambda v, bmi: "低血糖反应频繁：评估降糖药物或胰岛素剂量，教会患者识别和处理低血糖。",
        lambda v, bmi: "如出现心慌、出汗、手抖，可能是低血糖，请立即吃些糖果或饼干，并告诉医生。",
    ),
    _Finding(
        lambda v, bmi: _is_diabetes(v) and v.dorsalis_pedis is not None and v.dorsalis_pedis != codes.PULSE_NORMAL,
        lambda v, bmi: "足背动脉搏动减弱或消失：加强足部检查和护理教育。",
        lambda v, bmi: "请每天检查双脚，穿宽松鞋袜，发现破损及时就医。",
    ),
    _Finding(
        lambda v, bmi: _is_diabetes(v) and _too_much_staple(v),
        lambda v, bmi: f"主食{v.staple_food_g_per_day}克/日，高于目标{v.staple_food_g_per_day_target}克/日："
        "指导控制主食量。",
        lambda v, bmi: f"请控制主食，每天不超过{v.staple_food_g_per_day_target}克。",
    ),
)


def _advice_lines(visit: FollowUpVisit, bmi: float | None, patient: bool) -> list[str]:
    return [
        (finding.for_patient if patient else finding.for_doctor)(visit, bmi)
        for finding in _FINDINGS
        if finding.applies(visit, bmi)
    ]


def _label(table: Mapping[int, codes.Label], code: int | None) -> str:
    label = table.get(code)
    return label.zh if label else ""


def _yearly_lines(visits_this_year: int | None, settings: RuleSettings) -> list[str]:
    if visits_this_year is None:
        return []
    needed = visits_needed_this_year(visits_this_year, settings)
    if not needed:
        return [
            f"本年度已完成{visits_this_year}次面对面随访，达到每年{settings.face_to_face_visits_per_year}次的要求。"
        ]
    return [f"本年度已完成{visits_this_year}次面对面随访，还需{needed}次。"]


def _target(value: float | None, unit: str) -> str:
    return f"（目标{value}{unit}）" if value is not None else ""


def advice_for_patient_zh(
    visit: FollowUpVisit,
    *,
    controlled: bool | None,
    emergency: bool,
    referral: str,
    bmi: float | None,
) -> tuple[str, ...]:
    """Sentences for the patient's slip, addressed to the patient ("请戒烟"), not to the doctor ("劝其戒烟").

    The decisions are the signed record's (its stored columns), so the slip says what the record says.
    """
    measure = "血糖" if isinstance(visit, DiabetesVisit) else "血压"
    lines = []
    if emergency:
        lines.append("您的情况需要紧急处理，请立即到上级医院就诊，医生已为您办理转诊。")
    elif referral == codes.ROUTINE_REFERRAL:
        lines.append("请按医生建议到上级医院就诊，2周内我们会随访了解情况。")
    if controlled is True:
        lines.append(f"本次{measure}控制满意，请继续按时服药。")
    elif controlled is False:
        lines.append(f"本次{measure}控制不满意，请按调整后的方案服药，按下面的日期复查。")
    else:
        lines.append(f"本次未测量{measure}，请尽快到社区卫生服务中心测量。")
    if visit.adverse_reaction == codes.ADR:
        lines.append("服药后有不适，请按医生调整后的方案服药，不要自行停药或加量。")
    lines.extend(_advice_lines(visit, bmi, patient=True))
    return tuple(lines)
