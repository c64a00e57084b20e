"""Snapshot pages walk the team's rows as keyset pages along the parents' ids (resident, report, row):
every row once, none skipped, whatever the page size, and a cursor from before keyset paths still works."""
import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import text

from gpcore.clock import china_today
from gpcore.followup.compact import full_form
from server.sync.registry import REGISTRY
from server.sync.services import Cursor, _changes_page, _json_rows, _snapshot_page

DAY = (china_today() - dt.timedelta(days=3)).isoformat()


def _oru(control_id, resident, filler, values):
    sex = "M" if resident.sex == "1" else "F"
    obx = [f"OBX|{n}|NM|C{n}^项目{n}^L||{v}|mmol/L|1-9|N|||F" for n, v in enumerate(values, start=1)]
    segs = [f"MSH|^~\\&|LIS|HOSP_T|GPO|CLINIC|20250302110000||ORU^R01^ORU_R01|{control_id}|P|2.5.1|||||CHN|"
            "UNICODE UTF-8",
            f"PID|1||{resident.id_number}^^^^ID||{resident.name}||{resident.birth_date:%Y%m%d}|{sex}",
            f"OBR|1||{filler}|CHEM^生化^L|||20250302070000|||||||||||||||20250302105500|||F", *obx]
    return ("\r".join(segs) + "\r").encode()


def _team_with_children(world, as_user, client, session, tablet, visit_form):
    """Team A1: both its households' residents with two visits each and two lab reports of three rows."""
    from server.households.models import Resident
    keys = [k for k in world.residents if k.startswith("A1-")]
    for key in keys:
        r = as_user("admin").post(f"/api/v1/residents/{world.residents[key]}/conditions",
                                  json={"condition": "hypertension"})
        assert r.status_code == 201, r.get_json()
    store, engine = tablet("gp-a1", "writer")
    engine.sync()
    for key in keys:
        for sbp in (128, 136):
            store.save_visit(world.residents[key], "hypertension", visit_form(DAY, sbp=sbp))
    assert engine.sync().synced
    feed = as_user("admin").post("/api/v1/labs/feeds", json={
        "hospital_id": world.hospital_id, "name": "LIS", "center_ids": [world.centers["A"]]}).get_json()["key"]
    for n, key in enumerate(keys):
        res = session.get(Resident, world.residents[key])
        for q in range(2):
            resp = client.post("/api/v1/labs/hl7", data=_oru(f"M-{n}-{q}", res, f"F-{n}-{q}", [4, 5, 6]),
                               content_type="x-application/hl7-v2+er7", headers={"X-Lab-Feed-Key": feed})
            assert resp.status_code == 200
    session.rollback()


def _walk(session, team, limit, cursor=None):
    """Every snapshot page from `cursor` (a fresh snapshot without one): [(entity, [ids])] and the cursors."""
    conn = session.connection()
    cur = cursor or Cursor(0, 0, next(iter(REGISTRY)), "")
    pages, cursors = [], []
    while True:
        page = _snapshot_page(conn, team, cur, limit)
        pages += [(name, [row[0] for row in part["rows"]]) for name, part in page["entities"].items()]
        cursors.append(page["cursor"])
        if page["snapshot_complete"]:
            return pages, cursors
        cur = Cursor.decode(page["cursor"])


def test_every_row_once_whatever_the_page_size(world, as_user, client, session, tablet, visit_form, server_scope):
    _team_with_children(world, as_user, client, session, tablet, visit_form)
    team = world.teams["A1"]
    expected = {name: set(rows) for name, rows in server_scope(session, team).items()}
    assert len(expected["followups"]) == 8 and len(expected["lab_results"]) == 24
    for limit in (1, 2, 3, 7, 5000):
        pages, cursors = _walk(session, team, limit)
        got: dict[str, list] = {}
        for name, ids in pages:
            got.setdefault(name, []).extend(str(i) for i in ids)
        assert {n: sorted(ids) for n, ids in got.items()} == {n: sorted(ids) for n, ids in expected.items() if ids}
        assert all(len(ids) <= limit for _, ids in pages)
    # Mid-walk through lab results, the cursor carries the resident, the report and the row.
    _, cursors = _walk(session, team, 5)
    mid = [Cursor.decode(c) for c in cursors if ".lab_results." in c and not c.endswith(".lab_results.")]
    assert mid and all(len(c.after_id.split(",")) == 3 for c in mid)


