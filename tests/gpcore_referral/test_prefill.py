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


@pytest.mark.parametrize("visit, expected", [
    (None, None),
    (VISITS[1], None),
    (VISITS[0], ("routine", "连续两次血压控制不满意")),
    ({**VISITS[0], "form": {"referral_reason": " 头晕加重 "}}, ("routine", "头晕加重")),
    ({**VISITS[0], "emergency": True, "referral": "urgent", "assessment": None}, ("emergency", None)),
])
def test_asked_by_the_rules(visit, expected):
    got = prefill.asked_by_the_rules(visit)
    assert (got and (got["urgency"], got["reason"])) == expected or got is expected is None


def test_upward_form_leaves_out_what_is_empty():
    lines = prefill.health_lines([("hypertension", "managed")], RESIDENT, VISITS)
    form = prefill.upward_form(prefill.identity(RESIDENT, "幸福路1号", None, TODAY), lines,
                               prefill.asked_by_the_rules(VISITS[0]), today=TODAY, doctor="王医生",
                               doctor_phone=None, institution="甲中心")
    assert "phone" not in form and "doctor_phone" not in form
    assert form["present_illness"] == "连续两次血压控制不满意" and form["referral_date"] == "2026-06-15"
    assert form["past_history"].startswith("高血压（管理中）；") and form["treatment"] == "氨氯地平 每日1次 每次5mg"
