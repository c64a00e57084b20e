"""How the upward form (转出单) is pre-filled from a resident's health file: one rule for the server
(GET /referrals/prefill, POST /referrals) and the tablet (a referral written offline).

Plain data in, plain data out: the caller reads the file its own way (SQL on the server, the store on the
tablet) and hands over dicts; dates may be date objects or ISO text (the tablet holds text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .. import health_file as hf
from ..followup import codes

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


def asked_by_the_rules(visit: Mapping[str, Any] | None) -> dict | None:
    """When the latest visit's rules asked for a referral (an emergency, or a second uncontrolled visit):
    the urgency they asked for and the reason (the doctor's on the form, else the rules' own reasons)."""
    if visit is None or not (visit.get("emergency") or visit.get("referral") in (codes.ROUTINE_REFERRAL,
                                                                              codes.URGENT_REFERRAL)):
        return None
    form = visit.get("form") or {}
    reasons = (visit.get("assessment") or {}).get("referral_reasons", [])
    return {"followup_id": visit.get("id"), "visit_date": _day(visit.get("visit_date")),
            "urgency": "emergency" if visit.get("emergency") else visit.get("referral"),
            "reason": (form.get("referral_reason") or "").strip() or "；".join(r["zh"] for r in reasons) or None}


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
