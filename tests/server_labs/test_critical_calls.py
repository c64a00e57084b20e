"""A critical value phoned through to the patient, and the call noted (standards section 6): by the team, on the
report, on the printout and in the worklist's order."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

import printing
from server.audit.models import AuditEvent
from server.households.models import Resident
from server.labs import services
from server.labs.models import LabReport

from .test_reports import USERS, _obr

NOTE = "已电话通知患者本人，嘱今日到医院急诊复查"


def _potassium(session, world, make_oru, control_id, key="A1", value="6.8", flag="HH", status="F") -> bytes:
    """A potassium for resident <key>-0-0 (matched by ID number) under order <key>-K."""
    res = session.get(Resident, world.residents[f"{key}-0-0"])
    pid = f"PID|1||{res.id_number}^^^^ID||{res.name}||{res.birth_date:%Y%m%d}|{'M' if res.sex == '1' else 'F'}"
    return make_oru(control_id, pid=pid, obr=_obr(f"{key}-K", "20250302105500", status),
                    obx=[f"OBX|1|NM|K^钾^L||{value}|mmol/L|3.5-5.5|{flag}|||{status}"])


def _send(session, world, make_oru, post_hl7, control_id, key="A1", value="6.8", flag="HH", status="F"):
    """Post _potassium(...); its report."""
    assert post_hl7(_potassium(session, world, make_oru, control_id, key, value, flag, status)).status_code == 200
    session.expire_all()
    return session.scalar(select(LabReport).where(LabReport.filler_no == f"{key}-K"))


def _printed(session, world, rep_id) -> str:
    session.expire_all()
    rep = session.get(LabReport, rep_id)
    res = session.get(Resident, rep.resident_id)
    return printing.preview(printing.lab_report(services.printable(rep, res), printing.PrinterSettings())).text


def _put(client, rep, body: dict, stamp: str | None = None):
    """PUT the call note for the report as last read (its changed_at), unless `stamp` says otherwise."""
    return client.put(f"/api/v1/lab-reports/{rep.id}/critical-call",
                      json={"report_changed_at": stamp or rep.changed_at.isoformat(), **body})


def _flat(text: str) -> str:
    """The printed text without line breaks and indents (the note wraps across lines)."""
    return re.sub(r"\s+", "", text)


def _alert(client, resident_id):
    alerts = client.get("/api/v1/worklist").get_json()["lab_alerts"]["items"]
    return next(a for a in alerts if a["resident_id"] == resident_id)


def test_the_team_notes_the_call_and_the_paper_and_worklist_show_it(session, world, make_oru, post_hl7, as_user):
    rep = _send(session, world, make_oru, post_hl7, "C-1")
    gp = as_user("gp-a1")
    before = gp.get(f"/api/v1/lab-reports/{rep.id}").get_json()
    assert (before["critical"], before["critical_call"], before["critical_call_due"]) == (True, None, True)
    assert "电话通知：未记录" in _printed(session, world, rep.id)
    assert _alert(gp, rep.resident_id)["calls_due"] == 1

    r = _put(as_user("nurse-a1"), rep, {"note": NOTE})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["critical_call"]["note"] == NOTE and body["critical_call_due"] is False
    assert body["critical_call"]["by_user_id"] == world.users["nurse-a1"]
    assert _alert(gp, rep.resident_id)["calls_due"] == 0
    shown = _printed(session, world, rep.id)
    assert "未记录" not in shown and NOTE + "（nurse-a1）" in _flat(shown)
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == rep.id,
                                                          AuditEvent.action == "critical_call")) == "critical_call"


def test_a_call_due_puts_the_resident_first_in_the_worklist(session, world, make_oru, post_hl7, as_user):
    first = _send(session, world, make_oru, post_hl7, "W-1")
    _put(as_user("gp-a1"), first, {"note": NOTE})
    # Another resident's critical value arrives later (newer), with no call noted: they come first.
    other_id = next(rid for key, rid in world.residents.items() if key.startswith("A1-") and rid != first.resident_id)
    res = session.get(Resident, other_id)
    pid = f"PID|1||{res.id_number}^^^^ID||{res.name}||{res.birth_date:%Y%m%d}|{'M' if res.sex == '1' else 'F'}"
    assert post_hl7(make_oru("W-2", pid=pid, obr=_obr("A1-K2", "20250302105500"),
                             obx=["OBX|1|NM|K^钾^L||2.5|mmol/L|3.5-5.5|LL|||F"])).status_code == 200
    alerts = as_user("gp-a1").get("/api/v1/worklist").get_json()["lab_alerts"]["items"]
    assert [(a["resident_id"], a["calls_due"]) for a in alerts[:2]] == [(other_id, 1), (first.resident_id, 0)]


def test_a_correction_after_the_call_needs_a_new_one(session, world, make_oru, post_hl7, as_user):
    rep = _send(session, world, make_oru, post_hl7, "R-1")
    gp = as_user("gp-a1")
    assert _put(gp, rep, {"note": NOTE}).status_code == 200
    _send(session, world, make_oru, post_hl7, "R-2", value="7.2", status="C")  # corrected, still critical
    again = gp.get(f"/api/v1/lab-reports/{rep.id}").get_json()
    assert again["critical_call"]["note"] == NOTE and again["critical_call_due"] is True
    assert "电话通知：未记录" in _printed(session, world, rep.id)  # the call covered the old value, not 7.2


def test_a_correction_stored_while_the_call_was_noted_asks_for_a_new_call(session, world, make_oru, post_hl7,
                                                                         as_user, feed):
    # Intake read its clock (changed_at to be) before the note was written and committed after it: the note
    # covers the version the doctor read, so the corrected value is due a call of its own.
    from server.labs import intake
    from server.labs.models import LabFeed

    rep = _send(session, world, make_oru, post_hl7, "X-1")
    intake_clock = dt.datetime.now(dt.timezone.utc)
    assert _put(as_user("gp-a1"), rep, {"note": NOTE}).status_code == 200
    raw = _potassium(session, world, make_oru, "X-2", value="7.4", status="C")
    assert intake.receive_hl7(session, session.get(LabFeed, feed[0]), raw, transport="http",
                              now=lambda: intake_clock).ack_code == "AA"
    again = as_user("gp-a1").get(f"/api/v1/lab-reports/{rep.id}").get_json()
    assert again["critical_call"]["note"] == NOTE and again["critical_call_due"] is True
    assert _alert(as_user("gp-a1"), rep.resident_id)["calls_due"] == 1


def test_a_note_for_values_read_before_a_correction_is_refused(session, world, make_oru, post_hl7, as_user):
    # The doctor read 6.8 and phoned it through; a correction to 7.2 arrived before the note was written:
    # the note must not vouch for 7.2.
    rep = _send(session, world, make_oru, post_hl7, "V-1")
    read = rep.changed_at.isoformat()
    corrected = _send(session, world, make_oru, post_hl7, "V-2", value="7.2", status="C")
    r = _put(as_user("gp-a1"), corrected, {"note": NOTE}, stamp=read)
    assert r.status_code == 409 and "report_changed_at" in r.get_json()["errors"]
    assert _put(as_user("gp-a1"), corrected, {"note": NOTE}).status_code == 200  # read again: accepted


@pytest.mark.parametrize("body, field", [
    ({"note": "   "}, "note"), ({}, "note"), ({"note": "x" * 201}, "note"),
    ({"note": NOTE, "report_changed_at": None}, "report_changed_at"),
    ({"note": NOTE, "called_at": "2099-01-01T10:00:00+08:00"}, "called_at"),
    ({"note": NOTE, "called_at": "2025-03-02T06:59:00"}, "called_at"),  # before the specimen was taken
    ({"note": NOTE, "called_at": "yesterday"}, "called_at"),
])
def test_a_bad_note_is_refused_naming_the_field(session, world, make_oru, post_hl7, as_user, body, field):
    rep = _send(session, world, make_oru, post_hl7, "B-1")
    r = _put(as_user("gp-a1"), rep, body)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert field in errors.get("json", errors), errors
    session.expire_all()
    assert session.get(LabReport, rep.id).critical_call_at is None


def test_a_call_time_without_an_offset_is_china_time(session, world, make_oru, post_hl7, as_user):
    rep = _send(session, world, make_oru, post_hl7, "T-1")
    local = dt.datetime(2025, 3, 2, 10, 20)  # phoned before the report arrived: the lab phoned the doctor
    r = _put(as_user("gp-a1"), rep, {"note": NOTE, "called_at": local.isoformat()})
    assert r.status_code == 200, r.get_json()
    session.expire_all()
    stored = session.get(LabReport, rep.id)
    assert stored.critical_call_at == local.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert r.get_json()["critical_call_due"] is False  # noted now, after the report arrived
    assert "03-0210:20" + NOTE in _flat(_printed(session, world, rep.id))


def test_a_report_without_a_critical_value_has_no_call_to_note(session, world, make_oru, post_hl7, as_user):
    rep = _send(session, world, make_oru, post_hl7, "N-1", value="4.1", flag="N")
    r = _put(as_user("gp-a1"), rep, {"note": NOTE})
    assert r.status_code == 409 and r.get_json()["errors"] == {"critical": ["false"]}


def test_only_the_residents_team_notes_a_call(session, world, make_oru, post_hl7, as_user):
    rep = _send(session, world, make_oru, post_hl7, "S-1")
    expected = {"gp-a1": 200, "nurse-a1": 200, "gp-a2": 404, "gp-b1": 404, "nurse-b1": 404,
                "staff-a": 403, "staff-b": 403, "admin": 403, "spec": 403}
    assert set(expected) == set(USERS)
    got = {user: _put(as_user(user), rep, {"note": NOTE}).status_code for user in USERS}
    assert got == expected
