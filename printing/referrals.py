"""A stored referral (as the server's API and the tablet's store both hold it) as printing's documents: the
upward slip with its stub, and the return form once the hospital wrote one. One mapping for the server's
slip endpoint and the tablet's print button.

The record is a mapping with the referral's id, sent_on (a date or ISO text), form (the upward form, fields
of gpcore.referral.UPWARD_FORM) and return_form (gpcore.referral.RETURN_FORM, or None).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from printing.model import Patient, ReferralSlip, ReturnSlip


class NoReturnForm(ValueError):
    """The referral has no return form (yet): there is nothing to print as 回转单."""


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def referral_number(referral: Mapping[str, Any]) -> str:
    """The number printed on both halves: 'ZZ-<year sent>-<first 8 of the id>' (ids are UUIDs)."""
    sent = _day(referral.get("sent_on")) or _day((referral.get("form") or {}).get("referral_date"))
    return f"ZZ-{sent.year if sent else '----'}-{str(referral['id']).replace('-', '')[:8].upper()}"


def _patient(form: Mapping[str, Any]) -> Patient:
    age = form.get("patient_age")
    return Patient(name=form.get("patient_name") or "", sex=form.get("patient_sex") or "",
                   age=age if isinstance(age, int) else (age or ""), record_number=form.get("record_number") or "",
                   id_number=form.get("id_number") or "", address=form.get("address") or "",
                   phone=form.get("phone") or "")


def referral_document(referral: Mapping[str, Any]) -> ReferralSlip:
    """The upward slip (存根 + 转出单) of a referral."""
    form = referral.get("form") or {}
    return ReferralSlip(
        referral_number=referral_number(referral), patient=_patient(form),
        referral_date=_day(form.get("referral_date")) or _day(referral.get("sent_on")),
        destination_institution=form.get("to_institution") or "",
        destination_department=form.get("to_department") or referral.get("department") or "",
        receiving_doctor=form.get("receiving_doctor") or "科室值班医生",
        referring_doctor=form.get("referring_doctor") or "", initial_impression=form.get("initial_impression") or "",
        present_illness=form.get("present_illness") or "", past_history=form.get("past_history") or "",
        treatment_so_far=form.get("treatment") or "无", doctor_phone=form.get("doctor_phone") or "",
        referring_institution=form.get("institution") or "")


def return_document(referral: Mapping[str, Any]) -> ReturnSlip:
    """The return form (存根 + 回转单) of a referral; NoReturnForm before the hospital wrote one."""
    back = referral.get("return_form")
    if not back:
        raise NoReturnForm("this referral has no return form yet")
    form = referral.get("form") or {}
    return ReturnSlip(
        referral_number=referral_number(referral), patient=_patient(form), return_date=_day(back["return_date"]),
        to_institution=form.get("institution") or "", diagnosis=back.get("diagnosis") or "",
        inpatient_record_number=back.get("inpatient_record_number") or "",
        main_results=back.get("main_results") or "", treatment=back.get("treatment") or "",
        plan=back.get("plan") or "", doctor=back.get("doctor") or "", doctor_phone=back.get("doctor_phone") or "",
        institution=back.get("institution") or "")
