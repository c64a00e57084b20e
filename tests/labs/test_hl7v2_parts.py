"""Character set choice, escapes, ranges, timestamps, row classification, errors and the ACK builder."""
import datetime as dt
from decimal import Decimal

import hl7
import pytest

from server.labs.messages.hl7v2 import (
    HL7MessageError,
    MessageHeader,
    build_ack,
    choose_encoding,
    exclusion_reason,
    parse_hl7_time,
    parse_oru,
    parse_reference_range,
    read_header,
    unescape,
)

SEPS = "\r|~^&"


def oru(*segments: str, msh: str = "MSH|^~\\&|LIS|HOSP|GPO|CLINIC|20250101120000||ORU^R01|C1|P|2.5") -> str:
    """A small ORU with PID and OBR prepended to the given OBX/other segments."""
    return "\r".join([msh, "PID|1||P1^^^^MR||Wang^Fang||19800101|F", "OBR|1||F1|GLU^Glucose^L", *segments])


# --- character sets -------------------------------------------------------------------------------

def test_msh18_gb18030_is_used_when_it_decodes():
    raw = oru("OBX|1|NM|GLU^血糖^L||5.0|mmol/L|3.9-6.1|N|||F",
              msh="MSH|^~\\&|LIS|HOSP|||20250101||ORU^R01|C1|P|2.5||||||GB 18030-2000").encode("gb18030")
    text, codec, reason = choose_encoding(raw)
    assert (codec, reason) == ("gb18030", "MSH-18 'GB 18030-2000'") and "血糖" in text


def test_unknown_msh18_is_reported_and_detection_used():
    raw = oru(msh="MSH|^~\\&|LIS|HOSP|||20250101||ORU^R01|C1|P|2.5||||||KLINGON").encode()
    _, codec, reason = choose_encoding(raw)
    assert (codec, reason) == ("utf-8", "MSH-18 'KLINGON' is not a known charset; bytes are valid UTF-8")


def test_bytes_that_are_neither_utf8_nor_gb18030_are_replaced_and_counted():
    raw = oru("OBX|1|ST|X^Remark text^L||ab\x80\xffcd|||A|||F").encode("latin-1")
    _, codec, reason = choose_encoding(raw)
    assert codec == "gb18030" and reason.endswith("undecodable sequences replaced")


def test_facility_names_are_compared_in_the_facility_charset():
    # A facility configured by its Chinese name matches the GBK bytes of MSH-4.
    raw = oru(msh="MSH|^~\\&|LIS|东院|||20250101||ORU^R01|C1|P|2.5").encode("gbk")
    _, codec, reason = choose_encoding(raw, {"东院": "gbk"})
    assert (codec, reason) == ("gbk", "facility setting for 东院")


def test_facility_setting_that_fails_falls_through():
    raw = oru(msh="MSH|^~\\&|LIS|HOSP|||20250101||ORU^R01|C1|P|2.5", ).encode("gbk") + "张".encode("gbk")
    _, codec, reason = choose_encoding(raw, {"HOSP": "ascii"})
    assert codec == "gb18030" and reason.startswith("facility setting ascii for HOSP did not decode cleanly")


def chinese_oru(charset: str, name: str = "张三", panel: str = "生化", item: str = "钾") -> str:
    """An ORU with MSH-18 set to charset and the given patient name, panel name and row name."""
    return "\r".join([
        f"MSH|^~\\&|LIS|HOSP|GPO|CLINIC|20250101120000||ORU^R01|C1|P|2.5||||||{charset}",
        f"PID|1||P1^^^^MR||{name}||19800101|F", f"OBR|1||F1|CHEM^{panel}^L",
        f"OBX|1|NM|K^{item}^L||4.1|mmol/L|3.5-5.5|N|||F"])


@pytest.mark.parametrize("declared", ["GBK", "GB18030", "GB 18030-2000"])
def test_gbk_msh18_over_utf8_bytes_is_overruled(declared):
    msg = parse_oru(chinese_oru(declared).encode("utf-8"))
    assert (msg.encoding, msg.charset_declared) == ("utf-8", declared)
    assert msg.encoding_reason == (f"MSH-18 {declared!r} but the bytes are valid UTF-8 ideographs; "
                                   "bytes are valid UTF-8")
    assert (msg.patient.name, msg.reports[0].panel_name, msg.results[0].name) == ("张三", "生化", "钾")


