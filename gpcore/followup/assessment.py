"""Assessing one follow-up visit: control, classification, emergency, referral, next visit, guidance."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from . import codes
from .codes import Reason
from .emergency import diabetes_emergencies, hypertension_emergencies
from .guidance import guidance_zh
from .measures import bmi as compute_bmi
from .schedule import on_working_day, routine_booking, short_booking
from .settings import RULES_VERSION, RuleSettings
from .visits import DiabetesVisit, FollowUpVisit, HypertensionVisit

DEFAULT_SETTINGS = RuleSettings()


class Control(NamedTuple):
    """Whether the visit met its target: True, False, or None when nothing was measured."""

    controlled: bool | None
    reason: Reason
    target: str


class Assessment(NamedTuple):
    """What the rules say about one visit; every decision carries its reasons.

    Immutable; a NamedTuple because it is built once per visit on a hot path (cheaper than a dataclass).
    """

    condition: str
    controlled: bool | None
    control_target: str
    classification: int | None  # VISIT_CLASSIFICATIONS code; None when control was not measured
    classification_reasons: tuple[Reason, ...]
    emergency: bool
    emergency_reasons: tuple[Reason, ...]
    consecutive_uncontrolled: bool
    referral: str  # REFERRAL_LEVELS: none / routine / urgent
    referral_reasons: tuple[Reason, ...]
    next_visit_date: date
    next_visit_reason: Reason
    guidance_zh: tuple[str, ...]
    bmi: float | None
    rules_version: str = RULES_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The assessment as JSON-ready data; reasons become {code, zh, en} objects."""
        data: dict[str, Any] = {}
        for name, value in zip(self._fields, self):
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Reason):
                value = value._asdict()
            elif isinstance(value, tuple):
                value = [item._asdict() if isinstance(item, Reason) else item for item in value]
            data[name] = value
        return data


def assess_hypertension_visit(
    visit: HypertensionVisit,
    *,
    patient_age: int,
    previous: HypertensionVisit | None = None,
    previous_patient_age: int | None = None,
    earlier_visits_this_year: int | None = None,
    settings: RuleSettings = DEFAULT_SETTINGS,
) -> Assessment:
    """Assess a hypertension visit.

    `previous` is the patient's visit just before this one; `earlier_visits_this_year` counts the
    face-to-face visits earlier in the same calendar year (None when unknown: plain quarterly booking).
    """
    _expect(visit, HypertensionVisit, previous)
    control = bp_control(visit, patient_age, settings)
    previous_control = None
    if previous is not None:
        age_then = patient_age if previous_patient_age is None else previous_patient_age
        previous_control = bp_control(previous, age_then, settings).controlled
    return _assess(
        visit,
        control,
        previous_control,
        hypertension_emergencies(visit, settings),
        earlier_visits_this_year,
        settings,
    )


def assess_diabetes_visit(
    visit: DiabetesVisit,
    *,
    previous: DiabetesVisit | None = None,
    earlier_visits_this_year: int | None = None,
    settings: RuleSettings = DEFAULT_SETTINGS,
) -> Assessment:
    """Assess a type 2 diabetes visit (control by fasting glucose; age does not change the target)."""
    _expect(visit, DiabetesVisit, previous)
    previous_control = None if previous is None else fpg_control(previous, settings).controlled
    return _assess(
        visit,
        fpg_control(visit, settings),
        previous_control,
        diabetes_emergencies(visit, settings),
        earlier_visits_this_year,
        settings,
    )


