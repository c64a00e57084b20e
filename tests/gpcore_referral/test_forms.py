"""The two-way referral forms and the answer: required boxes, dates, choices, messages in Chinese."""
from datetime import date

from gpcore.referral import (check_answer, check_choice, check_return_form, check_upward_form, errors_by_field,
                             response_due)

TODAY = date(2026, 12, 6)
UPWARD = {"patient_name": "张三", "patient_sex": "1", "patient_age": 67, "record_number": "31011500500100001",
          "address": "甲路1号", "referral_date": "2026-12-06", "to_institution": "市一医院", "to_department": "心内科",
          "initial_impression": "高血压3级", "present_illness": "两次随访血压控制不满意", "past_history": "高血压10年",
          "referring_doctor": "李医生", "doctor_phone": "13800000000", "institution": "甲中心"}
RETURN = {"diagnosis": "原发性高血压3级", "main_results": "心超正常", "treatment": "调整降压药",
          "plan": "氨氯地平5mg qd，两周后复查血压", "doctor": "王医生", "doctor_phone": "021-1234",
          "institution": "市一医院", "return_date": "2026-12-05"}


def test_a_complete_upward_form_passes():
    assert check_upward_form(UPWARD, today=TODAY) == []
    assert check_upward_form({**UPWARD, "conditions": ["高血压"], "medications": ["氨氯地平 5mg 每日1次"]},
                             today=TODAY) == []


def test_upward_form_names_each_missing_field_in_chinese():
    form = {k: v for k, v in UPWARD.items() if k not in ("present_illness", "initial_impression")}
    errors = errors_by_field(check_upward_form({**form, "institution": "  "}, today=TODAY), "zh")
    assert errors == {"initial_impression": ["须填写初步印象。"], "present_illness": ["须填写主要现病史（转出原因）。"],
                      "institution": ["须填写转出机构。"]}


def test_upward_form_bad_values():
    errors = errors_by_field(check_upward_form({**UPWARD, "referral_date": "2027-01-01", "patient_age": "67",
                                                "patient_sex": "x", "surprise": 1, "conditions": "高血压"},
                                               today=TODAY), "zh")
    assert errors["referral_date"] == ["转出日期不能晚于今天。"]
    assert errors["patient_age"] == ["年龄必须是整数。"]
    assert errors["patient_sex"][0].startswith("性别只能选")
    assert errors["surprise"] == ["未知字段surprise。"]
    assert errors["conditions"] == ["慢性病必须是列表。"]
    assert check_upward_form(["not", "a", "form"], today=TODAY)[0].code == "not_object"
    assert check_upward_form({**UPWARD, "present_illness": "很" * 501}, today=TODAY)[0].code == "too_long"


def test_return_form():
    assert check_return_form(RETURN, today=TODAY) == []
    errors = errors_by_field(check_return_form({**RETURN, "plan": None, "return_date": "06/12/2026"}, today=TODAY), "zh")
    assert errors == {"plan": ["须填写下一步治疗方案及康复建议。"], "return_date": ["回转日期日期格式应为YYYY-MM-DD。"]}


def test_answer_clinic_needs_date_and_half_day():
    advice = {"outcome": "advice", "advice": "加用药物", "plan": "两周内复查血压"}
    assert check_answer(advice, today=TODAY) == []
    errors = errors_by_field(check_answer({**advice, "outcome": "clinic"}, today=TODAY), "zh")
    assert errors == {"clinic_date": ["预约门诊须填写门诊日期。"], "clinic_session": ["预约门诊须填写门诊时段。"]}
    ok = {**advice, "outcome": "clinic", "clinic_date": "2026-12-09", "clinic_session": "am"}
    assert check_answer(ok, today=TODAY) == []
    assert {p.field for p in check_answer({**ok, "clinic_date": "2026-12-01", "clinic_session": "night"},
                                          today=TODAY)} == {"clinic_date", "clinic_session"}
    assert [p.code for p in check_answer({**advice, "clinic_session": "am"}, today=TODAY)] == ["inconsistent"]
    assert [p.code for p in check_answer({**advice, "outcome": "admit", "admit_date": "2026-12-07"}, today=TODAY)] == []
    assert [p.field for p in check_answer({**advice, "outcome": "discharge"}, today=TODAY)] == ["outcome"]


def test_choices_and_deadlines():
    from gpcore.referral import KINDS, URGENCIES
    assert check_choice("urgency", "urgent", URGENCIES, "紧急程度") == []
    assert check_choice("urgency", ["urgent"], URGENCIES, "紧急程度")[0].code == "not_in_list"
    assert check_choice("kind", "phone", KINDS, "转诊方式")[0].zh.startswith("转诊方式只能选")
    assert response_due(TODAY, "emergency") == TODAY
    assert response_due(TODAY, "urgent") == date(2026, 12, 7)
    assert response_due(TODAY, "routine") == date(2026, 12, 9)
    # Working days: a routine case sent on Thursday 30 April 2026 skips the 1-5 May holiday.
    assert response_due(date(2026, 4, 30), "routine") == date(2026, 5, 8)
    assert response_due(date(2026, 4, 30), "urgent") == date(2026, 5, 6)