@pytest.mark.parametrize("name, panel, item, valid_utf8", [
    ("张三", "生化", "钾", False),  # GBK text of any length is practically never UTF-8
    ("谢伟", "CHEM", "K", True),  # a lone short name can be ("лΰ"), but never reads as ideographs
])
def test_gbk_msh18_over_gbk_bytes_is_kept(name, panel, item, valid_utf8):
    raw = chinese_oru("GBK", name, panel, item).encode("gbk")
    try:
        raw.decode("utf-8")
        is_utf8 = True
    except UnicodeDecodeError:
        is_utf8 = False
    assert is_utf8 is valid_utf8
    msg = parse_oru(raw)
    assert (msg.encoding, msg.encoding_reason, msg.patient.name) == ("gbk", "MSH-18 'GBK'", name)


def test_facility_setting_still_wins_over_a_utf8_reading():
    # Staff set a facility's charset to override what its bytes seem to be; MSH-18 and detection do not.
    raw = chinese_oru("UNICODE UTF-8", "谢伟", "CHEM", "K").encode("gbk")
    text, codec, reason = choose_encoding(raw, {"HOSP": "gbk"})
    assert (codec, reason) == ("gbk", "facility setting for HOSP") and "谢伟" in text


# --- escapes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("escaped, plain", [
    ("10\\S\\9/L", "10^9/L"),
    ("a\\F\\b\\R\\c\\T\\d\\E\\e", "a|b~c&d\\e"),
    ("line1\\.br\\line2", "line1\nline2"),
    ("\\H\\bold\\N\\", "bold"),
    ("x\\X41\\y", "xAy"),
    ("C:\\no end", "C:\\no end"),  # an unterminated escape is kept literally
])
def test_unescape(escaped, plain):
    assert unescape(escaped, SEPS, "\\", "utf-8") == plain


def test_hex_escape_is_decoded_in_the_message_charset():
    assert unescape("\\XD5C5\\", SEPS, "\\", "gb18030") == "张"
    assert unescape("\\XE5BCA0\\", SEPS, "\\", "utf-8") == "张"
    # python-hl7's own unescape maps each byte to a code point, which is why we do not use it here.
    assert hl7.parse("MSH|^~\\&|\rOBX|1|ST|X||\\XE5BCA0\\").segment("OBX").extract_field(1, 5) != "张"


# --- reference ranges -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, sex, low, high", [
    ("3.5-5.5", "U", "3.5", "5.5"),
    ("3.5 - 5.5 mmol/L", "U", "3.5", "5.5"),
    ("-3-3", "U", "-3", "3"),
    ("３．５～５．５", "U", "3.5", "5.5"),  # full-width, as some Chinese systems send
    ("(0.00-0.10)", "U", "0.00", "0.10"),
    ("<5", "U", None, "5"),
    ("<=5", "U", None, "5"),
    (">=60", "U", "60", None),
    ("≥60", "U", "60", None),
    ("<9 mcg/dL: acceptable", "U", None, "9"),
    ("<200 desirable; 200-239 borderline; >=240 high", "U", None, "200"),
    ("M:130-175;F:115-150", "M", "130", "175"),
    ("M:130-175;F:115-150", "F", "115", "150"),
    ("男 130-175 女 115-150", "F", "115", "150"),
    ("男：130～175；女：115～150", "M", "130", "175"),
    ("Male 40-50, Female 35-45", "F", "35", "45"),
    ("M:130-175;F:115-150", "U", None, None),  # unknown sex: no bounds, both kept
    ("<1:200", "U", None, None),  # a titre, not a bound of 1
    ("阴性", "U", None, None),
    ("10.5", "U", None, None),
])
def test_reference_ranges(text, sex, low, high):
    ref = parse_reference_range(text, sex)
    assert ref.text == text
    assert ref.low == (Decimal(low) if low else None)
    assert ref.high == (Decimal(high) if high else None)


def test_sex_specific_range_keeps_both():
    assert parse_reference_range("男 130-175 女 115-150", "U").by_sex == {"M": "130-175", "F": "115-150"}


def test_unit_letters_are_not_sex_markers():
    assert parse_reference_range("80-100 fL").by_sex == {}


# --- timestamps -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2025", dt.datetime(2025, 1, 1)),
    ("202503", dt.datetime(2025, 3, 1)),
    ("20250302", dt.datetime(2025, 3, 2)),
    ("202503021015", dt.datetime(2025, 3, 2, 10, 15)),
    ("20250302101530.25", dt.datetime(2025, 3, 2, 10, 15, 30, 250000)),
    ("20250302101530+0800", dt.datetime(2025, 3, 2, 10, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))),
    ("2025-03-02 10:15:30", dt.datetime(2025, 3, 2, 10, 15, 30)),
    ("", None),
])
def test_hl7_timestamps(text, expected):
    assert parse_hl7_time(text) == expected


