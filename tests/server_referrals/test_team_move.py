"""A household moved to another team takes its referral cases along (issue 13): the new team sees, follows up
and closes them, and is told; the old team no longer sees them nor keeps a notice that leads nowhere; the
specialist and the center keep theirs, with a system entry in the thread. Scope checked for every role."""
from __future__ import annotations

import uuid

from sqlalchemy import select

ROLES = ("admin", "staff-a", "staff-b", "gp-a1", "nurse-a1", "gp-a2", "nurse-a2", "gp-b1", "spec", "spec-pool",
         "spec-endo")


def _move(as_user, ref, household_key, team_key, user="staff-a"):
    r = as_user(user).post("/api/v1/assignments/", json={"household_ids": [ref.w.households[household_key]],
                                                         "team_id": ref.w.teams[team_key], "reason": "片区调整"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _seen(as_user, user, case_id):
    return as_user(user).get(f"/api/v1/referrals/{case_id}").status_code


def _notices(ref, as_user, user, case_id):
    return [i for i in ref.ok(as_user(user).get("/api/v1/inbox"))["items"] if i["referral_id"] == case_id]


def test_the_cases_follow_the_household_for_every_role(ref, as_user, session):
    from server.auth.models import User
    from server.notifications.models import SmsMessage

    session.get(User, ref.w.users["spec"]).phone = "13900000000"  # the urgent case is texted to them
    session.commit()
    answered, etag = ref.send(to="spec", urgency="urgent")           # A1-0-0, urgent: an SMS to spec
    etag = as_user("spec").post(f"/api/v1/referrals/{answered['id']}/accept", json={},
                                headers={"If-Match": etag}).headers["ETag"]
    ref.ok(ref.act("spec", answered["id"], "answer", etag))
    waiting, _ = ref.send(to="pool", urgency="routine")
    cancelled, etag = ref.send(to="spec", urgency="routine")
    ref.ok(ref.act("gp-a1", cancelled["id"], "cancel", etag))
    other, _ = ref.send("A1-1-0", to="spec", urgency="routine")       # another household of A1: stays
    cases = (answered["id"], waiting["id"], cancelled["id"])
    before = {user: {c: _seen(as_user, user, c) for c in cases} for user in ROLES}
    assert before["gp-a1"] == dict.fromkeys(cases, 200) and before["gp-a2"] == dict.fromkeys(cases, 404)
    assert _notices(ref, as_user, "nurse-a1", answered["id"])  # the answer reached the team

    result = _move(as_user, ref, "A1-0", "A2")
    assert result["changed"] == 1
    after = {user: {c: _seen(as_user, user, c) for c in cases} for user in ROLES}
    # The teams swap; everyone else sees exactly what they saw before.
    assert after["gp-a1"] == after["nurse-a1"] == dict.fromkeys(cases, 404)
    assert after["gp-a2"] == after["nurse-a2"] == dict.fromkeys(cases, 200)
    for user in ("admin", "staff-a", "staff-b", "gp-b1", "spec", "spec-pool", "spec-endo"):
        assert after[user] == before[user], user
    assert _seen(as_user, "gp-a1", other["id"]) == 200 and _seen(as_user, "gp-a2", other["id"]) == 404
    listed = {r["id"] for r in ref.ok(as_user("gp-a1").get("/api/v1/referrals?page_size=50"))["items"]}
    assert listed == {other["id"]}
    listed = {r["id"] for r in ref.ok(as_user("gp-a2").get("/api/v1/referrals?page_size=50"))["items"]}
    assert listed == set(cases)
    # The open cases' threads say so (to the specialist too); the cancelled one is left as it ended.
    for case_id, reader in ((answered["id"], "spec"), (waiting["id"], "spec-pool")):
        entry = ref.ok(as_user(reader).get(f"/api/v1/referrals/{case_id}"))["messages"][-1]
        assert (entry["kind"], entry["author_role"], entry["author_id"]) == ("team_move", "system", None)
        assert entry["text"] == "居民家庭已由团队A1调整至团队A2，此转诊随之转由团队A2跟进。"
    assert ref.ok(as_user("gp-a2").get(f"/api/v1/referrals/{cancelled['id']}"))["messages"][-1]["kind"] == "cancel"
    # The old team's notices are marked and say where the case went; the new team is told.
    for user in ("gp-a1", "nurse-a1"):
        old = _notices(ref, as_user, user, answered["id"])
        assert old and all(n["read_at"] and n["text"].startswith("【已随家庭转交团队A2】") for n in old)
    assert [n["topic"] for n in _notices(ref, as_user, "nurse-a2", answered["id"])] == ["referral_team_move"]
    # The worklist's follow-up of the answer is the new team's; the new team closes the case.
    assert [a["referral_id"] for a in ref.ok(as_user("gp-a2").get("/api/v1/worklist"))["referral_answers"]] == [
        answered["id"]]
    assert ref.ok(as_user("gp-a1").get("/api/v1/worklist"))["referral_answers"] == []
    case = ref.ok(as_user("gp-a2").get(f"/api/v1/referrals/{answered['id']}"))
    assert case["allowed_actions"] == ["close"] and case["team_id"] == ref.w.teams["A2"]
    r = as_user("gp-a2").post("/api/v1/followups", json={
        "id": str(uuid.uuid4()), "resident_id": ref.w.residents["A1-0-0"], "condition": "hypertension",
        "form": {"visit_date": "2026-06-15", "visit_mode": 1, "symptoms": [1], "sbp": 138, "dbp": 86,
                 "weight_kg": 68.0, "height_cm": 168.0, "heart_rate": 72, "medication_adherence": 1,
                 "adverse_reaction": 1}})
    assert r.status_code == 201, r.get_json()
    visit = r.get_json()["id"]
    assert ref.act("gp-a1", answered["id"], "close", body={"followup_id": visit}).status_code == 404
    closed = ref.ok(ref.act("gp-a2", answered["id"], "close", body={"followup_id": visit}))
    assert closed["state"] == "closed" and closed["messages"][-1]["author_name"] == "gp-a2"
    # The urgent case's SMS delivery status is the new team's to see.
    sms = session.scalars(select(SmsMessage).where(SmsMessage.referral_id == answered["id"])).all()
    assert sms and {m.team_id for m in sms} == {ref.w.teams["A2"]}
    seen = {m["referral_id"] for m in ref.ok(as_user("gp-a2").get("/api/v1/notifications/sms"))["items"]}
    assert answered["id"] in seen
    assert answered["id"] not in {m["referral_id"] for m in ref.ok(as_user("gp-a1").get(
        "/api/v1/notifications/sms"))["items"]}


def test_a_resident_moved_to_another_teams_household_takes_the_cases_along(ref, as_user):
    case, _ = ref.send(to="spec")
    r = as_user("staff-a").post(f"/api/v1/residents/{ref.w.residents['A1-0-0']}/move",
                                json={"household_id": ref.w.households["A2-0"], "reason": "投靠子女"},
                                headers={"If-Match": "*"})
    assert r.status_code == 200, r.get_json()
    assert _seen(as_user, "gp-a1", case["id"]) == 404 and _seen(as_user, "gp-a2", case["id"]) == 200
    assert ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}"))["messages"][-1]["kind"] == "team_move"


def test_a_household_given_to_no_team_keeps_its_cases_with_the_last_team(ref, as_user):
    case, _ = ref.send(to="spec")
    r = as_user("staff-a").post("/api/v1/assignments/", json={"household_ids": [ref.w.households["A1-0"]],
                                                              "team_id": None, "reason": "片区调整"})
    assert r.status_code == 200, r.get_json()
    assert _seen(as_user, "gp-a1", case["id"]) == 200  # a case always has a team
