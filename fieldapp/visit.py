"""A follow-up visit being recorded on the tablet: the form's boxes, the previous visit's answers offered,
live feedback from the shared rules (gpcore.followup), the draft kept in the store, and signing.

Plain Python (no Kivy): the form screen shows what this module computes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gpcore import followup as rules
from gpcore.followup import codes
from gpcore.followup.validation import CODE_LISTS, RANGES
from gpcore.followup.visits import DiabetesVisit, HypertensionVisit, build_visit, coerce_fields, field_specs

VISIT_CLASSES = {"hypertension": HypertensionVisit, "t2dm": DiabetesVisit}
HOME_VISIT = codes.HOME

# The form's boxes in the order of the printed national forms, by section (the section titles are in the
# message catalogue under "section.<name>"). Every box of gpcore's field table appears exactly once:
# tests/fieldapp_ui/test_visit.py checks that against field_specs.
_COMMON_HEAD = [("visit", ["visit_date", "visit_mode"]),
                ("symptoms", ["symptoms", "symptoms_other", "symptoms_not_urgent", "danger_signs",
                              "danger_sign_other", "pregnant", "lactating"]),
                ("signs", ["sbp", "dbp", "heart_rate", "weight_kg", "weight_target_kg", "height_cm", "bmi",
                           "bmi_target", "temperature_c", "other_signs"])]
_LIFESTYLE = ("lifestyle", ["cigarettes_per_day", "cigarettes_per_day_target", "liquor_liang_per_day",
                            "liquor_liang_per_day_target", "exercise_times_per_week",
                            "exercise_times_per_week_target", "exercise_minutes_per_time",
                            "exercise_minutes_per_time_target", "salt_intake", "salt_intake_target",
                            "psychological_adjustment", "compliance"])
_COMMON_TAIL = [("medication", ["medication_adherence", "adverse_reaction", "adverse_reaction_text",
                                "adverse_reaction_hard_to_control", "new_or_worse_complication", "medications",
                                "other_drugs"]),
                ("conclusion", ["classification", "referral_reason", "referral_institution",
                                "referral_department", "next_visit_date", "doctor"])]
SECTIONS = {
    "hypertension": [*_COMMON_HEAD, _LIFESTYLE, ("tests", ["tests_since_last_visit"]), *_COMMON_TAIL],
    "t2dm": [*_COMMON_HEAD[:2],
             ("signs", _COMMON_HEAD[2][1][:-1] + ["dorsalis_pedis", "dorsalis_pedis_side", "other_signs"]),
             ("lifestyle", _LIFESTYLE[1][:8] + ["staple_food_g_per_day", "staple_food_g_per_day_target"]
              + _LIFESTYLE[1][8:]),
             ("tests", ["fpg_mmol", "fpg_missing_reason", "hba1c_percent", "hba1c_date", "tests_since_last_visit"]),
             ("medication", _COMMON_TAIL[0][1][:2] + ["hypoglycaemia"] + _COMMON_TAIL[0][1][2:]
              + ["insulin_type", "insulin_usage_dose"]),
             _COMMON_TAIL[1]],
}
# Measured today, so never copied from the previous visit.
NOT_CARRIED = {"visit_date", "visit_mode", "symptoms", "symptoms_other", "symptoms_not_urgent", "danger_signs",
               "danger_sign_other",
               "sbp", "dbp", "heart_rate", "weight_kg", "bmi", "temperature_c", "fpg_mmol", "fpg_missing_reason",
               "hba1c_percent", "hba1c_date", "tests_since_last_visit", "classification", "next_visit_date",
               "referral_reason", "referral_institution", "referral_department", "adverse_reaction_text",
               "adverse_reaction_hard_to_control", "new_or_worse_complication", "other_signs", "doctor",
               "pregnant", "lactating"}


@dataclass(frozen=True)
class Box:
    """One box of the form as the screen draws it: kind is date, choice, multi, int, number, text, bool or
    medications; options [(code, zh)] for choices; unit for numbers."""

    name: str
    label: str
    kind: str
    options: tuple = ()
    unit: str = ""
    required: bool = False


def _kind(spec, condition: str) -> Box:
    coerce = spec.coerce.__name__
    if spec.name in CODE_LISTS:
        options = tuple((c, l.zh) for c, l in CODE_LISTS[spec.name].items())
        return Box(spec.name, spec.label.zh, "choice", options, required=spec.required)
    if spec.name == "symptoms":
        lists = codes.HYPERTENSION_SYMPTOMS if condition == "hypertension" else codes.DIABETES_SYMPTOMS
        return Box(spec.name, spec.label.zh, "multi", tuple((c, l.zh) for c, l in lists.items()))
    if spec.name == "symptoms_not_urgent":  # the doctor's answer for a ticked box that names an urgent sign
        lists = codes.HYPERTENSION_SYMPTOMS if condition == "hypertension" else codes.DIABETES_SYMPTOMS
        urgent = codes.URGENT_SYMPTOM_BOXES[codes.HYPERTENSION if condition == "hypertension" else codes.DIABETES]
        return Box(spec.name, spec.label.zh, "multi", tuple((c, lists[c].zh) for c in urgent))
    if spec.name == "danger_signs":
        lists = codes.HYPERTENSION_DANGER_SIGNS if condition == "hypertension" else codes.DIABETES_DANGER_SIGNS
        return Box(spec.name, spec.label.zh, "multi", tuple((c, l.zh) for c, l in lists.items()))
    kind = {"as_date": "date", "as_int": "int", "as_number": "number", "as_bool": "bool",
            "as_medications": "medications"}.get(coerce, "text")
    return Box(spec.name, spec.label.zh, kind, unit=RANGES.get(spec.name, (0, 0, ""))[2], required=spec.required)


def form_boxes(condition: str) -> list[tuple[str, list[Box]]]:
    """The form's sections with their boxes, for a condition ('hypertension' or 't2dm')."""
    specs = {s.name: s for s in field_specs(VISIT_CLASSES[condition])}
    return [(section, [_kind(specs[name], condition) for name in names]) for section, names in SECTIONS[condition]]


