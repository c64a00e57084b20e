"""Deadlines as a setting, the escalation of overdue cases, the loop's metrics (scoped, XLSX) and a case's trends."""
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from server.config import ConfigError, from_env
from server.referrals import escalation
from server.referrals.models import Referral


def test_response_deadlines_follow_the_setting(ref, clean_app):
    # 2026-06-15 is a Monday; the Dragon Boat holiday is 2026-06-19 (Friday).
    assert ref.send(urgency="routine")[0]["response_due"] == "2026-06-18"
    clean_app.config["REFERRAL_RESPONSE_DAYS"] = {"routine": 5, "urgent": 2, "emergency": 0}
    assert ref.send(urgency="routine")[0]["response_due"] == "2026-06-23"  # Fri 19 is a holiday
    assert ref.send(urgency="urgent")[0]["response_due"] == "2026-06-17"
    assert ref.send(urgency="emergency")[0]["response_due"] == "2026-06-15"


@pytest.mark.parametrize("text, expected", [
    (None, {"routine": 3, "urgent": 1, "emergency": 0}),
    ("routine=5", {"routine": 5, "urgent": 1, "emergency": 0}),
    ("routine=4, urgent=2,emergency=1", {"routine": 4, "urgent": 2, "emergency": 1}),
])
def test_the_setting_is_read_from_the_environment(monkeypatch, text, expected):
    if text is None:
        monkeypatch.delenv("REFERRAL_RESPONSE_DAYS", raising=False)
    else:
        monkeypatch.setenv("REFERRAL_RESPONSE_DAYS", text)
    assert from_env()["REFERRAL_RESPONSE_DAYS"] == expected


@pytest.mark.parametrize("text", ["soon=3", "routine=-1", "routine=three", "urgent=99"])
def test_a_bad_setting_stops_the_service(monkeypatch, text):
    monkeypatch.setenv("REFERRAL_RESPONSE_DAYS", text)
    with pytest.raises(ConfigError, match="REFERRAL_RESPONSE_DAYS"):
        from_env()


def test_overdue_cases_are_escalated_once_to_the_pool_and_the_center(ref, as_user, session, clean_app):
    named, _ = ref.send(to="spec", urgency="urgent")          # due 2026-06-16
    pool, _ = ref.send(to="pool", urgency="urgent")
    answered, _ = ref.send(to="spec", urgency="urgent")
    ref.ok(ref.act("spec", answered["id"], "accept"))
    later, _ = ref.send(to="spec", urgency="routine")         # due 2026-06-18
    heard = []
    escalation.on_escalation(lambda s, row, item: heard.append((row.id, item.kind)))
    try:
        assert escalation.escalate_overdue(session, dt.date(2026, 6, 16)) == []  # due today: not yet
        done = escalation.escalate_overdue(session, dt.date(2026, 6, 17))
        session.commit()
    finally:
        escalation._listeners.pop()
    assert {(e.referral_id, e.kind, e.from_specialist_id) for e in done} == {
        (named["id"], "pool", ref.w.users["spec"]), (pool["id"], "center", None)}
    assert sorted(heard) == sorted((e.referral_id, e.kind) for e in done)
    row = session.get(Referral, named["id"])
    assert row.specialist_id is None and row.escalated_from_id == ref.w.users["spec"] and row.escalated_at
    # The pool now sees (and may claim) the case the named specialist left; the named one still sees it.
    clean_app.config["FOLLOWUP_TODAY"] = dt.date(2026, 6, 17)
    for user in ("spec-pool", "spec"):
        case = ref.ok(as_user(user).get(f"/api/v1/referrals/{named['id']}"))
        assert case["allowed_actions"] == ["accept", "decline", "ask_info"] and case["escalated_at"]
    # The center's list flags it overdue and escalated; the one not yet due is neither.
    rows = {r["id"]: r for r in ref.ok(as_user("staff-a").get("/api/v1/referrals?page_size=50"))["items"]}
    assert (rows[named["id"]]["overdue"], bool(rows[named["id"]]["escalated_at"])) == (True, True)
    assert (rows[later["id"]]["overdue"], rows[later["id"]]["escalated_at"]) == (False, None)
    assert (rows[answered["id"]]["overdue"], rows[answered["id"]]["escalated_at"]) == (False, None)
    # Once only: later runs escalate only the case that has since become overdue.
    assert [e.referral_id for e in escalation.escalate_overdue(session, dt.date(2026, 6, 30))] == [later["id"]]
    assert escalation.escalate_overdue(session, dt.date(2026, 7, 30)) == []


