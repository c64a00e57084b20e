"""Follow-up visits (append-only, signed by the server's rules) and lab reports (pull only) through sync."""
import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select

from fieldapp.store import InvalidRecord, StoreError
from gpcore.clock import china_today

TODAY = china_today()
VISIT_DAY = (TODAY - dt.timedelta(days=3)).isoformat()


def _register(as_user, world, key, condition="hypertension"):
    r = as_user("admin").post(f"/api/v1/residents/{world.residents[key]}/conditions", json={"condition": condition})
    assert r.status_code == 201, r.get_json()


def test_a_visit_saved_offline_is_signed_by_the_server_rules(world, tablet, as_user, session, visit_form,
                                                               server_scope, tablet_scope):
    _register(as_user, world, "A1-0-0")
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-0-0"]
    # Local checks first: the doctor sees the rules' errors before anything is saved.
    with pytest.raises(InvalidRecord) as bad:
        store.save_visit(rid, "hypertension", visit_form(VISIT_DAY, sbp=20))
    assert "sbp" in bad.value.errors and store.outbox_count() == 0
    with pytest.raises(InvalidRecord) as unregistered:
        store.save_visit(rid, "t2dm", visit_form(VISIT_DAY, "t2dm"))
    assert "condition" in unregistered.value.errors
    # The server's rule for the resident's sex runs offline too: 张三 is male (issue 14).
    with pytest.raises(InvalidRecord) as male_pregnant:
        store.save_visit(rid, "hypertension", {**visit_form(VISIT_DAY), "pregnant": True})
    assert "pregnant" in male_pregnant.value.errors and store.outbox_count() == 0
    vid = store.save_visit(rid, "hypertension", visit_form(VISIT_DAY, sbp=182, dbp=112))
    [local] = store.visits(rid)
    # Unsigned by the server yet, the local row already carries the shared rules' decisions (gpcore's
    # record_decisions), so the worklist puts an emergency in its bucket at once.
    assert (local["id"], local["pending"], local["sbp"], local["classification"], local["emergency"]) == (
        vid, True, 182, 2, 1)
    result = engine.sync()
    assert result.synced and result.pushed == {"applied": 1}
    from server.followups.models import FollowUp
    row = session.get(FollowUp, vid)
    assert row.signed_by == world.users["gp-a1"] and row.classification is not None
    [signed] = store.visits(rid)
    # The server's decisions came back with the answer and replaced the tablet's (the same rules agree).
    assert signed["pending"] is False and signed["classification"] == row.classification
    assert signed["emergency"] == row.emergency and signed["received_at"]
    with pytest.raises(StoreError):
        store.save_edit("followups", vid, {"sbp": 120})  # a signed record is never edited
    other, other_engine = tablet("nurse-a1")
    other_engine.sync()
    assert [v["id"] for v in other.visits(rid)] == [vid]
    assert tablet_scope(store) == server_scope(session, world.teams["A1"]) == tablet_scope(other)


def test_an_amendment_is_a_new_record_pointing_to_the_original(world, tablet, as_user, session, visit_form):
    _register(as_user, world, "A1-0-1", "t2dm")
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-0-1"]
    first = store.save_visit(rid, "t2dm", visit_form(VISIT_DAY, "t2dm", fpg_mmol=9.5))
    engine.sync()
    with pytest.raises(InvalidRecord):
        store.amend_visit(first, visit_form(VISIT_DAY, "t2dm"), reason="")
    fixed = store.amend_visit(first, visit_form(VISIT_DAY, "t2dm", fpg_mmol=5.9), reason="血糖抄错")
    with pytest.raises(InvalidRecord):  # only the latest version is amended
        store.amend_visit(first, visit_form(VISIT_DAY, "t2dm"), reason="再改")
    assert engine.sync().pushed == {"applied": 1}
    from server.followups.models import FollowUp
    row = session.get(FollowUp, fixed)
    assert (row.amends_id, row.original_id, row.revision, row.amendment_reason) == (first, first, 1, "血糖抄错")
    assert session.get(FollowUp, first).fpg_mmol == 9.5  # the signed original is untouched
    [effective] = store.visits(rid)
    assert effective["id"] == fixed and effective["fpg_mmol"] == 5.9
    both = store.visits(rid, include_superseded=True)
    assert {v["id"]: v["amended_by"] for v in both} == {fixed: None, first: fixed}


