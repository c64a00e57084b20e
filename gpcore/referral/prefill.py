"""How the upward form (转出单) is pre-filled from a resident's health file: one rule for the server
(GET /referrals/prefill, POST /referrals) and the tablet (a referral written offline).

Plain data in, plain data out: the caller reads the file its own way (SQL on the server, the store on the
tablet) and hands over dicts; dates may be date objects or ISO text (the tablet holds text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from .. import health_file as hf
from ..followup import codes
from ..followup.decisions import record_decisions
from ..followup.visits import DiabetesVisit, HypertensionVisit, VisitDataError
from .machine import CANCELLED, DECLINED

RECENT_VISITS = 3


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def identity(resident: Mapping[str, Any], address: str | None, household_phone: str | None,
             today: date) -> dict:
    """The stub's patient identity from the health file (on the server it overrides what a client sent)."""
    birth = _day(resident.get("birth_date"))
    return {"patient_name": resident.get("name"), "patient_sex": resident.get("sex"),
            "patient_age": hf.age_on(birth, today) if birth else None,
            "id_number": resident.get("id_number"), "record_number": resident.get("record_number"),
            "address": address, "phone": resident.get("phone") or household_phone}


def health_lines(conditions: Iterable[tuple[str, str]], resident: Mapping[str, Any],
                 visits: list[Mapping[str, Any]]) -> dict:
    """Conditions, allergies, medications and the last visits as lines of text.

    conditions: (registry condition, management status) pairs; resident: its past_diseases,
    drug_allergies, drug_allergy_other; visits: the effective visits, newest first (visit_date, condition,
    sbp, dbp, fpg_mmol, form), at most RECENT_VISITS of them are read.
    """
    lines = [f"{hf.CHRONIC_CONDITION.get(c, c)}（{hf.MANAGEMENT_STATUS.get(s, s)}）" for c, s in conditions]
    for disease in resident.get("past_diseases") or []:
        code = disease.get("code")
        if code not in (None, "none"):
            lines.append(" ".join(filter(None, (hf.PAST_DISEASE.get(code, code), disease.get("diagnosed")))))
    allergies = [hf.DRUG_ALLERGY.get(code, code) for code in resident.get("drug_allergies") or []
                 if code not in ("none", "other")]
    if resident.get("drug_allergy_other"):
        allergies.append(resident["drug_allergy_other"])
    visits = visits[:RECENT_VISITS]
    followups = []
    for v in visits:
        parts = [_day(v["visit_date"]).isoformat(), hf.CHRONIC_CONDITION.get(v["condition"], v["condition"])]
        if v.get("sbp") is not None:
            parts.append(f"血压{v['sbp']}/{v['dbp']}mmHg")
        if v.get("fpg_mmol") is not None:
            parts.append(f"空腹血糖{v['fpg_mmol']}mmol/L")
        followups.append(" ".join(parts))
    medications = [f"{m['name']} 每日{m['times_per_day']}次 每次{float(m['mg_per_time']):g}mg"
                   for m in ((visits[0].get("form") or {}).get("medications") or [] if visits else [])]
    return {"conditions": lines, "allergies": allergies or ["无"], "medications": medications,
            "recent_followups": followups}


VISIT_FORMS = {"hypertension": HypertensionVisit, "t2dm": DiabetesVisit}
URGENCY_RANK = {"emergency": 0, "urgent": 1, "routine": 2}


def asks_for_referral(visit: Mapping[str, Any]) -> str | None:
    """The urgency a signed visit's decided columns ask a referral with (emergency, or the rules' referral
    level: urgent, routine), else None. The columns are the same on the server and a tablet."""
    if visit.get("emergency"):
        return "emergency"
    level = visit.get("referral")
    return level if level in (codes.ROUTINE_REFERRAL, codes.URGENT_REFERRAL) else None


def rules_reasons(visit: Mapping[str, Any], previous: Mapping[str, Any] | None, birth_date) -> list[str]:
    """The referral reasons gpcore's follow-up rules give a visit, re-run from its form and the form of the
    visit before it ("存在危急情况：…", "连续两次随访控制不满意", ...). Both sides hold these forms, so the
    same words come out on the server and on a tablet (the stored assessment is the server's alone). []
    when the rules ask nothing, or a form cannot be read."""
    form_class = VISIT_FORMS.get(visit.get("condition"))
    birth = _day(birth_date)
    if form_class is None or birth is None or not visit.get("form"):
        return []
    try:
        current = form_class.from_dict(visit["form"])
        before = form_class.from_dict(previous["form"]) if previous and previous.get("form") else None
    except VisitDataError:
        return []
    _, result = record_decisions(visit["condition"], current, birth, before, 0)
    return [reason.zh for reason in result.referral_reasons]


def asked_by_the_rules(visits: Sequence[Mapping[str, Any]], birth_date) -> dict | None:
    """When a condition's latest visit asked for a referral (asks_for_referral): its urgency, the visit, and
    the reason: the doctor's on the form, else the rules' (rules_reasons). Of several conditions, the most
    urgent, then the newest. One rule for the server (prefill, worklist) and the tablet.

    visits: the resident's effective visits, newest first (id, condition, kind, visit_date, form, emergency,
    referral); only the two latest of each condition are read, so a caller may pass just those."""
    by_condition: dict[str, list] = {}
    for v in visits:
        if (v.get("kind") or "visit") == "visit":
            by_condition.setdefault(v["condition"], []).append(v)
    asked = []
    for n, (condition, own) in enumerate(by_condition.items()):
        urgency = asks_for_referral(own[0])
        if urgency is not None:
            asked.append((URGENCY_RANK[urgency], -_day(own[0]["visit_date"]).toordinal(), n, urgency, own))
    if not asked:
        return None
    *_, urgency, own = min(asked)
    latest = own[0]
    typed = ((latest.get("form") or {}).get("referral_reason") or "").strip()
    reason = typed or "；".join(rules_reasons(latest, own[1] if len(own) > 1 else None, birth_date)) or None
    return {"followup_id": latest.get("id"), "visit_date": _day(latest["visit_date"]), "condition": latest["condition"],
            "urgency": urgency, "reason": reason}


def upward_form(ident: Mapping[str, Any], lines: Mapping[str, list], suggested: Mapping[str, Any] | None, *,
                today: date, doctor: str | None, doctor_phone: str | None, institution: str | None) -> dict:
    """The upward form pre-filled: identity, today, the referring doctor and the health file's lines; empty
    values left out (the team writes the impression and, unless the rules gave one, the reason)."""
    form = {**ident, "referral_date": today.isoformat(),
            "past_history": "；".join(lines["conditions"]) or "无", "treatment": "；".join(lines["medications"]),
            "referring_doctor": doctor, "doctor_phone": doctor_phone, "institution": institution,
            **{k: list(lines[k]) for k in ("conditions", "allergies", "medications", "recent_followups")}}
    if suggested and suggested.get("reason"):
        form["present_illness"] = suggested["reason"]
    return {k: v for k, v in form.items() if v not in (None, "")}


def still_asked(suggested: Mapping[str, Any] | None, cases: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a referral the rules asked for (asked_by_the_rules) still waits to be sent: no case of the
    resident (state, sent_on) sent on or after that visit, other than a cancelled or declined one (the team
    may have to send it again, elsewhere). A case written on a tablet and not uploaded yet (no state)
    counts as sent."""
    if suggested is None:
        return False
    for case in cases:
        if case.get("state") in (CANCELLED, DECLINED):
            continue
        if case.get("state") is None or (_day(case.get("sent_on")) or date.min) >= suggested["visit_date"]:
            return False
    return True