def _metrics(as_user, user, query="by=team&date_from=2026-06-01&date_to=2026-06-30"):
    r = as_user(user).get(f"/api/v1/referrals/metrics?{query}")
    assert r.status_code == 200, (user, r.get_json())
    return r.get_json()


def _on_the_pinned_day(session):
    """Sent at 09:00 on the pinned day, every response two hours later: the requests were stamped by the
    real clock, the deadlines by the pinned day."""
    from server.referrals.models import ReferralMessage
    sent = dt.datetime(2026, 6, 15, 1, 0, tzinfo=dt.timezone.utc)
    for row in session.scalars(select(Referral)):
        row.created_at = sent
        # What services.act stamped on the case moves with the thread entries it was stamped from.
        row.first_response_at = row.first_response_at and sent + dt.timedelta(hours=2)
        row.returned_at = row.returned_at and sent + dt.timedelta(hours=2)
    for message in session.scalars(select(ReferralMessage)):
        message.at = sent if message.kind == "create" else sent + dt.timedelta(hours=2)
    session.commit()


def test_metrics_move_with_the_cases_and_stay_in_scope(ref, as_user, session):
    advice, _ = ref.send(to="spec")
    ref.ok(ref.act("spec", advice["id"], "accept"))
    ref.ok(ref.act("spec", advice["id"], "answer", body={"outcome": "advice", "advice": "继续用药", "plan": "两周复测"}))
    clinic, _ = ref.send(to="pool", urgency="routine")
    ref.ok(ref.act("spec-pool", clinic["id"], "accept"))
    ref.ok(ref.act("spec-pool", clinic["id"], "answer"))
    ref.ok(ref.act("spec-pool", clinic["id"], "return_case"))
    b1, _ = ref.send("B1-0-0", "gp-b1", to="spec")  # team B1, center B: waiting
    _on_the_pinned_day(session)

    whole = _metrics(as_user, "admin")
    total = whole["total"]
    assert (total["cases"], total["open"], total["down_referrals"]) == (3, 3, 1)
    assert total["answered_in_time"] == {"n": 2, "of": 2, "rate": 1.0}  # the waiting one is not due yet
    assert total["settled_without_visit"] == {"n": 1, "of": 2, "rate": 0.5}
    assert total["closed_loop"] == {"n": 0, "of": 0, "rate": None}       # both inside their 2 weeks
    assert total["median_hours_to_first_response"] == 2.0
    assert [(r["name"], r["cases"]) for r in whole["rows"]] == [("团队A1", 2), ("团队B1", 1)]
    assert whole["response_days"] == {"routine": 3, "urgent": 1, "emergency": 0}
    # Scope: a team its own, center staff their center, a specialist their pool and their own cases.
    assert [(r["name"], r["cases"]) for r in _metrics(as_user, "gp-a1")["rows"]] == [("团队A1", 2)]
    assert _metrics(as_user, "gp-a2")["total"]["cases"] == 0
    assert [(r["name"], r["cases"]) for r in _metrics(as_user, "staff-b")["rows"]] == [("团队B1", 1)]
    assert _metrics(as_user, "spec-pool")["total"]["cases"] == 3  # all three are 心内科's
    assert _metrics(as_user, "spec-endo")["total"]["cases"] == 0
    by_specialty = _metrics(as_user, "staff-a", "by=specialty&date_from=2026-06-01&date_to=2026-06-30")
    assert [(r["name"], r["cases"]) for r in by_specialty["rows"]] == [("心内科", 2)]
    # Outside the period: nothing.
    assert _metrics(as_user, "admin", "date_from=2026-01-01&date_to=2026-05-31")["total"]["cases"] == 0
    del b1


def test_the_closed_loop_counts_a_follow_up_within_two_weeks(ref, as_user, clean_app):
    import uuid
    case, _ = ref.send(to="spec")
    ref.ok(ref.act("spec", case["id"], "accept"))
    ref.ok(ref.act("spec", case["id"], "answer", body={"outcome": "advice", "advice": "继续", "plan": "复测"}))
    form = {"visit_date": "2026-06-20", "visit_mode": 1, "symptoms": [1], "sbp": 130, "dbp": 80,
            "medication_adherence": 1, "adverse_reaction": 1, "doctor": "王医生"}
    clean_app.config["FOLLOWUP_TODAY"] = dt.date(2026, 6, 20)
    visit = ref.ok(as_user("gp-a1").post("/api/v1/followups", json={
        "id": str(uuid.uuid4()), "resident_id": ref.w.residents["A1-0-0"], "condition": "hypertension",
        "form": form}), 201)["id"]
    assert _metrics(as_user, "gp-a1")["total"]["closed_loop"] == {"n": 0, "of": 0, "rate": None}
    ref.ok(ref.act("gp-a1", case["id"], "close", body={"followup_id": visit}))
    assert _metrics(as_user, "gp-a1")["total"]["closed_loop"] == {"n": 1, "of": 1, "rate": 1.0}