def test_a_visit_the_server_refuses_needs_attention_and_can_be_fixed(world, tablet, as_user, session, visit_form,
                                                                     clean_app):
    _register(as_user, world, "A1-1-0")
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-1-0"]
    # The server's calendar is earlier than the tablet's (a clock hours ahead): the visit is in its future.
    clean_app.config["FOLLOWUP_TODAY"] = TODAY - dt.timedelta(days=5)
    vid = store.save_visit(rid, "hypertension", visit_form(VISIT_DAY))
    result = engine.sync()
    assert result.pushed == {"rejected": 1}
    [item] = store.needs_attention()
    assert item["entity_id"] == vid and "form" in item["reason"]["errors"]
    assert item["reason"]["message"] == "随访表填写有误：随访日期。"
    assert item["reason"]["errors"]["form"]["visit_date"][0].startswith("随访日期不能晚于今天")
    earlier = (TODAY - dt.timedelta(days=6)).isoformat()
    store.fix_rejected(item["change_id"], {"form": visit_form(earlier)})
    assert engine.sync().pushed == {"applied": 1}
    from server.followups.models import FollowUp
    assert session.get(FollowUp, vid).visit_date.isoformat() == earlier
    assert [v["id"] for v in store.visits(rid)] == [vid]


def test_a_refused_amendment_is_fixed_on_the_form_with_its_reason(world, tablet, as_user, session, visit_form,
                                                                   clean_app):
    """What the tablet's fix (the follow-up form opened on a refused record) sends: VisitDraft.resubmit."""
    from fieldapp.visit import VisitDraft
    from server.followups.models import FollowUp

    _register(as_user, world, "A1-1-0")
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-1-0"]
    earlier = (TODAY - dt.timedelta(days=6)).isoformat()
    first = store.save_visit(rid, "hypertension", visit_form(earlier))
    engine.sync()
    store.save_draft(rid, "hypertension", {"sbp": 151})  # another visit being typed meanwhile
    clean_app.config["FOLLOWUP_TODAY"] = TODAY - dt.timedelta(days=5)  # the server's calendar is behind
    amendment = store.amend_visit(first, visit_form(VISIT_DAY, sbp=144), reason="血压抄错")
    assert engine.sync().pushed == {"rejected": 1}
    [item] = store.needs_attention()
    draft = VisitDraft(store, rid, "hypertension", TODAY)
    draft.form = dict(item["fields"]["form"])
    draft.set("visit_date", earlier)
    with pytest.raises(InvalidRecord):
        draft.resubmit(item["change_id"], reason="")  # an amendment still needs its reason
    assert [i["change_id"] for i in store.needs_attention()] == [item["change_id"]]
    draft.resubmit(item["change_id"], reason="血压抄错")
    assert store.needs_attention() == [] and store.draft(rid, "hypertension") == {"sbp": 151}
    assert engine.sync().pushed == {"applied": 1}
    row = session.get(FollowUp, amendment)
    assert (row.amends_id, row.sbp, row.amendment_reason, row.visit_date.isoformat()) == (
        first, 144, "血压抄错", earlier)


def test_an_amendment_refused_with_its_visit_is_fixed_after_it(world, tablet, as_user, session, visit_form,
                                                               clean_app):
    """A visit and its amendment go up together; the visit is refused, so the amendment's target is not on the
    server (404). Once the visit is fixed and taken, the amendment is fixed and taken too: a 404 for a visit
    still on the tablet is offered to fix (fieldapp.attention.fixable)."""
    from fieldapp.attention import fixable
    from fieldapp.visit import VisitDraft
    from server.followups.models import FollowUp

    _register(as_user, world, "A1-1-0")
    store, engine = tablet("gp-a1")
    engine.sync()
    store.member_id = str(world.users["gp-a1"])
    rid = world.residents["A1-1-0"]
    clean_app.config["FOLLOWUP_TODAY"] = TODAY - dt.timedelta(days=5)  # the server's calendar is behind
    first = store.save_visit(rid, "hypertension", visit_form(VISIT_DAY))
    amendment = store.amend_visit(first, visit_form(VISIT_DAY, sbp=134), reason="血压抄错")
    assert engine.sync().pushed == {"rejected": 2}
    visit_item, amend_item = store.needs_attention()
    assert (visit_item["reason"]["code"], amend_item["reason"]["code"]) == (422, 404)
    me = world.users["gp-a1"]
    # The refused visit is off the tablet's tables until fixed: its amendment is offered once it is back.
    assert fixable(visit_item, me, store) and not fixable(amend_item, me, store)
    earlier = (TODAY - dt.timedelta(days=6)).isoformat()
    for item, reason in ((visit_item, None), (amend_item, "血压抄错")):
        assert fixable(item, me, store)
        draft = VisitDraft(store, rid, "hypertension", TODAY)
        draft.reopen(item["fields"]["form"], item["fields"].get("device_assessment"))
        draft.set("visit_date", earlier)
        draft.resubmit(item["change_id"], reason)
    assert engine.sync().pushed == {"applied": 2}
    row = session.get(FollowUp, amendment)
    assert (row.amends_id, row.sbp, row.amendment_reason) == (first, 134, "血压抄错")


