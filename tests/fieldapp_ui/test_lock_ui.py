"""Auto-lock and unlock through the app's widgets under Kivy's offscreen window (issue 18): the tablet is
enrolled and given a PIN here (the real server's device registry, test client), then the driver
(tests/fieldapp_ui/lock_driver.py, a subprocess so Kivy stays out of pytest) works offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PASSWORD, TODAY, htn_form

DRIVER = Path(__file__).with_name("lock_driver.py")
ROOT = Path(__file__).resolve().parents[2]


def test_unlock_and_auto_lock_under_the_offscreen_window(tmp_path, clean_app, clinic):
    from fieldapp.session import TabletSession
    from server.demo.tablet import ClientTransport

    client = clean_app.test_client()
    path = str(tmp_path / "tablet.sqlite")
    session = TabletSession(path, transport_factory=lambda url, store: ClientTransport(client, store))
    me = session.sign_in("test", "gp-a1", PASSWORD)
    session.set_pin("358172")
    outcome = {}
    session.start_sync(lambda p: None, outcome.update)
    session.wait_sync(60)
    assert outcome.get("ok"), outcome
    # Two visits and an amendment the server refused in one batch (as a sync would mark them): the driver
    # discards the first visit and fixes the others.
    rid = clinic.residents["A1-0-0"]
    [signed] = session.store.visits(rid)
    first = session.store.save_visit(rid, "hypertension", htn_form(TODAY.isoformat()))
    second = session.store.save_visit(rid, "hypertension", htn_form(TODAY.isoformat(), sbp=150))
    amendment = session.store.amend_visit(signed["id"], {**signed["form"], "sbp": 134}, "血压抄错")
    session.store.reject_batch(session.store.take_batch(10), {"code": 422, "message": "随访日期不对"})
    assert {v["id"] for v in session.store.visits(rid)}.isdisjoint({first, second})  # not shown as done
    [discard] = [i["change_id"] for i in session.store.needs_attention() if i["entity_id"] == first]
    session.close()
    result = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(DRIVER), "--db", path, "--member", str(me["id"]), "--pin", "358172",
                          "--resident", clinic.residents["A1-0-0"], "--discard", discard,
                          "--result", str(result)], capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
    if run.returncode == 77:
        pytest.skip(f"Kivy cannot open an offscreen window here: {run.stderr[-500:]}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    steps = json.loads(result.read_text())["steps"]
    assert len(steps) == 7, steps
    check = TabletSession(path, transport_factory=lambda url, store: ClientTransport(client, store))
    check.unlock(str(me["id"]), "358172")
    assert check.store.needs_attention() == []
    states = check.store.db.execute(
        "SELECT entity_id, state FROM outbox WHERE entity_id IN (?, ?, ?) ORDER BY seq",
        (first, second, amendment)).fetchall()
    assert [tuple(r) for r in states] == [(first, "discarded"), (second, "fixed"), (amendment, "fixed"),
                                          (second, "pending"), (amendment, "pending")]
    # The fixed visit goes up in its author's name, with the corrected reading; the discarded one never does.
    outcome = {}
    check.start_sync(lambda p: None, outcome.update)
    check.wait_sync(60)
    assert outcome.get("ok"), outcome
    from server.followups.models import FollowUp
    with clean_app.app_context():
        from server import db
        row = db.session().get(FollowUp, second)
        assert (row.sbp, row.signed_by) == (148, int(me["id"])) and db.session().get(FollowUp, first) is None
        fixed = db.session().get(FollowUp, amendment)
        assert (fixed.amends_id, fixed.sbp, fixed.amendment_reason) == (signed["id"], 136, "血压抄错，应为136")
    check.close()