def test_metrics_export_is_an_xlsx_with_safe_cells(ref, as_user, session):
    from server.org.models import Team
    team = session.get(Team, ref.w.teams["A1"])
    team.name = "=HYPERLINK(\"http://x\")"
    session.commit()
    case, _ = ref.send(to="spec")
    r = as_user("staff-a").get("/api/v1/referrals/metrics/export?by=team&date_from=2026-06-01&date_to=2026-06-30")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == (
        'attachment; filename="referral-metrics-team-2026-06-01-2026-06-30.xlsx"')
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert sheet["A2"].value == "团队" and sheet["G2"].value == "按时响应率"
    assert sheet["A3"].value == '=HYPERLINK("http://x")' and sheet["A3"].data_type == "s"  # text, not a formula
    assert sheet["B3"].value == 1 and sheet["A4"].value == "合计"
    del case


@pytest.mark.parametrize("query, field", [("by=ward", "by"), ("date_from=2026-07-01&date_to=2026-06-01", "date_from"),
                                          ("date_from=2020-01-01&date_to=2026-06-01", "date_from"),
                                          ("date_to=2026-13-01", "date_to")])
def test_bad_metrics_queries_name_the_field(ref, as_user, query, field):
    r = as_user("staff-a").get(f"/api/v1/referrals/metrics?{query}", headers={"Accept-Language": "zh"})
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert field in str(body["errors"])


def test_trends_through_a_case_only(ref, as_user):
    case, _ = ref.send(to="spec")
    got = ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}/trends"))
    assert [(p["visit_date"], p["sbp"], p["dbp"]) for p in got["points"]] == [("2026-06-01", 168, 98)]
    for user, status in (("spec-endo", 404), ("gp-a2", 404), ("staff-b", 404), ("gp-a1", 200), ("admin", 200)):
        assert as_user(user).get(f"/api/v1/referrals/{case['id']}/trends").status_code == status, user


def test_an_escalation_writes_who_when_and_why_in_the_thread_for_every_side(ref, as_user, session, clean_app):
    """The escalation is a system entry of the case's thread (no author account), read by the named specialist,
    the pool, the team and the center alike, with a notice to each; the metrics count it as no response."""
    named, _ = ref.send(to="spec", urgency="urgent")           # due 2026-06-16
    pool, _ = ref.send(to="pool", urgency="urgent")
    escalation.escalate_overdue(session, dt.date(2026, 6, 17))
    session.commit()
    clean_app.config["FOLLOWUP_TODAY"] = dt.date(2026, 6, 17)
    for user in ("spec", "spec-pool", "gp-a1", "staff-a"):
        entry = ref.ok(as_user(user).get(f"/api/v1/referrals/{named['id']}"))["messages"][-1]
        assert (entry["kind"], entry["author_role"], entry["author_id"], entry["author_name"]) == (
            "escalate", "system", None, "系统"), user
        assert "超过答复期限（2026-06-16）" in entry["text"] and "心内科全体专科医生" in entry["text"]
        assert "原指定spec" in entry["text"] and "甲中心" in entry["text"] and entry["at"]
        assert entry["state_after"] == "requested"
    entry = ref.ok(as_user("gp-a1").get(f"/api/v1/referrals/{pool['id']}"))["messages"][-1]
    assert entry["kind"] == "escalate" and entry["text"].startswith("超过答复期限") and "上报甲中心" in entry["text"]
    for user in ("spec", "spec-pool", "gp-a1", "nurse-a1", "staff-a"):
        notices = [i for i in ref.ok(as_user(user).get("/api/v1/inbox"))["items"]
                   if i["referral_id"] == named["id"] and i["topic"] == "referral_escalate"]
        assert len(notices) == 1 and "系统超时升级" in notices[0]["text"], user
    for user in ("spec-endo", "gp-a2", "staff-b"):  # nobody outside the case hears of it
        assert not [i for i in ref.ok(as_user(user).get("/api/v1/inbox"))["items"] if i["referral_id"]], user
    # Still nobody answered: the first response is still to come.
    from server.referrals.metrics import metrics
    from server.scope import Actor
    from server.auth.models import User
    total = metrics(session, Actor.of(session.get(User, ref.w.users["admin"])), {"by": "team"},
                    dt.date(2026, 6, 17))["total"]
    assert total["median_hours_to_first_response"] is None
