"""Numbers senders reuse: an order (filler) number reused for another patient never mixes two patients'
results in one report, and a control id (MSH-10) reused for other content is a new message, never dropped."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, inspect, select, text

from server.labs import intake
from server.labs.models import LabMessage, LabReport, LabResultRow, content_fingerprint
from tests.server.test_migrations import empty_url  # noqa: F401 (a fixture: an empty database, SQLite or PG)

from .conftest import ZHANG_SAN_ID

PID_ZS = f"PID|1||{ZHANG_SAN_ID}^^^^ID||张三||19491231|F"
PID_STRANGER = "PID|1||777^^^^MR||路人甲||19800101|M"  # nobody on file


def obr(filler: str, status: str = "F") -> str:
    return (f"OBR|1|P-{filler}|{filler}|CHEM^生化^L|||20250302080000|||||||20250302090000||||||||"
            f"20250302100000|||{status}")


def k(value: str, flag: str = "N", status: str = "F") -> str:
    return f"OBX|1|NM|K^钾^L||{value}|mmol/L|3.5-5.5|{flag}|||{status}"


def _messages(session):
    session.expire_all()
    return session.scalars(select(LabMessage).order_by(LabMessage.received_at, LabMessage.id)).all()


def _k_rows(session, report_id):
    return [(r.value_text, r.superseded_by_id is None) for r in session.scalars(
        select(LabResultRow).where(LabResultRow.report_id == report_id).order_by(LabResultRow.id))]


def _history(report_json):
    return {row["code"]: [h["value_text"] for h in row["history"]] for row in report_json["results"]}


# --- order numbers -------------------------------------------------------------------------------

def test_order_reused_for_an_unknown_patient_is_a_report_of_its_own(post_hl7, make_oru, session, zhang_san, as_user):
    assert post_hl7(make_oru("D1", pid=PID_ZS, obr=obr("S001"), obx=[k("4.1")])).status_code == 200
    owned = session.scalar(select(LabReport.id))
    assert post_hl7(make_oru("D2", pid=PID_STRANGER, obr=obr("S001"), obx=[k("6.9", "HH")])).status_code == 200

    first, second = _messages(session)
    assert (first.resident_id, first.match_method) == (zhang_san, "id_number")
    # Not filed under 张三 by the order number: queued, with a report of its own under the same number.
    assert (second.match_status, second.resident_id, second.match_reason) == ("unmatched", None, "order_conflict")
    assert [r.id for r in second.reports] != [owned] and len(second.reports) == 1
    reused = second.reports[0]
    assert (reused.filler_no, reused.resident_id) == ("S001", None)
    assert _k_rows(session, owned) == [("4.1", True)]  # 张三's value untouched, no history from 路人甲
    assert _k_rows(session, reused.id) == [("6.9", True)]

    report = as_user("gp-a1").get(f"/api/v1/lab-reports/{owned}").get_json()
    assert report["critical"] is False and _history(report) == {"K": []}


def test_order_reused_for_another_resident_leaves_the_owner_alone(post_hl7, make_oru, session, zhang_san,
                                                                  add_resident, as_user):
    wang = add_resident("B1", "王大", "1", dt.date(1960, 1, 1))
    post_hl7(make_oru("E1", pid=PID_ZS, obr=obr("S002"), obx=[k("4.1")]))
    post_hl7(make_oru("E2", pid="PID|1||||王大||19600101|M", obr=obr("S002"), obx=[k("6.9", "HH")]))

    first, second = _messages(session)
    assert (second.match_status, second.match_reason) == ("unmatched", "order_conflict")
    assert second.suggested_resident_id == wang  # the person deciding is offered the namesake on file
    gp_a1 = as_user("gp-a1")
    assert [r["id"] for r in gp_a1.get(f"/api/v1/residents/{zhang_san}/lab-reports").get_json()["items"]] == [
        first.reports[0].id]  # still on 张三's record

    r = as_user("admin").post(f"/api/v1/labs/unmatched/{second.id}/match", json={"resident_id": wang})
    assert r.status_code == 200, r.get_json()
    theirs = as_user("gp-b1").get(f"/api/v1/lab-reports/{second.reports[0].id}").get_json()
    assert [(row["value_text"], _history(theirs)["K"]) for row in theirs["results"]] == [("6.9", [])]
    mine = gp_a1.get(f"/api/v1/lab-reports/{first.reports[0].id}").get_json()
    assert [row["value_text"] for row in mine["results"]] == ["4.1"] and _history(mine) == {"K": []}


def test_order_reused_for_a_resident_matched_by_id_is_their_own_report(post_hl7, make_oru, session, zhang_san,
                                                                       add_resident, as_user):
    # A certain match by ID number is not queued because the hospital reused the number: the results go to
    # a new report of that resident at once (a critical value is not held back), 张三's report is untouched.
    li_id = "110105195001010012"
    li = add_resident("B1", "李四", "1", dt.date(1950, 1, 1), li_id)
    post_hl7(make_oru("G1", pid=PID_ZS, obr=obr("S009"), obx=[k("4.1")]))
    post_hl7(make_oru("G2", pid=f"PID|1||{li_id}^^^^ID||李四||19500101|M", obr=obr("S009"), obx=[k("6.9", "HH")]))

    first, second = _messages(session)
    assert (second.match_status, second.resident_id, second.match_method) == ("matched", li, "id_number")
    assert "S009" in second.match_note
    assert second.reports[0].id != first.reports[0].id and second.reports[0].filler_reuse == 1
    theirs = as_user("gp-b1").get(f"/api/v1/lab-reports/{second.reports[0].id}").get_json()
    assert theirs["critical"] is True and _history(theirs) == {"K": []}
    mine = as_user("gp-a1").get(f"/api/v1/lab-reports/{first.reports[0].id}").get_json()
    assert [row["value_text"] for row in mine["results"]] == ["4.1"] and _history(mine) == {"K": []}
    assert as_user("gp-a1").get(f"/api/v1/lab-reports/{second.reports[0].id}").status_code == 404


def test_an_uncertain_message_agreeing_with_the_owner_adds_to_the_order(post_hl7, make_oru, session, zhang_san):
    post_hl7(make_oru("A1", pid=PID_ZS, obr=obr("S003", "P"), obx=[k("4.1", status="P")]))
    # No ID number: not a certain match of its own, but the same name, birth date and sex as the resident
    # holding the order.
    post_hl7(make_oru("A2", pid="PID|1||H9^^^^MR||张三||19491231|F", obr=obr("S003"), obx=[k("4.3")]))
    first, second = _messages(session)
    assert (second.match_status, second.match_method, second.resident_id) == ("matched", "order", zhang_san)
    assert [r.id for r in second.reports] == [r.id for r in first.reports]
    assert _k_rows(session, first.reports[0].id) == [("4.1", False), ("4.3", True)]


@pytest.mark.parametrize("pid", [
    "PID|1||H9^^^^MR||张三||19500101",  # another birth date
    "PID|1||110105198001010016^^^^ID||张三||19491231",  # another ID number (not on file)
    "PID|1||H9^^^^MR||||19491231|F",  # no name and no ID number: nothing says it is the owner
    "PID|1||H9^^^^MR||张三||19491231",  # no sex: a name and a birth date alone do not tie a recycled number
    "PID|1||H9^^^^MR||张三||19491231|M",  # another sex
])
def test_an_uncertain_message_contradicting_the_owner_does_not(post_hl7, make_oru, session, zhang_san, pid):
    post_hl7(make_oru("B1", pid=PID_ZS, obr=obr("S004"), obx=[k("4.1")]))
    post_hl7(make_oru("B2", pid=pid, obr=obr("S004"), obx=[k("6.9", "HH")]))
    first, second = _messages(session)
    assert (second.match_status, second.match_reason, second.resident_id) == ("unmatched", "order_conflict", None)
    assert second.reports[0].id != first.reports[0].id
    assert _k_rows(session, first.reports[0].id) == [("4.1", True)]


def test_one_of_two_namesakes_is_not_filed_by_a_reused_number(post_hl7, make_oru, session, zhang_san,
                                                               add_resident):
    # Two residents share name, birth date and sex (matching: ambiguous); the order number one of them holds
    # does not decide which one a message without an ID number is about.
    add_resident("A2", "张三", "2", dt.date(1949, 12, 31))
    post_hl7(make_oru("D1", pid=PID_ZS, obr=obr("S010"), obx=[k("4.1")]))
    post_hl7(make_oru("D2", pid="PID|1||H7^^^^MR||张三||19491231|F", obr=obr("S010"), obx=[k("6.9", "HH")]))
    first, second = _messages(session)
    assert (second.match_status, second.match_reason, second.resident_id) == ("unmatched", "order_conflict", None)
    assert "ambiguous" in second.match_note
    assert second.reports[0].id != first.reports[0].id
    assert _k_rows(session, first.reports[0].id) == [("4.1", True)]


def test_an_order_number_does_not_file_a_message_matching_doubts(post_hl7, make_oru, session, add_resident,
                                                                  zhang_san, as_user):
    # 李梅 holds the order (filed by hand: she has a namesake); a message under that number with 张三's ID
    # number and 李梅's name is one matching doubts (id_name_mismatch): the number does not settle it.
    li = add_resident("A1", "李梅", "2", BORN)
    add_resident("A2", "李梅", "2", BORN)
    post_hl7(make_oru("L1", pid="PID|1||H1^^^^MR||李梅||19491231|F", obr=obr("S201"), obx=[k("4.1")]))
    [first] = _messages(session)
    assert first.match_reason == "ambiguous"
    assert as_user("staff-a").post(f"/api/v1/labs/unmatched/{first.id}/match",
                                   json={"resident_id": li}).status_code == 200
    post_hl7(make_oru("L2", pid=f"PID|1||{ZHANG_SAN_ID}^^^^ID||李梅||19491231|F", obr=obr("S201"),
                      obx=[k("6.9", "HH")]))
    first, second = _messages(session)
    assert (second.match_status, second.resident_id, second.match_reason) == ("unmatched", None, "order_conflict")
    assert _k_rows(session, first.reports[0].id) == [("4.1", True)]


def test_an_order_number_does_not_file_a_pinyin_name(post_hl7, make_oru, session, zhang_san, add_resident):
    # 章三 reads zhangsan too: an alphabetic name is no evidence between them, order number or not.
    add_resident("A2", "章三", "2", BORN)
    post_hl7(make_oru("P1", pid=PID_ZS, obr=obr("S202"), obx=[k("4.1")]))
    post_hl7(make_oru("P2", pid="PID|1||H5^^^^MR||ZHANG^SAN||19491231|F", obr=obr("S202"), obx=[k("6.9", "HH")]))
    first, second = _messages(session)
    assert first.resident_id == zhang_san
    assert (second.match_status, second.resident_id) == ("unmatched", None)
    assert _k_rows(session, first.reports[0].id) == [("4.1", True)]


def test_an_order_past_the_window_is_not_added_to(post_hl7, make_oru, session, zhang_san):
    # Analysers recycle sample numbers: a report that last changed more than ORDER_WINDOW ago is another
    # order, even for the same patient; the number's next report takes the next filler_reuse.
    post_hl7(make_oru("O1", pid=PID_ZS, obr=obr("S011"), obx=[k("4.1")]))
    old = session.scalar(select(LabReport))
    old.changed_at = old.changed_at - intake.ORDER_WINDOW - dt.timedelta(days=1)
    session.commit()
    post_hl7(make_oru("O2", pid=PID_ZS, obr=obr("S011"), obx=[k("6.9", "HH")]))
    first, second = _messages(session)
    assert (second.match_status, second.resident_id) == ("matched", zhang_san)
    assert [r.filler_reuse for r in second.reports] == [1] and second.reports[0].id != first.reports[0].id
    assert _k_rows(session, first.reports[0].id) == [("4.1", True)]


def test_queued_orders_join_only_for_the_same_patient(post_hl7, make_oru, session, as_user, world):
    pid_li = "PID|1||888^^^^MR||李四||19700101|M"  # nobody on file: queued
    post_hl7(make_oru("Q1", pid=pid_li, obr=obr("S005", "P"), obx=[k("5.0", status="P")]))
    post_hl7(make_oru("Q2", pid=pid_li, obr=obr("S005"), obx=[k("5.2")]))  # the final: same patient
    post_hl7(make_oru("Q3", pid=PID_STRANGER, obr=obr("S005"), obx=[k("6.9", "HH")]))  # reused number
    prelim, final, stranger = _messages(session)
    assert [r.id for r in final.reports] == [r.id for r in prelim.reports]
    assert (final.match_status, final.match_reason) == ("unmatched", "no_candidate")
    assert stranger.reports[0].id != prelim.reports[0].id and stranger.match_reason == "order_conflict"

    resident = world.residents["A1-0-0"]
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{prelim.id}/match", json={"resident_id": resident})
    assert r.status_code == 200, r.get_json()
    assert _k_rows(session, prelim.reports[0].id) == [("5.0", False), ("5.2", True)]  # 路人甲's 6.9 is not here
    # The final shares the preliminary's report, so it is filed with it: left in the queue, it could later
    # be filed under someone else and take the report (and the preliminary's rows) along.
    prelim, final, stranger = _messages(session)
    assert [(m.match_status, m.resident_id) for m in (prelim, final)] == [("matched", resident)] * 2
    assert (stranger.match_status, stranger.resident_id) == ("unmatched", None)
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{final.id}/match", json={"resident_id": resident})
    assert r.status_code == 409  # nothing left to file


@pytest.mark.parametrize("prelim_pid", [
    "PID|1||H9^^^^MR||张三||19491231",  # no ID number, no sex: queued
    "PID|1||H9^^^^MR||张三||19491231|F",  # her name, birth date and sex: queued with her suggested
    f"PID|1||{ZHANG_SAN_ID}^^^^ID||张山||19491231|F",  # her ID number under another name: queued
])
def test_a_certain_match_and_a_queued_report_of_its_order(post_hl7, make_oru, session, zhang_san, prelim_pid):
    post_hl7(make_oru("T1", pid=prelim_pid, obr=obr("S006", "P"), obx=[k("5.0", status="P")]))
    post_hl7(make_oru("T2", pid=PID_ZS, obr=obr("S006"), obx=[k("5.2")]))
    prelim, final = _messages(session)
    assert prelim.match_status == "unmatched"
    # 张三's certain result becomes a report of her own at once (a critical value is not held in the queue);
    # the queued order is left for a person, its rows not filed under 张三 unasked.
    assert [r.id for r in final.reports] != [r.id for r in prelim.reports]
    assert (final.match_status, final.match_reason, final.reports[0].resident_id) == ("matched", None, zhang_san)
    assert _k_rows(session, prelim.reports[0].id) == [("5.0", True)] and prelim.reports[0].resident_id is None


def test_the_same_order_filed_at_once_on_two_connections_is_one_report(post_hl7, make_oru, session, zhang_san,
                                                                          monkeypatch):
    post_hl7(make_oru("C1", pid=PID_ZS, obr=obr("S007", "P"), obx=[k("5.0", status="P")]))
    # The final's read of known orders ran before the preliminary committed (another connection): it
    # takes the new-order path, the unique order number stops its second report, and the retry adds to it.
    real = intake._known_orders
    stale = [select(func.count()).where(text("1 = 0")).scalar_subquery()]
    monkeypatch.setattr(intake, "_known_orders", lambda: stale.pop() if stale else real())
    assert post_hl7(make_oru("C2", pid=PID_ZS, obr=obr("S007"), obx=[k("5.2")])).status_code == 200
    assert session.scalar(select(func.count()).select_from(LabReport)) == 1
    assert _k_rows(session, session.scalar(select(LabReport.id))) == [("5.0", False), ("5.2", True)]


def _patient(name="", alphabetic="", birth=None, number=None, sex=""):
    from server.labs.model import LabPatient, PatientIdentifier

    ids = [PatientIdentifier(number, "ID", "", "PID-3")] if number else []
    return LabPatient(identifiers=ids, name=name, name_alphabetic=alphabetic, birth_date=birth, sex=sex)


BORN = dt.date(1949, 12, 31)


@pytest.mark.parametrize("patient, same", [
    (_patient("张 三", birth=BORN, sex="F"), True),  # spacing aside, the same name, birth date and sex
    (_patient("张三", birth=BORN), False),  # no sex sent: name and birth date alone do not tie
    (_patient("张三", sex="F"), False),  # no birth date sent
    (_patient("张三", birth=BORN, sex="M"), False),  # another sex
    (_patient("Zhang San", "ZHANG^SAN", BORN, sex="F"), True),  # pinyin of the name on file
    (_patient(number=ZHANG_SAN_ID), True),  # no name, the same ID number
    (_patient("张山", number=ZHANG_SAN_ID), False),  # her ID number under another name
    (_patient("张三", birth=dt.date(1950, 1, 1)), False),
    (_patient("张三", number="110105198001010016"), False),
    (_patient(birth=BORN), False),  # nothing says it is her
])
def test_same_person(patient, same):
    assert intake.same_person(patient, "张三", BORN, ZHANG_SAN_ID, sex="2") is same


# --- control ids -----------------------------------------------------------------------------------

def test_an_analyser_sending_every_message_as_1_loses_none(post_hl7, sample, session, ack_fields):
    first = sample("analyser-cbc-5diff-cr.hl7")
    assert b"|ORU^R01|1|" in first
    second = first.replace(b"TestSample001", b"TestSample002").replace(b"Doe^John", b"Roe^Jane").replace(
        b"|9.55|", b"|12.30|")
    a, b = post_hl7(first), post_hl7(second)
    assert a.status_code == b.status_code == 200
    assert ack_fields(a.data)[1:3] == ack_fields(b.data)[1:3] == ["AA", "1"]
    one, two = _messages(session)
    assert two.raw == second and two.ack == b.data != a.data
    assert not any("control id" in w for w in one.warnings)
    assert any("control id 1" in w and "different content" in w for w in two.warnings)
    values = session.scalars(select(LabResultRow.value_text).where(LabResultRow.code == "6690-2")).all()
    assert sorted(values) == ["12.30", "9.55"]

    assert post_hl7(second).data == b.data  # each is still recognised when sent again
    assert post_hl7(first).data == a.data
    assert len(_messages(session)) == 2


def test_a_resend_with_a_new_header_time_and_line_endings_is_a_repeat(post_hl7, fixture_message, session):
    raw = fixture_message("utf8-escapes-criticals-cr.hl7")
    first = post_hl7(raw)
    msh, rest = raw.split(b"\r", 1)
    fields = msh.split(b"|")
    fields[6] = b"20991231235959"  # MSH-7 regenerated by the engine
    resent = b"|".join(fields) + b"\r\n" + rest.replace(b"\r", b"\r\n")
    again = post_hl7(resent)
    assert again.status_code == 200 and again.data == first.data
    assert len(_messages(session)) == 1 and session.scalar(select(func.count()).select_from(LabReport)) == 1


def test_content_fingerprint():
    assert content_fingerprint(b"MSH|a\rPID|1\rOBR|1\r", "hl7v2") == content_fingerprint(
        b"MSH|b\r\nPID|1\nOBR|1", "hl7v2")
    assert content_fingerprint(b"MSH|a\rPID|1\r", "hl7v2") != content_fingerprint(b"MSH|a\rPID|2\r", "hl7v2")
    assert content_fingerprint(b'{"resourceType": "Bundle"}', "fhir") != ""  # the resources count (issue 17)


def test_migration_l003_backfills_with_what_intake_computes(sample):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "20261129_l003_reused_numbers.py"
    spec = importlib.util.spec_from_file_location("l003", path)
    l003 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(l003)
    for raw, fmt in [(sample("analyser-cbc-5diff-cr.hl7"), "hl7v2"), (sample("cbc-two-panels-lf.hl7"), "hl7v2"),
                     (b"MSH|a\r\nPID|1", "hl7v2")]:  # FHIR fingerprints: l007 (issue 17)
        assert l003.content_fingerprint(raw, fmt) == content_fingerprint(raw, fmt)


# --- the migration ---------------------------------------------------------------------------------

def test_l003_backfills_fingerprints_and_steps_down(empty_url):  # noqa: F811
    from alembic import command

    from server.db import make_engine
    from server.manage import alembic_config

    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "l002")
    engine = make_engine(empty_url)
    hl7 = [b"MSH|^~\\&|LIS|H|||20250101||ORU^R01|1|P|2.5\rPID|1||||A\r",
           b"MSH|^~\\&|LIS|H|||20250102||ORU^R01|2|P|2.5\r\nPID|1||||B\r\n"]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO hospitals (id, code, name) VALUES (1, 'H', 'H')"))
        conn.execute(text("INSERT INTO lab_feeds (id, hospital_id, name, key_hash, key_hint, created_at) "
                          "VALUES (1, 1, 'f', 'x', 'x', CURRENT_TIMESTAMP)"))
        for n, (fmt, raw) in enumerate([("hl7v2", hl7[0]), ("hl7v2", hl7[1]), ("fhir", b"{}")]):
            conn.execute(text(
                "INSERT INTO lab_messages (id, feed_id, hospital_id, format, transport, sending_app, "
                "sending_facility, control_id, message_type, version, raw, encoding, encoding_reason, "
                "charset_declared, received_at, warnings, patient_name, patient_name_alphabetic, patient_sex, "
                "patient_identifiers, match_status) VALUES (:id, 1, 1, :fmt, 'http', '', 'H', :cid, '', '', "
                ":raw, 'utf-8', '', '', CURRENT_TIMESTAMP, '[]', '', '', 'U', '[]', 'unmatched')"),
                {"id": f"m{n}", "fmt": fmt, "cid": str(n), "raw": raw})
        conn.execute(text("INSERT INTO lab_reports (id, hospital_id, filler_no, placer_no, panel_code, panel_name, "
                          "panel_coding_system, specimen_type, status, tester, reviewer, critical, abnormal, "
                          "excluded, created_at, changed_at) VALUES ('r1', 1, 'S1', '', '', '', '', '', '', '', "
                          "'', false, false, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    command.upgrade(cfg, "l003")
    with engine.connect() as conn:
        got = dict(conn.execute(text("SELECT id, fingerprint FROM lab_messages")).all())
        assert conn.execute(text("SELECT filler_reuse FROM lab_reports")).scalar() == 0
    assert got == {"m0": content_fingerprint(hl7[0], "hl7v2"), "m1": content_fingerprint(hl7[1], "hl7v2"),
                   "m2": ""}

    # What only l003 can hold (a reused control id, a reused order number) is made distinct going down.
    with engine.begin() as conn:
        for table, row_id, changes in (("lab_messages", "m0", {"id": "'m3'", "fingerprint": "'other'"}),
                                       ("lab_reports", "r1", {"id": "'r2'", "filler_reuse": "1"})):
            columns = [c["name"] for c in inspect(conn).get_columns(table)]
            conn.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT "
                              f"{', '.join(changes.get(c, c) for c in columns)} FROM {table} WHERE id = '{row_id}'"))
    command.downgrade(cfg, "l002")
    with engine.connect() as conn:
        assert dict(conn.execute(text("SELECT id, control_id FROM lab_messages")).all()) == {
            "m0": "0", "m1": "1", "m2": "2", "m3": "0~2"}
        assert dict(conn.execute(text("SELECT id, filler_no FROM lab_reports")).all()) == {"r1": "S1", "r2": "S1~1"}
    engine.dispose()


def test_a_control_id_reused_for_the_next_message_of_an_order_is_noted(post_hl7, make_oru, session, zhang_san):
    # The second message adds to the order (the ORM path): the reuse is noted there too.
    post_hl7(make_oru("R-1", pid=PID_ZS, obr=obr("S301", "P"), obx=[k("4.1", status="P")]))
    post_hl7(make_oru("R-1", pid=PID_ZS, obr=obr("S301"), obx=[k("4.3")]))
    one, two = _messages(session)
    assert [r.id for r in two.reports] == [r.id for r in one.reports]
    assert not any("control id" in w for w in one.warnings)
    assert any("control id R-1" in w and "different content" in w for w in two.warnings)
