"""Code lists of the national follow-up forms (3rd edition, 2017), labelled in Chinese and English."""

from __future__ import annotations

from typing import NamedTuple


class Label(NamedTuple):
    """A code's label: Chinese for the tablet and printouts, English for the API and logs."""

    zh: str
    en: str


HYPERTENSION = "hypertension"
DIABETES = "diabetes"
CONDITIONS = {HYPERTENSION: Label("高血压", "hypertension"), DIABETES: Label("2型糖尿病", "type 2 diabetes")}

CLINIC, HOME, PHONE = 1, 2, 3
VISIT_MODES = {CLINIC: Label("门诊", "clinic"), HOME: Label("家庭", "home"), PHONE: Label("电话", "phone")}
FACE_TO_FACE_MODES = frozenset({CLINIC, HOME})

NO_SYMPTOMS = 1  # "none" on both forms; it cannot be ticked together with a symptom
HYPERTENSION_SYMPTOMS = {
    1: Label("无症状", "none"),
    2: Label("头痛头晕", "headache or dizziness"),
    3: Label("恶心呕吐", "nausea or vomiting"),
    4: Label("眼花耳鸣", "blurred vision or tinnitus"),
    5: Label("呼吸困难", "dyspnoea"),
    6: Label("心悸胸闷", "palpitations or chest tightness"),
    7: Label("鼻衄出血不止", "nosebleed that will not stop"),
    8: Label("四肢发麻", "numb limbs"),
    9: Label("下肢水肿", "leg oedema"),
}
DIABETES_SYMPTOMS = {
    1: Label("无症状", "none"),
    2: Label("多饮", "polydipsia"),
    3: Label("多食", "polyphagia"),
    4: Label("多尿", "polyuria"),
    5: Label("视力模糊", "blurred vision"),
    6: Label("感染", "infection"),
    7: Label("手脚麻木", "numb hands or feet"),
    8: Label("下肢浮肿", "leg oedema"),
    9: Label("体重明显下降", "marked weight loss"),
}

# Danger signs are a separate checklist, not the form's symptom codes: the form's symptoms cover the time
# since the last visit and include mild complaints (code 2 is any headache), whereas the specification sends
# only the acute, severe presentations to urgent referral.  A symptom box whose words *are* an urgent sign
# (URGENT_SYMPTOM_BOXES below) raises the emergency unless the doctor answers it is not urgent now.
# UNMANAGEABLE is "another condition the facility cannot handle" and needs a text.
UNMANAGEABLE = "unmanageable_condition"
HYPERTENSION_DANGER_SIGNS = {
    "altered_consciousness": Label("意识改变", "altered consciousness"),
    "severe_headache_dizziness": Label("剧烈头痛或头晕", "severe headache or dizziness"),
    "nausea_vomiting": Label("恶心呕吐", "nausea or vomiting"),
    "blurred_vision": Label("视力模糊", "blurred vision"),
    "eye_pain": Label("眼痛", "eye pain"),
    "palpitations": Label("心悸", "palpitations"),
    "chest_tightness": Label("胸闷", "chest tightness"),
    "wheezing_orthopnoea": Label("喘憋不能平卧", "wheezing with inability to lie flat"),
    UNMANAGEABLE: Label("存在不能处理的其他疾病", "another condition the facility cannot handle"),
}
DIABETES_DANGER_SIGNS = {
    "altered_consciousness_behaviour": Label("意识或行为改变", "altered consciousness or behaviour"),
    "acetone_breath": Label("呼气有烂苹果样丙酮味", "acetone breath"),
    "palpitations": Label("心悸", "palpitations"),
    "sweating": Label("出汗", "sweating"),
    "vomiting": Label("呕吐", "vomiting"),
    "polydipsia_polyuria": Label("多饮、多尿", "polydipsia or polyuria"),
    "abdominal_pain": Label("腹痛", "abdominal pain"),
    "deep_rapid_breathing": Label("深大呼吸", "deep rapid breathing"),
    "flushed_skin": Label("皮肤潮红", "flushed skin"),
    "sudden_vision_loss": Label("视力骤降", "sudden loss of vision"),
    UNMANAGEABLE: Label("存在不能处理的其他疾病", "another condition the facility cannot handle"),
}

