"""Issue 17, findings 2 and 3: a reference range is stored whole, and its bounds are the band that fits the
resident the message is filed under (sex, and age on the specimen date); none while nobody is known.

The message that showed it: a red cell count for a 29-year-old man with a 302-character range by age and
sex; it was stored cut to 200 characters with the "12-14 y Male" bounds 4.4-5.2 instead of 4.6-5.4.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import select

from gpcore import idcard
from server.labs.intake import RANGE_TEXT_WARN
from server.labs.models import LabMessage, LabResultRow
from tests.labs.test_ranges import RBC

BIRTH = dt.date(1995, 6, 15)  # 29 on the specimen date, 2025-03-02
ID_NUMBER = idcard.make("340524", BIRTH, 11)  # odd sequence: a man


def _rbc_oru(make_oru, control_id: str, range_text: str = RBC, pid: str | None = None) -> bytes:
    pid = pid or f"PID|1||{ID_NUMBER}^^^^ID||李强||19950615|M"
    obr = ("OBR|1|P-CBC1|CBC1|CBC^血常规^L|||20250302080000|||||||20250302090000||||||||20250302100000|||F")
    return make_oru(control_id, pid=pid, obr=obr, obx=[f"OBX|1|NM|RBC^红细胞计数^L||4.5|10*12/L|{range_text}|L|||F"])


def _rbc(session) -> LabResultRow:
    session.expire_all()
    return session.scalar(select(LabResultRow).where(LabResultRow.code == "RBC"))


def test_the_range_is_stored_whole_and_read_for_a_29_year_old_man(post_hl7, make_oru, add_resident, session):
    add_resident("A1", "李强", "1", BIRTH, ID_NUMBER)
    assert len(RBC) == 302  # over 200: the adult bands were past the cut
    assert post_hl7(_rbc_oru(make_oru, "RR-1")).status_code == 200
    row = _rbc(session)
    assert row.range_text == RBC  # was RBC[:200]
    assert (row.range_low, row.range_high) == (Decimal("4.6"), Decimal("5.4"))  # was 4.4-5.2 (12-14 y Male)
    assert not any("reference range" in w for w in session.scalar(select(LabMessage)).warnings)


def test_a_woman_of_the_same_age_gets_her_band(post_hl7, make_oru, add_resident, session):
    number = idcard.make("340524", BIRTH, 12)
    add_resident("A1", "李娜", "2", BIRTH, number)
    post_hl7(_rbc_oru(make_oru, "RR-2", pid=f"PID|1||{number}^^^^ID||李娜||19950615|F"))
    assert (_rbc(session).range_low, _rbc(session).range_high) == (Decimal("4.2"), Decimal("5.0"))


def test_unmatched_no_bounds_then_filed_by_hand_the_residents_band(post_hl7, make_oru, add_resident, as_user,
                                                                    session):
    resident = add_resident("A1", "李强", "1", BIRTH, None)  # no ID number on file: the message is queued
    assert post_hl7(_rbc_oru(make_oru, "RR-3")).status_code == 200
    msg = session.scalar(select(LabMessage))
    assert msg.match_status == "unmatched"
    row = _rbc(session)
    assert row.range_text == RBC and (row.range_low, row.range_high) == (None, None)  # nobody known: text only
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match", json={"resident_id": resident})
    assert r.status_code == 200, r.get_json()
    assert (_rbc(session).range_low, _rbc(session).range_high) == (Decimal("4.6"), Decimal("5.4"))


def test_a_child_filed_under_a_resident_gets_the_childs_band(post_hl7, make_oru, add_resident, session):
    birth = dt.date(2012, 1, 10)  # 13 on the specimen date
    number = idcard.make("340524", birth, 13)
    add_resident("A1", "李小强", "1", birth, number)
    post_hl7(_rbc_oru(make_oru, "RR-4", pid=f"PID|1||{number}^^^^ID||李小强||20120110|M"))
    assert (_rbc(session).range_low, _rbc(session).range_high) == (Decimal("4.4"), Decimal("5.2"))


def test_an_absurdly_long_range_is_kept_whole_with_a_warning(post_hl7, make_oru, add_resident, session):
    add_resident("A1", "李强", "1", BIRTH, ID_NUMBER)
    long_text = "3.5-5.5 " + "参考文献：" * 500  # a sender's mistake, 2,508 characters
    assert len(long_text) > RANGE_TEXT_WARN
    assert post_hl7(_rbc_oru(make_oru, "RR-5", long_text)).status_code == 200
    assert _rbc(session).range_text == long_text
    warnings = session.scalar(select(LabMessage)).warnings
    assert any("reference range text" in w and str(RANGE_TEXT_WARN) in w for w in warnings)


def test_fhir_ranges_by_age_and_sex(post_fhir, fixture_message, add_resident, session):
    add_resident("A1", "李强", "1", BIRTH, ID_NUMBER)
    bundle = json.loads(fixture_message("bundle-lipids-r4.json"))
    patient = bundle["entry"][0]["resource"]
    patient["identifier"][0]["value"], patient["name"], patient["birthDate"] = ID_NUMBER, [{"text": "李强"}], \
        "1995-06-15"
    report = bundle["entry"][1]["resource"]
    report["effectiveDateTime"] = "2025-03-02T08:00:00+08:00"
    chol = bundle["entry"][2]["resource"]
    male = {"coding": [{"system": "http://snomed.info/sct", "code": "248153007"}]}
    years = lambda low, high: {"low": {"value": low, "unit": "a", "system": "http://unitsofmeasure.org",  # noqa: E731
                                       "code": "a"}, "high": {"value": high, "unit": "a", "code": "a",
                                                              "system": "http://unitsofmeasure.org"}}
    chol["referenceRange"] = [
        {"low": {"value": 4.4}, "high": {"value": 5.2}, "appliesTo": [male], "age": years(12, 14)},
        {"low": {"value": 4.6}, "high": {"value": 5.4}, "appliesTo": [male], "age": years(18, 64)}]
    r = post_fhir(json.dumps(bundle).encode())
    assert r.status_code == 201, r.get_json()
    session.expire_all()
    row = session.scalar(select(LabResultRow).where(LabResultRow.code == "35200-5"))
    assert row.range_text == "12-14 y M:4.4-5.2; 18-64 y M:4.6-5.4"
    assert (row.range_low, row.range_high) == (Decimal("4.6"), Decimal("5.4"))