@dataclass
class Feedback:
    """What the rules say about the form as typed so far."""

    emergency: bool = False
    emergency_reasons: list[str] = field(default_factory=list)
    classification: int | None = None
    classification_label: str = ""
    classification_reasons: list[str] = field(default_factory=list)
    referral: str = codes.NO_REFERRAL
    referral_reasons: list[str] = field(default_factory=list)
    next_visit_date: str | None = None
    next_visit_reason: str = ""
    guidance: list[str] = field(default_factory=list)
    bmi: float | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)
    assessment: dict | None = None


class VisitDraft:
    """One visit being typed for a resident and condition; the draft is kept in the store as it changes."""

    def __init__(self, store, resident_id: str, condition: str, today: dt.date, doctor: str = "",
                 amends_id: str | None = None):
        """amends_id: the signed visit this form corrects (an amendment), which is not its own past."""
        if condition not in VISIT_CLASSES:
            raise ValueError(f"no follow-up form for {condition}")
        self.store, self.resident_id, self.condition, self.today = store, resident_id, condition, today
        self.cls = VISIT_CLASSES[condition]
        self.resident = store.resident(resident_id)
        self.birth = dt.date.fromisoformat(self.resident["birth_date"])
        # An amendment is not its own past: the rules' history skips the chain of the visit it corrects, and
        # so does the last visit offered (its answers, the keypad's "上次").
        target = store.visit(amends_id) if amends_id else None
        self._chain = (target.get("original_id") or target["id"]) if target else None
        history = [v for v in store.visits(resident_id, condition) if (v.get("kind") or "visit") == "visit"
                   and (self._chain is None or (v.get("original_id") or v["id"]) != self._chain)]
        self.previous_record = history[0] if history else None
        kept = store.draft(resident_id, condition)
        self.restored = kept is not None
        self.form: dict = kept if kept is not None else {
            "visit_date": today.isoformat(), "visit_mode": HOME_VISIT, "doctor": doctor}

    # --- editing -------------------------------------------------------------------------------

    def set(self, name: str, value) -> None:
        """Set a box (None or "" empties it)."""
        if value is None or value == "" or value == []:
            self.form.pop(name, None)
        else:
            self.form[name] = value

    def keep(self) -> None:
        """Write the draft to the store (the screen calls this shortly after each change)."""
        self.store.save_draft(self.resident_id, self.condition, self.form)

    def discard(self) -> None:
        """Throw the draft away."""
        self.store.discard_draft(self.resident_id, self.condition)

    def previous_offer(self) -> dict:
        """The previous visit's answers that carry over (lifestyle, targets, drugs, height), not measurements."""
        if not self.previous_record:
            return {}
        form = self.previous_record.get("form") or {}
        # `is` tests: a previous answer of 0 (cigarettes, liquor) is an answer, and 0 == False in Python.
        return {k: v for k, v in form.items() if k not in NOT_CARRIED and k in self._names()
                and not (v is None or v is False or v == "" or v == [])}

    def apply_previous(self) -> list[str]:
        """Fill the empty boxes with the previous visit's answers; returns the boxes filled."""
        offer = self.previous_offer()
        filled = [k for k in offer if self.form.get(k) is None or self.form.get(k) == ""]
        for k in filled:
            self.form[k] = offer[k]
        return filled

    def _names(self) -> set[str]:
        return {s.name for s in field_specs(self.cls)}

    # --- the rules -----------------------------------------------------------------------------

    def _past(self, visit_date: dt.date):
        """The previous visit (parsed; None for the first or an unreadable one) and the face-to-face visits
        earlier that year, as the store reads them for the rules (Store.rules_history, the server's way)."""
        form, earlier = self.store.rules_history(self.resident_id, self.condition, visit_date.isoformat(),
                                                 self._chain)
        if not isinstance(form, dict):
            return None, earlier
        values, problems = coerce_fields(self.cls, form)
        return (None if problems else build_visit(self.cls, values)), earlier

    def feedback(self) -> Feedback:
        """The rules on the form as typed: problems by box (Chinese), and the assessment of what is there."""
        problems = rules.errors_by_field(
            (rules.check_hypertension_visit if self.condition == "hypertension" else rules.check_diabetes_visit)(
                self.form, today=self.today), "zh")
        values, _ = coerce_fields(self.cls, self.form)
        values.setdefault("visit_date", self.today)
        values.setdefault("visit_mode", HOME_VISIT)
        visit = build_visit(self.cls, values)
        previous, earlier = self._past(visit.visit_date)
        if self.condition == "hypertension":
            prev_age = rules.age_on(self.birth, previous.visit_date) if previous else None
            result = rules.assess_hypertension_visit(
                visit, patient_age=rules.age_on(self.birth, visit.visit_date), previous=previous,
                previous_patient_age=prev_age, earlier_visits_this_year=earlier)
        else:
            result = rules.assess_diabetes_visit(visit, previous=previous, earlier_visits_this_year=earlier)
        label = codes.VISIT_CLASSIFICATIONS[result.classification].zh if result.classification else ""
        return Feedback(
            emergency=result.emergency, emergency_reasons=[r.zh for r in result.emergency_reasons],
            classification=result.classification, classification_label=label,
            classification_reasons=[r.zh for r in result.classification_reasons], referral=result.referral,
            referral_reasons=[r.zh for r in result.referral_reasons],
            next_visit_date=result.next_visit_date.isoformat(), next_visit_reason=result.next_visit_reason.zh,
            guidance=list(result.guidance_zh), bmi=result.bmi, problems=problems, assessment=result.to_dict())

    def final_form(self, feedback: Feedback | None = None) -> dict:
        """The form as signed: the rules' classification and next date where the doctor left them empty."""
        feedback = feedback or self.feedback()
        form = dict(self.form)
        if form.get("classification") is None and feedback.classification is not None:
            form["classification"] = feedback.classification
        if form.get("next_visit_date") is None and feedback.next_visit_date:
            form["next_visit_date"] = feedback.next_visit_date
        return form

    def sign(self) -> str:
        """Sign: the visit and its outbox entry in one transaction, the draft dropped in the same commit.
        Raises store.InvalidRecord with {box: [messages]} when the form breaks the rules."""
        feedback = self.feedback()
        form = self.final_form(feedback)
        with self.store.transaction():
            visit_id = self.store.save_visit(self.resident_id, self.condition, form,
                                             device_assessment=device_assessment(feedback))
            self.store.discard_draft(self.resident_id, self.condition)
        return visit_id

    def reopen(self, form: dict, assessment: dict | None = None) -> None:
        """Start from a form signed earlier (a refused visit being corrected). The classification and next
        visit date that signing filled in from the rules (final_form) are taken out again, so they follow the
        corrections; those the doctor set otherwise stay. What the rules said then is the record's
        device_assessment where it has one (a new visit); an amendment carries none, and the rules are asked
        again on the form as it was (the visits since may make them answer otherwise)."""
        self.form = {k: v for k, v in form.items() if k not in ("classification", "next_visit_date")}
        if assessment is None:
            said = self.feedback()
            assessment = {"classification": said.classification, "next_visit_date": said.next_visit_date}
        for key in ("classification", "next_visit_date"):
            if form.get(key) is not None and str(form[key]) != str(assessment.get(key)):
                self.form[key] = form[key]  # the doctor's own

    def resubmit(self, change_id: str, reason: str | None = None) -> None:
        """Send a visit the server refused again, as now typed (store.fix_rejected: the same record id, a new
        change that replaces the refused one); an amendment keeps its target and takes the reason again. The
        draft of this resident and condition, if any, is another visit's and is left alone. Raises
        store.InvalidRecord as sign() does."""
        feedback = self.feedback()
        fields = {"form": self.final_form(feedback), "device_assessment": device_assessment(feedback)}
        if reason is not None:
            fields["reason"] = reason
        self.store.fix_rejected(change_id, fields)


# What the server takes of the tablet's assessment (server/followups/schemas.py DeviceAssessmentSchema): it
# keeps it and records any disagreement with its own run of the same rules.
DEVICE_ASSESSMENT_KEYS = ("classification", "emergency", "referral", "next_visit_date", "rules_version")


def device_assessment(feedback: Feedback) -> dict:
    """The tablet's decisions as the server takes them with a visit."""
    return {k: feedback.assessment[k] for k in DEVICE_ASSESSMENT_KEYS}


def amend(store, visit_id: str, form: dict, reason: str) -> str:
    """Correct a signed visit with a new record and the reason (a signed record is never edited)."""
    return store.amend_visit(visit_id, form, reason)