# Symptom boxes whose words are urgent-referral signs of the specification (standards.md, 3rd edition):
# hypertension s.1 "altered consciousness, severe headache or dizziness, nausea/vomiting, blurred vision, eye
# pain, palpitations, chest tightness, wheezing with inability to lie flat"; diabetes s.2 "... palpitations,
# sweating, vomiting, polydipsia/polyuria, abdominal pain ...".  Box -> the danger signs its words name.
# Left out on purpose: hypertension 2 头痛头晕 (the sign is a *severe* headache or dizziness), 5 呼吸困难 (the
# sign is wheezing with inability to lie flat), diabetes 5 视力模糊 (the sign is a *sudden loss* of vision).
URGENT_SYMPTOM_BOXES = {
    HYPERTENSION: {
        3: ("nausea_vomiting",),  # 恶心呕吐 = "nausea/vomiting"
        4: ("blurred_vision",),  # 眼花耳鸣: 眼花 is "blurred vision"
        6: ("palpitations", "chest_tightness"),  # 心悸胸闷 = "palpitations, chest tightness"
    },
    DIABETES: {
        2: ("polydipsia_polyuria",),  # 多饮 = "polydipsia"
        4: ("polydipsia_polyuria",),  # 多尿 = "polyuria"
    },
}

MALE = "1"  # GB/T 2261.1 sex code of a male resident (as residents store it: "1", or 1)

SALT_INTAKE = {1: Label("轻", "light"), 2: Label("中", "medium"), 3: Label("重", "heavy")}
HEAVY_SALT = 3
PSYCHOLOGICAL_ADJUSTMENT = {1: Label("良好", "good"), 2: Label("一般", "fair"), 3: Label("差", "poor")}
COMPLIANCE = {1: Label("良好", "good"), 2: Label("一般", "fair"), 3: Label("差", "poor")}
MEDICATION_ADHERENCE = {
    1: Label("规律", "regular"),
    2: Label("间断", "intermittent"),
    3: Label("不服药", "not taking"),
}
REGULAR_ADHERENCE = 1
NO_ADR, ADR = 1, 2
ADVERSE_REACTION = {NO_ADR: Label("无", "none"), ADR: Label("有", "yes")}

CONTROLLED, UNCONTROLLED, ADVERSE_REACTION_CLASS, COMPLICATION = 1, 2, 3, 4
VISIT_CLASSIFICATIONS = {
    CONTROLLED: Label("控制满意", "controlled"),
    UNCONTROLLED: Label("控制不满意", "uncontrolled"),
    ADVERSE_REACTION_CLASS: Label("不良反应", "adverse drug reaction"),
    COMPLICATION: Label("并发症", "new or worse complication"),
}

PULSE_NORMAL = 1
DORSALIS_PEDIS_PULSE = {
    1: Label("触及正常", "normal"),
    2: Label("减弱", "weakened"),
    3: Label("消失", "absent"),
}
PULSE_SIDES = {1: Label("双侧", "both"), 2: Label("左侧", "left"), 3: Label("右侧", "right")}
HYPOGLYCAEMIA = {1: Label("无", "none"), 2: Label("偶尔", "occasional"), 3: Label("频繁", "frequent")}
FREQUENT_HYPOGLYCAEMIA = 3

NO_REFERRAL, ROUTINE_REFERRAL, URGENT_REFERRAL = "none", "routine", "urgent"
REFERRAL_LEVELS = {
    NO_REFERRAL: Label("无需转诊", "no referral"),
    ROUTINE_REFERRAL: Label("建议转诊", "refer"),
    URGENT_REFERRAL: Label("紧急转诊", "refer urgently"),
}

# Drinks the liquor-equivalent rule knows, measured in liang (两, 50 mL).
DRINKS = {
    "liquor": Label("白酒", "liquor"),
    "beer": Label("啤酒", "beer"),
    "wine": Label("葡萄酒", "wine"),
    "rice_wine": Label("黄酒", "rice wine"),
}


class Reason(NamedTuple):
    """Why the rules decided something: a stable code and a sentence in Chinese and in English."""

    code: str
    zh: str
    en: str
