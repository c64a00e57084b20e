"""The tablet store on its own: saving offline, search, overlays over pulled rows, needs attention, upgrades."""
import json
import sqlite3

import pytest

from fieldapp.store import NotFound, Store, StoreError
from fieldapp.store.schema import HOUSEHOLDS, RESIDENTS, UPGRADES


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "t.sqlite"))
    yield s
    s.close()


def page(cursor, households=(), residents=(), removed_residents=()):
    hh_cols = ["id", "committee_id", "team_id", "center_id", "address", "phone", "version"]
    res_cols = ["id", "household_id", "name", "name_initials", "name_pinyin", "sex", "birth_date", "phone",
                "payment_methods", "status", "version"]
    return {"cursor": cursor, "entities": {
        "households": {"columns": hh_cols, "rows": [list(h) for h in households], "removed": []},
        "residents": {"columns": res_cols, "rows": [list(r) for r in residents],
                      "removed": list(removed_residents)}}}


def test_new_store_is_at_the_latest_schema_and_synced(store):
    assert store.schema_version == len(UPGRADES)
    assert store.is_synced() and store.outbox_count() == 0 and store.needs_attention() == []


def test_a_file_from_a_newer_app_is_refused(tmp_path):
    path = str(tmp_path / "new.sqlite")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(UPGRADES) + 1}")
    db.close()
    with pytest.raises(StoreError):
        Store(path)


def test_saving_offline_writes_the_row_and_queues_it(store):
    hid = store.create_household({"committee_id": 1, "address": "潍坊路1号"})
    rid = store.create_resident(hid, {"name": "张三丰", "sex": "1", "birth_date": "1960-01-01"})
    assert [r["id"] for r in store.search_residents("zsf")] == [rid]
    assert [r["id"] for r in store.search_residents("zhangsan")] == [rid]
    assert [r["id"] for r in store.search_residents("三丰")] == [rid]
    assert [h["id"] for h in store.search_households("潍坊")] == [hid]
    assert [h["id"] for h in store.search_households("zsf")] == [hid]
    store.save_resident_edit(rid, {"phone": "13800000000"})
    assert store.resident(rid)["phone"] == "13800000000"
    assert store.outbox_count() == 3 and not store.is_synced()
    recs = store.outbox_records(["pending"])
    assert [r["op"] for r in recs] == ["create", "create", "update"]
    assert recs[2]["base"] == {"phone": None} and recs[2]["fields"] == {"phone": "13800000000"}


def test_a_saved_record_survives_reopening(tmp_path):
    path = str(tmp_path / "k.sqlite")
    s = Store(path)
    hid = s.create_household({"committee_id": 1, "address": "x路"})
    s.close()  # as an app kill would
    s = Store(path)
    assert s.outbox_count() == 1 and s.household(hid)["address"] == "x路"


def test_unknown_records_raise_not_found(store):
    with pytest.raises(NotFound):
        store.save_resident_edit("nope", {"phone": "1"})
    with pytest.raises(NotFound):
        store.household("nope")


def test_pulled_rows_keep_pending_local_edits_on_top(store):
    store.apply_page(page("c1", [("h1", 1, 1, 1, "甲路", None, 1)],
                          [("r1", "h1", "李四", "ls", "lisi", "2", "1970-01-01", None, ["self_paid"], "active", 1)]),
                     finish_snapshot=False)
    assert store.resident("r1")["payment_methods"] == ["self_paid"]
    store.save_resident_edit("r1", {"phone": "139"})
    # The server's newer row for r1 arrives (someone else changed the name): our phone stays on top.
    store.apply_page(page("c2", residents=[("r1", "h1", "李思", "ls", "lisi", "2", "1970-01-01", None, [],
                                            "active", 2)]), finish_snapshot=False)
    r = store.resident("r1")
    assert (r["name"], r["phone"], r["version"]) == ("李思", "139", 2)
    assert store.state("cursor") == "c2"


def test_a_finished_snapshot_sweeps_rows_it_did_not_send_but_keeps_unsent_creates(store):
    store.apply_page(page("c1", [("h1", 1, 1, 1, "甲路", None, 1), ("h2", 1, 1, 1, "乙路", None, 1)]),
                     finish_snapshot=False)
    mine = store.create_household({"committee_id": 1, "address": "新路"})
    store.start_snapshot("e2", requeue=False)
    store.apply_page(page("c9", [("h1", 1, 1, 1, "甲路", None, 1)]), finish_snapshot=True)
    assert {h["id"] for h in store.search_households()} == {"h1", mine}