def test_a_cursor_from_before_keyset_paths_restarts_that_entity(world, as_user, client, session, tablet, visit_form):
    _team_with_children(world, as_user, client, session, tablet, visit_form)
    team = world.teams["A1"]
    old = Cursor(0, 0, "lab_results", "12345", 10)  # a lone row id, as the server wrote it before
    pages, _ = _walk(session, team, 5000, old)
    assert [(name, len(ids)) for name, ids in pages] == [("lab_results", 24)]


def test_a_first_sync_in_small_pages_holds_exactly_the_scope(world, as_user, client, session, tablet, visit_form,
                                                             server_scope, tablet_scope):
    _team_with_children(world, as_user, client, session, tablet, visit_form)
    store, engine = tablet("nurse-a1", page_limit=3)
    result = engine.sync()
    assert result.synced
    scope = server_scope(session, world.teams["A1"])
    assert tablet_scope(store) == scope
    assert result.pulled == sum(len(rows) for rows in scope.values())  # nothing sent twice


def test_a_malformed_keyset_in_a_cursor_is_a_422(world, as_user):
    r = as_user("gp-a1").get("/api/v1/sync/pull", query_string={"cursor": "t.0.0.5.lab_results.a,b,x"})
    assert r.status_code == 422 and r.get_json()["errors"] == {"cursor": ["malformed"]}, r.get_json()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_rows_postgresql_builds_decode_to_what_wire_makes(world, as_user, client, session, tablet, visit_form,
                                                          zone):
    """On PostgreSQL a snapshot page's rows are JSON text PostgreSQL builds (registry.json_row), not Python's:
    they must decode to exactly what wire() makes of the same rows, for every entity and column type (a base
    value the tablet sends back is compared with wire()'s), including awkward values. Times go in UTC whatever
    the session's time zone (a server in China is often set to Asia/Shanghai): the tablet orders them as
    text, and one offset in snapshot pages with another in change pages would order them wrongly."""
    if session.connection().dialect.name != "postgresql":
        pytest.skip("PostgreSQL builds the rows' JSON; SQLite pages go through wire()")
    _team_with_children(world, as_user, client, session, tablet, visit_form)
    team = world.teams["A1"]
    odd = "引\"号\\ a\nb\tc\x01\x1f \u2028 end"
    ids = session.execute(text("SELECT id FROM lab_results ORDER BY id LIMIT 3")).scalars().all()
    session.execute(text("UPDATE lab_results SET value_num = 0, range_low = 0.000001, range_high = 123456.5, "
                         "name = :odd, comments = CAST(:js AS jsonb), observed_at = '2025-03-02 07:00:00+00' "
                         "WHERE id = :id"), {"odd": odd, "js": json.dumps([odd, {"k": None}]), "id": ids[0]})
    session.execute(text("UPDATE lab_results SET value_num = NULL, observed_at = '2025-03-02 07:00:00.12+00' "
                         "WHERE id = :id"), {"id": ids[1]})
    session.execute(text("UPDATE lab_results SET value_num = -12.5, observed_at = '1999-12-31 23:59:59.000001+00' "
                         "WHERE id = :id"), {"id": ids[2]})
    # Signed visits refuse UPDATE (a trigger): off for this transaction only, to plant the values.
    session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(text("UPDATE followups SET fpg_mmol = 6.2, amendment_reason = :odd WHERE id = "
                         "(SELECT min(id) FROM followups)"), {"odd": odd})
    session.execute(text("UPDATE followups SET fpg_mmol = 0.1 + 0.2 WHERE id = (SELECT max(id) FROM followups)"))
    # A whole float: PostgreSQL's own JSON would write 7 where Python writes 7.0 (INTEGER vs REAL on the tablet).
    session.execute(text("UPDATE followups SET fpg_mmol = 7 WHERE id = (SELECT min(id) FROM followups WHERE id > "
                         "(SELECT min(id) FROM followups))"))
    # A record whose compact form a bulk writer left empty: the compact pages send its whole form.
    session.execute(text("UPDATE followups SET form_compact = NULL WHERE id = (SELECT max(id) FROM followups)"))
    session.execute(text(f"SET LOCAL TIME ZONE '{zone}'"))  # how this session reads times (not the data)
    conn = session.connection()
    seen = set()
    for (name, ent), compact in itertools.product(REGISTRY.items(), (False, True)):
        width = len(ent.columns)
        by_python = {str(r[0]): json.loads(json.dumps(ent.wire(r[:width]), ensure_ascii=False))
                     for r in conn.execute(ent.walk_page(team, (), None, "postgresql", compact=compact))}
        by_pg = {}
        for r in _json_rows(conn, ent.walk_page(team, (), None, "postgresql", as_json=True, compact=compact)):
            row = json.loads(r[0])
            by_pg[row[0]] = row
        # As JSON text, so a number's type counts too (7 == 7.0 in Python, not on the tablet).
        assert json.dumps(by_pg, sort_keys=True) == json.dumps(by_python, sort_keys=True), (name, compact)
        for row in by_python.values():
            seen |= {(type(v).__name__, name == "lab_results" and c == "observed_at") for c, v in zip(ent.columns, row)}
    # What was covered: text, integers, floats, booleans, nulls, times with and without microseconds.
    assert {("str", False), ("int", False), ("float", False), ("bool", False), ("NoneType", False),
            ("str", True)} <= seen
    rows = {r[0]: r for r in _walk_rows(conn, team, "lab_results")}
    assert rows[str(ids[0])][LAB["value_num"]] == "0.000000" and rows[str(ids[0])][LAB["name"]] == odd
    assert rows[str(ids[0])][LAB["observed_at"]] == "2025-03-02T07:00:00+00:00"
    assert rows[str(ids[1])][LAB["observed_at"]] == "2025-03-02T07:00:00.120000+00:00"


