"""The tablet registry's API: enrolment and its keys, the registry per role, retire/lost orders, the wipe."""
import base64
import uuid

import pytest
from sqlalchemy import select

ZH = {"Accept-Language": "zh-CN"}


def enrol(as_user, user, device_id=None, **body):
    body = {"device_id": device_id or str(uuid.uuid4()), "model": "Lenovo TB-X606F", "app_version": "1.4.0",
            "store_version": 9, **body}
    return as_user(user).post("/api/v1/devices/enrol", json=body)


def key_bytes(text):
    raw = base64.b64decode(text, validate=True)
    assert len(raw) == 32
    return raw


def test_first_enrolment_makes_keys_and_the_team_shares_them(world, as_user, session, caplog):
    from server.audit.models import AuditEvent
    from server.devices.models import Device

    caplog.set_level("DEBUG")
    first = enrol(as_user, "gp-a1")
    assert first.status_code == 201, first.get_json()
    got = first.get_json()
    assert got["state"] == "active" and got["team_id"] == world.teams["A1"]
    secret, escrow = key_bytes(got["device_secret"]), key_bytes(got["escrow_key"])
    assert secret != escrow
    # Another member of the same team on the same tablet gets the same keys; so does the first one again.
    for user in ("nurse-a1", "gp-a1"):
        again = enrol(as_user, user, got["device_id"], app_version="1.4.1")
        assert again.status_code == 200
        assert (again.get_json()["device_secret"], again.get_json()["escrow_key"]) == (got["device_secret"],
                                                                                      got["escrow_key"])
    # A member of another team is refused, with the protocol's code, and gets nothing.
    other = enrol(as_user, "gp-a2", got["device_id"])
    assert other.status_code == 409
    assert other.get_json()["code"] == "device_other_team" and "device_secret" not in other.get_json()
    # Kept sealed: neither key is in the row, raw or as base64.
    row = session.get(Device, got["device_id"])
    stored = row.sealed_keys.encode()
    for key in (secret, escrow):
        assert key not in base64.b64decode(stored[3:]) and base64.b64encode(key) not in stored
    assert (row.app_version, row.store_version, row.model) == ("1.4.1", 9, "Lenovo TB-X606F")
    assert got["device_secret"] not in caplog.text and got["escrow_key"] not in caplog.text
    logged = session.scalars(select(AuditEvent).where(AuditEvent.entity == "device")).all()
    assert [(e.action, e.username, e.detail["created"]) for e in logged] == [
        ("device_enrol", "gp-a1", True), ("device_enrol", "nurse-a1", False), ("device_enrol", "gp-a1", False)]


def test_a_changed_server_secret_is_a_clear_conflict_not_a_crash(world, as_user, clean_app):
    dev = enrol(as_user, "gp-a1").get_json()["device_id"]
    clean_app.config["DEVICE_KEYS_SECRET"] = "another-secret-of-forty-characters-xxxxx"
    r = enrol(as_user, "nurse-a1", dev)
    assert r.status_code == 409 and r.get_json()["code"] == "device_keys_unreadable"


def test_keys_do_not_open_with_another_server_secret_or_on_another_row():
    from server.devices import keys

    secret, escrow = keys.new_keys()
    sealed = keys.seal("s" * 40, "dev-1", secret, escrow)
    assert keys.unseal("s" * 40, "dev-1", sealed) == (secret, escrow)
    for server_secret, device in (("t" * 40, "dev-1"), ("s" * 40, "dev-2")):
        with pytest.raises(keys.UnreadableKeys):
            keys.unseal(server_secret, device, sealed)


def test_only_team_members_enrol(world, as_user):
    for user in ("staff-a", "admin", "spec"):
        r = enrol(as_user, user)
        assert r.status_code == 403, (user, r.get_json())


@pytest.mark.parametrize("body,field", [
    ({"device_id": "not-a-uuid"}, "device_id"), ({"model": ""}, "model"), ({"app_version": "x" * 41}, "app_version"),
    ({"store_version": -1}, "store_version"), ({"store_version": "nine"}, "store_version"),
    ({"colour": "red"}, "colour")])
def test_bad_enrolment_names_the_field_in_chinese(world, as_user, body, field):
    r = as_user("gp-a1").post("/api/v1/devices/enrol", headers=ZH, json={
        "device_id": str(uuid.uuid4()), "model": "m", "app_version": "1", "store_version": 1, **body})
    assert r.status_code == 422
    got = r.get_json()
    assert set(got) == {"code", "status", "message", "errors"} and field in got["errors"]["json"]
    assert got["message"].startswith("输入有误")


def test_missing_field(world, as_user):
    r = as_user("gp-a1").post("/api/v1/devices/enrol", headers=ZH, json={"device_id": str(uuid.uuid4())})
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["model"] == ["必填。"]