def test_an_update_to_a_visit_is_refused_by_the_server(world, tablet, as_user, client, token, visit_form):
    _register(as_user, world, "A1-0-0")
    store, engine = tablet("gp-a1")
    engine.sync()
    vid = store.save_visit(world.residents["A1-0-0"], "hypertension", visit_form(VISIT_DAY))
    engine.sync()
    body = {"batch_id": str(uuid.uuid4()), "device_id": "t", "records": [
        {"change_id": str(uuid.uuid4()), "entity": "followups", "entity_id": vid, "op": "update", "base": {},
         "fields": {"sbp": 120}}]}
    r = client.post("/api/v1/sync/push", json=body, headers={"Authorization": f"Bearer {token('gp-a1')}"})
    [res] = r.get_json()["results"]
    assert res["status"] == "rejected" and res["reason"]["errors"]["op"] == ["update"]


def _oru(control_id, resident, obx, filler="F-1"):
    sex = "M" if resident.sex == "1" else "F"
    segs = [f"MSH|^~\\&|LIS|HOSP_T|GPO|CLINIC|20250302110000||ORU^R01^ORU_R01|{control_id}|P|2.5.1|||||CHN|"
            "UNICODE UTF-8",
            f"PID|1||{resident.id_number}^^^^ID||{resident.name}||{resident.birth_date:%Y%m%d}|{sex}",
            f"OBR|1||{filler}|CHEM^生化^L|||20250302070000|||||||||||||||20250302105500|||F", *obx]
    return ("\r".join(segs) + "\r").encode()


@pytest.fixture
def lab_feed(world, as_user, client):
    r = as_user("admin").post("/api/v1/labs/feeds", json={
        "hospital_id": world.hospital_id, "name": "LIS", "center_ids": [world.centers["A"]]})
    key = r.get_json()["key"]

    def post(raw):
        resp = client.post("/api/v1/labs/hl7", data=raw, content_type="x-application/hl7-v2+er7",
                           headers={"X-Lab-Feed-Key": key})
        assert resp.status_code == 200, resp.get_data()
    return post


def test_lab_reports_arrive_with_results_critical_first_and_corrections_supersede(world, tablet, session, lab_feed,
                                                                                 server_scope, tablet_scope):
    from server.households.models import Resident
    from server.labs.models import LabReport
    res = session.get(Resident, world.residents["A1-0-0"])
    store, engine = tablet("gp-a1")
    engine.sync()
    lab_feed(_oru("M-1", res, ["OBX|1|NM|GLU^血糖^L||5.0|mmol/L|3.9-6.1|N|||F",
                               "OBX|2|NM|K^钾^L||6.8|mmol/L|3.5-5.3|HH|||F"]))
    engine.sync()
    [rep] = store.lab_reports(res.id)
    full = store.lab_report(rep["id"])
    assert [(r["code"], r["value_text"]) for r in full["results"]] == [("K", "6.8"), ("GLU", "5.0")]
    assert full["critical"] and full["history"] == []
    # A correction: a new row supersedes the old one, which stays as history.
    lab_feed(_oru("M-2", res, ["OBX|1|NM|K^钾^L||4.2|mmol/L|3.5-5.3|N|||C"]))
    engine.sync()
    full = store.lab_report(rep["id"])
    assert sorted((r["code"], r["value_text"]) for r in full["results"]) == [("GLU", "5.0"), ("K", "4.2")]
    assert [(r["code"], r["value_text"]) for r in full["history"]] == [("K", "6.8")]
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])
    with pytest.raises(StoreError):
        store.save_edit("lab_results", full["results"][0]["id"], {"value_text": "1"})
    assert session.scalar(select(LabReport.resident_id)) == res.id


