"""Danger at a follow-up visit (危急情况): every reason found, each with a code and bilingual text."""

from __future__ import annotations

from collections.abc import Mapping

from .codes import (
    DIABETES,
    DIABETES_DANGER_SIGNS,
    DIABETES_SYMPTOMS,
    HYPERTENSION,
    HYPERTENSION_DANGER_SIGNS,
    HYPERTENSION_SYMPTOMS,
    UNMANAGEABLE,
    URGENT_SYMPTOM_BOXES,
    Label,
    Reason,
)
from .settings import RuleSettings
from .visits import DiabetesVisit, FollowUpVisit, HypertensionVisit


def hypertension_emergencies(visit: HypertensionVisit, settings: RuleSettings) -> tuple[Reason, ...]:
    """Every emergency reason of section 1: severe BP, danger signs, raised BP in pregnancy or lactation."""
    reasons: list[Reason] = []
    _severe_bp(visit, settings, reasons)
    _danger_signs(visit, HYPERTENSION_DANGER_SIGNS, reasons)
    _urgent_symptoms(visit, HYPERTENSION, HYPERTENSION_SYMPTOMS, HYPERTENSION_DANGER_SIGNS, reasons)
    _raised_bp_in_pregnancy(visit, settings, reasons)
    return tuple(reasons)


def diabetes_emergencies(visit: DiabetesVisit, settings: RuleSettings) -> tuple[Reason, ...]:
    """Every emergency reason of section 2: glucose, severe BP, heart rate, fever, danger signs, pregnancy."""
    reasons: list[Reason] = []
    _glucose_extremes(visit, settings, reasons)
    _severe_bp(visit, settings, reasons)
    _tachycardia_and_fever(visit, settings, reasons)
    _danger_signs(visit, DIABETES_DANGER_SIGNS, reasons)
    _urgent_symptoms(visit, DIABETES, DIABETES_SYMPTOMS, DIABETES_DANGER_SIGNS, reasons)
    _raised_glucose_in_pregnancy(visit, settings, reasons)
    return tuple(reasons)


def _severe_bp(visit: FollowUpVisit, settings: RuleSettings, reasons: list[Reason]) -> None:
    sbp, dbp = visit.sbp, visit.dbp
    limit_s, limit_d = settings.severe_bp
    if (sbp is not None and sbp >= limit_s) or (dbp is not None and dbp >= limit_d):
        reasons.append(
            Reason(
                "severe_bp",
                f"收缩压≥{limit_s}mmHg和/或舒张压≥{limit_d}mmHg（本次{sbp}/{dbp}mmHg）",
                f"SBP >= {limit_s} and/or DBP >= {limit_d} mmHg (this visit {sbp}/{dbp})",
            )
        )


def _danger_signs(visit: FollowUpVisit, signs: Mapping[str, Label], reasons: list[Reason]) -> None:
    for code in visit.danger_signs:
        label = signs.get(code)
        if label is None:  # an unvalidated record; validation reports the unknown code
            continue
        if code == UNMANAGEABLE and visit.danger_sign_other:
            reasons.append(
                Reason(
                    code, f"{label.zh}：{visit.danger_sign_other}", f"{label.en}: {visit.danger_sign_other}"
                )
            )
        else:
            reasons.append(Reason(code, label.zh, label.en))


def _urgent_symptoms(visit: FollowUpVisit, condition: str, boxes: Mapping[int, Label],
                     signs: Mapping[str, Label], reasons: list[Reason]) -> None:
    """A ticked box whose words are an urgent sign raises the emergency unless the doctor answered that it
    is not urgent now (symptoms_not_urgent); a box whose sign is already ticked adds nothing new."""
    for box, named in URGENT_SYMPTOM_BOXES[condition].items():
        if box not in visit.symptoms or box in visit.symptoms_not_urgent:
            continue
        if set(named) <= set(visit.danger_signs):
            continue  # the signs themselves are ticked: their reasons are already there
        label = boxes[box]
        zh_signs = "、".join(signs[code].zh for code in named)
        en_signs = ", ".join(signs[code].en for code in named)
        reasons.append(
            Reason(
                f"urgent_symptom_{box}",
                f"症状“{label.zh}”属紧急转诊情况（规范：{zh_signs}），医生未确认目前非紧急",
                f"symptom '{label.en}' is an urgent sign ({en_signs}) and was not judged non-urgent",
            )
        )


def _maternal_status(visit: FollowUpVisit) -> tuple[str, str]:
    if visit.pregnant and visit.lactating:
        return "妊娠期及哺乳期", "pregnancy and lactation"
    return ("妊娠期", "pregnancy") if visit.pregnant else ("哺乳期", "lactation")


def _raised_bp_in_pregnancy(visit: FollowUpVisit, settings: RuleSettings, reasons: list[Reason]) -> None:
    limit_s, limit_d = settings.pregnancy_raised_bp
    raised = (visit.sbp is not None and visit.sbp >= limit_s) or (
        visit.dbp is not None and visit.dbp >= limit_d
    )
    if raised and (visit.pregnant or visit.lactating):
        zh, en = _maternal_status(visit)
        reasons.append(
            Reason(
                "pregnancy_or_lactation_raised_bp",
                f"{zh}血压高于正常（{visit.sbp}/{visit.dbp}mmHg）",
                f"raised BP in {en} ({visit.sbp}/{visit.dbp} mmHg)",
            )
        )


def _glucose_extremes(visit: DiabetesVisit, settings: RuleSettings, reasons: list[Reason]) -> None:
    fpg = visit.fpg_mmol
    if fpg is None:
        return
    if fpg >= settings.glucose_high_mmol:
        reasons.append(
            Reason(
                "glucose_high",
                f"血糖≥{settings.glucose_high_mmol}mmol/L（本次{fpg}）",
                f"glucose >= {settings.glucose_high_mmol} mmol/L ({fpg})",
            )
        )
    if fpg <= settings.glucose_low_mmol:
        reasons.append(
            Reason(
                "glucose_low",
                f"血糖≤{settings.glucose_low_mmol}mmol/L（本次{fpg}）",
                f"glucose <= {settings.glucose_low_mmol} mmol/L ({fpg})",
            )
        )


def _tachycardia_and_fever(visit: FollowUpVisit, settings: RuleSettings, reasons: list[Reason]) -> None:
    if visit.heart_rate is not None and visit.heart_rate > settings.tachycardia_bpm:
        reasons.append(
            Reason(
                "tachycardia",
                f"心率>{settings.tachycardia_bpm}次/分钟（本次{visit.heart_rate}）",
                f"heart rate > {settings.tachycardia_bpm}/min ({visit.heart_rate})",
            )
        )
    if visit.temperature_c is not None and visit.temperature_c > settings.fever_c:
        reasons.append(
            Reason(
                "fever",
                f"体温>{settings.fever_c}℃（本次{visit.temperature_c}）",
                f"temperature > {settings.fever_c} C ({visit.temperature_c})",
            )
        )


def _raised_glucose_in_pregnancy(visit: DiabetesVisit, settings: RuleSettings, reasons: list[Reason]) -> None:
    fpg = visit.fpg_mmol
    if fpg is not None and fpg >= settings.pregnancy_raised_fpg_mmol and (visit.pregnant or visit.lactating):
        zh, en = _maternal_status(visit)
        reasons.append(
            Reason(
                "pregnancy_or_lactation_raised_glucose",
                f"{zh}血糖高于正常（{fpg}mmol/L）",
                f"raised glucose in {en} ({fpg} mmol/L)",
            )
        )