def test_retire_keeps_the_device_in_use_without_keys_then_the_wipe_is_recorded(world, as_user, session):
    from server.audit.models import AuditEvent

    dev = enrol(as_user, "gp-a1").get_json()["device_id"]
    r = as_user("staff-a").post(f"/api/v1/devices/{dev}/retire", json={"reason": "换新平板"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "retire" and r.get_json()["state_changed_by"] == "staff-a"
    again = enrol(as_user, "nurse-a1", dev)
    assert again.status_code == 200
    assert again.get_json()["state"] == "retire" and not {"device_secret", "escrow_key"} & set(again.get_json())
    # Ordering it again is a clear conflict; staff of another center do not see it; a team member cannot order.
    r = as_user("staff-a").post(f"/api/v1/devices/{dev}/retire", json={}, headers=ZH)
    assert r.status_code == 409 and r.get_json()["code"] == "device_state" and "待退役" in r.get_json()["message"]
    assert as_user("staff-b").post(f"/api/v1/devices/{dev}/lost", json={}).status_code == 404
    assert as_user("gp-a1").post(f"/api/v1/devices/{dev}/lost", json={}).status_code == 403
    # Another team's member cannot confirm its wipe; its own can, twice without harm.
    assert as_user("gp-a2").post(f"/api/v1/devices/{dev}/wiped").status_code == 404
    done = as_user("nurse-a1").post(f"/api/v1/devices/{dev}/wiped")
    assert done.status_code == 200 and done.get_json()["state"] == "wiped" and done.get_json()["wiped_at"]
    assert as_user("nurse-a1").post(f"/api/v1/devices/{dev}/wiped").get_json()["wiped_at"] == done.get_json()["wiped_at"]
    r = enrol(as_user, "gp-a1", dev)
    assert r.status_code == 403 and r.get_json()["code"] == "device_wiped"
    actions = [(e.action, e.username) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == dev).order_by(AuditEvent.id))]
    assert ("device_retire", "staff-a") in actions and ("device_wiped", "nurse-a1") in actions


def test_an_active_device_cannot_claim_a_wipe(world, as_user):
    dev = enrol(as_user, "gp-a1").get_json()["device_id"]
    r = as_user("gp-a1").post(f"/api/v1/devices/{dev}/wiped", headers=ZH)
    assert r.status_code == 409 and r.get_json()["code"] == "device_state" and "清除" in r.get_json()["message"]


def test_lost_refuses_enrolment_and_logs_the_waiting_count(world, as_user, session, client):
    from server.audit.models import AuditEvent

    dev = enrol(as_user, "gp-b1").get_json()["device_id"]
    # The tablet reported 7 waiting changes on its last sync.
    r = as_user("gp-b1").get("/api/v1/sync/pull", headers={"X-Device-Id": dev, "X-Pending-Changes": "7"})
    assert r.status_code == 200 and r.headers["X-Device-State"] == "active"
    r = as_user("admin").post(f"/api/v1/devices/{dev}/lost", json={"reason": "出租车上遗失"})
    assert r.status_code == 200 and r.get_json()["pending_at_order"] == 7
    r = enrol(as_user, "gp-b1", dev)
    assert r.status_code == 403
    got = r.get_json()
    assert got["code"] == "device_lost" and "device_secret" not in got and set(got) <= {
        "code", "status", "message", "errors"}
    zh = as_user("gp-b1").post("/api/v1/devices/enrol", headers=ZH, json={
        "device_id": dev, "model": "m", "app_version": "1", "store_version": 1}).get_json()
    assert "挂失" in zh["message"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "device_lost")).one()
    assert (event.username, event.detail["pending_changes"], event.detail["reason"]) == ("admin", 7, "出租车上遗失")
    # A lost tablet that wipes itself says so.
    r = as_user("gp-b1").post(f"/api/v1/devices/{dev}/wiped")
    assert r.status_code == 200 and r.get_json()["state"] == "wiped" and r.get_json()["pending_at_order"] == 7


def test_registry_lists_by_role(world, as_user):
    devs = {t: enrol(as_user, u).get_json()["device_id"] for t, u in (("A1", "gp-a1"), ("A2", "gp-a2"),
                                                                       ("B1", "gp-b1"))}
    seen = {"admin": {"A1", "A2", "B1"}, "staff-a": {"A1", "A2"}, "staff-b": {"B1"}, "gp-a1": {"A1"},
            "nurse-a1": {"A1"}, "gp-b1": {"B1"}}
    for user, teams in seen.items():
        r = as_user(user).get("/api/v1/devices")
        assert r.status_code == 200, r.get_json()
        assert {i["id"] for i in r.get_json()["items"]} == {devs[t] for t in teams}, user
        for t, dev in devs.items():
            assert as_user(user).get(f"/api/v1/devices/{dev}").status_code == (200 if t in teams else 404)
    assert as_user("spec").get("/api/v1/devices").status_code == 403
    row = as_user("staff-a").get(f"/api/v1/devices/{devs['A1']}").get_json()
    assert row["team_name"] == "团队A1" and row["enrolled_by"] == "gp-a1" and row["state"] == "active"
    assert "sealed_keys" not in row and "device_secret" not in row
    only = as_user("admin").get(f"/api/v1/devices?team_id={world.teams['B1']}&state=active").get_json()["items"]
    assert [i["id"] for i in only] == [devs["B1"]]
    r = as_user("admin").get("/api/v1/devices?state=stolen", headers=ZH)
    assert r.status_code == 422 and "state" in r.get_json()["errors"]["query"]


def test_reading_the_registry_is_audited(world, as_user, session):
    """The registry is a list of who carries which tablet where: a read of it is logged like every list view,
    the tablets shown, and one tablet by its id, once each."""
    from sqlalchemy import func

    from server.audit.models import AuditEvent

    dev = enrol(as_user, "gp-a1").get_json()["device_id"]
    before = session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))
    staff = as_user("staff-a")
    assert staff.get("/api/v1/devices?page=1").status_code == 200
    assert staff.get(f"/api/v1/devices/{dev}").status_code == 200
    session.expire_all()
    read = session.scalars(select(AuditEvent).where(AuditEvent.id > before).order_by(AuditEvent.id)).all()
    assert [(e.username, e.action, e.entity, e.entity_id) for e in read] == [
        ("staff-a", "list", "device", None), ("staff-a", "read", "device", dev)]
    assert read[0].detail == {"shown": [dev]} and read[0].request_id and read[0].role == "center_staff"