def test_a_report_prints_on_the_tablet_at_chinas_time_as_the_server_prints_it(world, tablet, session,
                                                                              lab_feed):
    """The tablet keeps the sync's UTC ("2025-03-02T02:55:00+00:00"); the paper a patient takes home reads the
    lab's clock, 10:55, the time HL7 sent (it printed 02:55, and a report before 08:00 the day before)."""
    import datetime as dt

    from fieldapp import printouts
    from server.households.models import Resident
    from server.labs.models import LabReport
    from server.labs.services import printable

    res = session.get(Resident, world.residents["A1-0-0"])
    store, engine = tablet("gp-a1")
    engine.sync()
    lab_feed(_oru("P-1", res, ["OBX|1|NM|GLU^血糖^L||5.0|mmol/L|3.9-6.1|N|||F"]))
    engine.sync()
    [rep] = store.lab_reports(res.id)
    assert rep["reported_at"].endswith("+00:00")  # kept in UTC
    paper = printouts.lab_report_for(store, rep["id"], dt.date(2025, 3, 2))
    assert paper.received_at == dt.datetime(2025, 3, 2, 7, 0)  # collected at 07:00 (it printed 03-01 23:00)
    assert paper.reported_at == dt.datetime(2025, 3, 2, 10, 55)
    server_paper = printable(session.get(LabReport, rep["id"]), res)
    assert (server_paper.received_at, server_paper.reported_at) == (paper.received_at, paper.reported_at)


def test_a_report_matched_by_hand_arrives_whole(world, tablet, session, lab_feed, as_user, server_scope,
                                                tablet_scope):
    from server.households.models import Resident
    from server.labs.models import LabMessage
    res = session.get(Resident, world.residents["A1-1-1"])
    store, engine = tablet("gp-a1")
    engine.sync()
    stranger = type("P", (), {"sex": "1", "id_number": "110105194912310038", "name": "无名",
                              "birth_date": dt.date(1949, 12, 31)})
    lab_feed(_oru("Q-1", stranger, ["OBX|1|NM|GLU^血糖^L||2.1|mmol/L|3.9-6.1|LL|||F"], filler="Q-F"))
    engine.sync()
    assert store.count("lab_reports") == 0
    msg = session.scalar(select(LabMessage).where(LabMessage.control_id == "Q-1"))
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{msg.id}/match", json={"resident_id": res.id})
    assert r.status_code == 200, r.get_json()
    engine.sync()
    [rep] = store.lab_reports(res.id)
    assert [x["value_text"] for x in store.lab_report(rep["id"])["results"]] == ["2.1"]
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])


def test_reassignment_takes_visits_and_lab_reports_to_the_new_team(world, tablet, as_user, session, lab_feed,
                                                                    visit_form, server_scope, tablet_scope):
    from server.households.models import Resident
    _register(as_user, world, "A1-1-0")
    res = session.get(Resident, world.residents["A1-1-0"])
    lab_feed(_oru("R-1", res, ["OBX|1|NM|GLU^血糖^L||7.0|mmol/L|3.9-6.1|H|||F"], filler="R-F"))
    a1, e1 = tablet("gp-a1")
    a2, e2 = tablet("gp-a2")
    e1.sync(), e2.sync()
    vid = a1.save_visit(res.id, "hypertension", visit_form(VISIT_DAY))
    e1.sync()
    assert a1.visits(res.id) and a1.lab_reports(res.id)
    r = as_user("staff-a").post("/api/v1/assignments/", json={"household_ids": [world.households["A1-1"]],
                                                               "team_id": world.teams["A2"], "reason": "move"})
    assert r.status_code in (200, 201), r.get_json()
    e1.sync(), e2.sync()
    for store, team in ((a1, "A1"), (a2, "A2")):
        assert tablet_scope(store) == server_scope(session, world.teams[team])
    assert a1.visits(res.id) == [] and a1.lab_reports(res.id) == []
    assert a1.db.execute("SELECT count(*) FROM lab_results").fetchone()[0] == 0
    assert [v["id"] for v in a2.visits(res.id)] == [vid] and len(a2.lab_reports(res.id)) == 1


