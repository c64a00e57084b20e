"""The one visit-slip builder (printing.visit_slip) the server and the tablet both print with."""
import datetime as dt

import pytest

from printing import Patient
from printing.visit_slip import NOT_CLASSIFIED, NotAVisit, follow_up_slip_for_record

PATIENT = Patient(name="张三", sex="1", age=70, record_number="310115005001")
HTN = {"visit_date": "2026-06-01", "visit_mode": 2, "symptoms": [1], "sbp": 128, "dbp": 82, "weight_kg": 68.0,
       "height_cm": 168.0, "heart_rate": 72, "medication_adherence": 1, "adverse_reaction": 1, "doctor": "王医生"}
DM = {**HTN, "fpg_mmol": 8.4}


def record(condition="hypertension", form=HTN, **columns):
    base = {"condition": condition, "kind": "visit", "form": form, "visit_date": form["visit_date"],
            "next_visit_date": "2026-08-31", "sbp": form.get("sbp"), "dbp": form.get("dbp"),
            "fpg_mmol": form.get("fpg_mmol"), "classification": 1, "bp_controlled": True, "fpg_controlled": None,
            "emergency": False, "referral": "none"}
    return {**base, **columns}


@pytest.mark.parametrize("rec, classification, measured, advice_start", [
    (record(), "控制满意", (("血压", "128/82 mmHg"),), "本次血压控制满意"),
    # The tablet's store row: integers for booleans, dates as text.
    (record(classification="2", bp_controlled=0, emergency=1, referral="urgent"), "控制不满意",
     (("血压", "128/82 mmHg"),), "您的情况需要紧急处理"),
    (record("t2dm", DM, classification=2, fpg_controlled=False, bp_controlled=True), "控制不满意",
     (("血压", "128/82 mmHg"), ("空腹血糖", "8.4 mmol/L")), "本次血糖控制不满意"),
    (record(form={**HTN, "sbp": None, "dbp": None}, sbp=None, dbp=None, classification=None, bp_controlled=None),
     NOT_CLASSIFIED, (), "本次未测量血压"),
])
def test_the_slip_says_what_the_record_says(rec, classification, measured, advice_start):
    slip = follow_up_slip_for_record(rec, PATIENT, team_phone="021-1", institution="甲中心")
    assert slip.classification == classification and slip.measurements == measured
    assert slip.advice.splitlines()[0].startswith(advice_start)
    assert slip.next_visit_date == dt.date(2026, 8, 31) and slip.visit_date == dt.date(2026, 6, 1)
    assert (slip.doctor, slip.team_phone, slip.institution) == ("王医生", "021-1", "甲中心")


def test_dates_or_text_give_the_same_slip_and_the_signer_wins():
    as_text = follow_up_slip_for_record(record(), PATIENT, signer="李医生")
    as_dates = follow_up_slip_for_record(record(visit_date=dt.date(2026, 6, 1),
                                                next_visit_date=dt.date(2026, 8, 31)), PATIENT, signer="李医生")
    assert as_text == as_dates and as_text.doctor == "李医生"
    assert as_text.programme == "高血压患者健康管理"


def test_a_lost_entry_has_no_slip():
    with pytest.raises(NotAVisit):
        follow_up_slip_for_record(record(kind="lost"), PATIENT)
