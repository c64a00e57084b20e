"""Messy ORU variants (tests/labs/messages, written by make_messages.py) parse as a GP team needs them."""
import datetime as dt
from decimal import Decimal

import pytest

from server.labs.hl7v2 import HL7MessageError, parse_oru


def test_gbk_without_msh18_is_detected_and_the_pipe_trail_byte_survives(fixture_message):
    raw = fixture_message("gbk-no-msh18-crlf.hl7")
    # The fixture is only a trap if 東's GBK trail byte really is the field separator.
    assert "東".encode("gbk")[1:] == b"|" and b"\r\n" in raw
    msg = parse_oru(raw)
    assert msg.encoding == "gb18030"
    assert msg.encoding_reason == "no MSH-18; bytes are not UTF-8, decoded as GB18030 (superset of GBK)"
    p = msg.patient
    assert (p.name, p.name_alphabetic, p.sex, p.birth_date) == ("李東", "LI DONG", "M", dt.date(1949, 12, 31))
    assert [tuple(i) for i in p.identifiers] == [
        ("MR778812", "MR", "HOSP_A", "PID-3"), ("11010519491231002X", "NNCHN", "CHN", "PID-3")]
    assert p.citizen_id == "11010519491231002X"
    rep = msg.reports[0]
    assert (rep.panel_name, rep.specimen_type, rep.tester, rep.reviewer) == ("尿常规+血常规", "URN", "陈明", "王芳")
    assert rep.reported_at == dt.datetime(2025, 3, 1, 9, 25)
    hgb, protein, urine_wbc, remark = rep.results
    assert (hgb.name, hgb.value_num, hgb.unit) == ("血红蛋白", Decimal("118"), "g/L")
    assert hgb.range_by_sex == {"M": "130-175", "F": "115-150"}
    assert (hgb.range_low, hgb.range_high, hgb.flags, hgb.abnormal) == (
        Decimal("130"), Decimal("175"), ["L"], True)
    assert (protein.value_type, protein.value_text, protein.value_num, protein.range_text) == (
        "ST", "阴性", None, "阴性")
    assert (urine_wbc.unit, urine_wbc.range_low, urine_wbc.range_high) == ("个/HP", Decimal("0"), Decimal("5"))
    # The lab's remark is part of the report: a haemolysed specimen changes how the results read.
    assert (remark.name, remark.value_text, remark.value_type) == ("备注", "标本轻度溶血", "ST")
    assert rep.excluded == []


def test_facility_setting_wins_over_detection(fixture_message):
    msg = parse_oru(fixture_message("gbk-no-msh18-crlf.hl7"), {"HOSP_B": "utf-8", "HOSP_A": "gb18030"})
    assert (msg.encoding, msg.encoding_reason) == ("gb18030", "facility setting for HOSP_A")
    assert msg.patient.name == "李東"


def test_msh18_that_does_not_decode_falls_back_to_detection(fixture_message):
    raw = fixture_message("gbk-no-msh18-crlf.hl7").replace(b"|P|2.4\r\n", b"|P|2.4||||||UNICODE UTF-8\r\n", 1)
    msg = parse_oru(raw)
    assert msg.charset_declared == "UNICODE UTF-8"
    assert msg.encoding == "gb18030"
    assert msg.encoding_reason.startswith("MSH-18 'UNICODE UTF-8' does not decode these bytes; ")
    assert msg.patient.name == "李東"


def test_single_byte_msh18_over_gbk_bytes_is_overruled(fixture_message):
    msg = parse_oru(fixture_message("latin1-declared-gbk-bytes.hl7"))
    assert msg.encoding == "gb18030"
    assert msg.encoding_reason == "MSH-18 '8859/1' is single-byte but the bytes decode as GB18030 ideographs"
    assert (msg.patient.name, msg.patient.sex) == ("刘洋", "M")  # PID-8 "男"
    glu = msg.results[0]
    assert (glu.name, glu.flags, glu.abnormal) == ("空腹血糖", ["H"], True)  # "↑" read as H


