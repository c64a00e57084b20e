"""The resident health record (居民健康档案): code lists and the checks both tablet and server run.

Code lists follow WS 365 and the 3rd-edition forms (standards.md section 3). Lists marked (verify) come
from secondary sources; they are data here, so correcting one is a one-line change.
"""
from __future__ import annotations

import datetime as dt

from . import clock, idcard

SEX = {"0": "未知的性别", "1": "男", "2": "女", "9": "未说明的性别"}  # GB/T 2261.1
RESIDENCE_TYPE = {"1": "户籍", "2": "非户籍"}
ETHNICITY = {"01": "汉族", "99": "少数民族"}
BLOOD_ABO = {"1": "A型", "2": "B型", "3": "O型", "4": "AB型", "5": "不详"}
# Editions code Rh differently; store a neutral word and map on output.
BLOOD_RH = {"negative": "阴性", "positive": "阳性", "unknown": "不详"}
EDUCATION = {  # (verify) the form's list
    "1": "研究生", "2": "大学本科", "3": "大学专科和专科学校", "4": "中等专业学校", "5": "技工学校",
    "6": "高中", "7": "初中", "8": "小学", "9": "文盲或半文盲", "10": "不详",
}
OCCUPATION = {  # (verify) GB/T 6565 major groups as the form lists them
    "0": "国家机关、党群组织、企业、事业单位负责人", "1": "专业技术人员", "2": "办事人员和有关人员",
    "3": "商业、服务业人员", "4": "农、林、牧、渔、水利业生产人员", "5": "生产、运输设备操作人员及有关人员",
    "6": "军人", "7": "不便分类的其他从业人员", "8": "无职业",
}
MARITAL = {"1": "未婚", "2": "已婚", "3": "丧偶", "4": "离婚", "5": "未说明的婚姻状况"}  # (verify)
PAYMENT = {
    "employee_insurance": "城镇职工基本医疗保险", "resident_insurance": "城镇居民基本医疗保险",
    "rural_cooperative": "新型农村合作医疗", "poverty_relief": "贫困救助", "commercial": "商业医疗保险",
    "public": "全公费", "self_paid": "全自费", "other": "其他",
}
DRUG_ALLERGY = {"none": "无", "penicillin": "青霉素", "sulfonamides": "磺胺", "streptomycin": "链霉素",
                "other": "其他"}
EXPOSURE = {"none": "无", "chemicals": "化学品", "poisons": "毒物", "radiation": "射线"}
PAST_DISEASE = {
    "none": "无", "hypertension": "高血压", "diabetes": "糖尿病", "chd": "冠心病",
    "copd": "慢性阻塞性肺疾病", "tumour": "恶性肿瘤", "stroke": "脑卒中", "mental": "严重精神障碍",
    "tuberculosis": "结核病", "hepatitis": "肝炎", "infectious": "其他法定传染病",
    "occupational": "职业病", "other": "其他",
}
FAMILY_DISEASE = {**PAST_DISEASE, "congenital": "先天畸形"}
DISABILITY = {"none": "无残疾", "vision": "视力残疾", "hearing": "听力残疾", "speech": "言语残疾",
              "limb": "肢体残疾", "intellectual": "智力残疾", "mental": "精神残疾", "other": "其他残疾"}
# GB/T 4761 family relationship, the top-level codes (the form needs no finer grain).
RELATIONSHIP = {"02": "户主", "10": "配偶", "20": "子", "30": "女", "40": "孙子女", "50": "父母",
                "60": "祖父母", "70": "兄弟姐妹", "80": "其他亲属", "99": "非亲属"}
KITCHEN_EXHAUST = {"none": "无", "hood": "油烟机", "fan": "换气扇", "chimney": "烟囱"}
FUEL = {"lpg": "液化气", "coal": "煤", "natural_gas": "天然气", "biogas": "沼气", "firewood": "柴火",
        "other": "其他"}
WATER = {"tap": "自来水", "purified": "经净化过滤的水", "well": "井水", "river": "河湖水", "pond": "塘水",
         "other": "其他"}
TOILET = {"sanitary": "卫生厕所", "septic": "一格或二格粪池式", "flush": "马桶", "pit": "露天粪坑",
          "shed": "简易棚厕"}
