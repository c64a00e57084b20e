"""Visits are never lost: a process killed right after "sign" returned, and one killed in the middle of a
sync (the server answered the push, the tablet had not recorded it), leave a store that a new process opens
with the visit there, and the visit reaches the server exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from gpcore.clock import china_today

DRIVER = Path(__file__).with_name("kill_driver.py")
ROOT = Path(__file__).resolve().parents[2]


def _run_until(args: list[str], line_start: str) -> str:
    """Start the driver, read until it prints `line_start`, SIGKILL it; returns that line."""
    proc = subprocess.Popen([sys.executable, str(DRIVER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for line in proc.stdout:
            if line.startswith(line_start):
                return line.strip()
        raise AssertionError(f"the driver ended without '{line_start}': {proc.stderr.read()[-3000:]}")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL


def test_a_visit_signed_then_killed_reaches_the_server(tablet_session, clinic, live, session):
    from fieldapp.store import Store
    from fieldapp.sync import HttpTransport, SyncEngine
    from server.followups.models import FollowUp

    path = tablet_session.store_path
    resident = clinic.residents["A1-0-0"]
    visit_id = _run_until(["sign", "--db", path, "--resident", resident], "signed").split()[1]

    store = Store(path)  # a new process's view of the file
    [visit] = [v for v in store.visits(resident) if v["id"] == visit_id]
    assert visit["pending"] and visit["sbp"] == 138
    assert store.outbox_count() == 1 and store.draft(resident, "hypertension") is None
    store.close()

    # Killed once the server had answered the push, before the tablet wrote the answer down.
    assert _run_until(["sync", "--db", path, "--server", live], "answered") == "answered"
    store = Store(path)
    assert store.outbox_count() == 1  # still waiting: the answer never reached the file
    result = SyncEngine(store, HttpTransport(live, store), sleep=lambda s: None).sync()
    assert result.synced and store.outbox_count() == 0 and not store.needs_attention()
    [visit] = [v for v in store.visits(resident) if v["id"] == visit_id]
    assert not visit["pending"]
    store.close()
    assert session.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.id == visit_id)) == 1
    assert session.get(FollowUp, visit_id).sbp == 138


def test_a_draft_survives_a_kill(tablet_session, clinic):
    from fieldapp.store import Store
    from fieldapp.visit import VisitDraft

    path = tablet_session.store_path
    resident = clinic.residents["A1-0-0"]
    assert _run_until(["draft", "--db", path, "--resident", resident], "kept") == "kept"
    store = Store(path)
    draft = VisitDraft(store, resident, "hypertension", china_today())
    assert draft.restored and draft.form["sbp"] == 151
    assert store.outbox_count() == 0  # a draft is never sent
    store.close()