def test_a_store_from_before_visits_downloads_everything_once_more(tmp_path):
    import sqlite3

    from fieldapp.store import Store
    from fieldapp.store.schema import UPGRADES
    path = str(tmp_path / "old.sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    for stmt in UPGRADES[0]:
        db.execute(stmt)
    db.execute("PRAGMA user_version = 1")
    db.executemany("INSERT INTO sync_state VALUES (?, ?)", [("cursor", '"c.0.42"'), ("gen", "3"),
                                                            ("snapshot_done", "true")])
    db.close()
    store = Store(path)
    assert store.schema_version == len(UPGRADES)
    assert (store.state("cursor"), store.state("gen"), store.state("snapshot_done")) == (None, 4, False)
    store.close()


def test_the_labs_notes_reach_the_tablet(world, tablet, session, lab_feed, server_scope, tablet_scope):
    from server.households.models import Resident
    res = session.get(Resident, world.residents["A1-0-0"])
    store, engine = tablet("gp-a1")
    engine.sync()
    lab_feed(_oru("N-1", res, ["NTE|1|L|标本轻度脂血", "OBX|1|NM|K^钾^L||6.1|mmol/L|3.5-5.3|H|||F",
                               "NTE|1|L|标本溶血，结果仅供参考", "OBX|2|NM|GLU^血糖^L||5.0|mmol/L|3.9-6.1|N|||F"],
                 filler="N-F"))
    engine.sync()
    [rep] = store.lab_reports(res.id)
    assert rep["comments"] == ["标本轻度脂血"]
    full = store.lab_report(rep["id"])
    assert {r["code"]: r["comments"] for r in full["results"]} == {"K": ["标本溶血，结果仅供参考"], "GLU": []}
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])


def test_the_teams_critical_call_reaches_the_tablet(world, tablet, session, lab_feed, as_user):
    from server.households.models import Resident
    res = session.get(Resident, world.residents["A1-0-0"])
    store, engine = tablet("gp-a1")
    lab_feed(_oru("CC-1", res, ["OBX|1|NM|K^钾^L||6.8|mmol/L|3.5-5.3|HH|||F"], filler="CC-F"))
    engine.sync()
    [rep] = store.lab_reports(res.id)
    assert rep["critical_call_note"] is None
    r = as_user("gp-a1").put(f"/api/v1/lab-reports/{rep['id']}/critical-call",
                             json={"note": "已电话通知家属", "report_changed_at": rep["changed_at"]})
    assert r.status_code == 200, r.get_json()
    engine.sync()
    [rep] = store.lab_reports(res.id)
    assert rep["critical_call_note"] == "已电话通知家属" and rep["critical_call_noted_at"] >= rep["changed_at"]


