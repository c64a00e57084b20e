"""Example documents for previews, the benchmark and tests: realistic, mixed Chinese and ASCII."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from printing.model import FollowUpSlip, LabReport, LabResult, Patient, ReferralSlip, ReturnSlip


def sample_patient() -> Patient:
    """A patient with a 17-digit health record number."""
    return Patient(name="张秀英", sex=2, age=67, record_number="34010200100100023",
                   address="合肥市包河区滨湖街道紫云路88号3栋502室", phone="13955123456")


def sample_lab_report(results: int = 8) -> LabReport:
    """A biochemistry report with `results` items (up to 10), one high, one low and one critical."""
    items = [
        LabResult("空腹血糖", "16.9", "mmol/L", "3.9-6.1", "HH", code="GLU"),
        LabResult("糖化血红蛋白", "8.2", "%", "4.0-6.0", "H", code="HbA1c"),
        LabResult("总胆固醇", "5.10", "mmol/L", "<5.20", "", code="TC"),
        LabResult("甘油三酯", "2.35", "mmol/L", "0.56-1.70", "H", code="TG"),
        LabResult("高密度脂蛋白胆固醇", "0.86", "mmol/L", "1.04-1.55", "L", code="HDL-C"),
        LabResult("血肌酐", "78", "µmol/L", "女 41-73", "H", code="CREA"),
        LabResult("血钾", "3.8", "mmol/L", "3.5-5.3", "", code="K"),
        LabResult("尿蛋白", "阴性", "", "阴性", "", code="PRO"),
        LabResult("白细胞计数", "6.5", "10^9/L", "3.5-9.5", "", code="WBC"),
        LabResult("丙氨酸氨基转移酶", "25", "U/L", "7-40", "", code="ALT"),
    ]
    return LabReport(
        report_id="LR-20240506-000123", patient=sample_patient(), specimen_type="静脉血（空腹）",
        received_at=datetime(2024, 5, 6, 8, 30), reported_at=datetime(2024, 5, 6, 10, 15),
        tester="李明", reviewer="王晓红", results=items[:results],
        institution="滨湖社区卫生服务中心", department="检验科",
        critical_call_note="10:20 已电话通知家庭医生团队 陈医生（王晓红）",
    )


def sample_lab_report_with_comments() -> LabReport:
    """The biochemistry report with the lab's remarks (HL7 NTE): a haemolysed potassium, a recheck, the
    critical-value call, and two notes on the whole report. A sample of its own: the golden bytes of
    sample_lab_report() stay those of a report without remarks."""
    report = sample_lab_report()
    remarks = {
        "GLU": ("已复查", "危急值已电话通知 陈医生 10:20"),
        "K": ("标本溶血，结果仅供参考，建议重新采血复查（溶血可使血钾假性升高）",),
    }
    results = [replace(r, result="6.1", flag="H", comments=remarks["K"]) if r.code == "K"
               else replace(r, comments=remarks.get(r.code, ())) for r in report.results]
    return replace(report, results=results, comments=(
        "标本轻度脂血", "本报告血糖结果与2024-05-01报告相差较大，已与临床沟通 (LIS ref: NTE-2024-0506-17)"))


def sample_follow_up_slip() -> FollowUpSlip:
    """A diabetes follow-up slip with advice long enough to wrap."""
    return FollowUpSlip(
        patient=sample_patient(), visit_date=date(2024, 5, 6), classification="控制不满意",
        next_visit_date=date(2024, 5, 20),
        advice="本次血糖控制不满意，请按调整后的方案服药：二甲双胍改为每次0.5g，每日3次，随餐服用。\n"
               "请控制主食，少吃甜食，每天快走30分钟。\n"
               "如出现口渴、多尿加重、恶心呕吐或意识模糊，请立即到医院就诊。",
        doctor="陈建国", team_phone="0551-63801234", programme="2型糖尿病患者健康管理",
        institution="滨湖社区卫生服务中心",
        measurements=(("血压", "138/86 mmHg"), ("空腹血糖", "16.9 mmol/L")),
    )


def sample_referral_slip() -> ReferralSlip:
    """An upward referral to a hospital's endocrinology department."""
    return ReferralSlip(
        referral_number="ZZ-2024-0518", patient=sample_patient(), referral_date=date(2024, 5, 6),
        destination_institution="安徽省立医院", destination_department="内分泌科",
        receiving_doctor="刘主任", referring_doctor="陈建国",
        initial_impression="2型糖尿病，血糖控制不满意",
        present_illness="连续两次随访空腹血糖控制不满意，本次空腹血糖16.9mmol/L（危急值），"
                        "口渴、多尿加重1周，需调整治疗方案。",
        past_history="高血压病10年，规律服用氨氯地平5mg每日1次；青霉素过敏。",
        treatment_so_far="二甲双胍0.5g 每日2次，3个月；饮食运动指导。",
        doctor_phone="13805510001", referring_institution="滨湖社区卫生服务中心",
    )


def sample_return_slip() -> ReturnSlip:
    """The same patient returned by the hospital's endocrinology department with a plan."""
    return ReturnSlip(
        referral_number="ZZ-2024-0518", patient=sample_patient(), return_date=date(2024, 5, 20),
        to_institution="滨湖社区卫生服务中心", diagnosis="2型糖尿病伴血糖控制不佳；高血压病2级",
        inpatient_record_number="ZY20240518",
        main_results="入院空腹血糖15.2mmol/L，糖化血红蛋白9.8%；尿酮体阴性；肾功能正常。",
        treatment="胰岛素强化治疗7天后改为口服药；糖尿病教育。",
        plan="二甲双胍0.5g 每日3次，加用达格列净10mg 每日1次；2周内社区随访空腹血糖，"
             "空腹血糖>13.9mmol/L或出现恶心呕吐请立即转诊。",
        doctor="刘主任", doctor_phone="0551-62283000", institution="安徽省立医院内分泌科",
    )
