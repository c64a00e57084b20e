"""Lab reports for teams: scoped like residents, newest first, critical first, seen; printed by `printing`."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import printing
from server.audit.models import AuditEvent
from server.households.models import Resident
from server.labs import services
from server.labs.models import LabReport

TEAMS = ("A1", "A2", "A0", "B1")
USERS = ("admin", "staff-a", "staff-b", "spec", "gp-a1", "nurse-a1", "gp-a2", "gp-b1", "nurse-b1")
SEES = {"admin": set(TEAMS), "staff-a": {"A1", "A2", "A0"}, "staff-b": {"B1"}, "spec": set(),
        "gp-a1": {"A1"}, "nurse-a1": {"A1"}, "gp-a2": {"A2"}, "gp-b1": {"B1"}, "nurse-b1": {"B1"}}


def _obr(filler, reported, status="F"):
    return f"OBR|1||{filler}|CHEM^生化^L|||20250302070000|||||||20250302073000|SER^血清|||||||{reported}|||{status}" \
           "|||||||0101&李&明||0202&王&强"


def _file(session, world, make_oru, post_hl7, key, n, *, reported="20250302105500", critical=False):
    """A report for resident <key>-0-0, matched by ID number; returns the report id."""
    res = session.get(Resident, world.residents[f"{key}-0-0"])
    sex = {"1": "M", "2": "F"}[res.sex]
    flag = "HH" if critical else "N"
    pid = f"PID|1||{res.id_number}^^^^ID~X^^^^MR||{res.name}||{res.birth_date:%Y%m%d}|{sex}"
    raw = make_oru(f"{key}-{n}", pid=pid,
                   obr=_obr(f"{key}-ORD-{n}", reported),
                   obx=[f"OBX|1|NM|K^钾^L||{'6.8' if critical else '4.1'}|mmol/L|3.5-5.5|{flag}|||F"])
    assert post_hl7(raw).status_code == 200
    session.expire_all()
    return session.scalar(select(LabReport.id).where(LabReport.filler_no == f"{key}-ORD-{n}"))


@pytest.fixture
def reports(session, world, make_oru, post_hl7):
    """One report for the first resident of each team key."""
    return {key: _file(session, world, make_oru, post_hl7, key, 1) for key in TEAMS}


def test_every_user_sees_exactly_their_scope(reports, world, as_user):
    for user in USERS:
        c = as_user(user)
        listed = c.get("/api/v1/lab-reports?page_size=100")
        if user == "spec":
            assert listed.status_code == 403
        else:
            assert {r["id"] for r in listed.get_json()["items"]} == {reports[k] for k in SEES[user]}, user
        for key in TEAMS:
            one = c.get(f"/api/v1/lab-reports/{reports[key]}")
            mine = c.get(f"/api/v1/residents/{world.residents[key + '-0-0']}/lab-reports")
            if key in SEES[user]:
                assert one.status_code == 200 and mine.status_code == 200, (user, key)
                assert [r["id"] for r in mine.get_json()["items"]] == [reports[key]]
            else:
                assert one.status_code in (403, 404) and mine.status_code in (403, 404), (user, key)
                assert set(one.get_json()) <= {"code", "status", "message", "errors"}
            seen = c.post(f"/api/v1/lab-reports/{reports[key]}/seen")
            if user.startswith(("gp", "nurse")) and key in SEES[user]:
                assert seen.status_code == 200
            else:
                assert seen.status_code in (403, 404), (user, key, seen.get_json())


def test_resident_reports_newest_first_and_critical_first(session, world, make_oru, post_hl7, as_user):
    old = _file(session, world, make_oru, post_hl7, "A1", 1, reported="20250101090000")
    new = _file(session, world, make_oru, post_hl7, "A1", 2, reported="20250301090000")
    crit = _file(session, world, make_oru, post_hl7, "A1", 3, reported="20250201090000", critical=True)
    gp = as_user("gp-a1")
    mine = gp.get(f"/api/v1/residents/{world.residents['A1-0-0']}/lab-reports").get_json()["items"]
    assert [r["id"] for r in mine] == [new, crit, old]
    listed = gp.get("/api/v1/lab-reports?new=true").get_json()["items"]
    assert [r["id"] for r in listed] == [crit, new, old]
    assert listed[0]["critical"] is True and all(r["new"] for r in listed)
    gp.post(f"/api/v1/lab-reports/{crit}/seen")
    assert [r["id"] for r in gp.get("/api/v1/lab-reports?new=true").get_json()["items"]] == [new, old]
    everything = gp.get("/api/v1/lab-reports").get_json()["items"]
    assert [(r["id"], r["new"]) for r in everything] == [(crit, False), (new, True), (old, True)]
    assert [r["id"] for r in gp.get("/api/v1/lab-reports?critical=true").get_json()["items"]] == [crit]


def test_report_has_what_the_printed_report_needs_and_reads_are_logged(session, world, make_oru, post_hl7, as_user):
    report_id = _file(session, world, make_oru, post_hl7, "A1", 1, critical=True)
    rep = as_user("gp-a1").get(f"/api/v1/lab-reports/{report_id}").get_json()
    res = session.get(Resident, world.residents["A1-0-0"])
    assert rep["patient"] == {"resident_id": res.id, "name": "张三", "sex": "1", "sex_label": "男", "age": 74,
                              "birth_date": "1950-03-14", "record_number": res.record_number}
    assert (rep["specimen_type"], rep["tester"], rep["reviewer"], rep["hospital_name"]) == (
        "血清", "王强", "李明", "市一医院")
    assert rep["specimen_received_at"].startswith("2025-03-01T23:30:00")  # 07:30 China time
    assert rep["reported_at"].startswith("2025-03-02T02:55:00")
    (k,) = rep["results"]
    assert (k["name"], k["value_text"], k["unit"], k["range_text"], k["flags"], k["critical"]) == (
        "钾", "6.8", "mmol/L", "3.5-5.5", ["HH"], True)
    logged = session.scalars(select(AuditEvent).where(AuditEvent.entity == "lab_report")).all()
    assert [(e.action, e.username, e.resident_id) for e in logged] == [("read", "gp-a1", res.id)]


def test_printing_adapter_renders(session, world, make_oru, post_hl7, clean_app):
    report_id = _file(session, world, make_oru, post_hl7, "A1", 1, critical=True)
    rep = session.get(LabReport, report_id)
    res = session.get(Resident, rep.resident_id)
    printable = services.printable(rep, res)
    assert isinstance(printable, printing.LabReport)
    assert printable.patient.name == "张三" and printable.patient.age == 74
    assert printable.received_at == dt.datetime(2025, 3, 2, 7, 30)  # local time on paper
    assert printable.results[0].abnormal_flag is printing.AbnormalFlag.CRITICAL_HIGH
    data = printing.lab_report(printable, printing.PrinterSettings())
    shown = printing.preview(data).text
    assert "张三" in shown and "钾" in shown and "6.8" in shown and "王强" in shown


def test_a_very_abnormal_flag_prints_as_a_critical_value(session, world, make_oru, post_hl7, clean_app):
    """AA (HL7 table 0078, very abnormal: the critical value of a result without a direction) is critical in
    the stored report, so the paper shows it in the 危急值 section too, not as a plain abnormal '*'."""
    res = session.get(Resident, world.residents["A1-0-0"])
    raw = make_oru("A1-AA", pid=f"PID|1||{res.id_number}^^^^ID||{res.name}||{res.birth_date:%Y%m%d}|M",
                   obr=_obr("A1-ORD-AA", "20250302105500"),
                   obx=["OBX|1|ST|BC^血培养^L||阳性|||AA|||F", "OBX|2|ST|UPRO^尿蛋白^L||+|||A|||F"])
    assert post_hl7(raw).status_code == 200
    session.expire_all()
    rep = session.scalar(select(LabReport).where(LabReport.filler_no == "A1-ORD-AA"))
    assert rep.critical and [(r.code, r.critical) for r in services.current_results(rep)] == [
        ("BC", True), ("UPRO", False)]
    printable = services.printable(rep, res)
    assert [r.abnormal_flag for r in printable.results] == [printing.AbnormalFlag.CRITICAL_ABNORMAL,
                                                             printing.AbnormalFlag.ABNORMAL]
    shown = printing.preview(printing.lab_report(printable, printing.PrinterSettings())).text
    critical_section = shown[shown.index("危急值"):]
    assert "血培养 阳性 **" in critical_section and "尿蛋白" not in critical_section


def test_the_printed_flag_follows_the_stored_critical_value():
    from server.labs.models import LabResultRow

    def flag(flags, critical):
        return services._print_flag(LabResultRow(flags=flags, critical=critical, abnormal=flags != ["N"]))

    assert (flag(["HH"], True), flag(["L", "LL"], True), flag(["AA"], True), flag(["N"], False)) == (
        "HH", "LL~L", "AA", "")
    # Critical by a flag printing does not know: printed as very abnormal, so the 危急值 section lists it.
    assert flag(["HU"], True) == "AA"
    # Stored as not critical: the paper must not list it as a critical value.
    assert flag(["HH"], False) == "H"


# --- GET /lab-reports/{id}/receipt (issue 14, print from records) -------------------------------------------

@pytest.mark.parametrize("width", [58, 80])
@pytest.mark.parametrize("mode", ["chinese", "raster"])
def test_receipt_bytes_are_the_printable_report_for_the_printer_asked(session, world, make_oru, post_hl7, as_user,
                                                                       width, mode):
    report_id = _file(session, world, make_oru, post_hl7, "A1", 1, critical=True)
    r = as_user("gp-a1").get(f"/api/v1/lab-reports/{report_id}/receipt?width={width}&mode={mode}")
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    assert r.headers["Content-Disposition"] == f'attachment; filename="lab-report-{width}mm-{mode}.bin"'
    rep = session.get(LabReport, report_id)
    settings = printing.PrinterSettings(width=printing.PaperWidth.from_mm(width),
                                        mode={"chinese": printing.ChineseMode.TEXT,
                                              "raster": printing.ChineseMode.RASTER}[mode])
    assert r.data == printing.lab_report(services.printable(rep, session.get(Resident, rep.resident_id)), settings)
    if mode == "chinese":
        shown = printing.preview(r.data, printing.PaperWidth.from_mm(width)).text
        assert "张三" in shown and "6.8" in shown and "标本：血清" in shown.replace(" ", "")
        assert "报告编号：A1-ORD-1" in shown  # the hospital's number; the QR code carries the record id


def test_receipt_preview_is_a_png_of_the_paper_width(session, world, make_oru, post_hl7, as_user):
    from PIL import Image
    import io

    report_id = _file(session, world, make_oru, post_hl7, "A1", 1)
    r = as_user("gp-a1").get(f"/api/v1/lab-reports/{report_id}/receipt?format=png&width=80")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert Image.open(io.BytesIO(r.data)).width == printing.PaperWidth.MM80.dots


def test_receipt_is_scoped_and_audited_like_a_read(reports, world, as_user, session):
    for user in USERS:
        for key in TEAMS:
            r = as_user(user).get(f"/api/v1/lab-reports/{reports[key]}/receipt")
            expected = 403 if user == "spec" else 200 if key in SEES[user] else 404
            assert r.status_code == expected, (user, key, r.get_json() if r.status_code != 200 else "")
    logged = session.scalars(select(AuditEvent).where(AuditEvent.entity == "lab_report",
                                                      AuditEvent.action == "read")).all()
    assert len(logged) == sum(len(SEES[u]) for u in USERS)


@pytest.mark.parametrize("query, field", [("width=57", "width"), ("mode=gbk", "mode"), ("format=pdf", "format")])
def test_receipt_refuses_a_printer_it_cannot_serve(session, world, make_oru, post_hl7, as_user, query, field):
    report_id = _file(session, world, make_oru, post_hl7, "A1", 1)
    r = as_user("gp-a1").get(f"/api/v1/lab-reports/{report_id}/receipt?{query}")
    assert r.status_code == 422 and field in r.get_json()["errors"]["query"]
