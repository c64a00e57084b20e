"""Guarantee 3 on PostgreSQL: transactions commit out of order, and a reader never skips a change.

First the exact interleaving that defeats a plain "seq > cursor" reader (even with the xmin filter),
then many writer threads committing in random order while a reader pulls in a loop.
"""
import os
import random
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from server.sync import changes
from server.sync.services import Cursor, _changes_page, _safe_xmin

# Several connections and threads at once, each committing: real commits (tests/conftest.py).
pytestmark = [pytest.mark.skipif("postgresql" not in (os.environ.get("TEST_DATABASE_URL") or ""),
                                 reason="transaction ids and snapshots are PostgreSQL's"),
              pytest.mark.commits]
TEAM = 4242


def _ids(page):
    return [i for part in page["entities"].values() for i in part["removed"] + [r[0] for r in part["rows"]]]


def _change(conn, entity_id):
    changes.log(conn, [{"entity": "households", "entity_id": entity_id, "team_id": TEAM, "op": "upsert"}])


def test_a_lower_seq_committed_later_is_not_skipped(clean_app):
    engine = clean_app.extensions["db_engine"]
    a, b = engine.connect(), engine.connect()
    try:
        ta, tb = a.begin(), b.begin()
        a.execute(text("SELECT pg_current_xact_id()"))  # A starts writing first: the lower xid
        b.execute(text("SELECT pg_current_xact_id()"))
        _change(b, "B")                                    # ...but B takes the lower seq
        _change(a, "A")
        ta.commit()                                        # A commits first; B is still open
        with engine.connect() as reader:
            first = _changes_page(reader, TEAM, Cursor(0, 0), 100)
            # What a plain seq cursor would have done: take the highest visible seq below the same horizon
            # (the cluster-wide xmin would do the same, but depends on what other databases are running).
            naive = reader.execute(text(
                "SELECT max(seq) FROM sync_changes WHERE team_id = :t AND xid < :h"),
                {"t": TEAM, "h": _safe_xmin(reader)}).scalar_one()
        tb.commit()
        with engine.connect() as reader:
            second = _changes_page(reader, TEAM, Cursor.decode(first["cursor"]), 100)
            b_seq = reader.execute(text("SELECT seq FROM sync_changes WHERE entity_id = 'B'")).scalar_one()
        assert _ids(first) == ["A"] and _ids(second) == ["B"]
        assert b_seq < naive, "the plain seq cursor would have passed B's row before it became visible"
    finally:
        a.close()
        b.close()


def test_many_writers_out_of_order_and_a_reader_that_never_skips(clean_app):
    engine = clean_app.extensions["db_engine"]
    rng = random.Random(20261122)
    committed, lock = [], threading.Lock()
    stop = threading.Event()
    plans = [[(rng.random() * 0.01, rng.random() * 0.02, rng.random() < 0.1) for _ in range(40)] for _ in range(8)]

    def writer(plan):
        for before, hold, rollback in plan:
            ids = [str(uuid.uuid4()) for _ in range(1 + int(hold * 100) % 3)]
            with engine.connect() as conn:
                tx = conn.begin()
                conn.execute(text("SELECT pg_current_xact_id()"))
                time.sleep(before)
                for i in ids:
                    _change(conn, i)
                time.sleep(hold)  # other transactions take later seqs and commit before this one
                if rollback:
                    tx.rollback()
                else:
                    tx.commit()
                    with lock:
                        committed.extend(ids)

    seen: list[str] = []
    cursor = Cursor(0, 0)

    def pull_once(limit):
        nonlocal cursor
        with engine.connect() as conn:
            page = _changes_page(conn, TEAM, cursor, limit)
            conn.rollback()
        seen.extend(_ids(page))
        cursor = Cursor.decode(page["cursor"])
        return page

    def reader():
        while not stop.is_set():
            pull_once(rng.choice((1, 3, 50)))

    threads = [threading.Thread(target=writer, args=(p,)) for p in plans]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    while pull_once(1000)["more"]:
        pass
    assert len(committed) > 200
    assert set(seen) == set(committed), f"skipped {len(set(committed) - set(seen))} committed changes"


def _other_database_url(engine):
    """A second database in the same cluster (made once), as another project on the server would have."""
    from sqlalchemy import create_engine
    url = engine.url
    other = f"{url.database}_other"
    with create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT").connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": other}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{other}"'))
    return url.set(database=other)


def test_a_writer_in_another_database_does_not_hold_back_but_one_here_does(clean_app):
    from sqlalchemy import create_engine
    engine = clean_app.extensions["db_engine"]
    elsewhere = create_engine(_other_database_url(engine))
    idle, here = elsewhere.connect(), engine.connect()
    try:
        # Another database: a transaction with an xid, then idle in transaction (an open console session).
        idle.begin()
        idle.execute(text("SELECT pg_current_xact_id()"))
        with engine.begin() as conn:
            _change(conn, "A")  # committed after the idle xid was taken: a higher xid
        with engine.connect() as reader:
            first = _changes_page(reader, TEAM, Cursor(0, 0), 100)
            cluster_xmin = reader.execute(text(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one()
            a_xid = reader.execute(text("SELECT xid FROM sync_changes WHERE entity_id = 'A'")).scalar_one()
        assert a_xid >= cluster_xmin, "the cluster-wide horizon would have held A back"
        assert _ids(first) == ["A"]
        # This database: an open writer (xid taken, nothing written yet) holds back later commits.
        here.begin()
        here.execute(text("SELECT pg_current_xact_id()"))
        with engine.begin() as conn:
            _change(conn, "B")
        with engine.connect() as reader:
            held = _changes_page(reader, TEAM, Cursor.decode(first["cursor"]), 100)
        # An empty page may move the cursor up to the horizon (so quiet teams keep up), never past it.
        assert _ids(held) == []
        _change(here, "W")  # the open writer writes now, with its lower xid, and commits
        here.commit()
        with engine.connect() as reader:
            rest = _changes_page(reader, TEAM, Cursor.decode(held["cursor"]), 100)
        assert sorted(_ids(rest)) == ["B", "W"]
    finally:
        idle.close()
        here.close()
        elsewhere.dispose()