def test_rejected_records_need_attention_until_fixed_or_discarded(store):
    store.apply_page(page("c1", [("h1", 1, 1, 1, "甲路", None, 1)],
                          [("r1", "h1", "李四", "ls", "lisi", "2", "1970-01-01", None, [], "active", 1)]),
                     finish_snapshot=False)
    store.save_resident_edit("r1", {"birth_date": "2999-01-01"})
    store.save_resident_edit("r1", {"phone": "137"})
    batch = store.take_batch(10)
    assert store.take_batch(10) == batch  # the same batch until answered
    current = {"id": "r1", "household_id": "h1", "name": "李四", "birth_date": "1970-01-01", "phone": "137",
               "version": 2}
    reason = {"message": "invalid", "errors": {"birth_date": ["in the future"]}}
    store.apply_push_answer(batch, {"results": [
        {"change_id": batch["records"][0]["change_id"], "status": "rejected", "reason": reason,
         "current": current},
        {"change_id": batch["records"][1]["change_id"], "status": "applied", "current": current}]}, "e1")
    assert store.is_synced()
    [item] = store.needs_attention()
    assert item["reason"] == reason and item["fields"] == {"birth_date": "2999-01-01"}
    assert store.resident("r1")["birth_date"] == "1970-01-01"  # the refused value is not shown as fact
    new = store.fix_rejected(item["change_id"], {"birth_date": "1971-01-01"})
    assert store.needs_attention() == [] and store.outbox_count() == 1
    assert store.outbox_records(["pending"])[0]["change_id"] == new
    b2 = store.take_batch(10)
    # Its answer lost, the batch went again: the server repeats its first answer, reason and all.
    store.apply_push_answer(b2, {"results": [{"change_id": new, "status": "duplicate",
                                              "original": {"status": "rejected", "reason": reason}}]}, "e1")
    assert [i["reason"] for i in store.needs_attention()] == [reason]
    store.discard_rejected(new)
    assert store.needs_attention() == [] and store.is_synced()


def test_a_batch_refused_whole_puts_the_rows_back_as_they_were(store):
    """A whole batch refused (the server's words for all of it, no row of its own): a new record is not shown
    as if the server had it, an edit shows the value it replaced with a later unsent edit laid over it, and
    each refused record waits in needs-attention, where fixing it brings it back."""
    store.apply_page(page("c1", [("h1", 1, 1, 1, "甲路", None, 1)],
                          [("r1", "h1", "李四", "ls", "lisi", "2", "1970-01-01", "136", [], "active", 1)]),
                     finish_snapshot=False)
    new = store.create_resident("h1", {"name": "王五", "sex": "1", "birth_date": "1980-02-02"})
    store.save_resident_edit("r1", {"name": "张三", "phone": "137"})
    batch = store.take_batch(2)
    store.save_resident_edit("r1", {"phone": "138"})  # saved after the batch went: still to go up
    store.reject_batch(batch, {"code": "device_other_team", "message": "调到其他团队"})
    assert {i["entity_id"] for i in store.needs_attention()} == {new, "r1"}
    with pytest.raises(NotFound):
        store.resident(new)
    r1 = store.resident("r1")
    assert (r1["name"], r1["phone"]) == ("李四", "138")
    # The name's search forms went back with it.
    assert [r["id"] for r in store.search_residents("lisi")] == ["r1"] and store.search_residents("zs") == []
    [made] = [i for i in store.needs_attention() if i["entity_id"] == new]
    store.fix_rejected(made["change_id"], {})
    assert store.resident(new)["name"] == "王五" and store.outbox_count() == 2


def test_a_batch_refused_whole_undoes_only_what_is_still_its_own(store):
    """Two edits of one field in the refused batch end on the value before both; a record the server sent
    while the batch waited (a pull between the push and its answer) is not deleted; fixing a refused edit
    sends the edit again, with the corrections over it."""
    store.apply_page(page("c1", [("h1", 1, 1, 1, "甲路", None, 1)],
                          [("r1", "h1", "李四", "ls", "lisi", "2", "1970-01-01", "136", [], "active", 1)]),
                     finish_snapshot=False)
    store.save_resident_edit("r1", {"phone": "137"})
    store.save_resident_edit("r1", {"phone": "138", "employer": "纺织厂"})
    made = store.create_resident("h1", {"name": "王五", "sex": "1", "birth_date": "1980-02-02"})
    batch = store.take_batch(10)
    # A pull meanwhile brought the new resident as the server has it (its answer was lost on the way).
    store.apply_page(page("c2", [], [(made, "h1", "王五", "ww", "wangwu", "1", "1980-02-02", None, [], "active",
                                      1)]), finish_snapshot=False)
    store.reject_batch(batch, {"code": "device_other_team", "message": "调到其他团队"})
    assert (store.resident("r1")["phone"], store.resident("r1")["employer"]) == ("136", None)
    assert store.resident(made)["name"] == "王五"
    second = next(i for i in store.needs_attention() if i["fields"].get("phone") == "138")
    store.fix_rejected(second["change_id"], {"phone": "188"})
    [again] = store.outbox_records(["pending"])
    assert again["fields"] == {"phone": "188", "employer": "纺织厂"} and again["base"]["phone"] == "136"
    assert store.resident("r1")["phone"] == "188"


