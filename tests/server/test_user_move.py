"""Admin moves a GP team member to another team: PUT /api/v1/users/{id}/team (audited)."""
import pytest
from sqlalchemy import select

from server.audit.models import AuditEvent
from server.auth.models import User
from server.households.models import Resident

ZH = {"Accept-Language": "zh-CN"}


def _move(as_user, world, who="nurse-a1", by="admin", headers=None, **body):
    body = {"team_id": world.teams["A2"], "reason": "A2团队缺护士", **body}
    return as_user(by).put(f"/api/v1/users/{world.users[who]}/team", json=body, headers=headers)


def test_admin_moves_a_nurse_and_the_move_is_logged(world, as_user, session):
    session.get(Resident, world.residents["A1-0-0"]).responsible_doctor_id = world.users["nurse-a1"]
    session.commit()
    nurse = as_user("nurse-a1")
    before = {h["id"] for h in nurse.get("/api/v1/households").get_json()["items"]}
    assert before == {world.households["A1-0"], world.households["A1-1"]}
    r = _move(as_user, world, team_role="public_health_doctor")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["from_team_id"] == world.teams["A1"] and body["to_team_id"] == world.teams["A2"]
    assert body["residents_still_named"] == 1
    assert body["user"]["team_id"] == world.teams["A2"] and body["user"]["team_role"] == "public_health_doctor"
    assert body["user"]["is_team_leader"] is False
    user = session.get(User, world.users["nurse-a1"])
    session.refresh(user)
    assert (user.team_id, user.center_id) == (world.teams["A2"], world.centers["A"])
    # The same token now sees the new team's households only (the scope is read from the user row).
    seen = {h["id"] for h in nurse.get("/api/v1/households").get_json()["items"]}
    assert seen == {world.households["A2-0"], world.households["A2-1"]}
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity == "user", AuditEvent.action == "move"))
    assert event.entity_id == str(world.users["nurse-a1"]) and event.user_id == world.users["admin"]
    assert event.detail == {"from_team_id": world.teams["A1"], "to_team_id": world.teams["A2"],
                            "team_role": "public_health_doctor", "is_team_leader": False,
                            "reason": "A2团队缺护士", "residents_still_named": 1}


def test_a_leader_who_moves_stops_leading_and_may_lead_a_team_without_one(world, as_user):
    r = _move(as_user, world, who="gp-a1", team_id=world.teams["B1"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"]["is_team_leader"] is False
    assert r.get_json()["user"]["center_id"] == world.centers["B"]
    # A1 has no leader now: nurse-a2 may go there as its leader.
    r = _move(as_user, world, who="nurse-a2", team_id=world.teams["A1"], is_team_leader=True)
    assert r.status_code == 200 and r.get_json()["user"]["is_team_leader"] is True


@pytest.mark.parametrize("who, body, status, field, zh", [
    ("nurse-a1", {"team_id": "A1"}, 409, "team_id", "已在这个团队"),
    ("nurse-a1", {"is_team_leader": True}, 409, "is_team_leader", "团队已有团队长"),
    ("nurse-a1", {"team_id": 999999}, 422, "team_id", "没有这个团队"),
    ("staff-a", {}, 422, "team_id", "只有家庭医生团队成员属于团队"),
    ("spec", {}, 422, "team_id", "只有家庭医生团队成员属于团队"),
    ("nurse-a1", {"reason": ""}, 422, "reason", None),
    ("nurse-a1", {"team_role": "surgeon"}, 422, "team_role", None),
])
def test_bad_moves_name_the_field_in_chinese_and_change_nothing(world, as_user, session, who, body, status,
                                                                field, zh):
    if body.get("team_id") == "A1":
        body = {**body, "team_id": world.teams["A1"]}
    r = _move(as_user, world, who=who, headers=ZH, **body)
    assert r.status_code == status, r.get_json()
    errors = r.get_json()["errors"]
    errors = errors.get("json", errors)
    assert field in errors, errors
    if zh:
        assert errors[field] == [zh]
    user = session.get(User, world.users[who])
    session.refresh(user)
    assert user.team_id == (world.teams["A1"] if who == "nurse-a1" else None)
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.entity == "user")) is None


@pytest.mark.parametrize("by", ["staff-a", "staff-b", "spec", "gp-a1", "nurse-a1", "gp-a2", "gp-b1"])
def test_only_admin_moves_users(world, as_user, session, by):
    r = _move(as_user, world, by=by)
    assert r.status_code == 403, r.get_json()
    user = session.get(User, world.users["nurse-a1"])
    session.refresh(user)
    assert user.team_id == world.teams["A1"]


def test_moving_someone_unknown_is_404(world, as_user):
    r = as_user("admin").put("/api/v1/users/999999/team", json={"team_id": world.teams["A2"], "reason": "调整"})
    assert r.status_code == 404
