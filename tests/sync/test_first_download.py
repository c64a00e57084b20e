"""A first download into an empty store builds the secondary indexes once at the end, and commits snapshot
pages without waiting for the disk while saves keep synchronous=FULL."""
from fieldapp.store import Store


def _cut_short(store, engine):
    """A first download killed after its second page (the app dies while writing the third)."""
    real, calls = store.apply_page, {"n": 0}

    def dies_after_two_pages(page, *, finish_snapshot):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("the app is killed")
        return real(page, finish_snapshot=finish_snapshot)

    store.apply_page = dies_after_two_pages
    try:
        engine.sync()
    except KeyboardInterrupt:
        pass


def _indexes(store):
    return sorted(r[0] for r in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))


def test_indexes_are_built_after_a_first_download_and_kept_on_a_full_store(world, tablet, tmp_path):
    before = _indexes(Store(str(tmp_path / "fresh.sqlite")))
    assert "ix_residents_initials" in before and "ix_outbox_state" in before
    dropped = []
    store, engine = tablet("gp-a1", page_limit=3)
    real = store._apply_page

    def spy(page, finish_snapshot):
        dropped.append(_indexes(store))
        return real(page, finish_snapshot)

    store._apply_page = spy
    engine.sync()
    del store._apply_page
    # From the second page on, the entity tables' indexes were gone; the outbox kept its own throughout.
    assert len(dropped) > 2 and "ix_residents_initials" not in dropped[1] and "ix_outbox_state" in dropped[1]
    assert _indexes(store) == before
    assert store.state("deferred_indexes") is None
    # A store that holds records keeps its indexes through a new download (its screens read meanwhile).
    store.start_snapshot(store.state("epoch"), requeue=False)
    assert engine.sync().synced
    assert _indexes(store) == before
    assert store.state("deferred_indexes") is None


def test_a_first_download_cut_short_resumes_and_still_builds_the_indexes(world, tablet, tmp_path):
    store, engine = tablet("gp-a1", page_limit=2)
    before = _indexes(Store(str(tmp_path / "empty.sqlite")))
    _cut_short(store, engine)
    assert not store.state("snapshot_done") and store.state("deferred_indexes")
    del store.apply_page
    assert engine.sync().synced
    assert _indexes(store) == before and store.state("snapshot_done") is True


def test_snapshot_pages_are_relaxed_but_saves_are_full(world, tablet):
    store, engine = tablet("gp-a1")
    seen = []
    real = store._apply_page

    def spy(page, finish_snapshot):
        seen.append((page.get("mode"), store.db.execute("PRAGMA synchronous").fetchone()[0]))
        return real(page, finish_snapshot)

    store._apply_page = spy
    engine.sync()
    assert seen and all(level == (1 if mode == "snapshot" else 2) for mode, level in seen)  # 1 NORMAL, 2 FULL
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_an_upgrade_meets_a_first_download_cut_short(world, tablet, tmp_path, monkeypatch):
    """A store whose download was cut short with its indexes dropped opens under a newer app whose upgrade
    rebuilds one of those indexes, and the download still finishes with every index (review finding)."""
    from fieldapp.store import schema
    store, engine = tablet("gp-a1", page_limit=2)
    before = _indexes(Store(str(tmp_path / "empty.sqlite")))
    _cut_short(store, engine)
    path = store.path
    store.close()
    monkeypatch.setattr(schema, "UPGRADES", [*schema.UPGRADES, [
        "DROP INDEX ix_followups_resident",
        "CREATE INDEX ix_followups_resident ON followups (resident_id, condition, visit_date)"]])
    monkeypatch.setattr("fieldapp.store.store.UPGRADES", schema.UPGRADES)
    upgraded = Store(path)  # opens: the deferred indexes are built before the upgrade runs
    assert _indexes(upgraded) == before and upgraded.state("deferred_indexes") is None
    upgraded.close()