def test_a_new_epoch_requeues_what_the_old_server_acknowledged(store):
    hid = store.create_household({"committee_id": 1, "address": "x路"})
    b = store.take_batch(10)
    store.apply_push_answer(b, {"results": [{"change_id": b["records"][0]["change_id"], "status": "applied"}]},
                            "e1")
    assert store.is_synced()
    assert store.start_snapshot("e2", requeue=True) == 1
    assert store.outbox_records(["pending"])[0]["entity_id"] == hid
    assert store.state("cursor") is None and store.state("epoch") == "e2"
    assert json.loads(json.dumps(store.status()))["outbox"] == 1


def test_a_push_answer_does_not_keep_a_row_an_unfinished_snapshot_leaves_out(store):
    """Model seed 2: after a server restore the tablet re-sent a visit; the batch's answer was lost, the
    household moved to another team, the resent batch got its first answer again (the row as it was) and
    the new snapshot's sweep kept that row for good. An answer's row must not count as delivered by a page."""
    r1 = ("r1", "h1", "李四", "ls", "lisi", "2", "1970-01-01", None, [], "active", 1)
    store.apply_page(page("c1", [("h1", 1, 1, 1, "甲路", None, 1)], [r1]), finish_snapshot=True)
    rid = store.create_resident("h1", {"name": "王五", "sex": "1", "birth_date": "1960-01-01"})
    first = store.take_batch(10)
    row = {"id": rid, "household_id": "h1", "name": "王五", "sex": "1", "birth_date": "1960-01-01", "version": 1}
    store.apply_push_answer(first, {"results": [{"change_id": first["records"][0]["change_id"],
                                                 "status": "applied", "current": row}]}, "e1")
    store.save_resident_edit("r1", {"phone": "137"})
    # The household moves away: the pull removes both residents.
    store.apply_page(page("c2", removed_residents=["r1", rid]), finish_snapshot=False)
    store.apply_page(page("c3", residents=[r1]), finish_snapshot=False)  # ...and r1 alone comes back
    # A restored server: what it acknowledged goes up again; the answer (a repeat's) has the old rows.
    store.start_snapshot("e2", requeue=True)
    again = store.take_batch(10)
    store.apply_push_answer(again, {"results": [
        {"change_id": r["change_id"], "status": "duplicate", "original": {"status": "applied"},
         "current": row if r["entity_id"] == rid else dict(zip(page("", residents=[r1])["entities"]["residents"]
                                                                ["columns"], r1))}
        for r in again["records"]]}, "e2")
    assert store.count("residents") == 2
    # The snapshot (read after the move) has neither: the sweep must drop both.
    store.apply_page(page("c9", [("h2", 2, 2, 1, "乙路", None, 1)]), finish_snapshot=True)
    assert store.count("residents") == 0 and store.is_synced()


def _form(condition: str, **boxes) -> dict:
    from gpcore.followup.compact import FORM_CLASSES
    return FORM_CLASSES[condition].from_dict({"visit_date": "2026-03-02", "visit_mode": 1, **boxes}).to_dict()


def _store_before_compact_forms(path: str, visits: list[tuple]) -> None:
    """A store file as the app before upgrade 8 left it: forms stored whole (json.dumps, as it wrote them)."""
    db = sqlite3.connect(path, isolation_level=None)
    for upgrade in UPGRADES[:7]:
        for stmt in upgrade:
            db.execute(stmt)
    db.execute("PRAGMA user_version = 7")
    db.execute("INSERT INTO residents (id, name, sex, birth_date) VALUES ('r1', '张三', '1', '1950-01-02')")
    for vid, condition, kind, form in visits:
        db.execute("INSERT INTO followups (id, resident_id, condition, kind, visit_date, form) "
                   "VALUES (?, 'r1', ?, ?, '2026-03-02', ?)", (vid, condition, kind, json.dumps(form, ensure_ascii=False)))
    db.execute("INSERT INTO outbox (change_id, entity, entity_id, op, base, fields, device_time) VALUES "
               "('c1', 'followups', 'v9', 'create', '{}', ?, 'now')",
               (json.dumps({"form": visits[0][3]}, ensure_ascii=False),))
    db.close()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "sqlcipher"])
