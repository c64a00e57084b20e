"""The tablet protocol on sync (issue 18): X-Device-Id and X-Pending-Changes recorded, X-Device-State on every
answer, a retiring tablet's waiting visits accepted before its wipe, a lost tablet's push refused."""
import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from fieldapp.sync.transport import HttpError
from gpcore.clock import china_today

VISIT_DAY = (china_today() - dt.timedelta(days=3)).isoformat()


class TabletClient:
    """The test client as a real tablet uses it: every request carries the tablet's device id and the count of
    changes waiting in its outbox; the device states the server answered are kept."""

    def __init__(self, client, store):
        self.client, self.store, self.states = client, store, []

    def open(self, path, headers=None, **kw):
        headers = {**(headers or {}), "X-Device-Id": self.store.device_id,
                   "X-Pending-Changes": str(self.store.outbox_count())}
        r = self.client.open(path, headers=headers, **kw)
        self.states.append((r.status_code, r.headers.get("X-Device-State")))
        return r


@pytest.fixture
def enrolled(tablet, as_user, client):
    """enrolled(username) -> (store, engine, tablet client) for a tablet enrolled to the user's team."""

    def make(username):
        store, engine = tablet(username)
        r = as_user(username).post("/api/v1/devices/enrol", json={
            "device_id": store.device_id, "model": "TB-X606F", "app_version": "1.4.0", "store_version": 9})
        assert r.status_code == 201, r.get_json()
        engine.transport.client = TabletClient(client, store)
        return store, engine, engine.transport.client
    return make


def _registry(as_user, device_id):
    return as_user("staff-a").get(f"/api/v1/devices/{device_id}").get_json()


def _visits(session, resident_id):
    from server.followups.models import FollowUp

    session.expire_all()
    return session.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.resident_id == resident_id))


def test_retire_with_waiting_visits_loses_nothing(world, enrolled, as_user, session, visit_form):
    rid = world.residents["A1-0-0"]
    assert as_user("admin").post(f"/api/v1/residents/{rid}/conditions",
                                 json={"condition": "hypertension"}).status_code == 201
    store, engine, tab = enrolled("gp-a1")
    assert engine.sync().synced
    assert tab.states[-1] == (200, "active")
    row = _registry(as_user, store.device_id)
    assert row["pending_changes"] == 0 and row["last_sync_at"] and row["last_contact_at"]
    # A visit and an edit recorded offline; then center staff retire the tablet before it comes back online.
    first = store.save_visit(rid, "hypertension", visit_form(VISIT_DAY))
    second = store.save_resident_edit(world.residents["A1-0-1"], {"phone": "13911110000"})
    assert store.outbox_count() == 2
    r = as_user("staff-a").post(f"/api/v1/devices/{store.device_id}/retire", json={})
    assert r.status_code == 200 and r.get_json()["pending_at_order"] == 0  # what it last reported
    before = len(tab.states)
    result = engine.sync()
    assert result.synced and store.outbox_count() == 0 and second
    assert _visits(session, rid) == 1 and [(v["id"], v["pending"]) for v in store.visits(rid)] == [(first, False)]
    from server.households.models import Resident
    assert session.get(Resident, world.residents["A1-0-1"]).phone == "13911110000"
    # Every answer on the way (the push, then the pull) told the tablet to retire.
    assert len(tab.states) - before >= 2 and set(tab.states[before:]) == {(200, "retire")}
    assert _registry(as_user, store.device_id)["pending_changes"] == 0
    from server.audit.models import AuditEvent
    # The tablet, its outbox empty, wipes itself and says so.
    r = as_user("gp-a1").post(f"/api/v1/devices/{store.device_id}/wiped")
    assert r.status_code == 200
    row = _registry(as_user, store.device_id)
    assert row["state"] == "wiped" and row["wiped_at"]
    # From now on it is cut off.
    r = as_user("gp-a1").get("/api/v1/sync/pull", headers={"X-Device-Id": store.device_id})
    assert r.status_code == 403 and r.get_json()["code"] == "device_wiped"
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_id == store.device_id, AuditEvent.action == "device_wiped")) == 1