def test_a_store_from_before_lab_notes_downloads_everything_once_more(tmp_path):
    import sqlite3

    from fieldapp.store import Store
    from fieldapp.store.schema import UPGRADES
    path = str(tmp_path / "notes.sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    for upgrade in UPGRADES[:3]:
        for stmt in upgrade:
            db.execute(stmt)
    db.execute("PRAGMA user_version = 3")
    db.executemany("INSERT INTO sync_state VALUES (?, ?)", [("cursor", '"c.0.99"'), ("gen", "7"),
                                                            ("snapshot_done", "true")])
    db.execute("INSERT INTO lab_results (id, report_id, code, value_text, flags) VALUES ('1', 'R', 'K', '6.1', '[]')")
    db.close()
    store = Store(path)
    assert store.schema_version == len(UPGRADES) >= 4
    assert (store.state("cursor"), store.state("gen"), store.state("snapshot_done")) == (None, 8, False)
    # Rows pulled before keep their values until the new download replaces them; no notes yet, not [].
    assert [tuple(r) for r in store.db.execute("SELECT value_text, comments FROM lab_results")] == [("6.1", None)]
    store.close()


def test_lost_and_death_entries_recorded_on_the_tablet_are_signed_on_the_server(
        world, tablet, as_user, session, server_scope, tablet_scope):
    from server.followups.models import FollowUp
    from server.households.models import ChronicCondition, Resident
    _register(as_user, world, "A1-0-0")
    _register(as_user, world, "A1-0-1", "t2dm")
    store, engine = tablet("gp-a1")
    engine.sync()
    lost_rid, dead_rid = world.residents["A1-0-0"], world.residents["A1-0-1"]
    day = (TODAY - dt.timedelta(days=10)).isoformat()
    # The server's checks the tablet can make offline come first, before anything is saved.
    with pytest.raises(InvalidRecord) as bad:
        store.record_lost(lost_rid, "hypertension", (TODAY + dt.timedelta(days=2)).isoformat(), "x")
    assert set(bad.value.errors) == {"date", "reason"}
    with pytest.raises(InvalidRecord) as bad:
        store.record_death(dead_rid, "hypertension", day, "心梗")
    assert set(bad.value.errors) == {"condition"}
    with pytest.raises(InvalidRecord) as bad:
        store.record_death(dead_rid, "t2dm", "1900-01-01", "心梗")
    assert set(bad.value.errors) == {"date"}
    assert store.outbox_count() == 0
    lost = store.record_lost(lost_rid, "hypertension", day, "搬去外地")
    dead = store.record_death(dead_rid, "t2dm", day, "心肌梗死")
    assert [(v["id"], v["kind"], v["pending"]) for v in store.visits(dead_rid)] == [(dead, "death", True)]
    result = engine.sync()
    assert result.synced and result.pushed == {"applied": 2}, result
    lost_row, dead_row = session.get(FollowUp, lost), session.get(FollowUp, dead)
    assert (lost_row.kind, lost_row.form, lost_row.signed_by) == (
        "lost", {"date": day, "reason": "搬去外地"}, world.users["gp-a1"])
    assert (dead_row.kind, dead_row.form) == ("death", {"date": day, "cause": "心肌梗死"})
    # What the server did with them (registry entry lost, resident deceased) came back down.
    cond = session.scalars(select(ChronicCondition).where(ChronicCondition.resident_id == lost_rid)).one()
    assert cond.status == "lost" and store.conditions(lost_rid)[0]["status"] == "lost"
    assert session.get(Resident, dead_rid).status == "deceased" and store.resident(dead_rid)["status"] == "deceased"
    assert [(v["kind"], v["pending"]) for v in store.visits(lost_rid)] == [("lost", False)]
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])


def test_a_refused_death_entry_needs_attention_and_can_be_fixed(world, tablet, as_user, session, clean_app):
    from server.followups.models import FollowUp
    _register(as_user, world, "A1-1-0")
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-1-0"]
    # The server's calendar is behind the tablet's clock: the date is in the server's future.
    clean_app.config["FOLLOWUP_TODAY"] = TODAY - dt.timedelta(days=5)
    dead = store.record_death(rid, "hypertension", (TODAY - dt.timedelta(days=1)).isoformat(), "脑卒中")
    assert engine.sync().pushed == {"rejected": 1}
    [item] = store.needs_attention()
    assert item["entity_id"] == dead and "date" in item["reason"]["errors"]
    earlier = (TODAY - dt.timedelta(days=7)).isoformat()
    store.fix_rejected(item["change_id"], {"date": earlier})
    assert engine.sync().pushed == {"applied": 1}
    assert session.get(FollowUp, dead).visit_date.isoformat() == earlier


def test_lab_reports_show_the_hospital_name_and_a_rename_reaches_the_tablet(world, tablet, session, lab_feed,
                                                                           client, token):
    from server.households.models import Resident
    from server.org.models import Hospital
    res = session.get(Resident, world.residents["A1-0-0"])
    lab_feed(_oru("H-1", res, ["OBX|1|NM|GLU^血糖^L||5.0|mmol/L|3.9-6.1|N|||F"], filler="H-F"))
    store, engine = tablet("gp-a1")
    engine.sync()
    [rep] = store.lab_reports(res.id)
    assert rep["hospital_name"] == "市一医院" and store.lab_report(rep["id"])["hospital_name"] == "市一医院"
    # The list goes down only when it changed: a pull with the version the tablet holds leaves it out.
    auth = {"Authorization": f"Bearer {token('gp-a1')}"}
    page = client.get("/api/v1/sync/pull", query_string={"cursor": store.state("cursor"), "ref": store.state("ref")},
                      headers=auth).get_json()
    assert "reference" not in page and not page["more"]
    stale = client.get("/api/v1/sync/pull", query_string={"cursor": store.state("cursor"), "ref": "old"},
                       headers=auth).get_json()
    assert stale["reference"]["hospitals"] == [[world.hospital_id, "H1", "市一医院"]]
    session.get(Hospital, world.hospital_id).name = "市第一人民医院"
    session.commit()
    engine.sync()
    assert store.lab_reports(res.id)[0]["hospital_name"] == "市第一人民医院"