def test_upgrade_8_keeps_every_form_but_stores_it_without_empty_boxes(tmp_path, encrypted):
    from fieldapp.keys import new_store_key
    from fieldapp.store import encrypt_file
    from gpcore.followup import DiabetesVisit
    path = str(tmp_path / "old.sqlite")
    visits = [("v1", "hypertension", "visit", _form("hypertension", sbp=150, dbp=95, cigarettes_per_day=0)),
              ("v2", "t2dm", "visit", _form("t2dm", fpg_mmol=7.1, symptoms=[1], pregnant=False)),
              ("v3", "hypertension", "lost", {"date": "2026-03-02", "reason": "搬迁外地"}),
              ("v4", "t2dm", "visit", {"visit_date": "2026-03-02", "visit_mode": 3, "bmi": None})]  # not to_dict's
    _store_before_compact_forms(path, visits)
    key = None
    if encrypted:
        key = new_store_key()
        encrypt_file(path, key)
    store = Store(path, key=key)
    assert store.schema_version == len(UPGRADES)
    stored = dict(store.db.execute("SELECT id, form FROM followups"))
    for vid, _, _, form in visits[:3]:
        assert store.visit(vid)["form"] == form  # every reader sees the form as it was
    # A form gpcore's to_dict did not make (boxes missing) is stored as it was; it reads with those boxes
    # empty, which is how the rules read a missing box anyway.
    odd = store.visit("v4")["form"]
    assert {k: v for k, v in odd.items() if k in visits[3][3]} == visits[3][3]
    assert DiabetesVisit.from_dict(odd) == DiabetesVisit.from_dict(visits[3][3])
    assert len(stored["v1"]) < len(json.dumps(visits[0][3], ensure_ascii=False)) / 2
    assert json.loads(stored["v1"]) == {"visit_date": "2026-03-02", "visit_mode": 1, "sbp": 150, "dbp": 95,
                                        "cigarettes_per_day": 0}
    assert json.loads(stored["v3"]) == visits[2][3] and json.loads(stored["v4"]) == visits[3][3]
    # The outbox (what goes up to the server) is never rewritten: a push sends what was signed.
    assert store.outbox_records(["pending"])[0]["fields"] == {"form": visits[0][3]}
    assert [v["form"] for v in store.visits("r1", "hypertension", include_superseded=True)
            if v["kind"] == "visit"] == [visits[0][3]]
    store.close()
    assert Store(path, key=key).schema_version == len(UPGRADES)  # opens again, nothing left to do


def test_forms_pulled_whole_or_saved_here_are_stored_compact_and_read_whole(store):
    whole = _form("hypertension", sbp=132, dbp=84, medications=[{"name": "氨氯地平", "times_per_day": 1,
                                                                 "mg_per_time": 5}])
    cols = ["id", "resident_id", "condition", "kind", "visit_date", "form"]
    store.apply_page({"cursor": "c.1.1", "entities": {
        "residents": {"columns": ["id", "name", "sex", "birth_date"], "rows": [["r1", "张三", "1", "1950-01-02"]],
                      "removed": []},
        "chronic_conditions": {"columns": ["id", "resident_id", "condition", "status"],
                               "rows": [["c1", "r1", "hypertension", "managed"]], "removed": []},
        "followups": {"columns": cols, "json": ["form"], "removed": [], "rows": [
            ["v1", "r1", "hypertension", "visit", "2026-03-02", json.dumps(whole, ensure_ascii=False)]]}}},
        finish_snapshot=False)
    text = store.db.execute("SELECT form FROM followups WHERE id = 'v1'").fetchone()[0]
    assert json.loads(text) == {k: v for k, v in whole.items() if v not in (None, "", [], False)}
    assert store.visit("v1")["form"] == whole
    # A visit signed on the tablet: the outbox keeps the form whole, the row compact, the reader sees it whole.
    vid = store.save_visit("r1", "hypertension", {"visit_date": "2026-03-03", "visit_mode": 1, "sbp": 128,
                                                  "dbp": 80})
    signed = store.outbox_records(["pending"])[0]["fields"]["form"]
    assert signed["bmi"] is None and signed["other_signs"] == ""  # sent as gpcore's to_dict made it
    assert "bmi" not in json.loads(store.db.execute("SELECT form FROM followups WHERE id = ?", (vid,)).fetchone()[0])
    assert store.visit(vid)["form"] == signed


def test_times_the_tablet_writes_are_utc_as_the_servers_are(tmp_path, monkeypatch):
    """A tablet set to China's time writes its times in UTC, as the server sends its own: the store orders
    times as text (the visit the rules read as the latest: recorded_at beside a pulled one)."""
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        s = Store(str(tmp_path / "t.sqlite"))
        hid = s.create_household({"committee_id": 1, "address": "潍坊路1号"})
        [rec] = s.outbox_records(["pending"])
        assert rec["device_time"].endswith("+00:00") and s.record("households", hid) is not None
        s.close()
    finally:
        monkeypatch.undo()  # the process's zone back before the next test
        time.tzset()