LIVESTOCK = {"none": "无", "separate": "单设", "indoor": "室内", "outdoor": "室外"}
CHRONIC_CONDITION = {"hypertension": "高血压", "t2dm": "2型糖尿病"}
MANAGEMENT_STATUS = {"managed": "管理中", "lost": "失访", "terminated": "终止管理", "deceased": "死亡"}
RESIDENT_STATUS = {"active": "在册", "moved_out": "迁出", "deceased": "死亡"}

LIVING_ENVIRONMENT = {"kitchen_exhaust": KITCHEN_EXHAUST, "fuel": FUEL, "water": WATER,
                      "toilet": TOILET, "livestock_pen": LIVESTOCK}
SINGLE_CODES = {"sex": SEX, "residence_type": RESIDENCE_TYPE, "ethnicity": ETHNICITY,
                "blood_abo": BLOOD_ABO, "blood_rh": BLOOD_RH, "education": EDUCATION,
                "occupation": OCCUPATION, "marital_status": MARITAL, "relation_to_head": RELATIONSHIP}
MULTI_CODES = {"payment_methods": PAYMENT, "drug_allergies": DRUG_ALLERGY, "exposures": EXPOSURE,
               "disabilities": DISABILITY}
EXCLUSIVE_NONE = ("drug_allergies", "exposures", "disabilities")


def check_codes(data: dict) -> dict[str, list[str]]:
    """Every coded field holds a code from its list; 'none' stands alone in a multi-choice list."""
    errors: dict[str, list[str]] = {}
    for field, codes in SINGLE_CODES.items():
        value = data.get(field)
        if value not in (None, "") and value not in codes:
            errors[field] = [f"unknown code {value!r}; one of {', '.join(codes)}"]
    for field, codes in MULTI_CODES.items():
        values = data.get(field) or []
        bad = [v for v in values if v not in codes]
        if bad:
            errors[field] = [f"unknown code(s) {', '.join(map(str, bad))}; choose from {', '.join(codes)}"]
        elif field in EXCLUSIVE_NONE and "none" in values and len(values) > 1:
            errors[field] = ["'none' cannot be combined with other choices"]
    if data.get("ethnicity") == "99" and not (data.get("ethnicity_name") or "").strip():
        errors["ethnicity_name"] = ["name the minority when ethnicity is 99"]
    return errors


def check_identity(data: dict, today: dt.date | None = None,
                   facts: idcard.IdNumberFacts | None = None) -> dict[str, list[str]]:
    """ID number valid by check digit, and the record's sex and birth date agree with it.

    `facts`: what idcard.parse(data["id_number"], today=today) returned, when the caller has parsed the
    number already (the import parses every row's once, not twice)."""
    today = today or clock.china_today()
    errors: dict[str, list[str]] = {}
    raw = data.get("id_number")
    birth = data.get("birth_date")
    if birth is not None and birth > today:
        errors["birth_date"] = ["birth date is in the future"]
    if not raw:
        return errors
    if facts is None:
        try:
            facts = idcard.parse(raw, today=today)
        except idcard.InvalidIdNumber as exc:
            errors["id_number"] = [str(exc)]
            return errors
    if birth is not None and birth != facts.birth_date:
        errors.setdefault("birth_date", []).append(
            f"birth date {birth.isoformat()} does not match the ID number ({facts.birth_date.isoformat()})")
    sex = data.get("sex")
    if sex in ("1", "2") and int(sex) != facts.sex:
        errors.setdefault("sex", []).append(
            f"sex {SEX[sex]} does not match the ID number ({SEX[str(facts.sex)]})")
    return errors


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """A resident's age in completed years (周岁) on `day`; 29 February births turn a year older on 1 March."""
    # One rule for every caller: the hypertension target relaxes at 65, so an age one day early or late is
    # a wrong target. The day of the birthday counts (65 on the 65th birthday); in a year without 29 February
    # the birthday has not come until 1 March, which keeps the stricter target the longer of the two choices.
    return age_in_months(birth_date, day) // 12


def age_in_months(birth_date: dt.date, day: dt.date) -> int:
    """Completed months of life on `day` (for children's reference bands); negative before the birth."""
    # A monthly birthday a month lacks (the 31st, 29 February) comes on the 1st of the next month, as
    # age_on's 29 February does: 31 January -> 1 month on 1 March, 0 on 28 February.
    months = (day.year - birth_date.year) * 12 + day.month - birth_date.month
    return months - (day.day < birth_date.day)