def bp_control(visit: FollowUpVisit, patient_age: int, settings: RuleSettings = DEFAULT_SETTINGS) -> Control:
    """Hypertension control ("控制满意"): SBP and DBP both below the target for the patient's age."""
    limit_s, limit_d = settings.bp_target(patient_age)
    target = f"<{limit_s}/{limit_d} mmHg"
    sbp, dbp = visit.sbp, visit.dbp
    if sbp is None or dbp is None:
        return Control(
            None,
            Reason(
                "bp_not_measured", "本次未测量血压，无法评价控制情况", "BP not measured: control not assessed"
            ),
            target,
        )
    if sbp < limit_s and dbp < limit_d:
        return Control(
            True,
            Reason(
                "bp_on_target",
                f"血压{sbp}/{dbp}mmHg，达到目标{target}",
                f"BP {sbp}/{dbp} meets the target {target}",
            ),
            target,
        )
    return Control(
        False,
        Reason(
            "bp_above_target",
            f"血压{sbp}/{dbp}mmHg，未达到目标{target}",
            f"BP {sbp}/{dbp} misses the target {target}",
        ),
        target,
    )


def fpg_control(visit: DiabetesVisit, settings: RuleSettings = DEFAULT_SETTINGS) -> Control:
    """Diabetes control: fasting glucose below the target (7.0 mmol/L by default)."""
    target = f"空腹血糖<{settings.fpg_target_mmol} mmol/L"
    fpg = visit.fpg_mmol
    if fpg is None:
        why = f"（{visit.fpg_missing_reason}）" if visit.fpg_missing_reason else ""
        return Control(
            None,
            Reason(
                "fpg_not_measured",
                f"本次未测空腹血糖{why}，无法评价控制情况",
                "fasting glucose not measured: control not assessed",
            ),
            target,
        )
    if fpg < settings.fpg_target_mmol:
        return Control(
            True,
            Reason(
                "fpg_on_target",
                f"空腹血糖{fpg}mmol/L，达到目标<{settings.fpg_target_mmol}",
                f"FPG {fpg} mmol/L meets the target < {settings.fpg_target_mmol}",
            ),
            target,
        )
    return Control(
        False,
        Reason(
            "fpg_above_target",
            f"空腹血糖{fpg}mmol/L，未达到目标<{settings.fpg_target_mmol}",
            f"FPG {fpg} mmol/L misses the target < {settings.fpg_target_mmol}",
        ),
        target,
    )


def _expect(visit: Any, kind: type, previous: Any) -> None:
    for value in (visit, previous):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"expected a {kind.__name__}, got {type(value).__name__}")


def _assess(
    visit: FollowUpVisit,
    control: Control,
    previous_controlled: bool | None,
    emergencies: tuple[Reason, ...],
    earlier_visits: int | None,
    settings: RuleSettings,
) -> Assessment:
    consecutive = control.controlled is False and previous_controlled is False
    classification, classification_reasons = classify(visit, control)
    referral, referral_reasons = recommend_referral(visit, emergencies, consecutive)
    visits_this_year = None
    if earlier_visits is not None:
        visits_this_year = earlier_visits + (visit.visit_mode in codes.FACE_TO_FACE_MODES)
    next_date, next_reason = book_next_visit(
        visit, control, emergencies, referral, visits_this_year, settings
    )
    decided = {
        "condition": visit.condition,
        "controlled": control.controlled,
        "control_target": control.target,
        "classification": classification,
        "classification_reasons": classification_reasons,
        "emergency": bool(emergencies),
        "emergency_reasons": emergencies,
        "consecutive_uncontrolled": consecutive,
        "referral": referral,
        "referral_reasons": referral_reasons,
        "next_visit_date": next_date,
        "next_visit_reason": next_reason,
        "bmi": visit_bmi(visit),
    }
    # Guidance reads the finished decisions, so it is written last.
    return Assessment(**decided, guidance_zh=guidance_zh(decided, visit, visits_this_year, settings))


def classify(visit: FollowUpVisit, control: Control) -> tuple[int | None, tuple[Reason, ...]]:
    """The form's single classification box (complication > adverse reaction > control) and all reasons."""
    reasons = [control.reason]
    code = {True: codes.CONTROLLED, False: codes.UNCONTROLLED, None: None}[control.controlled]
    if visit.adverse_reaction == codes.ADR:
        code = codes.ADVERSE_REACTION_CLASS
        reasons.append(_adverse_reaction_reason(visit))
    if visit.new_or_worse_complication:
        code = codes.COMPLICATION
        reasons.append(COMPLICATION_REASON)
    return code, tuple(reasons)