def test_bad_timestamp_is_a_warning_not_a_rejection():
    msg = parse_oru(oru("OBX|1|NM|GLU^Glucose^L||5.0|mmol/L|3.9-6.1|N|||F|||2025-99-99x").encode())
    assert msg.results[0].observed_at is None
    assert msg.warnings == ["OBX-14: unreadable timestamp '2025-99-99x' ignored"]


# --- which rows are results -----------------------------------------------------------------------

@pytest.mark.parametrize("value_type, code, name, value, unit, range_text, flags, excluded", [
    ("ED", "15000", "WBC Histogram", "^Application^Octet-stream^Base64^AA==", "", "", [], True),
    ("NM", "30525-0", "Age", "35", "yr", "", [], True),
    ("IS", "08001", "Take Mode", "O", "", "", [], True),
    ("IS", "01002", "Ref Group", "Common", "", "", [], True),
    ("IS", "12045", "Multiple alerts", "F", "", "", [], True),
    ("IS", "X", "Blood group", "A", "", "A/B/O/AB", [], False),  # a range makes it a result
    ("IS", "BT", "血型", "A", "", "", [], False),  # a coded result without unit or range is still one
    ("IS", "RH", "Rh(D)血型", "阳性", "", "", [], False),
    ("ST", "01001", "Remark", "Normal", "", "", [], True),
    ("ST", "REM", "备注", "", "", "", [], True),
    ("ST", "REM", "备注", "标本轻度溶血", "", "", [], False),  # haemolysis: read the potassium with care
    ("TX", "NOTE", "Lab comment", "", "", "", [], True),
    ("TX", "NOTE", "Lab comment", "请结合临床", "", "", [], False),
    ("ST", "PRO", "尿蛋白", "阴性", "", "阴性", [], False),
    ("ST", "PRO", "尿蛋白", "+", "", "", ["A"], False),  # abnormal flag: a result
    ("ST", "HBSAG", "HBsAg", "阴性", "", "", [], False),  # no unit or range but not named like a setting
    ("NM", "GLU", "Glucose", "", "", "", [], False),  # an incomplete NM row is still a result
])
def test_exclusion_rule(value_type, code, name, value, unit, range_text, flags, excluded):
    assert bool(exclusion_reason(value_type, code, name, value, unit, range_text, flags)) is excluded


def test_blood_group_and_a_specimen_remark_reach_the_report():
    msg = parse_oru(oru("OBX|1|IS|BT^血型^L||A||||||F", "OBX|2|ST|REM^备注^L||标本轻度溶血||||||F",
                        "OBX|3|IS|08001^Take Mode^99MRC||O||||||F").encode())
    (rep,) = msg.reports
    assert [(r.name, r.value_text, r.value_type) for r in rep.results] == [
        ("血型", "A", "IS"), ("备注", "标本轻度溶血", "ST")]
    assert [x.name for x in rep.excluded] == ["Take Mode"]


def test_numbers_the_result_column_cannot_hold_stay_text():
    msg = parse_oru(oru("OBX|1|NM|A^A^L||1e20|mmol/L|3.5-5.5|N|||F",
                        "OBX|2|NM|B^B^L||99999999999999999999|mmol/L|3.5-5.5|N|||F",
                        "OBX|3|NM|C^C^L||4.1|mmol/L|0-100000000000000000000|N|||F",
                        "OBX|4|NM|D^D^L||0.00000012|mg/L|0-1|N|||F",
                        "OBX|5|SN|E^E^L||<^0.00000001|mg/L|0-0.0000005|N|||F",
                        "OBX|6|NM|F^F^L||4.1|mmol/L|3.5-5.5|N|||F").encode())
    rows = msg.results
    assert [(r.value_text, r.value_num) for r in rows] == [
        ("1e20", None), ("99999999999999999999", None), ("4.1", Decimal("4.1")), ("0.00000012", None),
        ("<0.00000001", None), ("4.1", Decimal("4.1"))]
    assert [(r.range_text, r.range_low, r.range_high) for r in rows[2:5]] == [
        ("0-100000000000000000000", None, None), ("0-1", Decimal("0"), Decimal("1")),
        ("0-0.0000005", None, None)]
    assert (rows[5].range_low, rows[5].range_high) == (Decimal("3.5"), Decimal("5.5"))
    tail = (" does not fit the result column (more than 14 digits before the point or 6 after it): "
            "kept as text only")
    assert msg.warnings == [f"OBX^{n}: OBX-{field}{tail}" for n, field in (
        (1, "5"), (2, "5"), (3, "7 high"), (4, "5"), (5, "5"), (5, "7 high"))]