LAB = {c: i for i, c in enumerate(REGISTRY["lab_results"].columns)}


def _walk_rows(conn, team, entity):
    return [json.loads(r[0]) for r in _json_rows(conn, REGISTRY[entity].walk_page(team, (), None, "postgresql",
                                                                                  as_json=True))]


def test_compact_pages_send_each_record_s_stored_compact_form(world, as_user, client, session, tablet, visit_form):
    """A tablet that asks for compact forms gets each record's stored compact form (the whole form where it is
    empty, which reads the same), from snapshot and change pages alike; one that does not gets whole forms."""
    _team_with_children(world, as_user, client, session, tablet, visit_form)
    team = world.teams["A1"]
    if session.connection().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))  # past the append-only trigger
    session.execute(text("UPDATE followups SET form_compact = NULL WHERE id = (SELECT max(id) FROM followups)"))
    stored = {r.id: r for r in session.execute(text("SELECT id, condition, form, form_compact FROM followups"))}
    emptied = max(stored)
    at = REGISTRY["followups"].columns.index("form")
    conn = session.connection()
    start = Cursor(0, 0, "followups", "")
    for compact in (False, True):
        snapshot = _snapshot_page(conn, team, start, 5000, compact)["entities"]["followups"]
        changes = _changes_page(conn, team, Cursor(0, 0), 5000, compact)["entities"]["followups"]
        for part in (snapshot, changes):
            forms = {row[0]: row[at] for row in part["rows"]}
            assert forms.keys() == stored.keys() and part.get("compact") == (["form"] if compact else None)
            for id_, sent in forms.items():
                whole = stored[id_].form if isinstance(stored[id_].form, dict) else json.loads(stored[id_].form)
                if compact and id_ != emptied:
                    assert sent == stored[id_].form_compact and len(sent) < len(json.dumps(whole)) / 2
                else:
                    assert json.loads(sent) == whole
                assert full_form(stored[id_].condition, json.loads(sent)) == whole
