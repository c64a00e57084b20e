"""The loop's metrics as the server counts them (in SQL, from the facts services.act stamps on each case) against
gpcore's rules judging every case from its thread, answer and closing visit (metrics_from_thread: the way
before migration r401), on a generated set of cases moved through the API by a clock the test sets; then
the migration's backfill against what services.act stamped. SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import importlib.util
import random
import uuid
from pathlib import Path

from sqlalchemy import select, update

from gpcore.clock import china_date

UTC = dt.timezone.utc
START = dt.datetime(2026, 5, 4, 1, 0, tzinfo=UTC)  # Monday 4 May 2026, 09:00 in China (after the May holiday)
STAMPED = ("first_response_at", "outcome", "returned_at", "followed_up_on")
VIEWERS = ("admin", "staff-a", "staff-b", "gp-a1", "spec", "spec-pool", "spec-endo")


def _r401():
    path = next((Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("*_r401_*.py"))
    spec = importlib.util.spec_from_file_location("r401", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drive(ref, as_user, clean_app, monkeypatch, n: int, seed: int) -> None:
    """n cases, each sent at a random time and taken down a random path (waiting, cancelled, declined,
    questioned, passed to the pool, accepted, answered with each outcome, returned, closed with a visit
    inside or after its 2 weeks), with responses from minutes to days after sending."""
    from server.referrals import services

    rng = random.Random(seed)
    clock = {"now": START}
    monkeypatch.setattr(services, "utcnow", lambda: clock["now"])

    def at(moment: dt.datetime) -> dt.datetime:
        clock["now"] = moment
        clean_app.config["FOLLOWUP_TODAY"] = china_date(moment)
        return moment

    def later(moment: dt.datetime) -> dt.datetime:
        return at(moment + dt.timedelta(hours=rng.choice((0.2, 1.5, 7, 20, 30, 55, 80, 130)) * rng.random()))

    def act(user, case_id, action, body=None):
        ref.ok(ref.act(user, case_id, action, body=body))

    for _ in range(n):
        resident, gp = rng.choice((("A1-0-0", "gp-a1"), ("B1-0-0", "gp-b1")))
        now = at(START + dt.timedelta(days=rng.randrange(0, 45), minutes=rng.randrange(0, 900)))
        named = rng.random() < 0.6
        case = ref.send(resident, gp, to="spec" if named else "pool",
                        urgency=rng.choice(("routine", "routine", "urgent", "emergency")))[0]["id"]
        path = rng.random()
        if path < 0.12:
            continue  # still waiting
        if path < 0.2:
            now = later(now)
            act(gp, case, "cancel")
            continue
        specialist = "spec" if named else "spec-pool"
        if named and rng.random() < 0.15:
            now = later(now)
            act("spec", case, "pass_to_pool")  # not a response: the clock keeps running
            specialist = "spec-pool"
        if path < 0.3:
            now = later(now)
            act(specialist, case, "decline")
            continue
        if rng.random() < 0.25:
            now = later(now)
            act(specialist, case, "ask_info")
            now = later(now)
            act(gp, case, "give_info")
        now = later(now)
        act(specialist, case, "accept")
        if rng.random() < 0.15:
            continue
        now = later(now)
        outcome = rng.choice(("advice", "clinic", "admit"))
        answer = {"outcome": outcome, "advice": "加用缬沙坦", "plan": "两周后复测血压"}
        if outcome == "clinic":
            answer.update(clinic_date=china_date(now).isoformat(), clinic_session="pm")
        act(specialist, case, "answer", answer)
        answered_on = china_date(now)
        if rng.random() < 0.4:
            now = later(now)
            form = {**ref.bodies["return_case"]["form"], "return_date": china_date(now).isoformat()}
            act(specialist, case, "return_case", {"form": form})
        if rng.random() < 0.3:
            continue  # not followed up (yet)
        visit_day = answered_on + dt.timedelta(days=rng.randrange(0, 25))
        now = at(max(now, dt.datetime.combine(visit_day, dt.time(2), UTC)))
        form = {"visit_date": china_date(now).isoformat(), "visit_mode": 1, "symptoms": [1], "sbp": 132,
                "dbp": 84, "medication_adherence": 1, "adverse_reaction": 1, "doctor": "王医生"}
        visit = ref.ok(as_user(gp).post("/api/v1/followups", json={
            "id": str(uuid.uuid4()), "resident_id": ref.w.residents[resident], "condition": "hypertension",
            "form": form}), 201)["id"]
        act(gp, case, "close", {"followup_id": visit})


def _both_ways(session, actor, args, today):
    from server.referrals import metrics

    return metrics.metrics(session, actor, args, today), metrics.metrics_from_thread(session, actor, args, today)


def _agree(session, ref, days) -> list[dict]:
    """Both ways for every viewer, grouping and day; the counted reports (every one must agree)."""
    from server.auth.models import User
    from server.referrals.metrics import GROUPS
    from server.scope import Actor

    reports = []
    for user in VIEWERS:
        actor = Actor.of(session.get(User, ref.w.users[user]))
        for by in GROUPS:
            for today in days:
                for args in ({"by": by}, {"by": by, "date_from": START.date(), "date_to": today}):
                    counted, judged = _both_ways(session, actor, args, today)
                    assert counted == judged, (user, by, today, args)
                    reports.append(counted)
    return reports


def test_counted_metrics_agree_with_the_rules_case_by_case(ref, as_user, session, clean_app, monkeypatch):
    from server.referrals import escalation
    from server.referrals.models import Referral

    _drive(ref, as_user, clean_app, monkeypatch, n=40, seed=13)
    escalation.escalate_overdue(session, START.date() + dt.timedelta(days=30))
    session.commit()
    days = [START.date() + dt.timedelta(days=d) for d in (10, 31, 47, 75)]
    reports = _agree(session, ref, days)
    # The set exercised every rule both ways (a test of nothing would agree too).
    whole = [r["total"] for r in reports if r["total"]["cases"] == 40]
    assert whole, "the admin's reports cover all 40 cases"
    for key in ("answered_in_time", "settled_without_visit", "closed_loop"):
        assert any(0 < t[key]["n"] < t[key]["of"] for t in whole), key
    assert any(t["overdue"] and t["escalated"] and t["down_referrals"] for t in whole)
    assert len({row["median_hours_to_first_response"] for report in reports for row in report["rows"]}) > 5

    # Migration r401's backfill, run over the same cases with their stamps cleared, stamps what act() did.
    columns = [getattr(Referral, c) for c in STAMPED]
    stamped = {row[0]: tuple(row[1:]) for row in session.execute(select(Referral.id, *columns))}
    assert sum(1 for v in stamped.values() if v[0] is not None) >= 20
    session.execute(update(Referral).values({c: None for c in STAMPED}))
    for statement in _r401().backfill():
        session.execute(statement)
    session.commit()
    session.expire_all()
    assert {row[0]: tuple(row[1:]) for row in session.execute(select(Referral.id, *columns))} == stamped
    _agree(session, ref, days[1:2])