# --- tolerated oddities -----------------------------------------------------------------------------

def test_raw_line_break_inside_a_text_value_is_kept():
    msg = parse_oru(oru("OBX|1|TX|C^Glucose interpretation^L||first line\nsecond line||||||F").encode())
    assert msg.results[0].value_text == "first line\nsecond line"
    assert msg.warnings == ["line break inside OBX kept as text"]


def test_nm_with_comparator_and_nm_with_text():
    msg = parse_oru(oru("OBX|1|NM|A^HbA1c^L||<4.0|%|4.0-6.0|L|||F",
                        "OBX|2|NM|B^HBsAg^L||阴性||阴性|N|||F").encode())
    a, b = msg.results
    assert (a.value_num, a.comparator) == (Decimal("4.0"), "<")
    assert (b.value_num, b.value_text) == (None, "阴性")
    assert msg.warnings == ["OBX-5 '阴性' is not a number although OBX-2 is NM; kept as text"]


def test_obx11_empty_takes_obr25_with_a_warning():
    raw = "\r".join(["MSH|^~\\&|L|H|||20250101||ORU^R01|C1|P|2.5", "PID|1||P1||N",
                     "OBR|1||F1|G^G^L" + "|" * 21 + "F",
                     "OBX|1|NM|GLU^Glucose^L||5.0|mmol/L"]).encode()
    msg = parse_oru(raw)
    assert msg.reports[0].status == "F" and msg.results[0].status == "F"
    assert msg.warnings == ["OBX^1: OBX-11 empty, took status F from OBR-25"]


def test_utf8_bom_and_leading_blank_lines_are_tolerated():
    msg = parse_oru(b"\xef\xbb\xbf\r\n" + oru("OBX|1|NM|GLU^Glucose^L||5.0|mmol/L|3.9-6.1|N|||F").encode())
    assert msg.results[0].value_num == Decimal("5.0")


# --- rejections -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, ack_code, error_code", [
    (b"", "AR", "100"),
    (b"hello world, not hl7", "AR", "100"),
    (b"\x00\x01\x02garbage", "AR", "100"),
    (b"FHS|^~\\&|A\rBHS|^~\\&|A\rMSH|^~\\&|A", "AR", "100"),
    ((oru("OBX|1|NM|G^G^L||1") + "\r" + oru("OBX|1|NM|G^G^L||1")).encode(), "AR", "100"),
    (oru(msh="MSH|^~\\&|L|H|||20250101||ORU^R30|C1|P|2.5").encode(), "AR", "201"),
    (oru(msh="MSH|^~\\&|L|H|||20250101||ORU^R01|C1|P|3.0").encode(), "AR", "203"),
    ("MSH|^~\\&|L|H|||20250101||ORU^R01|C1|P|2.5\rOBR|1||F1|G^G^L".encode(), "AE", "100"),
    ("MSH|^~\\&|L|H|||20250101||ORU^R01|C1|P|2.5\rPID|1||P1".encode(), "AE", "100"),
    (oru("OBX|1|NM|||5.0").encode(), "AE", "101"),
    (oru("OBX|1|NM|G^G^L||1", "PID|2||P2").encode(), "AE", "100"),
])
def test_rejections_carry_ack_codes(raw, ack_code, error_code):
    with pytest.raises(HL7MessageError) as caught:
        parse_oru(raw)
    assert (caught.value.ack_code, caught.value.error_code) == (ack_code, error_code)
    assert caught.value.reason


def test_parse_oru_wants_bytes():
    with pytest.raises(TypeError):
        parse_oru(oru())


# --- ACK ------------------------------------------------------------------------------------------

NOW = dt.datetime(2025, 3, 2, 11, 0, 5)


def test_aa_ack_exact_bytes(fixture_message):
    msg = parse_oru(fixture_message("utf8-escapes-criticals-cr.hl7"))
    ack = build_ack(msg, "AA", control_id="ACK-1", now=NOW)
    assert ack == (b"MSH|^~\\&|GPO|CLINIC|LIS|HOSP_B|20250302110005||ACK^R01^ACK|ACK-1|P|2.5.1"
                   b"||||||UNICODE UTF-8\r"
                   b"MSA|AA|B-1001|\r")