def test_lost_refuses_a_push_and_the_registry_keeps_the_waiting_count(world, enrolled, as_user, session,
                                                                      visit_form):
    rid = world.residents["A1-0-0"]
    assert as_user("admin").post(f"/api/v1/residents/{rid}/conditions",
                                 json={"condition": "hypertension"}).status_code == 201
    store, engine, tab = enrolled("gp-a1")
    engine.sync()
    store.save_visit(rid, "hypertension", visit_form(VISIT_DAY))
    store.save_resident_edit(world.residents["A1-0-1"], {"phone": "13911110000"})
    store.save_household_edit(world.households["A1-0"], {"phone": "021-5555"})
    assert as_user("staff-a").post(f"/api/v1/devices/{store.device_id}/lost", json={}).status_code == 200
    with pytest.raises(HttpError) as refused:
        engine.sync()
    assert refused.value.status == 403 and refused.value.body["code"] == "device_lost"
    assert tab.states[-1] == (403, "lost")
    assert _visits(session, rid) == 0  # nothing pushed was accepted
    from server.households.models import Resident
    session.expire_all()
    assert session.get(Resident, world.residents["A1-0-1"]).phone != "13911110000"
    row = _registry(as_user, store.device_id)
    assert row["state"] == "lost" and row["pending_changes"] == 3 and row["pending_reported_at"]
    # Pull and snapshot pages are refused too, whatever else the request says.
    for path in ("/api/v1/sync/pull", "/api/v1/sync/pull?cursor=x", "/api/v1/sync/conflicts"):
        r = as_user("gp-a1").get(path, headers={"X-Device-Id": store.device_id, "Accept-Language": "zh"})
        assert r.status_code == 403 and r.get_json()["code"] == "device_lost" and "挂失" in r.get_json()["message"]
    # Even with an expired or missing sign-in, or a header it got wrong, the tablet learns it must wipe.
    r = as_user("gp-a1").get("/api/v1/sync/pull", headers={"X-Device-Id": store.device_id, "X-Pending-Changes": "?"})
    assert r.status_code == 403 and r.get_json()["code"] == "device_lost"
    r = tab.client.get("/api/v1/sync/pull", headers={"X-Device-Id": store.device_id})
    assert r.status_code == 403 and r.get_json()["code"] == "device_lost"


def test_requests_without_a_device_or_from_an_unknown_one_are_served_unrecorded(world, as_user, session):
    from server.devices.models import Device

    for headers in ({}, {"X-Device-Id": str(uuid.uuid4())}, {"X-Device-Id": "old-tablet-id"}):
        r = as_user("gp-a1").get("/api/v1/sync/pull", headers=headers)
        assert r.status_code == 200 and "X-Device-State" not in r.headers
    assert session.scalar(select(func.count()).select_from(Device)) == 0


def test_a_device_reports_its_versions_and_other_teams_are_refused(world, as_user, session):
    dev = str(uuid.uuid4())
    assert as_user("gp-a1").post("/api/v1/devices/enrol", json={
        "device_id": dev, "model": "m", "app_version": "1.0", "store_version": 3}).status_code == 201
    r = as_user("nurse-a1").get("/api/v1/sync/pull", headers={
        "X-Device-Id": dev.upper(), "X-Pending-Changes": "4", "X-App-Version": "1.1", "X-Store-Version": "4"})
    assert r.status_code == 200 and r.headers["X-Device-State"] == "active"
    row = as_user("admin").get(f"/api/v1/devices/{dev}").get_json()
    assert (row["app_version"], row["store_version"], row["pending_changes"], row["last_user"]) == ("1.1", 4, 4,
                                                                                                     "nurse-a1")
    r = as_user("gp-b1").get("/api/v1/sync/pull", headers={"X-Device-Id": dev})
    assert r.status_code == 409 and r.get_json()["code"] == "device_other_team"
    # Staff's review of conflicts is not a tablet's contact.
    assert as_user("staff-a").get("/api/v1/sync/conflicts", headers={"X-Device-Id": dev}).status_code == 200
    assert as_user("admin").get(f"/api/v1/devices/{dev}").get_json()["last_user"] == "nurse-a1"


@pytest.mark.parametrize("header,value", [("X-Pending-Changes", "-1"), ("X-Pending-Changes", "lots"),
                                          ("X-Pending-Changes", "99999999999"), ("X-Store-Version", "1.5"),
                                          ("X-App-Version", "")])
