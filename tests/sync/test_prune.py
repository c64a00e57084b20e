"""Pruning the change log after a documented horizon: a tablet older than it downloads afresh."""
import datetime as dt

from sqlalchemy import func, select


def _prune(app, minutes_ahead=1):
    from server.sync.services import prune_changes
    with app.extensions["db_engine"].begin() as conn:
        return prune_changes(conn, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes_ahead))


def test_a_tablet_behind_the_pruned_horizon_downloads_afresh_and_drops_what_left(
        world, tablet, as_user, clean_app, session, server_scope, tablet_scope):
    from server.sync.models import SyncChange
    old, old_engine = tablet("gp-a1", "old")
    fresh, fresh_engine = tablet("nurse-a1", "fresh")
    old_engine.sync(), fresh_engine.sync()
    old.save_resident_edit(world.residents["A1-1-0"], {"employer": "甲厂"})
    old_engine.sync()
    # Household A1-0 moves to A2 (a removal for A1: the tombstone pruning will drop), then an A1 edit.
    r = as_user("staff-a").post("/api/v1/assignments/", json={
        "household_ids": [world.households["A1-0"]], "team_id": world.teams["A2"], "reason": "rebalance"})
    assert r.status_code in (200, 201), r.get_json()
    rid = world.residents["A1-1-1"]
    r = as_user("staff-a").patch(f"/api/v1/residents/{rid}", json={"phone": "13911112222"},
                                 headers={"If-Match": "*"})
    assert r.status_code == 200
    fresh_engine.sync()  # this one has seen everything; `old` has not seen the move
    assert _prune(clean_app, minutes_ahead=-60) == 0  # nothing is an hour old yet
    logged = session.scalar(select(func.count()).select_from(SyncChange))
    assert _prune(clean_app) == logged - 1  # all but the newest row
    session.rollback()
    # Beyond the horizon: a fresh download, nothing re-sent; the moved household is swept.
    gen, acked = old.state("gen", 0), old.db.execute("SELECT count(*) FROM outbox WHERE state = 'acked'").fetchone()
    result = old_engine.sync()
    assert result.synced and result.pushed == {} and old.state("gen") == gen + 1
    assert old.db.execute("SELECT count(*) FROM outbox WHERE state = 'acked'").fetchone() == acked
    assert world.households["A1-0"] not in tablet_scope(old)["households"]
    assert old.resident(rid)["phone"] == "13911112222"
    # At the horizon's edge: an ordinary incremental pull.
    gen = fresh.state("gen", 0)
    assert fresh_engine.sync().pulled == 0 and fresh.state("gen", 0) == gen
    for store in (old, fresh):
        assert tablet_scope(store) == server_scope(session, world.teams["A1"])
    # And the log goes on after pruning.
    r = as_user("staff-a").patch(f"/api/v1/residents/{rid}", json={"phone": "13933334444"},
                                 headers={"If-Match": "*"})
    old_engine.sync(), fresh_engine.sync()
    assert old.resident(rid)["phone"] == fresh.resident(rid)["phone"] == "13933334444"


def test_the_pull_says_resync_below_the_horizon_and_a_new_epoch_folds_it(world, tablet, as_user, clean_app,
                                                                        token, client):
    from server.sync.services import Cursor, _horizon, new_epoch
    store, engine = tablet("gp-a1")
    engine.sync()
    for phone in ("13900000001", "13900000002"):
        r = as_user("staff-a").patch(f"/api/v1/residents/{world.residents['A1-0-0']}", json={"phone": phone},
                                     headers={"If-Match": "*"})
        assert r.status_code == 200
    _prune(clean_app)
    r = client.get("/api/v1/sync/pull", query_string={"cursor": store.state("cursor")},
                   headers={"Authorization": f"Bearer {token('gp-a1')}"})
    page = r.get_json()
    assert page["resync"] is True and page["cursor"] is None and page["entities"] == {}
    with clean_app.extensions["db_engine"].begin() as conn:
        before = _horizon(conn)
        new_epoch(conn)
        assert _horizon(conn) == Cursor(0, before.seq)
    result = engine.sync()
    assert result.synced and result.epoch_changed


def test_a_quiet_teams_tablet_is_carried_past_other_teams_changes_and_never_resyncs(
        world, tablet, as_user, clean_app):
    store, engine = tablet("gp-b1")
    engine.sync()
    for n in range(3):  # center A's teams are busy; B1 has nothing new
        r = as_user("staff-a").patch(f"/api/v1/residents/{world.residents['A1-0-0']}",
                                     json={"phone": f"1390000000{n}"}, headers={"If-Match": "*"})
        assert r.status_code == 200
    engine.sync()  # an empty page moves its cursor up to the log's final position
    _prune(clean_app)
    gen = store.state("gen", 0)
    result = engine.sync()
    assert result.synced and result.pulled == 0 and store.state("gen", 0) == gen