def test_ae_ack_is_in_the_inbound_charset_with_escaped_text(fixture_message):
    msg = parse_oru(fixture_message("gbk-no-msh18-crlf.hl7"))
    ack = build_ack(msg, "AE", "存储失败|重试^稍后", control_id="A2", now=NOW)
    assert b"\n" not in ack and ack.endswith(b"\r")
    text = ack.decode("gb18030")
    parsed = hl7.parse(text)
    msa = parsed.segment("MSA")
    assert (str(msa[1]), str(msa[2])) == ("AE", "GBK0001")
    assert msa.extract_field(1, 3) == "存储失败|重试^稍后"  # escaped on the way out, unescaped by hl7
    assert str(parsed.segment("MSH")[12]) == "2.4"


def test_reject_ack_from_error_v25_has_err_segment():
    with pytest.raises(HL7MessageError) as caught:
        parse_oru(oru("OBX|1|NM|||5.0").encode())
    ack = build_ack(caught.value, "AE", control_id="A3", now=NOW).decode()
    segments = ack.rstrip("\r").split("\r")
    assert segments[1] == "MSA|AE|C1|OBX-3 observation identifier is missing"
    assert segments[2] == ("ERR||OBX^1^3|101^Required field missing^HL70357|E||||"
                           "OBX-3 observation identifier is missing")


def test_reject_ack_v23_uses_err1_and_short_message_type():
    raw = "\r".join(["MSH|^~\\&|L|H|G|C|20250101||ADT^A01|Q9|P|2.3", "PID|1||P1"]).encode()
    with pytest.raises(HL7MessageError) as caught:
        parse_oru(raw)
    ack = build_ack(caught.value, "AR", control_id="A4", now=NOW).decode()
    assert ack == ("MSH|^~\\&|G|C|L|H|20250302110005||ACK^A01|A4|P|2.3\r"
                   "MSA|AR|Q9|message type ADT is not ORU\r"
                   "ERR|MSH^1^9^200&Unsupported message type&HL70357\r")


def test_ack_for_garbage_still_parses():
    with pytest.raises(HL7MessageError) as caught:
        parse_oru(b"garbage")
    ack = build_ack(caught.value, "AR", control_id="A5", now=NOW)
    parsed = hl7.parse(ack.decode())
    assert str(parsed.segment("MSA")[1]) == "AR" and str(parsed.segment("MSA")[2]) == ""


def test_ack_from_header_and_bad_code():
    header = read_header(oru().encode())
    assert isinstance(header, MessageHeader) and header.control_id == "C1"
    assert b"MSA|AA|C1|" in build_ack(header, control_id="A6")
    with pytest.raises(ValueError):
        build_ack(header, "OK", control_id="A7")
    assert read_header(b"nothing") is None


@pytest.mark.parametrize("value, text, number, comparator", [
    ("^1^+", "1+", None, ""),  # graded, not the number 1
    ("^2^-^5", "2-5", None, ""),
    (">^1000", ">1000", Decimal("1000"), ">"),
    ("<0.5", "<0.5", Decimal("0.5"), "<"),  # SN sent without components
])
def test_structured_numeric_forms(value, text, number, comparator):
    row = parse_oru(oru(f"OBX|1|SN|X^Titre^L||{value}|U|<5|N|||F").encode()).results[0]
    assert (row.value_text, row.value_num, row.comparator) == (text, number, comparator)


# --- robustness: whatever follows a valid MSH, the only exception is HL7MessageError -------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(["|", "^", "~", "&", "\\", "\r", "\n", "PID", "OBR", "OBX", "SPM", "ZZZ", "NM", "SN",
                           "CE", "ED", "IS", "\\S\\", "\\X", "\\.br\\", "5.0", "<", "3.5-5.5", "男", "HH", "F",
                           "20250101", "9999999999999", "", " ", "\x00", "张"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=60), st.sampled_from(["utf-8", "gb18030"]))
def test_parse_oru_only_raises_its_own_error(pieces, encoding):
    raw = (oru() + "".join(pieces)).encode(encoding)
    try:
        parse_oru(raw)
    except HL7MessageError as err:
        assert err.ack_code in ("AE", "AR") and err.header is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.binary(max_size=8))
def test_random_bytes_only_raise_its_own_error(tail, head):
    base = oru().encode()
    for raw in (base + tail, head + base, base[:4] + tail):  # base[:4] + tail: broken MSH-2 delimiters
        try:
            parse_oru(raw)
        except HL7MessageError:
            pass


def test_unusable_delimiters_are_rejected():
    with pytest.raises(HL7MessageError) as caught:
        parse_oru(b"MSH|\x00\x00\x00\x00|L|H")
    assert (caught.value.ack_code, caught.value.error_code, caught.value.location) == ("AR", "102", "MSH^1^2")