def test_bad_device_headers_are_named(world, as_user, header, value):
    r = as_user("gp-a1").get("/api/v1/sync/pull", headers={"X-Device-Id": str(uuid.uuid4()), header: value,
                                                           "Accept-Language": "zh"})
    assert r.status_code == 422
    body = r.get_json()
    assert header in body["errors"] and body["message"].startswith(header + "：须为")


def test_a_disabled_member_is_cut_off_at_the_next_sync(world, as_user, session):
    dev = str(uuid.uuid4())
    assert as_user("nurse-a1").post("/api/v1/devices/enrol", json={
        "device_id": dev, "model": "m", "app_version": "1.0", "store_version": 3}).status_code == 201
    nurse = as_user("nurse-a1")
    r = as_user("admin").patch(f"/api/v1/users/{world.users['nurse-a1']}", json={"is_active": False})
    assert r.status_code == 200, r.get_json()
    r = nurse.get("/api/v1/sync/pull", headers={"X-Device-Id": dev})
    assert r.status_code == 401 and r.get_json()["errors"]["authentication"] == "user_disabled"
    r = nurse.post("/api/v1/devices/enrol", json={"device_id": dev, "model": "m", "app_version": "1",
                                                   "store_version": 3})
    assert r.status_code == 401


@pytest.mark.commits
def test_recording_leaves_the_pull_a_pure_reader(world, as_user, clean_app):
    """With real commits: the pull makes the server epoch in a short transaction of its own on first use; a
    contact written in the view's transaction held SQLite's write lock then ("database is locked", a 500)."""
    from server.devices.models import Device

    dev = str(uuid.uuid4())
    assert as_user("gp-a1").post("/api/v1/devices/enrol", json={
        "device_id": dev, "model": "m", "app_version": "1.0", "store_version": 3}).status_code == 201
    r = as_user("gp-a1").get("/api/v1/sync/pull", headers={"X-Device-Id": dev, "X-Pending-Changes": "2"})
    assert r.status_code == 200, r.get_json()
    with clean_app.app_context():
        row = clean_app.extensions["db_sessionmaker"]().get(Device, dev)
        assert row.pending_changes == 2 and row.last_sync_at is not None


def test_a_burst_of_requests_writes_what_changed_and_the_times_to_the_minute(world, as_user, session):
    from server.devices.models import Device

    dev = str(uuid.uuid4())
    assert as_user("gp-a1").post("/api/v1/devices/enrol", json={
        "device_id": dev, "model": "m", "app_version": "1.0", "store_version": 3}).status_code == 201
    gp = as_user("gp-a1")

    def pull(pending):
        r = gp.get("/api/v1/sync/pull", headers={"X-Device-Id": dev, "X-Pending-Changes": str(pending)})
        assert r.status_code == 200
        session.expire_all()
        return session.get(Device, dev)

    first = pull(5)
    contact, synced = first.last_contact_at, first.last_sync_at
    assert first.pending_changes == 5 and synced is not None
    again = pull(5)  # the same report within the minute: nothing written
    assert (again.last_contact_at, again.last_sync_at) == (contact, synced)
    changed = pull(0)  # a new count is written at once, with the times
    assert changed.pending_changes == 0 and changed.last_contact_at > contact and changed.last_sync_at > synced
    # A minute later the same report refreshes the times.
    an_hour_ago = changed.last_contact_at - dt.timedelta(hours=1)
    session.execute(Device.__table__.update().values(last_contact_at=an_hour_ago, last_sync_at=an_hour_ago))
    session.commit()
    later = pull(0)
    assert later.last_contact_at > an_hour_ago and later.last_sync_at > an_hour_ago


@pytest.mark.parametrize("body", [["a proxy's list"], "a proxy's text", None, 502])
def test_an_error_body_that_is_not_an_object_reads_as_empty(body):
    """The tablet reads err.body["code"] to tell a lost tablet or a moved member from other errors: whatever
    JSON a proxy answered with, that look-up must not raise inside the sync worker's error handling."""
    err = HttpError(502, body)
    assert err.body == {} and err.body.get("code") is None and err.status == 502
