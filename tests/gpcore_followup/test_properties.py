"""Invariants of the assessment over any valid visit (hypothesis)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from gpcore.followup import (
    EDITION_2011,
    RuleSettings,
    assess_diabetes_visit,
    assess_hypertension_visit,
    codes,
)

SETTINGS = st.sampled_from(
    [RuleSettings(), RuleSettings(edition=EDITION_2011), RuleSettings(relaxed_target_age=80)]
)


@st.composite
def assessed(draw, strategies):
    """A valid visit of either condition, its previous visit, and its assessment."""
    settings = draw(SETTINGS)
    earlier = draw(st.none() | st.integers(0, 6))
    if draw(st.booleans()):
        visit, previous = draw(strategies.hypertension), draw(st.none() | strategies.hypertension)
        result = assess_hypertension_visit(
            visit,
            patient_age=draw(st.integers(35, 100)),
            previous=previous,
            earlier_visits_this_year=earlier,
            settings=settings,
        )
    else:
        visit, previous = draw(strategies.diabetes), draw(st.none() | strategies.diabetes)
        result = assess_diabetes_visit(
            visit, previous=previous, earlier_visits_this_year=earlier, settings=settings
        )
    return visit, result


@given(data=st.data())
def test_emergency_means_urgent_referral_within_two_weeks(strategies, data):
    visit, result = data.draw(assessed(strategies))
    assert result.emergency == bool(result.emergency_reasons)
    if result.emergency:
        assert result.referral == codes.URGENT_REFERRAL
        assert result.next_visit_date <= visit.visit_date + timedelta(days=14)
        assert result.referral_reasons[0].code == "emergency"


@st.composite
def quiet_visits(draw, strategies):
    """A visit made controlled, without ADR, complication or danger signs; its assessment."""
    calm = {
        "adverse_reaction": draw(st.sampled_from([None, codes.NO_ADR])),
        "adverse_reaction_text": "",
        "adverse_reaction_hard_to_control": False,
        "new_or_worse_complication": False,
        "danger_signs": (),
        "danger_sign_other": "",
        # A box naming an urgent sign (palpitations, vomiting, ...) raises the emergency unless answered.
        "symptoms": (),
        "symptoms_not_urgent": (),
        "pregnant": False,
        "lactating": False,
        "visit_mode": codes.CLINIC,
        "sbp": draw(st.integers(90, 139)),
        "dbp": draw(st.integers(50, 89)),
        "heart_rate": None,
        "temperature_c": None,
    }
    earlier = draw(st.none() | st.integers(0, 6))
    if draw(st.booleans()):
        visit = replace(draw(strategies.hypertension), **calm)
        previous = draw(st.none() | strategies.hypertension)
        return visit, assess_hypertension_visit(
            visit,
            patient_age=draw(st.integers(35, 100)),
            previous=previous,
            earlier_visits_this_year=earlier,
            settings=draw(SETTINGS),
        )
    visit = replace(
        draw(strategies.diabetes),
        fpg_mmol=draw(st.integers(40, 69).map(lambda n: n / 10)),
        fpg_missing_reason="",
        **calm,
    )
    previous = draw(st.none() | strategies.diabetes)
    return visit, assess_diabetes_visit(
        visit, previous=previous, earlier_visits_this_year=earlier, settings=draw(SETTINGS)
    )


@given(data=st.data())
def test_controlled_without_trouble_waits_more_than_two_weeks(strategies, data):
    # "controlled, no ADR, no new/worse complication | book next routine visit (quarterly)"
    visit, result = data.draw(quiet_visits(strategies))
    assert result.controlled is True and not result.emergency
    assert result.classification == codes.CONTROLLED and result.referral == codes.NO_REFERRAL
    assert result.next_visit_date > visit.visit_date + timedelta(days=14)


@given(data=st.data())
def test_trouble_always_brings_the_next_visit_within_two_weeks(strategies, data):
    visit, result = data.draw(assessed(strategies))
    trouble = (
        result.controlled is not True
        or visit.adverse_reaction == codes.ADR
        or visit.new_or_worse_complication
        or result.emergency
        or result.referral != codes.NO_REFERRAL
    )
    assert (result.next_visit_date <= visit.visit_date + timedelta(days=14)) == trouble


@given(data=st.data())
def test_next_visit_is_after_the_visit_and_every_decision_has_reasons(strategies, data):
    visit, result = data.draw(assessed(strategies))
    assert visit.visit_date < result.next_visit_date <= visit.visit_date + timedelta(days=90)
    assert result.classification_reasons and result.next_visit_reason.zh and result.guidance_zh
    assert (result.referral == codes.NO_REFERRAL) == (not result.referral_reasons)
    assert result.consecutive_uncontrolled <= (result.referral != codes.NO_REFERRAL)
    assert result.guidance_zh[-1].startswith(f"下次随访：{result.next_visit_date.isoformat()}")
    json.dumps(result.to_dict(), ensure_ascii=False)


@given(data=st.data(), rise=st.integers(1, 60))
def test_higher_bp_never_turns_uncontrolled_into_controlled(strategies, data, rise):
    visit = data.draw(strategies.hypertension)
    assume(visit.sbp is not None)
    age = data.draw(st.integers(35, 100))
    higher = replace(visit, sbp=visit.sbp + rise, dbp=visit.dbp + data.draw(st.integers(0, rise)))
    before = assess_hypertension_visit(visit, patient_age=age)
    after = assess_hypertension_visit(higher, patient_age=age)
    assert not (before.controlled is False and after.controlled is True)
    assert after.emergency >= before.emergency
