"""Referrals (issue 13) on PostgreSQL: a specialist's inbox, a case page's data, sending a case, the SMS worker.

Builds its own database (`gpo_bench_referrals`, dropped and recreated every run; never `test`): a district of
--teams teams with a tenth of the standard caseload each (residents are what referrals point at; their
number hardly matters to these queries), 5 hospitals of 6 departments with 4 specialists each, then
--open open and --closed closed referrals bulk-copied with their threads (create, accept, answer, return,
close for a closed one; 1-3 entries for an open one), spread over the specialists, the pools and the teams.

Every figure goes through the HTTP API with the Flask test client (routing, JWT, scope, the queries, audit
rows, JSON, commit), as a browser or tablet would see it minus the network:

    inbox      GET /api/v1/referrals?state=requested&state=info_requested&state=accepted&page_size=50 as a
               random specialist (their named cases and their pool's)
    case page  GET /api/v1/referrals/<id> (forms, thread, allowed actions) + GET .../resident-summary, timed
               together, for a random open case as its specialist
    create     POST /api/v1/referrals as a random team's GP (urgent: also queues the specialist's SMS and inbox)
    worker     --sms queued messages sent by server.notifications.worker to the file gateway, messages/s

    .venv/bin/python bench/bench_referrals.py              # 10,000 open + 100,000 closed
    .venv/bin/python bench/bench_referrals.py --smoke      # seconds; figures meaningless

Targets (2 cores): inbox p95 <= 100 ms, case page p95 <= 150 ms, create p95 <= 80 ms, worker >= 200 msg/s.
District metrics (<= 1 s) belong to server/referrals/metrics.py (helper C): timed in [6] when it exists.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _district  # noqa: E402
import _smoke  # noqa: E402

import psycopg  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from gpcore import referral as rules  # noqa: E402
from server.auth.models import User  # noqa: E402
from server.auth.services import hash_password  # noqa: E402
from server.db import make_engine  # noqa: E402
from server.demo.caseload import Generator  # noqa: E402
from server.directory.models import Department  # noqa: E402
from server.households.models import Resident  # noqa: E402
from server.manage import migrate  # noqa: E402
from server.org.models import Hospital  # noqa: E402

TODAY = dt.date(2026, 11, 20)
HOSPITALS, DEPARTMENTS, SPECIALISTS_PER_DEPT = 5, ("心内科", "内分泌科", "神经内科", "肾内科", "呼吸科", "眼科"), 4
# An open case's state, and how often (a district's open cases at one moment).
OPEN_STATES = (("requested", 0.45), ("info_requested", 0.10), ("accepted", 0.25), ("answered", 0.12),
               ("returned", 0.08))
CLOSED_THREAD = ("create", "accept", "answer", "return_case", "close")
REF_COLUMNS = ("id", "resident_id", "team_id", "center_id", "created_by", "hospital_id", "department",
               "specialist_id", "owner_id", "state", "info_from", "urgency", "kind", "form", "lab_report_ids",
               "answer", "return_form", "sent_on", "response_due", "answered_on", "follow_up_due", "created_at",
               "updated_at", "version")
MSG_COLUMNS = ("referral_id", "at", "author_id", "author_name", "author_role", "kind", "text", "state_after")
FORM = {"initial_impression": "高血压3级，血压控制不佳", "present_illness": "连续两次随访血压>160/100mmHg，伴头晕",
        "past_history": "高血压（管理中）；2型糖尿病（管理中）", "treatment": "氨氯地平 每日1次 每次5mg",
        "referring_doctor": "家庭医生", "doctor_phone": "021-59990000", "institution": "社区卫生服务中心",
        "conditions": ["高血压（管理中）", "2型糖尿病（管理中）"], "allergies": ["青霉素类"],
        "medications": ["氨氯地平 每日1次 每次5mg", "二甲双胍 每日2次 每次500mg"],
        "recent_followups": ["2026-10-02 高血压 血压168/102mmHg", "2026-07-01 高血压 血压162/98mmHg"]}
ANSWER = {"outcome": "advice", "advice": "加用缬沙坦80mg qd，低盐饮食", "plan": "两周后复测血压，未达标再转诊"}
RETURN = {"diagnosis": "原发性高血压3级", "main_results": "心超：左室肥厚", "treatment": "调整降压方案",
          "plan": "氨氯地平5mg qd + 缬沙坦80mg qd", "doctor": "专科医生", "doctor_phone": "021-1234",
          "institution": "医院", "return_date": "2026-06-15"}


def say(line: str = "") -> None:
    print(line, flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fmt(label: str, ms: list[float], target: float | None = None) -> str:
    line = (f"  {label:<11}: median {statistics.median(ms):7.1f} ms   p95 {pct(ms, 95):7.1f} ms   "
            f"max {max(ms):7.1f} ms   n={len(ms)}")
    if target is not None:
        line += f"   (target p95 <= {target:g} ms: {'met' if pct(ms, 95) <= target else 'NOT met'})"
    return line


# --- loading --------------------------------------------------------------------------------------

def load_district(url: str, Session, teams: int) -> dict:
    """Teams with residents (the import writer), hospitals, departments and specialists."""
    gen = Generator(_district.SEED)
    with Session() as s:
        district = _district.create_organisation(s, teams)
        s.commit()
        for team in district.teams:
            _district.write_team(s, district, team, _district.generate_team(gen, team))
        pw = hash_password("bench-pass", "fast")
        specialists = []
        for h in range(HOSPITALS):
            hospital = Hospital(code=f"H{h + 1}", name=f"第{h + 1}人民医院")
            s.add(hospital)
            s.flush()
            for d, dept in enumerate(DEPARTMENTS):
                s.add(Department(hospital_id=hospital.id, name=dept, specialty=dept))
                for k in range(SPECIALISTS_PER_DEPT):
                    u = User(username=f"h{h + 1}d{d + 1}s{k + 1}", full_name=f"{dept}医生{k + 1}", role="specialist",
                             hospital_id=hospital.id, department=dept, phone=f"139{h:02d}{d:02d}{k:04d}",
                             password_hash=pw)
                    s.add(u)
                    s.flush()
                    specialists.append((u.id, hospital.id, dept, u.full_name))
        s.commit()
        residents = s.execute(select(Resident.id, Resident.team_id, Resident.center_id)).all()
    return {"district": district, "specialists": specialists, "residents": residents}


def referral_rows(world: dict, n_open: int, n_closed: int, seed: int = 5):
    """(referral rows, message rows) for COPY: closed cases over the last two years, open ones recent."""
    rng = random.Random(seed)
    gps = {t.id: t.gp for t in world["district"].teams}
    specs = world["specialists"]
    residents = world["residents"]
    form_json, answer_json, return_json = (json.dumps(x, ensure_ascii=False) for x in (FORM, ANSWER, RETURN))
    now = dt.datetime.now(dt.timezone.utc)
    refs, msgs = [], []
    states = [s for s, _ in OPEN_STATES]
    weights = [w for _, w in OPEN_STATES]
    for i in range(n_open + n_closed):
        closed = i >= n_open
        rid, team_id, center_id = residents[rng.randrange(len(residents))]
        spec_id, hospital_id, dept, spec_name = specs[rng.randrange(len(specs))]
        state = "closed" if closed else rng.choices(states, weights)[0]
        urgency = rng.choices(("routine", "urgent", "emergency"), (0.8, 0.17, 0.03))[0]
        sent = TODAY - dt.timedelta(days=rng.randrange(30, 730) if closed else rng.randrange(0, 10))
        pool = not closed and state in ("requested", "info_requested") and rng.random() < 0.5
        owner = None if state in ("requested", "info_requested") else spec_id
        named = None if pool else spec_id
        answered = state in ("answered", "returned", "closed")
        at = dt.datetime.combine(sent, dt.time(9), dt.timezone.utc)
        ref_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        refs.append((ref_id, rid, team_id, center_id, gps[team_id].user_id, hospital_id, dept, named, owner, state,
                     "requested" if state == "info_requested" else None, urgency,
                     rng.choice(("econsult", "transfer")), form_json, "[]", answer_json if answered else None,
                     return_json if state in ("returned", "closed") else None, sent,
                     rules.response_due(sent, urgency), sent + dt.timedelta(days=1) if answered else None,
                     sent + dt.timedelta(days=15) if answered else None, at, min(at + dt.timedelta(days=3), now),
                     len(CLOSED_THREAD) if closed else 2))
        thread = CLOSED_THREAD if closed else ("create", "message", "accept")[:rng.randrange(1, 4)]
        for k, kind in enumerate(thread):
            team_side = kind in ("create", "close", "message")
            msgs.append((ref_id, at + dt.timedelta(hours=k), gps[team_id].user_id if team_side else spec_id,
                         "家庭医生" if team_side else spec_name, "gp" if team_side else "specialist", kind,
                         FORM["present_illness"] if kind == "create" else "请尽快安排", state))
    return refs, msgs


def copy_rows(url: str, table: str, columns: tuple, rows: list[tuple]) -> float:
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
    return time.perf_counter() - t0


# --- the API ----------------------------------------------------------------------------------------

class Api:
    """The app on the benchmark database, and a client per user (tokens issued directly)."""

    def __init__(self, url: str):
        from flask_jwt_extended import create_access_token

        from server import create_app

        self.app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DEVELOPMENT": True, "FOLLOWUP_TODAY": TODAY,
                               "PASSWORD_HASH_PROFILE": "fast"})
        self.client = self.app.test_client()
        self._tokens: dict[int, str] = {}
        self._create = create_access_token

    def headers(self, user_id: int) -> dict:
        if user_id not in self._tokens:
            with self.app.app_context():
                self._tokens[user_id] = self._create(identity=str(user_id))
        return {"Authorization": f"Bearer {self._tokens[user_id]}"}

    def timed(self, method: str, path: str, user_id: int, **kw) -> tuple[float, object]:
        t0 = time.perf_counter()
        r = getattr(self.client, method)(path, headers=self.headers(user_id), **kw)
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code >= 400:
            raise SystemExit(f"{method.upper()} {path} answered {r.status_code}: {r.get_data(as_text=True)[:300]}")
        return ms, r


def bench_inbox(api: Api, specialists, n: int, rng: random.Random) -> tuple[list[float], float]:
    times, sizes = [], []
    for _ in range(n):
        spec_id = specialists[rng.randrange(len(specialists))][0]
        ms, r = api.timed("get", "/api/v1/referrals?state=requested&state=info_requested&state=accepted"
                                 "&page_size=50", spec_id)
        times.append(ms)
        sizes.append(r.get_json()["total"])
    return times, statistics.mean(sizes)


def bench_case_page(api: Api, cases, n: int, rng: random.Random) -> tuple[list[float], float]:
    times, thread = [], []
    for _ in range(n):
        ref_id, spec_id = cases[rng.randrange(len(cases))]
        ms1, r = api.timed("get", f"/api/v1/referrals/{ref_id}", spec_id)
        ms2, _ = api.timed("get", f"/api/v1/referrals/{ref_id}/resident-summary", spec_id)
        times.append(ms1 + ms2)
        thread.append(len(r.get_json()["messages"]))
    return times, statistics.mean(thread)


def bench_create(api: Api, world: dict, n: int, rng: random.Random) -> list[float]:
    by_team: dict[int, list[str]] = {}
    for rid, team_id, _center in world["residents"]:
        by_team.setdefault(team_id, []).append(rid)
    teams = world["district"].teams
    specs = world["specialists"]
    times = []
    form = {k: v for k, v in FORM.items() if k in ("initial_impression", "present_illness", "past_history",
                                                   "treatment", "referring_doctor", "doctor_phone", "institution")}
    for _ in range(n):
        team = teams[rng.randrange(len(teams))]
        body = {"resident_id": rng.choice(by_team[team.id]), "urgency": rng.choice(("routine", "urgent")),
                "kind": "econsult", "specialist_id": specs[rng.randrange(len(specs))][0],
                "form": {**form, "referral_date": TODAY.isoformat()}}
        ms, _ = api.timed("post", "/api/v1/referrals", team.gp.user_id, json=body)
        times.append(ms)
    return times


def bench_worker(Session, n: int) -> dict:
    """Queue n SMS (one transaction), then time the worker sending them all to the file gateway."""
    from server.notifications import gateways, services, worker

    with Session() as s:
        s.execute(text("UPDATE sms_outbox SET status = 'sent' WHERE status = 'pending'"))  # create's, set aside
        for i in range(n):
            services.queue_sms(s, topic="bench", phone=f"1380000{i % 10000:04d}",
                               text=f"【全科签约服务】您有一条紧急转诊待处理：第{i}号，请于11月21日前登录专科工作台接诊或答复。")
        s.commit()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sms.jsonl"
        # ---- the place where helper C's worker metrics (server/referrals/metrics.py) can time a round ----
        t0 = time.perf_counter()
        done = worker.serve(Session, gateways.FileGateway(path), batch=200, once=True)
        wall = time.perf_counter() - t0
        lines = sum(1 for _ in path.open(encoding="utf-8"))
    with Session() as s:
        sent = s.scalar(select(func.count()).where(text("status = 'sent' AND topic = 'bench'"))
                        .select_from(text("sms_outbox")))
    return {"queued": n, "sent": done.sent, "lines": lines, "sent_in_db": sent, "seconds": wall,
            "per_s": done.sent / wall if wall else 0.0}


def bench_metrics(Session) -> str:
    """District metrics (helper C's server/referrals/metrics.py), when it is there."""
    try:
        from server.referrals import metrics  # noqa: F401
    except ImportError:
        return "  metrics    : server/referrals/metrics.py is not in this branch (helper C builds it); not timed"
    fn = getattr(metrics, "district_metrics", None) or getattr(metrics, "compute", None)
    if fn is None:
        return "  metrics    : server/referrals/metrics.py has no district_metrics(); time it here once it does"
    times = []
    for _ in range(5):
        with Session() as s:
            t0 = time.perf_counter()
            fn(s)
            times.append((time.perf_counter() - t0) * 1000)
    return fmt("metrics", times, 1000)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teams", type=int, default=12, help="teams in the district (default 12)")
    ap.add_argument("--open", type=int, default=10_000, help="open referrals (default 10,000)")
    ap.add_argument("--closed", type=int, default=100_000, help="closed referrals (default 100,000)")
    ap.add_argument("--requests", type=int, default=300, help="timed requests per kind (default 300)")
    ap.add_argument("--sms", type=int, default=5000, help="SMS for the worker (default 5,000)")
    ap.add_argument("--db", default="gpo_bench_referrals", help="the benchmark's own database (recreated)")
    args = _smoke.parse(ap, argv, teams=1, open=100, closed=1000, requests=10, sms=200,
                        db="gpo_bench_referrals_smoke")
    _district.CASELOAD.update(_district.SMOKE_CASELOAD if args.smoke else
                              dict(households=500, residents=1500, hypertension=300, diabetes=100, both=50))
    started = time.perf_counter()
    url = _district.recreate_database(args.db)
    facts = _district.server_facts(url)
    say(f"GP Outreach referrals benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    say(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {facts['version']} "
        f"(shared_buffers {facts['shared_buffers']}, synchronous_commit {facts['synchronous_commit']}), "
        f"database {args.db}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    migrate(url)
    engine = make_engine(url)
    Session = sessionmaker(bind=engine, expire_on_commit=False)

    say(f"\n[1] loading: {args.teams} teams, {len(DEPARTMENTS) * HOSPITALS} pools of {SPECIALISTS_PER_DEPT} "
        f"specialists, {args.open:,} open + {args.closed:,} closed referrals")
    t0 = time.perf_counter()
    world = load_district(url, Session, args.teams)
    say(f"  district: {len(world['residents']):,} residents, {len(world['specialists'])} specialists "
        f"in {time.perf_counter() - t0:.1f} s")
    refs, msgs = referral_rows(world, args.open, args.closed)
    secs = copy_rows(url, "referrals", REF_COLUMNS, refs) + copy_rows(url, "referral_messages", MSG_COLUMNS, msgs)
    with psycopg.connect(url, autocommit=True) as conn:
        # Every table, as autovacuum would have by the time a district has this many cases: without
        # statistics on residents (the import writer leaves none) the planner guessed 526 of 18,000 and
        # joined from residents, 1.4 s an inbox.
        conn.execute("VACUUM ANALYZE")
    say(f"  copied {len(refs):,} referrals and {len(msgs):,} thread entries in {secs:.1f} s (then VACUUM ANALYZE)")
    with Session() as s:
        counts = dict(s.execute(select(text("state"), func.count()).select_from(text("referrals"))
                                .group_by(text("state"))).all())
    say("  by state: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))

    api = Api(url)
    rng = random.Random(11)
    open_cases = [(r[0], r[8] or r[7]) for r in refs if r[9] != "closed" and (r[8] or r[7])]
    say(f"\n[2] warm-up: {min(50, args.requests)} requests of each kind (not counted)")
    bench_inbox(api, world["specialists"], min(50, args.requests), rng)
    bench_case_page(api, open_cases, min(50, args.requests), rng)
    load_before = os.getloadavg()[0]
    say(f"\n[3] timed through the HTTP API (Flask test client), {args.requests} each; load average "
        f"{load_before:.2f}")
    inbox, mean_total = bench_inbox(api, world["specialists"], args.requests, rng)
    say(fmt("inbox", inbox, 100) + f"   (mean cases in scope {mean_total:.0f})")
    page, mean_thread = bench_case_page(api, open_cases, args.requests, rng)
    say(fmt("case page", page, 150) + f"   (case + resident summary; mean thread {mean_thread:.1f} entries)")
    create = bench_create(api, world, args.requests, rng)
    say(fmt("create", create, 80) + "   (urgent ones also queue an SMS and inbox items)")
    say(f"\n[4] SMS worker: {args.sms:,} messages to the file gateway (batches of 200, one commit a batch)")
    w = bench_worker(Session, args.sms)
    say(f"  sent {w['sent']:,} of {w['queued']:,} ({w['lines']:,} lines written, {w['sent_in_db']:,} marked sent) "
        f"in {w['seconds']:.2f} s: {w['per_s']:,.0f} messages/s "
        f"(target >= 200: {'met' if w['per_s'] >= 200 else 'NOT met'})")
    say("\n[5] district metrics")
    say(bench_metrics(Session))
    say(f"\ndone in {time.perf_counter() - started:.0f} s; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
