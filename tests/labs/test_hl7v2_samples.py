"""The two shared sample ORU messages parse to the values they carry."""
import datetime as dt
from decimal import Decimal

from server.labs.hl7v2 import parse_oru


def test_analyser_cbc_header_patient_and_panel(sample):
    msg = parse_oru(sample("analyser-cbc-5diff-cr.hl7"))
    assert (msg.control_id, msg.version, msg.message_type) == ("1", "2.3.1", "ORU^R01")
    assert (msg.encoding, msg.charset_declared) == ("utf-8", "UNICODE")
    assert msg.encoding_reason == "MSH-18 'UNICODE'"
    assert msg.sent_at == dt.datetime(2025, 1, 15, 12, 0)
    p = msg.patient
    assert p.identifiers[0][:3] == ("7393670", "MR", "")
    assert (p.name, p.birth_date, p.sex) == ("Doe John", dt.date(1990, 8, 4), "M")  # PID-8 "Male"
    assert len(msg.reports) == 1
    rep = msg.reports[0]
    assert (rep.placer_no, rep.filler_no) == ("", "TestSample001")
    assert (rep.panel_code, rep.panel_name, rep.panel_coding_system) == ("00001", "Automated Count", "99MRC")
    assert rep.collected_at == dt.datetime(2025, 1, 15, 12, 0)
    assert rep.specimen_received_at == dt.datetime(2025, 1, 15, 11, 0)
    assert rep.reported_at is None  # OBR-22 is empty in this message
    assert rep.reviewer == "Tester"  # OBR-32, principal result interpreter
    assert msg.warnings == []


def test_analyser_cbc_keeps_24_results_and_excludes_instrument_rows(sample):
    rep = parse_oru(sample("analyser-cbc-5diff-cr.hl7")).reports[0]
    assert [r.set_id for r in rep.results] == [str(n) for n in range(7, 31)]
    excluded = {x.set_id: x for x in rep.excluded}
    assert sorted(excluded, key=int) == ["1", "2", "3", "4", "5", "6", "31", "35"]
    assert excluded["1"].name == "Take Mode" and excluded["1"].value_type == "IS"
    assert excluded["5"].code == "30525-0" and "demographic" in excluded["5"].reason  # Age
    assert excluded["6"].name == "Remark" and excluded["6"].value_type == "ST"
    assert excluded["35"].value_type == "ED" and "Base64" in excluded["35"].value_text
    assert not {"ED", "IS"} & {r.value_type for r in rep.results}


def test_analyser_cbc_values_units_ranges(sample):
    rows = {r.name: r for r in parse_oru(sample("analyser-cbc-5diff-cr.hl7")).reports[0].results}
    wbc = rows["WBC"]
    assert (wbc.code, wbc.coding_system, wbc.value_type) == ("6690-2", "LN", "NM")
    assert (wbc.value_num, wbc.unit, wbc.range_text) == (Decimal("9.55"), "10*9/L", "4.00-10.00")
    assert (wbc.range_low, wbc.range_high) == (Decimal("4.00"), Decimal("10.00"))
    assert (wbc.flags, wbc.abnormal, wbc.critical, wbc.status) == (["N"], False, False, "F")
    assert wbc.observed_at == dt.datetime(2025, 1, 15, 12, 0)  # no OBX-14: the panel's OBR-7
    assert rows["PCT"].value_text == "0.250" and rows["PCT"].value_num == Decimal("0.250")
    assert rows["PCT"].coding_system == "99MRC"
    assert rows["RBC"].unit == "10*12/L" and rows["HGB"].unit == "g/L"
    assert rows["PDW"].unit == "" and rows["PDW"].range_low == Decimal("15.0")
    assert rows["BAS#"].range_low == Decimal("0.00") and rows["BAS#"].range_high == Decimal("0.10")


def test_two_panel_lf_message(sample):
    msg = parse_oru(sample("cbc-two-panels-lf.hl7"))
    assert (msg.sending_app, msg.receiving_app, msg.control_id, msg.version) == (
        "SomeSystem", "TransformationAgent", "182", "2.5")
    assert msg.processing_id == "T"
    assert msg.encoding_reason == "no MSH-18; bytes are valid UTF-8"
    p = msg.patient
    assert [tuple(i) for i in p.identifiers] == [
        ("10006579", "MR", "1", "PID-3"), ("123121234", "SS", "", "PID-19")]
    assert (p.name, p.birth_date, p.sex) == ("DUCK DONALD D", dt.date(1924, 10, 10), "M")
    hemogram, diff = msg.reports
    assert (hemogram.placer_no, hemogram.filler_no, hemogram.panel_code) == (
        "88502218", "82503246", "24317-0")
    assert hemogram.panel_name == "Hemogram and platelet count, automated"
    assert (hemogram.status, diff.status) == ("F", "")  # the second OBR leaves OBR-25 empty
    # SPM-4 and SPM-18 fill what OBR-15 and OBR-14 leave empty (v2.5 senders).
    assert hemogram.specimen_type == diff.specimen_type == "全血"  # SPM-4 BLD, HL7 table 0487
    assert hemogram.specimen_received_at == dt.datetime(2014, 10, 6, 8, 21)
    assert hemogram.collected_at == dt.datetime(2014, 10, 6, 5, 35)
    assert hemogram.reviewer == "CYTO JANE"  # OBR-33 (&CYTO&JANE) when OBR-32 is empty

    rows = hemogram.results
    assert [(r.code, r.status) for r in rows] == [
        ("11156-7", "I"), ("11273-0", "P"), ("20509-6", "I"), ("20570-8", "P"), ("11125-2", "F")]
    leuko = rows[0]
    assert (leuko.value_text, leuko.value_num, leuko.unit, leuko.flags, leuko.observed_at) == (
        "", None, "", [], None)
    assert (rows[1].value_num, rows[1].unit) == (Decimal("4.06"), "tera.l-1")
    assert rows[1].observed_at == dt.datetime(2014, 10, 6, 6, 27)
    assert (rows[4].value_num, rows[4].unit) == (Decimal("221"), "giga.l-1")
    assert [r.value_num for r in diff.results] == [Decimal(n) for n in ("72", "2", "20", "6", "0")]
    assert {r.unit for r in diff.results} == {"%"} and {r.status for r in diff.results} == {"P"}
    assert diff.excluded == [] and hemogram.excluded == []