def test_escapes_criticals_and_value_types(fixture_message):
    raw = fixture_message("utf8-escapes-criticals-cr.hl7")
    assert b"\n" not in raw
    msg = parse_oru(raw)
    assert (msg.encoding, msg.control_id, msg.message_type) == ("utf-8", "B-1001", "ORU^R01")
    p = msg.patient
    assert (p.name, p.name_alphabetic, p.citizen_id) == ("张三", "ZHANG SAN", "11010519491231002X")
    assert p.identifiers[0].type_code == "ID"
    rep = msg.reports[0]
    assert (rep.placer_no, rep.filler_no, rep.specimen_type, rep.tester, rep.reviewer) == (
        "ORD-42", "CHEM-0042", "血清", "王强", "李明")
    rows = {r.code: r for r in rep.results}

    assert (rows["K"].flags, rows["K"].critical, rows["K"].abnormal) == (["HH"], True, True)
    assert (rows["GLU"].flags, rows["GLU"].critical) == (["LL"], True)
    assert (rows["NA"].flags, rows["NA"].critical, rows["NA"].abnormal) == (["L", "A"], False, True)
    assert (rows["PB"].range_text, rows["PB"].range_low, rows["PB"].range_high) == (
        "<9 mcg/dL: acceptable", None, Decimal("9"))
    assert (rows["EGFR"].range_low, rows["EGFR"].range_high) == (Decimal("60"), None)
    crp = rows["CRP"]
    assert (crp.value_type, crp.value_text, crp.value_num, crp.comparator) == (
        "SN", "<0.5", Decimal("0.5"), "<")
    assert (crp.range_low, crp.range_high) == (None, Decimal("5"))
    aso = rows["ASO"]
    assert (aso.value_text, aso.value_num, aso.range_low, aso.range_high) == ("1:128", None, None, None)
    assert rows["WBC"].unit == "10^9/L"  # 10\S\9/L
    assert rows["NOTE"].value_text == "溶血|脂血&黄疸~复查\\A\n第二行 张"  # \F\ \T\ \R\ \E\ \.br\ \XE5BCA0\
    assert (rows["ABO"].value_type, rows["ABO"].value_code, rows["ABO"].value_text) == ("CE", "A", "A型")
    assert rows["COMMENT"].value_text == "Line one\nLine two"  # TX repeats are lines
    assert rows["K"].observed_at == dt.datetime(2025, 3, 2, 10, 0)
    assert msg.warnings == []  # the Z-segment is ignored silently


def test_corrected_result_refers_to_the_same_order_and_code(fixture_message):
    first = parse_oru(fixture_message("utf8-escapes-criticals-cr.hl7"))
    raw = fixture_message("corrected-potassium-lf.hl7")
    assert b"\r" not in raw
    fix = parse_oru(raw)
    before = next(r for r in first.results if r.code == "K")
    after = fix.results[0]
    assert fix.reports[0].filler_no == first.reports[0].filler_no == "CHEM-0042"
    assert fix.reports[0].status == "C"
    assert (after.code, after.status, after.is_correction) == (before.code, "C", True)
    assert (before.value_num, after.value_num) == (Decimal("6.8"), Decimal("4.2"))
    assert (after.critical, after.flags) == (False, ["N"])
    assert fix.patient.identifiers == first.patient.identifiers


def test_sex_specific_ranges_for_a_female_patient_and_pid19_citizen_id(fixture_message):
    raw = fixture_message("sex-ranges-crlf.hl7")
    msg = parse_oru(raw)
    p = msg.patient
    assert (p.name, p.sex, p.citizen_id) == ("王丽", "F", "370101190102039973")
    assert p.identifiers[-1] == ("370101190102039973", "SS", "", "PID-19")
    hgb, hct, plt = msg.results
    assert (hgb.range_low, hgb.range_high, hgb.range_by_sex) == (
        Decimal("115"), Decimal("150"), {"M": "130-175", "F": "115-150"})
    assert (hct.range_low, hct.range_high) == (Decimal("35"), Decimal("45"))
    assert (plt.critical, plt.unit) == (True, "10^9/L")  # "10^9/L" sent unescaped
    assert any("unescaped '^'" in w for w in msg.warnings)
    assert {r.status for r in msg.results} == {"P"}
    assert hgb.observer == "Zhao Lei" and msg.reports[0].tester == "Zhao Lei"  # OBX-16, no OBR-34


def test_cr_lf_and_crlf_give_the_same_message(sample):
    cr = sample("analyser-cbc-5diff-cr.hl7")
    parsed = [parse_oru(cr.replace(b"\r", sep)) for sep in (b"\r", b"\n", b"\r\n")]
    assert parsed[0] == parsed[1] == parsed[2]


@pytest.mark.parametrize("name, ack_code, error_code, location", [
    ("reject-adt-not-oru.hl7", "AR", "200", "MSH^1^9"),
    ("reject-missing-control-id.hl7", "AE", "101", "MSH^1^10"),
    ("reject-obx-before-obr.hl7", "AE", "100", "OBX^1"),
])
def test_rejected_fixtures(fixture_message, name, ack_code, error_code, location):
    with pytest.raises(HL7MessageError) as caught:
        parse_oru(fixture_message(name))
    err = caught.value
    assert (err.ack_code, err.error_code, err.location) == (ack_code, error_code, location)
    assert err.header is not None and err.header.sending_facility == "HOSP_A"
