"""printing.referrals: a stored referral (server row or tablet store) as the upward slip and the return form."""
from __future__ import annotations

import datetime as dt

import pytest

from printing import PaperWidth, PrinterSettings, preview, referral_slip, return_slip
from printing.referrals import NoReturnForm, referral_document, referral_number, return_document

RECORD = {"id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "sent_on": "2026-06-15", "department": "心内科",
          "form": {"patient_name": "张三", "patient_sex": "1", "patient_age": 66, "record_number": "340102001",
                   "address": "幸福路1号", "phone": "13900000000", "referral_date": "2026-06-15",
                   "to_institution": "市一医院", "to_department": "心内科", "initial_impression": "高血压3级",
                   "present_illness": "血压180/110", "past_history": "高血压（管理中）", "referring_doctor": "王医生",
                   "doctor_phone": "021-5555", "institution": "滨湖社区卫生服务中心"},
          "return_form": None}


def test_referral_document_from_a_record():
    slip = referral_document(RECORD)
    assert referral_number(RECORD) == "ZZ-2026-0A1B2C3D" == slip.referral_number
    assert slip.referral_date == dt.date(2026, 6, 15) and slip.patient.age == 66
    assert slip.receiving_doctor == "科室值班医生"  # a pool case has no named doctor yet
    assert slip.treatment_so_far == "无"
    text = "\n".join(preview(referral_slip(slip, PrinterSettings()), PaperWidth.MM58).lines)
    assert "张三" in text and "血压180/110" in text and "性别：男" in text


def test_return_document_needs_the_return_form():
    with pytest.raises(NoReturnForm):
        return_document(RECORD)
    back = {"diagnosis": "原发性高血压3级", "main_results": "心超正常", "treatment": "调整降压药",
            "plan": "两周后复查", "doctor": "李主任", "doctor_phone": "021-1234", "institution": "市一医院",
            "return_date": "2026-06-20"}
    slip = return_document({**RECORD, "return_form": back})
    assert slip.to_institution == "滨湖社区卫生服务中心" and slip.return_date == dt.date(2026, 6, 20)
    assert slip.inpatient_record_number == ""
    text = "\n".join(preview(return_slip(slip, PrinterSettings(width=PaperWidth.MM80)), PaperWidth.MM80).lines)
    assert "（回转）" in text and "住院病案号：无" in text and "李主任" in text