def test_forms_go_compact_to_a_tablet_that_asks_and_whole_to_every_other_reader(world, tablet, as_user, session,
                                                                               visit_form, server_scope,
                                                                               tablet_scope):
    from gpcore.followup.compact import full_form, is_empty_box
    from server.followups.models import FollowUp
    _register(as_user, world, "A1-0-0")
    store, engine = tablet("gp-a1")
    engine.sync()
    vid = store.save_visit(world.residents["A1-0-0"], "hypertension", visit_form(VISIT_DAY, sbp=150, dbp=95))
    assert engine.sync().pushed == {"applied": 1}  # the push path sends the form whole, as before
    signed = session.get(FollowUp, vid).form
    assert signed["bmi"] is None and signed["other_signs"] == ""  # the server keeps every box
    gp = as_user("gp-a1")

    def pulled(**params):
        page = gp.get("/api/v1/sync/pull", query_string=params).get_json()
        return page["entities"]["followups"]

    whole = pulled()
    at = whole["columns"].index("form")
    assert "compact" not in whole and json.loads(whole["rows"][0][at]) == signed  # unchanged without asking
    compact = pulled(forms="compact")
    assert compact["compact"] == ["form"]
    form = json.loads(compact["rows"][0][at])
    assert not any(is_empty_box(v) for v in form.values()) and full_form("hypertension", form) == signed
    bad = gp.get("/api/v1/sync/pull", query_string={"forms": "short"})
    assert bad.status_code == 422 and "forms" in bad.get_json()["errors"]["query"]
    # A second tablet's first download: forms stored compact, read whole, the team's scope exactly.
    other, other_engine = tablet("nurse-a1")
    other_engine.sync()
    raw = other.db.execute("SELECT form FROM followups WHERE id = ?", (vid,)).fetchone()[0]
    assert json.loads(raw) == form and other.visit(vid)["form"] == signed
    assert tablet_scope(other) == server_scope(session, world.teams["A1"]) == tablet_scope(store)


def test_a_tablet_syncs_with_a_server_from_before_compact_forms(world, tablet, as_user, session, visit_form,
                                                                 server_scope, tablet_scope):
    """A server older than forms=compact refuses the unknown parameter (422 naming it, StrictParser): the tablet
    asks again without it, and its store keeps the whole forms compact all the same."""
    from fieldapp.sync.transport import HttpError
    from gpcore.followup.compact import is_empty_box
    _register(as_user, world, "A1-0-0")
    writer, writer_engine = tablet("gp-a1")
    writer_engine.sync()
    vid = writer.save_visit(world.residents["A1-0-0"], "hypertension", visit_form(VISIT_DAY, sbp=150, dbp=95))
    assert writer_engine.sync().pushed == {"applied": 1}
    store, engine = tablet("nurse-a1")
    real, refused = engine.transport.call, []

    def old_server(method, path, **kw):
        if path.endswith("/sync/pull") and "forms" in (kw.get("params") or {}):
            refused.append(kw["params"]["forms"])
            raise HttpError(422, {"code": 422, "status": "Unprocessable Entity", "message": "Invalid query.",
                                  "errors": {"query": {"forms": ["Unknown field."]}}})
        return real(method, path, **kw)

    engine.transport.call = old_server
    assert engine.sync().synced and refused == ["compact"] and engine.compact_forms is False
    raw = json.loads(store.db.execute("SELECT form FROM followups WHERE id = ?", (vid,)).fetchone()[0])
    assert not any(is_empty_box(v) for v in raw.values())
    assert store.visit(vid)["form"] == writer.visit(vid)["form"]
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])