def recommend_referral(
    visit: FollowUpVisit, emergencies: tuple[Reason, ...], consecutive_uncontrolled: bool
) -> tuple[str, tuple[Reason, ...]]:
    """Referral level (none / routine / urgent) and every reason for it."""
    reasons = []
    if emergencies:
        reasons.append(
            Reason(
                "emergency",
                "存在危急情况：" + "、".join(r.zh for r in emergencies),
                "emergency: " + "; ".join(r.en for r in emergencies),
            )
        )
    if consecutive_uncontrolled:
        reasons.append(
            Reason("consecutive_uncontrolled", "连续两次随访控制不满意", "second uncontrolled visit in a row")
        )
    if visit.adverse_reaction == codes.ADR and visit.adverse_reaction_hard_to_control:
        reasons.append(
            Reason(
                "adverse_reaction_hard_to_control",
                "药物不良反应难以控制",
                "adverse drug reaction hard to control",
            )
        )
    if visit.new_or_worse_complication:
        reasons.append(COMPLICATION_REASON)
    if emergencies:
        return codes.URGENT_REFERRAL, tuple(reasons)
    return (codes.ROUTINE_REFERRAL if reasons else codes.NO_REFERRAL), tuple(reasons)


def book_next_visit(
    visit: FollowUpVisit,
    control: Control,
    emergencies: tuple[Reason, ...],
    referral: str,
    visits_this_year: int | None,
    settings: RuleSettings,
) -> tuple[date, Reason]:
    """Next visit date and why: 2 weeks after any trouble, otherwise the quarterly rule."""
    trouble = _short_interval_reason(visit, control, emergencies, referral, settings.short_interval_days)
    if trouble is not None:
        booked, reason = short_booking(visit.visit_date, trouble, settings)
    else:
        booked, reason = routine_booking(visit.visit_date, visits_this_year, settings)
    return on_working_day(visit.visit_date, booked, reason, settings)


def _short_interval_reason(
    visit: FollowUpVisit, control: Control, emergencies: tuple[Reason, ...], referral: str, days: int
) -> Reason | None:
    # The first that applies names the booking; the others are already in the referral/classification reasons.
    if emergencies:
        return Reason(
            "emergency_follow_up",
            f"紧急转诊后{days}天内随访转诊情况",
            f"follow the urgent referral up within {days} days",
        )
    if referral == codes.ROUTINE_REFERRAL:
        return Reason(
            "referral_follow_up",
            f"转诊后{days}天内随访转诊情况",
            f"follow the referral up within {days} days",
        )
    if visit.adverse_reaction == codes.ADR:
        return Reason(
            "adverse_reaction",
            f"药物不良反应，调整用药后{days}天内随访",
            f"adverse reaction: visit within {days} days",
        )
    if control.controlled is False:
        return Reason(
            "uncontrolled", f"控制不满意，调整治疗后{days}天内随访", f"uncontrolled: visit within {days} days"
        )
    if control.controlled is None:
        return Reason(
            "not_measured",
            f"本次未测量，{days}天内安排面对面随访测量",
            f"not measured: see face to face within {days} days",
        )
    return None


COMPLICATION_REASON = Reason(
    "new_or_worse_complication", "出现新的并发症或原有并发症加重", "new or worse complication"
)


def _adverse_reaction_reason(visit: FollowUpVisit) -> Reason:
    text = visit.adverse_reaction_text
    return Reason(
        "adverse_reaction",
        f"药物不良反应：{text}" if text else "药物不良反应",
        f"adverse drug reaction: {text}" if text else "adverse drug reaction",
    )


def visit_bmi(visit: FollowUpVisit) -> float | None:
    """The visit's BMI: from its weight and height when both are there, else the BMI box."""
    if visit.weight_kg and visit.height_cm:
        return compute_bmi(visit.weight_kg, visit.height_cm)
    return visit.bmi
