"""The tablet's plain-Python half, without a window: store drafts, the worklist, the visit with the rules'
feedback, signing, the printed slip, printer settings."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from gpcore.followup.schedule import working_day_for

from fieldapp import printouts, worklist
from fieldapp.store import InvalidRecord, Store
from fieldapp.store.schema import UPGRADES
from fieldapp.visit import VisitDraft, form_boxes
from gpcore.clock import china_today
from gpcore.followup import age_on
from gpcore.followup.visits import DiabetesVisit, HypertensionVisit, field_specs
from printing import PaperWidth, Patient, PrinterSettings, follow_up_slip

from .conftest import htn_form

TODAY = china_today()


def test_a_store_from_before_drafts_keeps_every_row(tmp_path):
    path = str(tmp_path / "old.sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    for upgrade in UPGRADES[:4]:
        for stmt in upgrade:
            db.execute(stmt)
    db.execute("PRAGMA user_version = 4")
    db.execute("INSERT INTO residents (id, name) VALUES ('r1', '张三')")
    db.execute("INSERT INTO outbox (change_id, entity, entity_id, op, base, fields, device_time) "
               "VALUES ('c1', 'residents', 'r1', 'update', '{}', '{}', 'now')")
    db.close()
    store = Store(path)
    assert store.schema_version == len(UPGRADES)  # every later upgrade runs over it too
    assert store.db.execute("SELECT name FROM residents").fetchall()[0][0] == "张三"
    assert store.outbox_count() == 1
    store.save_draft("r1", "hypertension", {"sbp": 150})
    assert store.draft("r1", "hypertension") == {"sbp": 150}
    assert [d["name"] for d in store.drafts()] == ["张三"]
    store.discard_draft("r1", "hypertension")
    assert store.draft("r1", "hypertension") is None
    store.close()


@pytest.mark.parametrize("condition, cls", [("hypertension", HypertensionVisit), ("t2dm", DiabetesVisit)])
def test_the_form_has_every_box_of_the_national_form_once(condition, cls):
    names = [box.name for _, boxes in form_boxes(condition) for box in boxes]
    assert sorted(names) == sorted(spec.name for spec in field_specs(cls))
    kinds = {box.name: box.kind for _, boxes in form_boxes(condition) for box in boxes}
    assert kinds["sbp"] == "int" and kinds["visit_mode"] == "choice" and kinds["symptoms"] == "multi"
    assert kinds["medications"] == "medications" and kinds["visit_date"] == "date"


def _row(**kw):
    base = {"visit_date": None, "next_visit_date": None, "classification": None, "emergency": 0,
            "referral": "none", "referred": 0, "last_face_to_face": None, "birth_date": "1950-03-14"}
    return {**base, **kw}


def test_the_worklist_buckets_are_the_servers():
    today = dt.date(2026, 6, 15)
    day = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    assert worklist.bucket_item(_row(), today)["buckets"] == ["not_seen_this_year"]
    emergency = worklist.bucket_item(_row(visit_date=day(-3), next_visit_date=day(11), classification=2,
                                          emergency=1, referral="urgent", referred=1, last_face_to_face=day(-3)),
                                     today)
    assert emergency["buckets"] == ["emergency", "referral", "recheck"]
    assert emergency["referral_due_date"] == day(11)
    overdue = worklist.bucket_item(_row(visit_date=day(-100), next_visit_date=day(-10), classification=1,
                                        last_face_to_face=day(-100)), today)
    assert overdue["buckets"] == ["overdue"] and overdue["overdue_days"] == 10
    due = worklist.bucket_item(_row(visit_date=day(-85), next_visit_date=day(5), classification=1,
                                    last_face_to_face="2025-12-20"), today)
    assert due["buckets"] == ["due_this_week", "not_seen_this_year"]
    assert worklist.bucket_item(_row(visit_date=day(-10), next_visit_date=day(80), classification=1,
                                     last_face_to_face=day(-10)), today)["buckets"] == []


def test_the_tablet_worklist_from_a_synced_store(tablet_session, clinic):
    wl = worklist.WorklistBuilder(tablet_session.store, TODAY)
    items = wl.build().items
    # 赵六 was never seen; 张三's visit 40 days ago booked the next one a quarter on (not due yet).
    assert [(i["name"], i["buckets"]) for i in items] == [("赵六", ["not_seen_this_year"])]
    assert wl.build("zl").items and not wl.build("zs").items
    assert [h["name"] for h in wl.build("zs").others] == ["张三"]
    assert wl.build(condition="hypertension").items == []
    assert wl.build("A1路").items  # by address


def test_a_visit_with_an_emergency_blood_pressure(tablet_session, clinic):
    store = tablet_session.store
    rid = clinic.residents["A1-0-0"]
    draft = VisitDraft(store, rid, "hypertension", TODAY, doctor="王医生")
    offered = draft.previous_offer()
    assert offered["cigarettes_per_day"] == 0 and offered["medications"][0]["name"] == "氨氯地平"
    assert "sbp" not in offered and "visit_date" not in offered
    draft.apply_previous()
    draft.set("symptoms", [1])
    draft.set("sbp", 185)
    draft.set("dbp", 112)
    draft.keep()
    # A new screen (after a crash) finds the draft.
    again = VisitDraft(store, rid, "hypertension", TODAY)
    assert again.restored and again.form["sbp"] == 185
    fb = again.feedback()
    assert fb.emergency and any("180" in r and "185/112" in r for r in fb.emergency_reasons)
    assert fb.classification_label == "控制不满意"
    # two weeks on, moved off a weekend or holiday as the server books it (gpcore's working days)
    assert fb.next_visit_date == working_day_for(TODAY, TODAY + dt.timedelta(days=14))[0].isoformat()
    assert fb.guidance
    visit_id = again.sign()
    assert store.draft(rid, "hypertension") is None
    assert store.outbox_count() == 1
    saved = store.visit(visit_id)
    assert saved["form"]["classification"] == 2 and saved["form"]["next_visit_date"] == fb.next_visit_date
    assert store.device_assessment(visit_id)["emergency"] is True
    # The slip: what was measured, the classification in words, the next date, advice to the patient.
    slip = printouts.follow_up_slip_for(store, visit_id, team_phone="021-1", institution="甲中心")
    res = store.resident(rid)
    birth = dt.date.fromisoformat(res["birth_date"])
    next_date = dt.date.fromisoformat(fb.next_visit_date)
    assert slip.patient == Patient(name="张三", sex=res["sex"], age=age_on(birth, TODAY),
                                   record_number=res["record_number"], address=res["address"], phone=res["phone"])
    assert (slip.visit_date, slip.classification, slip.next_visit_date) == (TODAY, "控制不满意", next_date)
    assert slip.measurements == (("血压", "185/112 mmHg"),)
    assert slip.advice.startswith("您的情况需要紧急处理，请立即到上级医院就诊")  # to the patient, not the doctor
    assert "本次血压控制不满意" in slip.advice and "劝其" not in slip.advice
    assert (slip.doctor, slip.team_phone, slip.programme, slip.institution) == (
        "王医生", "021-1", "高血压患者健康管理", "甲中心")
    data = printouts.slip_bytes(printouts.PrinterConfig(width_mm=80), slip)
    assert data == follow_up_slip(slip, PrinterSettings(width=PaperWidth.MM80))
    weekday = "一二三四五六日"[next_date.weekday()]
    for text in ("185/112 mmHg", "控制不满意", f"星期{weekday}", "您的情况需要紧急处理"):
        assert text.encode("gb18030") in data, text


def test_a_form_that_breaks_the_rules_is_not_signed(tablet_session, clinic):
    store = tablet_session.store
    draft = VisitDraft(store, clinic.residents["A1-0-0"], "hypertension", TODAY)
    draft.set("sbp", 400)
    assert "sbp" in draft.feedback().problems
    with pytest.raises(InvalidRecord):
        draft.sign()
    assert store.outbox_count() == 0


def test_the_rules_read_the_visit_before_this_one_as_the_server_does(tablet_session, clinic):
    """The previous visit for the rules is the latest one earlier in date, and never the visit an amendment
    corrects (server/followups/services.py _history_filter): an amendment of an uncontrolled visit is not
    'the second uncontrolled visit in a row' by comparing it with itself."""
    store = tablet_session.store
    rid = clinic.residents["A1-0-0"]
    [older] = store.visits(rid, "hypertension")
    assert older["visit_date"] < (TODAY - dt.timedelta(days=1)).isoformat()
    uncontrolled = store.save_visit(rid, "hypertension",
                                    htn_form((TODAY - dt.timedelta(days=1)).isoformat(), sbp=165, dbp=100))
    amend = VisitDraft(store, rid, "hypertension", TODAY, amends_id=uncontrolled)
    amend.form = {**store.visit(uncontrolled)["form"], "sbp": 168}
    rules = amend.feedback()
    assert rules.classification == 2 and rules.referral == "none", rules.referral_reasons
    amend.set("visit_date", TODAY.isoformat())  # its date corrected to a later day: still not its own past
    assert amend.feedback().referral == "none", amend.feedback().referral_reasons
    # A new visit after it is the second uncontrolled one in a row.
    today = VisitDraft(store, rid, "hypertension", TODAY)
    today.form = htn_form(TODAY.isoformat(), sbp=166, dbp=101)
    assert "连续两次随访控制不满意" in today.feedback().referral_reasons
    assert amend.previous_record["id"] == older["id"]  # what the keypad offers as "上次": not itself
    # A visit recorded late, dated before the uncontrolled one, follows the visit before it in date.
    backfilled = VisitDraft(store, rid, "hypertension", TODAY)
    backfilled.form = htn_form((TODAY - dt.timedelta(days=2)).isoformat(), sbp=166, dbp=101)
    assert backfilled.feedback().referral == "none"
    # Two visits on one day: the one this tablet has not sent yet is the later (the server receives it after
    # every row it has sent here), so it is the one before the next visit.
    store.save_visit(rid, "hypertension", htn_form(older["visit_date"], sbp=170, dbp=102))
    after = VisitDraft(store, rid, "hypertension", TODAY)
    after.form = htn_form((TODAY - dt.timedelta(days=2)).isoformat(), sbp=166, dbp=101)
    assert "连续两次随访控制不满意" in after.feedback().referral_reasons


def test_a_signed_visit_is_amended_with_a_reason_not_edited(tablet_session, clinic):
    store = tablet_session.store
    [signed] = store.visits(clinic.residents["A1-0-0"])
    with pytest.raises(InvalidRecord):
        store.amend_visit(signed["id"], signed["form"], "")
    amendment = store.amend_visit(signed["id"], {**signed["form"], "sbp": 130}, "血压抄错")
    assert store.visit(amendment)["amends_id"] == signed["id"]
    assert store.visit(signed["id"])["sbp"] == 128


def test_a_refused_visit_reopened_takes_the_rules_dates_for_its_corrections(tablet_session, clinic):
    """Signing fills the classification and next visit date from the rules; a refused visit reopened to be
    corrected (the sync screen's fix) must not keep those for a different reading."""
    store = tablet_session.store
    rid = clinic.residents["A1-0-0"]
    draft = VisitDraft(store, rid, "hypertension", TODAY)
    draft.form = {k: v for k, v in htn_form(TODAY.isoformat()).items() if k != "classification"}
    store.discard_draft(rid, "hypertension")
    draft.sign()
    store.reject_batch(store.take_batch(10), {"code": 422, "message": "随访日期不对"})
    [item] = store.needs_attention()
    signed = item["fields"]["form"]
    assert signed["classification"] == 1 and signed["next_visit_date"]  # filled from the rules at signing
    fix = VisitDraft(store, rid, "hypertension", TODAY)
    fix.reopen(signed, item["fields"]["device_assessment"])
    assert "classification" not in fix.form and "next_visit_date" not in fix.form
    store.keep_fix(item["change_id"], fix.form)
    assert store.kept_fix(item["change_id"]) == {"form": fix.form, "reason": None}
    fix.set("sbp", 182)
    fix.set("dbp", 112)
    rules = fix.feedback()
    assert rules.next_visit_date < signed["next_visit_date"]  # uncontrolled: seen again sooner
    fix.resubmit(item["change_id"])
    assert store.kept_fix(item["change_id"]) is None
    [sent] = [v for v in store.visits(rid) if v["id"] == item["entity_id"]]
    assert (sent["form"]["next_visit_date"], sent["form"]["classification"]) == (
        rules.next_visit_date, rules.classification)
    assert rules.classification != 1
    # What the doctor set otherwise than the rules stays when a visit is reopened.
    mine = VisitDraft(store, rid, "hypertension", TODAY)
    mine.reopen({**signed, "next_visit_date": "2027-01-04"}, item["fields"]["device_assessment"])
    assert mine.form["next_visit_date"] == "2027-01-04" and "classification" not in mine.form
    # What the rules said at signing decides, not what they say now (visits pulled since change their answer).
    then = {"classification": 1, "next_visit_date": "2027-01-04"}
    mine.reopen({**signed, "next_visit_date": "2027-01-04"}, then)
    assert "next_visit_date" not in mine.form
    # An amendment carries no assessment: the rules are asked again on the form as it was.
    mine.reopen(signed)
    assert "classification" not in mine.form and "next_visit_date" not in mine.form


def test_printer_settings_and_a_file_printer(tablet_session, tmp_path):
    store = tablet_session.store
    assert printouts.PrinterConfig.load(store).setting() == "serial:/dev/rfcomm0?baudrate=9600"
    out = tmp_path / "paper.bin"
    config = printouts.PrinterConfig(connection="file", target=str(out), width_mm=80, mode="raster")
    config.save(store)
    again = printouts.PrinterConfig.load(store)
    assert again == config and again.settings().width is PaperWidth.MM80
    printouts.send(again, printouts.test_page_bytes(again))
    assert out.read_bytes() == printouts.test_page_bytes(again)
    assert printouts.PrinterConfig(connection="tcp", target="10.0.0.5:9100").setting() == "tcp:10.0.0.5:9100"
    from printing.errors import PrinterOffline, PrinterSettingError
    with pytest.raises(PrinterSettingError) as bad:
        printouts.PrinterConfig(connection="serial", target="").setting()
    assert "打印机" in str(bad.value)
    with pytest.raises(PrinterOffline) as offline:
        printouts.send(printouts.PrinterConfig(connection="file", target=str(tmp_path / "no" / "dir")), b"x")
    assert "打印机" in str(offline.value)


def test_a_visit_signed_offline_is_in_the_emergency_bucket_at_once(tablet_session, clinic):
    store = tablet_session.store
    rid = clinic.residents["A1-0-0"]
    before = {i["resident_id"]: i["buckets"] for i in worklist.WorklistBuilder(store, TODAY).build().items}
    assert rid not in before  # seen 40 days ago, next visit not due
    draft = VisitDraft(store, rid, "hypertension", TODAY, doctor="王医生")
    draft.apply_previous()
    for name, value in (("symptoms", [1]), ("sbp", 185), ("dbp", 112)):
        draft.set(name, value)
    visit_id = draft.sign()
    # Not synced: the server has not seen it; the tablet's own row carries the shared rules' decisions.
    assert store.outbox_count() == 1 and store.visits(rid)[0]["pending"]
    row = store.visit(visit_id)
    assert (row["emergency"], row["referral"], row["classification"]) == (1, "urgent", 2)
    [item] = [i for i in worklist.WorklistBuilder(store, TODAY).build().items if i["resident_id"] == rid]
    assert item["buckets"][0] == "emergency" and "recheck" in item["buckets"]
    assert item["urgency"] == 0
    # Corrected offline to a controlled reading: out of the emergency bucket, again before any sync.
    store.amend_visit(visit_id, {**row["form"], "sbp": 128, "dbp": 82, "classification": 1,
                                 "next_visit_date": None}, "血压录错")
    items = [i for i in worklist.WorklistBuilder(store, TODAY).build().items if i["resident_id"] == rid]
    assert all("emergency" not in i["buckets"] for i in items)


def test_the_tablet_worklist_walks_building_2_before_building_10(tmp_path):
    store = Store(str(tmp_path / "route.sqlite"))
    with store.transaction():
        for n, (hid, address) in enumerate((("h10", "崂山路100弄10号101室"), ("h2", "崂山路100弄2号101室"),
                                             ("h2b", "崂山路100弄2号1001室"), ("h9", "崂山路9弄1号101室"))):
            store.db.execute("INSERT INTO households (id, committee_id, address) VALUES (?, 1, ?)", (hid, address))
            store.db.execute("INSERT INTO residents (id, household_id, name, birth_date, status) "
                             "VALUES (?, ?, ?, '1950-01-01', 'active')", (f"r-{hid}", hid, f"居民{n}"))
            store.db.execute("INSERT INTO chronic_conditions (id, resident_id, condition, status) "
                             "VALUES (?, ?, 'hypertension', 'managed')", (f"c-{hid}", f"r-{hid}"))
    items = worklist.WorklistBuilder(store, TODAY).build().items
    assert [i["address"] for i in items] == ["崂山路9弄1号101室", "崂山路100弄2号101室", "崂山路100弄2号1001室",
                                             "崂山路100弄10号101室"]
    store.close()


def _report(changed_at, last_visit, noted="x", **more):
    return {"critical_call_noted_at": noted, "changed_at": changed_at, "last_visit": last_visit, **more}


@pytest.mark.parametrize("report, heads", [
    (_report("2026-11-01T02:00:00Z", "2026-12-01", noted=None), True),  # a call still to note
    # Noted: it heads the list when it reached the team on or after the day of the last visit (China's day).
    (_report("2026-12-01T02:00:00+00:00", "2026-12-01"), True),
    (_report("2026-11-30T23:00:00+00:00", "2026-12-01"), True),  # 07:00 on 12-01 in China
    (_report("2026-11-30T15:00:00+00:00", "2026-12-01"), False),  # 23:00 on 11-30 in China
    # A correction arriving after the visit, of a report taken before it: its arrival counts.
    (_report("2026-12-02T02:00:00+00:00", "2026-12-01", reported_at="2026-11-20T02:00:00+00:00"), True),
    (_report("2026-11-20T02:00:00+00:00", None), True),
])
def test_a_noted_critical_report_heads_the_worklist_as_the_servers_lab_alerts_say(report, heads):
    from fieldapp.worklist import WorklistBuilder

    assert WorklistBuilder._alert(report) is heads
