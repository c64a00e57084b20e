"""NTE (notes and comments): each goes to the result or report it follows; FHIR notes land in the same place."""
import json

import pytest

from server.labs.messages.fhir import parse_fhir_bundle
from server.labs.messages.hl7v2 import parse_oru

MSH = "MSH|^~\\&|LIS|HOSP|GPO|CLINIC|20250101120000||ORU^R01|C1|P|2.5"
PID = "PID|1||P1^^^^MR||Wang^Fang||19800101|F"
OBR = "OBR|1||F1|LYTE^Electrolytes^L"


def parse(*segments: str):
    return parse_oru(("\r".join([MSH, *segments]) + "\r").encode())


def comments(msg):
    """(report comments, {code: result comments}) of a one-report message."""
    (rep,) = msg.reports
    return rep.comments, {r.code: r.comments for r in rep.results}


@pytest.mark.parametrize("name, codec", [("nte-comments-utf8-cr.hl7", "utf-8"),
                                         ("nte-comments-gbk-crlf.hl7", "gb18030")])
def test_fixture_notes_reach_their_result_and_report(fixture_message, name, codec):
    msg = parse_oru(fixture_message(name))
    assert msg.encoding == codec
    report, results = comments(msg)
    # ORC's note first (it comes first), then OBR's (two repetitions: two lines), then the one after the
    # instrument setting row; the patient's note after PID is not kept anywhere.
    assert report == ["急诊标本", "标本轻度脂血\n请结合临床", "仪器自动稀释后复测"]
    assert results == {
        "K": ["标本溶血，结果仅供参考", "已复查"],  # the empty NTE-3 is skipped
        "NA": ["危急值已电话通知 张医生 10:20\n复核：K&Na^2"],  # \.br\ \T\ \S\ decoded
        "CL": [],
    }
    assert "患者自述未空腹" not in repr(msg)
    assert [e.code for e in msg.reports[0].excluded] == ["MODE"]
    assert any("NTE^8" in w and "OBX 3 (Take Mode)" in w and "on the report" in w for w in msg.warnings)


def test_a_note_after_a_row_that_is_not_a_result_never_lands_on_the_result_before_it():
    msg = parse(PID, OBR, "OBX|1|NM|K^Potassium^L||6.1|mmol/L|3.5-5.5|H|||F",
                "OBX|2|ST|REM^Remark^L||Normal||||||F",  # an empty remark: not a result
                "NTE|1|L|specimen haemolysed")
    report, results = comments(msg)
    assert results == {"K": []} and report == ["specimen haemolysed"]


def test_notes_after_obr_go_to_the_report_and_after_obx_to_that_result_only():
    msg = parse(PID, OBR, "NTE|1|L|report note", "OBX|1|NM|K^K^L||4.1|mmol/L|3.5-5.5|N|||F",
                "NTE|1|L|first", "NTE|2|L|second", "OBX|2|NM|NA^Na^L||140|mmol/L|137-147|N|||F")
    assert comments(msg) == (["report note"], {"K": ["first", "second"], "NA": []})


def test_each_obr_keeps_its_own_notes_and_an_orc_note_goes_to_the_next_obr():
    msg = parse(PID, "ORC|RE||F1", "NTE|1|L|order one", OBR, "OBX|1|NM|K^K^L||4.1|mmol/L||N|||F",
                "ORC|RE||F2", "OBR|2||F2|GLU^Glucose^L", "NTE|1|L|panel two",
                "OBX|1|NM|GLU^GLU^L||5.1|mmol/L||N|||F")
    assert [r.comments for r in msg.reports] == [["order one"], ["panel two"]]
    assert [r.comments for r in msg.results] == [[], []]


def test_a_note_on_the_patient_and_empty_notes_are_not_kept():
    msg = parse(PID, "NTE|1|P|fasting", OBR, "NTE|1|L|", "NTE|2|L|~", "NTE|3",
                "OBX|1|NM|K^K^L||4.1|mmol/L||N|||F", "NTE|1|L|   ")
    assert comments(msg) == ([], {"K": []}) and msg.warnings == []


def test_a_raw_line_break_inside_a_note_is_kept_as_a_new_line():
    raw = "\n".join([MSH, PID, OBR, "OBX|1|NM|K^K^L||6.1|mmol/L||H|||F", "NTE|1|L|标本溶血", "结果仅供参考"])
    msg = parse_oru(raw.encode())
    assert comments(msg)[1] == {"K": ["标本溶血\n结果仅供参考"]}


# --- FHIR ---------------------------------------------------------------------------------------------

def bundle_with_notes(raw: bytes) -> dict:
    """The chemistry bundle with a conclusion on the report and notes (one blank) on the potassium (2823-3)."""
    bundle = json.loads(raw)
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "DiagnosticReport":
            res["conclusion"] = " 标本轻度脂血 "
        elif res["resourceType"] == "Observation" and res["code"]["coding"][0]["code"] == "2823-3":
            res["note"] = [{"text": "标本溶血，结果仅供参考"}, {"text": "  "}, {"text": "已复查"}]
    return bundle


def test_fhir_observation_note_and_report_conclusion(fixture_message):
    (rep,) = parse_fhir_bundle(bundle_with_notes(fixture_message("bundle-chem-r4.json"))).reports
    assert rep.comments == ["标本轻度脂血"]
    assert {r.code: r.comments for r in rep.results if r.comments} == {"2823-3": ["标本溶血，结果仅供参考", "已复查"]}
