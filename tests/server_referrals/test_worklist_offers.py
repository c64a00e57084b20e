"""The loop opens (issue 13 item 3): a referral the follow-up rules asked for (a second uncontrolled visit, an
emergency) is offered on the worklist item, pre-filled from the health file, until the team sends a case."""
from __future__ import annotations

import uuid

FORM = {"visit_mode": 1, "symptoms": [1], "weight_kg": 68.0, "height_cm": 168.0, "heart_rate": 72,
        "medication_adherence": 1, "adverse_reaction": 1, "doctor": "王医生",
        "medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}]}


def _visit(as_user, world, key, visit_date, sbp, dbp, user="gp-a1", **extra):
    r = as_user(user).post("/api/v1/followups", json={
        "id": str(uuid.uuid4()), "resident_id": world.residents[key], "condition": "hypertension",
        "form": {**FORM, "visit_date": visit_date, "sbp": sbp, "dbp": dbp, **extra}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _item(ref, as_user, key, user="gp-a1"):
    items = ref.ok(as_user(user).get("/api/v1/worklist?condition=hypertension"))["items"]
    return next(i for i in items if i["resident_id"] == ref.w.residents[key])


def test_a_second_uncontrolled_visit_offers_a_prefilled_referral_until_one_is_sent(ref, as_user):
    # The fixture's visit of 2026-06-01 (168/98) is the first uncontrolled one: nothing asked yet.
    assert _item(ref, as_user, "A1-0-0")["referral_offer"] is None
    second = _visit(as_user, ref.w, "A1-0-0", "2026-06-12", 172, 104)
    offer = _item(ref, as_user, "A1-0-0")["referral_offer"]
    assert (offer["urgency"], offer["followup_id"], offer["visit_date"], offer["condition"]) == (
        "routine", second, "2026-06-12", "hypertension")
    assert offer["reason"] == "连续两次随访控制不满意"  # the rules' own words: the doctor typed none
    # The offer's prefill: the upward form filled from the file, the rules' reason as the present illness.
    filled = ref.ok(as_user("gp-a1").get(offer["prefill"]))
    assert filled["suggested"] == {k: v for k, v in offer.items() if k != "prefill"}
    assert filled["form"]["present_illness"] == "连续两次随访控制不满意"
    assert filled["form"]["patient_name"] == "张三" and "2026-06-12 高血压 血压172/104mmHg" in \
        filled["form"]["recent_followups"]
    # Center staff see the offer on their center's list; another team's GP does not see the resident at all.
    assert _item(ref, as_user, "A1-0-0", "staff-a")["referral_offer"]["urgency"] == "routine"
    items = ref.ok(as_user("gp-a2").get("/api/v1/worklist"))["items"]
    assert ref.w.residents["A1-0-0"] not in {i["resident_id"] for i in items}
    # Sent: the offer is answered. Cancelled: it is offered again.
    case, etag = ref.send(to="spec", urgency="routine")
    assert _item(ref, as_user, "A1-0-0")["referral_offer"] is None
    ref.ok(ref.act("gp-a1", case["id"], "cancel", etag))
    assert _item(ref, as_user, "A1-0-0")["referral_offer"]["followup_id"] == second


def test_an_emergency_is_offered_as_one_with_the_danger_named(ref, as_user):
    crisis = _visit(as_user, ref.w, "A1-0-0", "2026-06-14", 186, 112)
    offer = _item(ref, as_user, "A1-0-0")["referral_offer"]
    assert (offer["urgency"], offer["followup_id"]) == ("emergency", crisis)
    assert offer["reason"].startswith("存在危急情况：") and "180" in offer["reason"]
    # The doctor's own reason, when they wrote one, is what is offered.
    _visit(as_user, ref.w, "A1-0-0", "2026-06-15", 188, 114, referral_reason="胸痛伴血压升高",
           referral_institution="市一医院", referral_department="心内科")
    assert _item(ref, as_user, "A1-0-0")["referral_offer"]["reason"] == "胸痛伴血压升高"
    # A controlled visit after it: the rules ask nothing any more (nor is the patient due on the list).
    _visit(as_user, ref.w, "A1-0-0", "2026-06-15", 128, 78)
    items = ref.ok(as_user("gp-a1").get("/api/v1/worklist"))["items"]
    assert not [i for i in items if i["referral_offer"]]
