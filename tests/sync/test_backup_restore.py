"""Issue 15 item 10: backups that restore. Yesterday's dump is put back; the visit and the edit a tablet sent
after it are gone from the server, and come back at the tablet's next sync (the restore's new epoch)."""
from __future__ import annotations

import datetime as dt

import pytest

from gpcore.clock import china_today
from server.backup import BackupError, backup, restore

VISIT_DAY = (china_today() - dt.timedelta(days=1)).isoformat()


def _employer(engine, rid):
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT employer FROM residents WHERE id = :id"), {"id": rid}).scalar_one()


def _visit(engine, vid):
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT sbp, dbp FROM followups WHERE id = :id"), {"id": vid}).first()


@pytest.mark.commits
def test_restoring_yesterdays_backup_loses_nothing_a_tablet_sent(world, tablet, clean_app, as_user, db_url,
                                                                 visit_form, tmp_path):
    r = as_user("admin").post(f"/api/v1/residents/{world.residents['A1-0-0']}/conditions",
                              json={"condition": "hypertension"})
    assert r.status_code == 201, r.get_json()
    store, sync = tablet("gp-a1")
    assert sync.sync().synced
    dump = tmp_path / "yesterday.dump"
    assert backup(db_url, dump) > 0

    # After the backup: a blood pressure and an edit reach the server.
    rid, other = world.residents["A1-0-0"], world.residents["A1-1-0"]
    vid = store.save_visit(rid, "hypertension", visit_form(VISIT_DAY, sbp=176, dbp=104))
    store.save_resident_edit(other, {"employer": "乙厂"})
    result = sync.sync()
    assert result.synced and result.pushed == {"applied": 2}, result.pushed
    engine = clean_app.extensions["db_engine"]
    assert tuple(_visit(engine, vid)) == (176, 104) and _employer(engine, other) == "乙厂"

    # The disk is lost; yesterday's dump goes back (service stopped: no connection open).
    engine.dispose()
    epoch = restore(db_url, dump)
    assert _visit(engine, vid) is None and _employer(engine, other) != "乙厂"  # the server has lost them

    # The tablet's next contact sees the new epoch and sends again everything it ever sent.
    result = sync.sync()
    assert result.epoch_changed and result.synced, result
    assert tuple(_visit(engine, vid)) == (176, 104) and _employer(engine, other) == "乙厂"
    assert result.pushed.get("applied", 0) >= 2
    [visit] = [v for v in store.visits(rid) if v["id"] == vid]
    assert visit["pending"] is False and len(epoch) == 36


def test_a_missing_backup_file_is_one_sentence(tmp_path, db_url):
    with pytest.raises(BackupError, match="no backup file"):
        restore(db_url, tmp_path / "nothing.dump")


def test_restore_asks_for_yes(tmp_path):
    from server.manage import main

    with pytest.raises(SystemExit, match="--yes"):
        main(["restore", str(tmp_path / "x.dump")])
