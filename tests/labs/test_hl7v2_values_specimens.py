"""Issue 14, lab fixes: composite values stored as words, specimen codes stored as their text.

Each test is built from the message that showed the fault: an FN value stored as `^182` with the raw
component separator; a specimen printed as its bare code (`SER` from the demo's OBR-15, `122554006` from a
v2.5 SPM-4 without text).
"""
import pytest

from server.labs.messages.hl7v2 import parse_oru
from server.labs.messages.specimens import specimen_text

HEAD = ("MSH|^~\\&|LIS|HOSP_B|GPO|CLINIC|20261205093000||ORU^R01^ORU_R01|V-14|P|2.5.1|||||CHN|UNICODE UTF-8",
        "PID|1||11010519491231002X^^^^ID||张三||19491231|M")
OBR = "OBR|1|ORD-7|LAB-7|CHEM^生化^L|||20261205070000|||||||20261205073000|{obr15}|||||||20261205091500|||F"


def message(*segments: str, obr15: str = "SER^血清") -> bytes:
    return ("\r".join([*HEAD, OBR.format(obr15=obr15), *segments]) + "\r").encode()


def test_fn_value_is_stored_without_the_component_separator():
    msg = parse_oru(message("OBX|1|FN|FAM^家族史^L||^182||||||F"))
    (row,) = msg.results
    assert row.value_text == "182" and "^" not in row.value_text


@pytest.mark.parametrize("value_type, value, stored", [
    ("FN", "ZHANG", "ZHANG"),
    ("XPN", "ZHANG^SAN", "ZHANG SAN"),  # family name first, as PID-5 names are stored
    ("XPN", "张^三", "张三"),  # Chinese names without a space
    ("XPN", "ZHANG^SAN~张^三", "ZHANG SAN; 张三"),  # repetitions
    ("XCN", "0101^李^明", "李明"),  # ID^family^given: the person, not the ID
    ("MO", "12.50^CNY", "12.50 CNY"),
    ("XAD", "紫云路88号^^合肥^安徽", "紫云路88号 合肥 安徽"),
])
def test_composite_values_read_as_words(value_type, value, stored):
    (row,) = parse_oru(message(f"OBX|1|{value_type}|X^项目^L||{value}||||||F")).results
    assert row.value_text == stored


@pytest.mark.parametrize("value_type, value, stored", [
    ("ST", "10^9/L", "10^9/L"),  # an unescaped "^" inside one string is the sender's character
    ("TX", "a^b", "a^b"),
    ("NM", "5.0", "5.0"),
])
def test_single_string_types_keep_what_was_sent(value_type, value, stored):
    (row,) = parse_oru(message(f"OBX|1|{value_type}|X^项目^L||{value}||||||F")).results
    assert row.value_text == stored


@pytest.mark.parametrize("obr15, spm, stored", [
    ("SER^血清", "", "血清"),  # the demo's OBR-15: the code in SPS-1, "血清" in SPS-2 (additives)
    ("SER", "", "血清"),  # a bare table 0487 code
    ("SER&Serum specimen&HL70487", "", "Serum specimen"),  # the sender's own text wins
    ("BLDV", "", "静脉血"),
    ("", "SPM|1|||122554006^^SCT", "末梢血"),  # v2.5 SPM-4 with a SNOMED CT code only
    ("", "SPM|1|||122554006", "末梢血"),  # digits only: SNOMED CT
    ("", "SPM|1|||119364003^Serum specimen^SCT", "Serum specimen"),
    ("", "SPM|1|||XYZ^^L", "XYZ"),  # unknown: kept as sent, rather than an empty specimen line
    ("", "", ""),
])
def test_specimen_is_stored_as_its_text(obr15, spm, stored):
    segments = ["OBX|1|NM|K^钾^L||4.1|mmol/L|3.5-5.5|N|||F"] + ([spm] if spm else [])
    (report,) = parse_oru(message(*segments, obr15=obr15)).reports
    assert report.specimen_type == stored


def test_specimen_text_prefers_our_chinese_over_the_code_systems_english_display():
    # FHIR Specimen.type: {"system": ".../v2-0487", "code": "SER", "display": "Serum"} (bundle-chem-r4.json)
    assert specimen_text("SER", "", "http://terminology.hl7.org/CodeSystem/v2-0487", "Serum") == "血清"
    assert specimen_text("999", "", "http://snomed.info/sct", "Odd specimen") == "Odd specimen"
    assert specimen_text("", "", "", "") == ""


@pytest.mark.parametrize("code, system, text", [
    # HL7 v2 table 0487 / 0070 (v2.8.2): the clean-catch code is not any midstream urine.
    ("URC", "HL70487", "清洁中段尿"), ("URINM", "HL70487", "中段尿"), ("BLDC", "HL70070", "末梢血"),
    ("THRT", "HL70070", "咽拭子"), ("WB", "HL70487", "全血"), ("PLR", "HL70487", "胸水"),
    # SNOMED CT (International 2022-07-31): preferred terms "Whole blood specimen", "Cerebrospinal fluid
    # specimen", "Capillary blood specimen".
    ("258580003", "http://snomed.info/sct", "全血"), ("258450006", "SCT", "脑脊液"),
    ("122554006", "SNOMED", "末梢血"),
])
def test_specimen_codes_checked_against_their_code_systems(code, system, text):
    assert specimen_text(code, "", system) == text
