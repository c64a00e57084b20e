"""The lab's notes (HL7 NTE) are stored, shown to the team on the report and its rows, queued with the
message, added to by later messages, and printed under the result they explain."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

import printing
from server.households.models import Resident
from server.labs import services
from server.labs.models import LabMessage, LabReport, LabResultRow
from tests.labs.test_hl7v2_notes import bundle_with_notes

from .conftest import ZHANG_SAN_ID

REPORT_NOTES = ["急诊标本", "标本轻度脂血\n请结合临床", "仪器自动稀释后复测"]
HAEMOLYSIS = ["标本溶血，结果仅供参考", "已复查"]
CRITICAL_CALL = ["危急值已电话通知 张医生 10:20\n复核：K&Na^2"]
FIXTURES = {"nte-comments-utf8-cr.hl7": "LYTE-0077", "nte-comments-gbk-crlf.hl7": "LYTE-0078"}


def _report(session, filler) -> LabReport:
    session.expire_all()
    return session.scalar(select(LabReport).where(LabReport.filler_no == filler))


@pytest.mark.parametrize("name", list(FIXTURES))
def test_the_gp_sees_the_haemolysis_note_on_the_potassium_row(name, fixture_message, post_hl7, zhang_san, as_user,
                                                              session, ack_fields):
    r = post_hl7(fixture_message(name))
    assert r.status_code == 200 and ack_fields(r.data, "gbk" if "gbk" in name else "utf-8")[1] == "AA"
    report_id = _report(session, FIXTURES[name]).id
    gp = as_user("gp-a1")
    [listed] = gp.get(f"/api/v1/residents/{zhang_san}/lab-reports").get_json()["items"]
    assert listed["comments"] == REPORT_NOTES
    rep = gp.get(f"/api/v1/lab-reports/{report_id}").get_json()
    assert rep["comments"] == REPORT_NOTES
    rows = {row["code"]: row for row in rep["results"]}
    assert (rows["K"]["value_text"], rows["K"]["flags"], rows["K"]["comments"]) == ("6.1", ["H"], HAEMOLYSIS)
    assert rows["NA"]["comments"] == CRITICAL_CALL and rows["CL"]["comments"] == []
    assert "MODE" not in rows


@pytest.mark.parametrize("width", list(printing.PaperWidth), ids=lambda w: f"{w.millimetres}mm")
def test_the_printed_report_has_the_notes_under_their_result_and_a_remarks_block(
        width, fixture_message, post_hl7, zhang_san, session, clean_app):
    assert post_hl7(fixture_message("nte-comments-utf8-cr.hl7")).status_code == 200
    rep = _report(session, "LYTE-0077")
    printable = services.printable(rep, session.get(Resident, zhang_san))
    assert printable.comments == tuple(REPORT_NOTES)
    assert {r.code: r.comments for r in printable.results}["K"] == tuple(HAEMOLYSIS)
    lines = printing.preview(printing.lab_report(printable, printing.PrinterSettings(width=width)), width).text
    lines = lines.splitlines()
    potassium = next(i for i, line in enumerate(lines) if line.startswith("钾(K)"))
    sodium = next(i for i, line in enumerate(lines) if line.startswith("钠(NA)"))
    below_potassium = "\n".join(lines[potassium:sodium])
    assert "注：标本溶血，结果仅供参考" in below_potassium and "注：已复查" in below_potassium
    remarks = next(i for i, line in enumerate(lines) if line.startswith("备注："))
    assert lines[remarks] == "备注：急诊标本" and remarks < next(
        i for i, line in enumerate(lines) if line.startswith("接收时间"))
    assert "危急值已电话通知" in "\n".join(lines[sodium:remarks])


def test_a_later_message_adds_report_notes_once_and_its_rows_bring_their_own(
        fixture_message, post_hl7, make_oru, zhang_san, as_user, session):
    assert post_hl7(fixture_message("nte-comments-utf8-cr.hl7")).status_code == 200
    # The corrected potassium of the same order (the ORM path): the report's notes are added to, a note the
    # report has already is not repeated; the correction's own row has its note, the old row keeps its own.
    raw = make_oru("N-2001-C", pid=f"PID|1||{ZHANG_SAN_ID}^^^^ID||张三||19491231|M",
                   obr="OBR|1|ORD-LYTE-0077|LYTE-0077|LYTE^电解质^L|||20250306070000||||||||SER|||||||"
                       "20250306150000|||C", facility="HOSP_B",
                   obx=["NTE|1|L|急诊标本", "NTE|2|L|重新采血复查", "OBX|1|NM|K^钾^L||4.3|mmol/L|3.5-5.5|N|||C",
                        "NTE|1|L|重新采血，无溶血"])
    assert post_hl7(raw).status_code == 200
    rep = _report(session, "LYTE-0077")
    assert rep.comments == [*REPORT_NOTES, "重新采血复查"]
    potassium = session.scalars(select(LabResultRow).where(LabResultRow.report_id == rep.id,
                                                           LabResultRow.code == "K").order_by(LabResultRow.id)).all()
    assert [(r.value_text, r.comments, r.current) for r in potassium] == [
        ("6.1", HAEMOLYSIS, False), ("4.3", ["重新采血，无溶血"], True)]
    body = as_user("gp-a1").get(f"/api/v1/lab-reports/{rep.id}").get_json()
    [k] = [row for row in body["results"] if row["code"] == "K"]
    assert k["comments"] == ["重新采血，无溶血"] and k["history"][0]["comments"] == HAEMOLYSIS


def test_a_queued_message_shows_its_notes_to_the_staff_resolving_it(fixture_message, post_hl7, as_user, session):
    # No resident has 张三's ID number: the message waits in the queue, notes and all.
    assert post_hl7(fixture_message("nte-comments-utf8-cr.hl7")).status_code == 200
    message_id = session.scalar(select(LabMessage.id).where(LabMessage.control_id == "N-2001"))
    detail = as_user("staff-a").get(f"/api/v1/labs/unmatched/{message_id}").get_json()
    [rep] = detail["reports"]
    assert rep["comments"] == REPORT_NOTES
    assert {row["code"]: row["comments"] for row in rep["results"]} == {
        "K": HAEMOLYSIS, "NA": CRITICAL_CALL, "CL": []}


def test_a_report_without_notes_has_empty_lists(make_oru, post_hl7, zhang_san, as_user, session):
    raw = make_oru("PLAIN-1", pid=f"PID|1||{ZHANG_SAN_ID}^^^^ID||张三||19491231|M",
                   obr="OBR|1||PLAIN-F|GLU^血糖^L|||20250302070000", obx=["OBX|1|NM|GLU^血糖^L||5.1|mmol/L||N|||F"])
    assert post_hl7(raw).status_code == 200
    rep = as_user("gp-a1").get(f"/api/v1/lab-reports/{_report(session, 'PLAIN-F').id}").get_json()
    assert rep["comments"] == [] and rep["results"][0]["comments"] == []


def test_fhir_notes_are_stored_like_hl7_ones(fixture_message, post_fhir, session):
    bundle = bundle_with_notes(fixture_message("bundle-chem-r4.json"))
    assert post_fhir(json.dumps(bundle).encode()).status_code == 201
    rep = _report(session, "FILLER-555")
    assert rep.comments == ["标本轻度脂血"]
    assert {r.code: r.comments for r in rep.results if r.comments} == {"2823-3": ["标本溶血，结果仅供参考", "已复查"]}
