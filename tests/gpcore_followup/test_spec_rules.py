"""Table-driven checks of standards.md sections 1-2; each case id quotes the rule it checks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gpcore.followup import (
    EDITION_2011,
    RuleSettings,
    age_on,
    assess_diabetes_visit,
    assess_hypertension_visit,
    bp_control,
    codes,
)

P = pytest.param

# ---- hypertension control target ---------------------------------------------------------------------------

CONTROL_CASES = [
    P(60, 139, 89, RuleSettings(), True, id="Control target: < 140/90 mmHg (139/89 controlled)"),
    P(60, 140, 89, RuleSettings(), False, id="Control target: < 140/90 mmHg (SBP 140 is not below)"),
    P(60, 139, 90, RuleSettings(), False, id="Control target: < 140/90 mmHg (DBP 90 is not below)"),
    P(64, 145, 85, RuleSettings(), False, id="age >= 65: < 150/90 (64 still has 140/90)"),
    P(65, 149, 89, RuleSettings(), True, id="age >= 65: < 150/90 (3rd edition) (149/89 at 65)"),
    P(65, 150, 89, RuleSettings(), False, id="age >= 65: < 150/90 (SBP 150 is not below)"),
    P(65, 149, 90, RuleSettings(), False, id="age >= 65: < 150/90 (DBP 90 is not below)"),
    P(70, 145, 85, RuleSettings(edition=EDITION_2011), False, id="2011 edition: < 140/90 for everyone"),
    P(
        70,
        139,
        89,
        RuleSettings(edition=EDITION_2011),
        True,
        id="2011 edition: < 140/90 for everyone (139/89)",
    ),
    P(
        79,
        145,
        85,
        RuleSettings(relaxed_target_age=80),
        False,
        id="the primary-care guideline uses age >= 80 for the relaxed target (79)",
    ),
    P(
        80,
        145,
        85,
        RuleSettings(relaxed_target_age=80),
        True,
        id="the primary-care guideline uses age >= 80 for the relaxed target (80)",
    ),
]


@pytest.mark.parametrize("age, sbp, dbp, settings, controlled", CONTROL_CASES)
def test_bp_control_target(hypertension_visit, age, sbp, dbp, settings, controlled):
    assessment = assess_hypertension_visit(
        hypertension_visit(sbp=sbp, dbp=dbp), patient_age=age, settings=settings
    )
    assert assessment.controlled is controlled
    assert assessment.classification == (codes.CONTROLLED if controlled else codes.UNCONTROLLED)
    assert assessment.classification_reasons[0].code == ("bp_on_target" if controlled else "bp_above_target")


def test_relaxed_target_starts_on_the_65th_birthday(hypertension_visit):
    # "age >= 65: < 150/90 (3rd edition)": 145/85 misses the target the day before the birthday, meets it then.
    born = date(1961, 11, 22)
    visit = hypertension_visit(sbp=145, dbp=85)
    day_before, birthday = date(2026, 11, 21), date(2026, 11, 22)
    assert age_on(born, day_before) == 64 and age_on(born, birthday) == 65
    assert bp_control(visit, age_on(born, day_before)).controlled is False
    assert bp_control(visit, age_on(born, birthday)).controlled is True


def test_leap_day_birth_turns_a_year_older_on_1_march():
    assert age_on(date(1960, 2, 29), date(2025, 2, 28)) == 64
    assert age_on(date(1960, 2, 29), date(2025, 3, 1)) == 65
    assert age_on(date(1960, 2, 29), date(2024, 2, 29)) == 64


# ---- emergencies -------------------------------------------------------------------------------------------

HYPERTENSION_EMERGENCY_CASES = [
    P({"sbp": 179, "dbp": 109}, set(), id="SBP >= 180 and/or DBP >= 110 mmHg (179/109 is not)"),
    P({"sbp": 180, "dbp": 100}, {"severe_bp"}, id="SBP >= 180 and/or DBP >= 110 mmHg (SBP 180 alone)"),
    P({"sbp": 170, "dbp": 110}, {"severe_bp"}, id="SBP >= 180 and/or DBP >= 110 mmHg (DBP 110 alone)"),
    P({"sbp": 200, "dbp": 120}, {"severe_bp"}, id="SBP >= 180 and/or DBP >= 110 mmHg (both)"),
    P(
        {"pregnant": True, "sbp": 140, "dbp": 80},
        {"pregnancy_or_lactation_raised_bp"},
        id="pregnancy or lactation with raised BP (pregnant 140/80)",
    ),
    P(
        {"lactating": True, "sbp": 130, "dbp": 90},
        {"pregnancy_or_lactation_raised_bp"},
        id="pregnancy or lactation with raised BP (lactating 130/90)",
    ),
    P(
        {"pregnant": True, "sbp": 139, "dbp": 89},
        set(),
        id="pregnancy or lactation with raised BP (139/89 is not)",
    ),
    P(
        {"danger_signs": (codes.UNMANAGEABLE,), "danger_sign_other": "急性腹痛"},
        {codes.UNMANAGEABLE},
        id="another condition the facility cannot handle",
    ),
    P(
        {"sbp": 185, "dbp": 115, "pregnant": True, "danger_signs": ("chest_tightness", "palpitations")},
        {"severe_bp", "pregnancy_or_lactation_raised_bp", "chest_tightness", "palpitations"},
        id="Emergency when any of: every reason is listed",
    ),
] + [
    P({"danger_signs": (sign,)}, {sign}, id=f"altered consciousness ... inability to lie flat: {label.en}")
    for sign, label in codes.HYPERTENSION_DANGER_SIGNS.items()
    if sign != codes.UNMANAGEABLE
]


@pytest.mark.parametrize("boxes, reasons", HYPERTENSION_EMERGENCY_CASES)
def test_hypertension_emergency(hypertension_visit, boxes, reasons):
    assessment = assess_hypertension_visit(hypertension_visit(**boxes), patient_age=60)
    assert {reason.code for reason in assessment.emergency_reasons} == reasons
    assert assessment.emergency is bool(reasons)
    if reasons:  # "treat, refer urgently, follow the referral up within 2 weeks"
        assert assessment.referral == codes.URGENT_REFERRAL
        assert assessment.next_visit_date == hypertension_visit().visit_date + timedelta(days=14)
        assert all(reason.zh and reason.en for reason in assessment.emergency_reasons)


def test_emergency_reasons_name_the_measured_values(hypertension_visit):
    (reason,) = assess_hypertension_visit(
        hypertension_visit(sbp=182, dbp=96), patient_age=50
    ).emergency_reasons
    assert "182/96" in reason.zh and "182/96" in reason.en


DIABETES_EMERGENCY_CASES = [
    P({"fpg_mmol": 16.6}, set(), id="glucose >= 16.7 or <= 3.9 mmol/L (16.6 is not)"),
    P({"fpg_mmol": 16.7}, {"glucose_high"}, id="glucose >= 16.7 or <= 3.9 mmol/L (16.7)"),
    P({"fpg_mmol": 3.9}, {"glucose_low"}, id="glucose >= 16.7 or <= 3.9 mmol/L (3.9)"),
    P({"fpg_mmol": 4.0}, set(), id="glucose >= 16.7 or <= 3.9 mmol/L (4.0 is not)"),
    P({"sbp": 180, "dbp": 90}, {"severe_bp"}, id="SBP >= 180 and/or DBP >= 110 mmHg (diabetes, 180/90)"),
    P({"sbp": 150, "dbp": 110}, {"severe_bp"}, id="SBP >= 180 and/or DBP >= 110 mmHg (diabetes, 150/110)"),
    P({"sbp": 179, "dbp": 109}, set(), id="SBP >= 180 and/or DBP >= 110 mmHg (diabetes, 179/109 is not)"),
    P({"heart_rate": 100}, set(), id="heart rate > 100/min (100 is not)"),
    P({"heart_rate": 101}, {"tachycardia"}, id="heart rate > 100/min (101)"),
    P({"temperature_c": 39.0}, set(), id="temperature > 39 C (39.0 is not)"),
    P({"temperature_c": 39.1}, {"fever"}, id="temperature > 39 C (39.1)"),
    P(
        {"pregnant": True, "fpg_mmol": 6.1},
        {"pregnancy_or_lactation_raised_glucose"},
        id="raised glucose in pregnancy or lactation (pregnant, FPG 6.1)",
    ),
    P(
        {"lactating": True, "fpg_mmol": 6.0},
        set(),
        id="raised glucose in pregnancy or lactation (6.0 is normal)",
    ),
    P(
        {
            "fpg_mmol": 20.0,
            "heart_rate": 120,
            "temperature_c": 39.5,
            "danger_signs": ("acetone_breath", "vomiting"),
        },
        {"glucose_high", "tachycardia", "fever", "acetone_breath", "vomiting"},
        id="Emergency (any one): every reason is listed",
    ),
] + [
    P(
        {"danger_signs": (sign,), "danger_sign_other": "需要专科处理" if sign == codes.UNMANAGEABLE else ""},
        {sign},
        id=f"altered consciousness or behaviour ... sudden loss of vision: {label.en}",
    )
    for sign, label in codes.DIABETES_DANGER_SIGNS.items()
]


@pytest.mark.parametrize("boxes, reasons", DIABETES_EMERGENCY_CASES)
def test_diabetes_emergency(diabetes_visit, boxes, reasons):
    assessment = assess_diabetes_visit(diabetes_visit(**boxes))
    assert {reason.code for reason in assessment.emergency_reasons} == reasons
    assert assessment.emergency is bool(reasons)
    assert (assessment.referral == codes.URGENT_REFERRAL) is bool(reasons)


# ---- symptom boxes that name an urgent sign (issue 14) ------------------------------------------------------
# Hypertension, 3rd edition: "altered consciousness, severe headache or dizziness, nausea/vomiting, blurred
# vision, eye pain, palpitations, chest tightness, wheezing with inability to lie flat" -> urgent referral.
# Diabetes: "... palpitations, sweating, vomiting, polydipsia/polyuria, abdominal pain ..." -> urgent referral.
# A ticked box whose words are such a sign raises the emergency unless the doctor answers "not urgent now"
# (symptoms_not_urgent), which the record keeps.

HT_SYMPTOM_CASES = [
    P((6,), (), {"urgent_symptom_6"}, id="palpitations, chest tightness: box 6 心悸胸闷 ticked"),
    P((6,), (6,), set(), id="palpitations, chest tightness: box 6 answered not urgent now"),
    P((3,), (), {"urgent_symptom_3"}, id="nausea/vomiting: box 3 恶心呕吐 ticked"),
    P((3,), (3,), set(), id="nausea/vomiting: box 3 answered not urgent now"),
    P((4,), (), {"urgent_symptom_4"}, id="blurred vision: box 4 眼花耳鸣 ticked"),
    P((3, 6), (3,), {"urgent_symptom_6"}, id="each box answered on its own: 3 not urgent, 6 unanswered"),
    P((2,), (), set(), id="severe headache or dizziness: box 2 头痛头晕 is any headache, not an urgent sign"),
    P((5,), (), set(), id="wheezing with inability to lie flat: box 5 呼吸困难 is not that sign"),
    P((7, 8, 9), (), set(), id="boxes 7-9 name no urgent sign"),
    P((1,), (), set(), id="box 1 无症状"),
]


@pytest.mark.parametrize("symptoms, not_urgent, reasons", HT_SYMPTOM_CASES)
def test_hypertension_symptom_box_naming_an_urgent_sign(hypertension_visit, symptoms, not_urgent, reasons):
    visit = hypertension_visit(symptoms=symptoms, symptoms_not_urgent=not_urgent)
    assessment = assess_hypertension_visit(visit, patient_age=60)
    assert {reason.code for reason in assessment.emergency_reasons} == reasons
    assert (assessment.referral == codes.URGENT_REFERRAL) is bool(reasons)
    assert visit.to_dict().get("symptoms_not_urgent", []) == list(not_urgent)  # the record keeps the answer


def test_a_box_whose_sign_is_ticked_gives_one_reason_per_sign(hypertension_visit):
    visit = hypertension_visit(symptoms=(6,), danger_signs=("palpitations", "chest_tightness"))
    codes_found = [r.code for r in assess_hypertension_visit(visit, patient_age=60).emergency_reasons]
    assert codes_found == ["palpitations", "chest_tightness"]
    only_one = hypertension_visit(symptoms=(6,), danger_signs=("palpitations",))
    codes_found = [r.code for r in assess_hypertension_visit(only_one, patient_age=60).emergency_reasons]
    assert codes_found == ["palpitations", "urgent_symptom_6"]  # chest tightness is still unanswered


DM_SYMPTOM_CASES = [
    P((2,), (), {"urgent_symptom_2"}, id="polydipsia/polyuria: box 2 多饮 ticked"),
    P((4,), (), {"urgent_symptom_4"}, id="polydipsia/polyuria: box 4 多尿 ticked"),
    P((2, 4), (2, 4), set(), id="polydipsia/polyuria: both answered not urgent now"),
    P((5,), (), set(), id="sudden loss of vision: box 5 视力模糊 is not a sudden loss"),
    P((3, 6, 7, 8, 9), (), set(), id="boxes 3, 6-9 name no urgent sign"),
]


@pytest.mark.parametrize("symptoms, not_urgent, reasons", DM_SYMPTOM_CASES)
def test_diabetes_symptom_box_naming_an_urgent_sign(diabetes_visit, symptoms, not_urgent, reasons):
    assessment = assess_diabetes_visit(diabetes_visit(symptoms=symptoms, symptoms_not_urgent=not_urgent))
    assert {reason.code for reason in assessment.emergency_reasons} == reasons
    assert assessment.emergency is bool(reasons)


def test_every_urgent_box_names_signs_of_its_own_form():
    for condition, boxes, signs in ((codes.HYPERTENSION, codes.HYPERTENSION_SYMPTOMS, codes.HYPERTENSION_DANGER_SIGNS),
                                    (codes.DIABETES, codes.DIABETES_SYMPTOMS, codes.DIABETES_DANGER_SIGNS)):
        for box, named in codes.URGENT_SYMPTOM_BOXES[condition].items():
            assert box in boxes and box != codes.NO_SYMPTOMS and named and set(named) <= set(signs)


# ---- diabetes control --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fpg, controlled",
    [
        P(6.9, True, id="Controlled: FPG < 7.0 mmol/L (6.9)"),
        P(7.0, False, id="Controlled: FPG < 7.0 mmol/L (7.0 is not)"),
        P(4.0, True, id="Controlled: FPG < 7.0 mmol/L (4.0)"),
    ],
)
def test_diabetes_control(diabetes_visit, fpg, controlled):
    assessment = assess_diabetes_visit(diabetes_visit(fpg_mmol=fpg))
    assert assessment.controlled is controlled
    assert assessment.classification == (codes.CONTROLLED if controlled else codes.UNCONTROLLED)


def test_diabetes_control_target_is_a_setting(diabetes_visit):
    assert assess_diabetes_visit(
        diabetes_visit(fpg_mmol=7.5), settings=RuleSettings(fpg_target_mmol=8.0)
    ).controlled


# ---- classified intervention -------------------------------------------------------------------------------

VISIT_DAY = date(2026, 3, 2)
TWO_WEEKS = VISIT_DAY + timedelta(days=14)
# + 90 days is Sunday 31 May: booked on the working day before (RuleSettings.working_days_only).
QUARTER = date(2026, 5, 29)
C, U = (130, 80), (150, 95)  # controlled and uncontrolled BP at age 60

INTERVENTION_CASES = [
    P(
        C,
        None,
        {},
        codes.CONTROLLED,
        codes.NO_REFERRAL,
        QUARTER,
        "routine_quarterly",
        id="controlled, no ADR, no new/worse complication | book next routine visit (quarterly)",
    ),
    P(
        U,
        None,
        {},
        codes.UNCONTROLLED,
        codes.NO_REFERRAL,
        TWO_WEEKS,
        "uncontrolled",
        id="first uncontrolled visit | adjust treatment; next visit within 2 weeks",
    ),
    P(
        U,
        C,
        {},
        codes.UNCONTROLLED,
        codes.NO_REFERRAL,
        TWO_WEEKS,
        "uncontrolled",
        id="first uncontrolled visit (previous controlled) | next visit within 2 weeks",
    ),
    P(
        C,
        None,
        {"adverse_reaction": codes.ADR, "adverse_reaction_text": "干咳"},
        codes.ADVERSE_REACTION_CLASS,
        codes.NO_REFERRAL,
        TWO_WEEKS,
        "adverse_reaction",
        id="or an ADR | adjust treatment; next visit within 2 weeks",
    ),
    P(
        U,
        U,
        {},
        codes.UNCONTROLLED,
        codes.ROUTINE_REFERRAL,
        TWO_WEEKS,
        "referral_follow_up",
        id="second uncontrolled visit in a row | recommend referral; follow it up within 2 weeks",
    ),
    P(
        C,
        None,
        {
            "adverse_reaction": codes.ADR,
            "adverse_reaction_text": "血管性水肿",
            "adverse_reaction_hard_to_control": True,
        },
        codes.ADVERSE_REACTION_CLASS,
        codes.ROUTINE_REFERRAL,
        TWO_WEEKS,
        "referral_follow_up",
        id="an ADR hard to control | recommend referral; follow it up within 2 weeks",
    ),
    P(
        C,
        None,
        {"new_or_worse_complication": True},
        codes.COMPLICATION,
        codes.ROUTINE_REFERRAL,
        TWO_WEEKS,
        "referral_follow_up",
        id="a new/worse complication | recommend referral; follow it up within 2 weeks",
    ),
    P(
        (182, 100),
        U,
        {},
        codes.UNCONTROLLED,
        codes.URGENT_REFERRAL,
        TWO_WEEKS,
        "emergency_follow_up",
        id="Emergency -> treat, refer urgently, follow the referral up within 2 weeks",
    ),
]


@pytest.mark.parametrize(
    "bp, previous_bp, boxes, classification, referral, next_date, next_reason", INTERVENTION_CASES
)
def test_classified_intervention(
    hypertension_visit, bp, previous_bp, boxes, classification, referral, next_date, next_reason
):
    visit = hypertension_visit(visit_date=VISIT_DAY, sbp=bp[0], dbp=bp[1], **boxes)
    previous = None
    if previous_bp is not None:
        previous = hypertension_visit(
            visit_date=VISIT_DAY - timedelta(days=14), sbp=previous_bp[0], dbp=previous_bp[1]
        )
    assessment = assess_hypertension_visit(visit, patient_age=60, previous=previous)
    assert assessment.classification == classification
    assert assessment.referral == referral
    assert assessment.next_visit_date == next_date
    assert assessment.next_visit_reason.code == next_reason
    assert assessment.consecutive_uncontrolled is (bp != C and previous_bp == U)


@pytest.mark.parametrize(
    "fpg, previous_fpg, referral",
    [
        P(8.0, 7.2, codes.ROUTINE_REFERRAL, id="two uncontrolled in a row -> referral + 2 weeks (diabetes)"),
        P(8.0, 6.5, codes.NO_REFERRAL, id="first uncontrolled -> 2 weeks (diabetes)"),
        P(
            6.5,
            8.0,
            codes.NO_REFERRAL,
            id="controlled after an uncontrolled visit is not a streak (diabetes)",
        ),
    ],
)
def test_diabetes_consecutive_uncontrolled(diabetes_visit, fpg, previous_fpg, referral):
    assessment = assess_diabetes_visit(
        diabetes_visit(visit_date=VISIT_DAY, fpg_mmol=fpg),
        previous=diabetes_visit(visit_date=VISIT_DAY - timedelta(days=14), fpg_mmol=previous_fpg),
    )
    assert assessment.referral == referral
    assert assessment.consecutive_uncontrolled is (referral == codes.ROUTINE_REFERRAL)
    expected = TWO_WEEKS if fpg >= 7.0 else QUARTER
    assert assessment.next_visit_date == expected


def test_previous_visit_is_judged_by_the_target_of_its_own_age(hypertension_visit):
    # 145/85 at 64 missed 140/90; at 65 the target is 150/90, so 155/85 now is a second miss in a row.
    previous = hypertension_visit(visit_date=VISIT_DAY - timedelta(days=14), sbp=145, dbp=85)
    visit = hypertension_visit(visit_date=VISIT_DAY, sbp=155, dbp=85)
    assert assess_hypertension_visit(
        visit, patient_age=65, previous=previous, previous_patient_age=64
    ).consecutive_uncontrolled
    assert not assess_hypertension_visit(visit, patient_age=65, previous=previous).consecutive_uncontrolled


def test_previous_phone_visit_does_not_make_a_streak(hypertension_visit):
    previous = hypertension_visit(visit_mode=codes.PHONE, sbp=None, dbp=None, weight_kg=None, heart_rate=None)
    assessment = assess_hypertension_visit(
        hypertension_visit(sbp=150, dbp=95), patient_age=60, previous=previous
    )
    assert not assessment.consecutive_uncontrolled and assessment.referral == codes.NO_REFERRAL


def test_phone_visit_without_measurement_is_not_classified(hypertension_visit):
    visit = hypertension_visit(
        visit_date=VISIT_DAY, visit_mode=codes.PHONE, sbp=None, dbp=None, weight_kg=None, heart_rate=None
    )
    assessment = assess_hypertension_visit(visit, patient_age=60)
    assert assessment.controlled is None and assessment.classification is None
    assert assessment.next_visit_date == TWO_WEEKS and assessment.next_visit_reason.code == "not_measured"


def test_classification_keeps_every_reason(hypertension_visit):
    visit = hypertension_visit(
        sbp=150,
        dbp=95,
        adverse_reaction=codes.ADR,
        adverse_reaction_text="踝部水肿",
        new_or_worse_complication=True,
    )
    assessment = assess_hypertension_visit(visit, patient_age=60)
    assert assessment.classification == codes.COMPLICATION
    assert [r.code for r in assessment.classification_reasons] == [
        "bp_above_target",
        "adverse_reaction",
        "new_or_worse_complication",
    ]
    assert "踝部水肿" in assessment.classification_reasons[1].zh


def test_wrong_visit_kind_is_refused(hypertension_visit, diabetes_visit):
    with pytest.raises(TypeError):
        assess_hypertension_visit(diabetes_visit(), patient_age=60)
    with pytest.raises(TypeError):
        assess_diabetes_visit(diabetes_visit(), previous=hypertension_visit())


# ---- guidance ----------------------------------------------------------------------------------------------


def test_guidance_says_what_to_do_why_and_when(hypertension_visit):
    visit = hypertension_visit(
        visit_date=VISIT_DAY, sbp=152, dbp=94, cigarettes_per_day=10, salt_intake=3, medication_adherence=2
    )
    guidance = assess_hypertension_visit(visit, patient_age=60, earlier_visits_this_year=0).guidance_zh
    assert guidance[0].startswith("血压控制不满意（血压152/94mmHg，未达到目标<140/90 mmHg）")
    assert "2周内随访" in guidance[0]
    assert any(line.startswith("吸烟10支/日") for line in guidance)
    assert any(line.startswith("摄盐偏重") for line in guidance)
    assert any(line.startswith("服药依从性间断") for line in guidance)
    assert "本年度已完成1次面对面随访，还需3次。" in guidance
    assert guidance[-1] == f"下次随访：{TWO_WEEKS.isoformat()}（控制不满意，调整治疗后14天内随访）。"


def test_guidance_for_an_emergency_comes_first(diabetes_visit):
    guidance = assess_diabetes_visit(diabetes_visit(fpg_mmol=18.2)).guidance_zh
    assert guidance[0].startswith("危急情况：血糖≥16.7mmol/L（本次18.2）")
    assert "紧急转诊" in guidance[0]


def test_the_patient_is_advised_in_their_own_words_from_the_same_findings(hypertension_visit, diabetes_visit):
    from gpcore.followup import advice_for_patient_zh

    visit = hypertension_visit(cigarettes_per_day=10, cigarettes_per_day_target=0, salt_intake=codes.HEAVY_SALT)
    result = assess_hypertension_visit(visit, patient_age=60)
    assert any("劝其戒烟" in line for line in result.guidance_zh)  # to the doctor
    advice = advice_for_patient_zh(visit, controlled=result.controlled, emergency=result.emergency,
                                   referral=result.referral, bmi=result.bmi)
    assert "请戒烟。" in advice and "请清淡饮食，少吃盐。" in advice  # to the patient
    assert not any("劝其" in line or "建议" in line for line in advice)
    cutting_down = hypertension_visit(cigarettes_per_day=20, cigarettes_per_day_target=5)
    assert "请少吸烟，每天不超过5支，争取戒烟。" in advice_for_patient_zh(
        cutting_down, controlled=True, emergency=False, referral=codes.NO_REFERRAL, bmi=None)
    feet = diabetes_visit(dorsalis_pedis=2, dorsalis_pedis_side=1, hypoglycaemia=codes.FREQUENT_HYPOGLYCAEMIA)
    lines = advice_for_patient_zh(feet, controlled=False, emergency=True, referral=codes.URGENT_REFERRAL, bmi=None)
    assert lines[0].startswith("您的情况需要紧急处理") and "本次血糖控制不满意" in lines[1]
    assert any("双脚" in line for line in lines) and any("低血糖" in line for line in lines)
