"""gpcore.referral.prefill: the upward form from plain health-file data (one rule for server and tablet)."""
import datetime as dt

import pytest

from gpcore.referral import prefill

TODAY = dt.date(2026, 6, 15)
RESIDENT = {"name": "张三", "sex": "1", "birth_date": "1960-06-16", "id_number": "310115196006160011",
            "record_number": "3101150050010001", "phone": None, "past_diseases": [{"code": "copd", "diagnosed": "2015-03"}],
            "drug_allergies": ["penicillin", "other"], "drug_allergy_other": "头孢"}
VISITS = [{"id": "v2", "visit_date": "2026-06-01", "condition": "hypertension", "sbp": 172, "dbp": 104,
           "fpg_mmol": None, "emergency": False, "referral": "routine",
           "form": {"medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}]},
           "assessment": {"referral_reasons": [{"zh": "连续两次血压控制不满意"}]}},
          {"id": "v1", "visit_date": dt.date(2026, 3, 1), "condition": "t2dm", "sbp": 138, "dbp": 86,
           "fpg_mmol": 7.9, "emergency": False, "referral": "none", "form": {}}]


def test_identity_age_is_completed_years_and_phone_falls_back_to_the_household():
    ident = prefill.identity(RESIDENT, "幸福路1号", "021-1234", TODAY)
    assert ident["patient_age"] == 65  # the 66th birthday is tomorrow
    assert ident["phone"] == "021-1234" and ident["address"] == "幸福路1号"
    assert prefill.identity({**RESIDENT, "birth_date": dt.date(1960, 6, 15)}, None, None, TODAY)["patient_age"] == 66


def test_health_lines():
    lines = prefill.health_lines([("hypertension", "managed")], RESIDENT, VISITS)
    assert lines["conditions"][0] == "高血压（管理中）" and len(lines["conditions"]) == 2
    assert lines["allergies"] == ["青霉素", "头孢"]
    assert lines["medications"] == ["氨氯地平 每日1次 每次5mg"]  # the latest visit's
    assert lines["recent_followups"] == ["2026-06-01 高血压 血压172/104mmHg",
                                         "2026-03-01 2型糖尿病 血压138/86mmHg 空腹血糖7.9mmol/L"]
    empty = prefill.health_lines([], {}, [])
    assert empty == {"conditions": [], "allergies": ["无"], "medications": [], "recent_followups": []}


BIRTH = "1960-06-16"
UNCONTROLLED = {"visit_date": "2026-03-01", "visit_mode": 1, "sbp": 165, "dbp": 98, "weight_kg": 68.0,
                "height_cm": 168.0, "heart_rate": 72, "medication_adherence": 1, "adverse_reaction": 1,
                "symptoms": [1]}
SECOND = {**UNCONTROLLED, "visit_date": "2026-06-01", "sbp": 172, "dbp": 104,
          "medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}]}
CRISIS = {**UNCONTROLLED, "visit_date": "2026-06-10", "sbp": 186, "dbp": 112}
CONTROLLED = {**UNCONTROLLED, "visit_date": "2026-05-20", "sbp": 128, "dbp": 78}


def _visit(id_, form, condition="hypertension", emergency=False, referral="none"):
    return {"id": id_, "condition": condition, "kind": "visit", "visit_date": form["visit_date"], "form": form,
            "emergency": emergency, "referral": referral}


@pytest.mark.parametrize("visits, expected", [
    ([], None),
    ([VISITS[1]], None),
    # The second uncontrolled visit in a row: the rules' own reason, re-run from the two forms.
    ([_visit("v2", SECOND, referral="routine"), _visit("v1", UNCONTROLLED)],
     ("v2", "routine", "连续两次随访控制不满意")),
    # The doctor's reason, when they typed one, wins.
    ([_visit("v2", {**SECOND, "referral_reason": " 头晕加重 "}, referral="routine"), _visit("v1", UNCONTROLLED)],
     ("v2", "routine", "头晕加重")),
    # An emergency: the rules name the danger sign.
    ([_visit("v3", CRISIS, emergency=True, referral="urgent"), _visit("v2", SECOND, referral="routine")],
     ("v3", "emergency", "存在危急情况：")),
    # Of two conditions the most urgent asks, though the other's visit is newer.
    ([_visit("d1", {**CONTROLLED, "visit_date": "2026-06-12", "fpg_mmol": 6.1}, condition="t2dm"),
      _visit("v3", CRISIS, emergency=True, referral="urgent")], ("v3", "emergency", "存在危急情况：")),
    # A later controlled visit of the same condition: nothing asked any more.
    ([_visit("v4", {**CONTROLLED, "visit_date": "2026-06-12"}), _visit("v3", CRISIS, emergency=True)], None),
])
def test_asked_by_the_rules(visits, expected):
    got = prefill.asked_by_the_rules(visits, BIRTH)
    if expected is None:
        assert got is None
    else:
        assert (got["followup_id"], got["urgency"]) == expected[:2] and got["reason"].startswith(expected[2])


def test_the_reason_needs_no_stored_assessment():
    """The tablet holds no assessment: the reason comes from the forms alone, the same as the server's."""
    stored = {**_visit("v2", SECOND, referral="routine"), "assessment": {"referral_reasons": [{"zh": "别的"}]}}
    assert prefill.asked_by_the_rules([stored, _visit("v1", UNCONTROLLED)], BIRTH)["reason"] == "连续两次随访控制不满意"
    assert prefill.rules_reasons(_visit("v2", {"visit_date": "bad"}), None, BIRTH) == []


def test_upward_form_leaves_out_what_is_empty():
    lines = prefill.health_lines([("hypertension", "managed")], RESIDENT, VISITS)
    form = prefill.upward_form(prefill.identity(RESIDENT, "幸福路1号", None, TODAY), lines,
                               {"reason": "连续两次随访控制不满意"}, today=TODAY, doctor="王医生",
                               doctor_phone=None, institution="甲中心")
    assert "phone" not in form and "doctor_phone" not in form
    assert form["present_illness"] == "连续两次随访控制不满意" and form["referral_date"] == "2026-06-15"
    assert form["past_history"].startswith("高血压（管理中）；") and form["treatment"] == "氨氯地平 每日1次 每次5mg"
