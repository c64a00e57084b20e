"""The tablet app's tests: a small clinic in the test world, a tablet session synced from it. The app and its
subprocesses (the Kivy drivers, the kill tests) reach the test's app through `live` (tests/conftest.py)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from gpcore.clock import china_today

PASSWORD = "correct-horse-1"  # tests/conftest.py's world
TODAY = china_today()


def htn_form(visit_date: str, **changes) -> dict:
    """A complete hypertension home visit (controlled: 128/82), as a doctor signs it."""
    form = {"visit_date": visit_date, "visit_mode": 2, "symptoms": [1], "sbp": 128, "dbp": 82, "weight_kg": 68.0,
            "height_cm": 168.0, "heart_rate": 72, "cigarettes_per_day": 0, "cigarettes_per_day_target": 0,
            "liquor_liang_per_day": 0, "exercise_times_per_week": 5, "exercise_minutes_per_time": 30,
            "salt_intake": 1, "salt_intake_target": 1, "psychological_adjustment": 1, "compliance": 1,
            "medication_adherence": 1, "adverse_reaction": 1, "classification": 1,
            "medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}], "doctor": "王医生"}
    form.update(changes)
    return form


# argon2id at a tenth of a second a PIN (fieldapp.keys.KDF) was ~8 s of the suite's CPU over ~60 PINs set and
# tried. Tests that are not about its cost use the cheapest parameters argon2 allows: a wrap records its own
# parameters, so what these tests prove (the PIN opens the store, a wrong one does not, the ladder) is the same.
# A test marked `real_kdf` keeps the production parameters.
CHEAP_KDF = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


@pytest.fixture(autouse=True)
def _cheap_pin_kdf(request, monkeypatch):
    if request.node.get_closest_marker("real_kdf") is None:
        from fieldapp import keys
        monkeypatch.setattr(keys, "KDF", CHEAP_KDF)


@pytest.fixture
def clinic(world, as_user):
    """张三 (A1-0-0, zs) with hypertension and a visit 40 days ago; 赵六 (A1-1-1) with type 2 diabetes."""
    for key, condition in (("A1-0-0", "hypertension"), ("A1-1-1", "t2dm")):
        r = as_user("admin").post(f"/api/v1/residents/{world.residents[key]}/conditions",
                                  json={"condition": condition, "diagnosed_on": "2020-05-01"})
        assert r.status_code == 201, r.get_json()
    before = (TODAY - dt.timedelta(days=40)).isoformat()
    r = as_user("gp-a1").post("/api/v1/followups", json={
        "id": str(uuid.uuid4()), "resident_id": world.residents["A1-0-0"], "condition": "hypertension",
        "form": htn_form(before)})
    assert r.status_code == 201, r.get_json()
    return world


@pytest.fixture
def tablet_session(tmp_path, clean_app, clinic):
    """A TabletSession signed in as gp-a1 and synced, over the test client (no sockets)."""
    from fieldapp.session import TabletSession
    from server.demo.tablet import ClientTransport

    client = clean_app.test_client()
    # secure=False: a plain store, so these tests of the visit, worklist and kill paths need no PIN
    # (tests/fieldapp_ui/test_lock.py covers the encrypted, enrolled session).
    session = TabletSession(str(tmp_path / "tablet.sqlite"),
                            transport_factory=lambda url, store: ClientTransport(client, store), secure=False)
    session.sign_in("test", "gp-a1", PASSWORD)
    outcome = {}
    session.start_sync(lambda p: None, outcome.update)
    session.wait_sync(60)
    assert outcome.get("ok") and outcome.get("synced"), outcome
    yield session
    session.close()
