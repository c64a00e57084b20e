"""Snapshot pages walk the team's rows as keyset pages along the parents' ids (resident, report, row):
every row once, none skipped, whatever the page size, and a cursor from before keyset paths still works."""
import datetime as dt

from server.sync.registry import REGISTRY
from server.sync.services import Cursor, _snapshot_page

DAY = (dt.date.today() - dt.timedelta(days=3)).isoformat()


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
