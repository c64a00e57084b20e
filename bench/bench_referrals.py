"""Referrals (issue 13) on PostgreSQL: a specialist's inbox, a case page's data, sending a case, the SMS worker,
the district's metrics (and the metrics on SQLite with --sqlite).

Builds its own database (`gpo_bench_referrals`, dropped and recreated every run; never `test`; with --sqlite
a fresh SQLite file instead): a district of --teams teams with a tenth of the standard caseload each
(residents are what referrals point at; their number hardly matters to these queries), 5 hospitals of 6
departments with 4 specialists each, then --open open and --closed closed referrals bulk-copied with their
threads (create, accept, answer, [return,] close for a closed one, the closing visit in followups; 1-3
entries for an open one), spread over the specialists, the pools and the teams, closed ones over 3 years.
The referrals are copied as a database from before migration r401 holds them (thread only); r401 then
stamps each case with the facts the metrics count (its time is shown), as an upgrade of a live district
would.

Every figure goes through the HTTP API with the Flask test client (routing, JWT, scope, the queries, audit
rows, JSON, commit), as a browser or tablet would see it minus the network:

    inbox      GET /api/v1/referrals?state=requested&state=info_requested&state=accepted&page_size=50 as a
               random specialist (their named cases and their pool's)
    case page  GET /api/v1/referrals/<id> (forms, thread, allowed actions) + GET .../resident-summary, timed
               together, for a random open case as its specialist
    create     POST /api/v1/referrals as a random team's GP (urgent: also queues the specialist's SMS and inbox)
    worker     --sms queued messages sent by server.notifications.worker to the file gateway, messages/s
    metrics    GET /api/v1/referrals/metrics?by=... as the admin (the whole district), each grouping, for the
               default period (the last 90 days, what the center page asks first) and for 3 years; then the
               same counted the way before r401 (gpcore's rules judging every case from its thread:
               metrics_from_thread), alternating with the new way in-process, and both compared

    .venv/bin/python bench/bench_referrals.py              # 10,000 open + 100,000 closed, PostgreSQL
    .venv/bin/python bench/bench_referrals.py --sqlite     # the same district in a SQLite file
    .venv/bin/python bench/bench_referrals.py --smoke      # seconds; figures meaningless

Targets (2 cores): inbox p95 <= 100 ms, case page p95 <= 150 ms, create p95 <= 80 ms, worker >= 200 msg/s,
district metrics p95 <= 1 s. Prints figures; asserts nothing (but says when the two ways of counting the
metrics disagree).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sqlite3
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
from alembic import command  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from gpcore import referral as rules  # noqa: E402
from gpcore.followup.compact import compact_text  # noqa: E402
from gpcore.followup.visits import HypertensionVisit  # noqa: E402
from server.auth.models import User  # noqa: E402
from server.auth.services import hash_password  # noqa: E402
from server.db import make_engine  # noqa: E402
from server.demo.caseload import Generator  # noqa: E402
from server.directory.models import Department  # noqa: E402
from server.households.models import Resident  # noqa: E402
from server.bulk import insert_rows  # noqa: E402
from server.followups.models import FollowUp  # noqa: E402
from server.manage import alembic_config, migrate  # noqa: E402
from server.org.models import Hospital  # noqa: E402
from server.referrals.metrics import GROUPS  # noqa: E402
from server.referrals.models import Referral, ReferralMessage  # noqa: E402

TODAY = dt.date(2026, 11, 20)
HOSPITALS, DEPARTMENTS, SPECIALISTS_PER_DEPT = 5, ("心内科", "内分泌科", "神经内科", "肾内科", "呼吸科", "眼科"), 4
# An open case's state, and how often (a district's open cases at one moment).
OPEN_STATES = (("requested", 0.45), ("info_requested", 0.10), ("accepted", 0.25), ("answered", 0.12),
               ("returned", 0.08))
CLOSED_DAYS = 3 * 365  # closed cases were sent 30 days to 3 years ago
OUTCOMES = (("advice", 0.4), ("clinic", 0.45), ("admit", 0.15))
RETURNED = 0.3          # of the closed cases, those the hospital sent back with a return form
FOLLOWED_UP = 0.9       # of the closed cases, those closed with a visit (the others: before r401's data)
REF_COLUMNS = ("id", "resident_id", "team_id", "center_id", "created_by", "hospital_id", "department",
               "specialist_id", "owner_id", "state", "info_from", "urgency", "kind", "form", "lab_report_ids",
               "answer", "return_form", "sent_on", "response_due", "answered_on", "follow_up_due",
               "closing_followup_id", "created_at", "updated_at", "version")
VISIT_COLUMNS = ("id", "resident_id", "condition", "kind", "original_id", "revision", "visit_date", "sbp", "dbp",
                 "form", "form_compact", "signed_by", "content_hash", "emergency", "referred", "missing_fields",
                 "missing_count", "disagreement", "received_at")
METRICS_REVISION = "r401"  # stamps the cases with what the metrics count (the data is loaded before it)
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


def _hours(rng: random.Random) -> dt.timedelta:
    """A specialist's time to act: mostly within a working day, a tail of several days."""
    return dt.timedelta(hours=min(rng.expovariate(1 / 14), 200))


def referral_rows(world: dict, n_open: int, n_closed: int, seed: int = 5):
    """(referral rows, thread rows, closing visits) for the bulk insert: closed cases over the last 3 years
    with varied response times, outcomes, returns and follow-ups; open ones recent."""
    rng = random.Random(seed)
    gps = {t.id: t.gp for t in world["district"].teams}
    specs = world["specialists"]
    residents = world["residents"]
    now = dt.datetime.now(dt.timezone.utc)
    refs, msgs, visits = [], [], []
    states = [s for s, _ in OPEN_STATES]
    weights = [w for _, w in OPEN_STATES]
    outcomes, outcome_weights = [o for o, _ in OUTCOMES], [w for _, w in OUTCOMES]
    for i in range(n_open + n_closed):
        closed = i >= n_open
        rid, team_id, center_id = residents[rng.randrange(len(residents))]
        spec_id, hospital_id, dept, spec_name = specs[rng.randrange(len(specs))]
        gp = gps[team_id].user_id
        state = "closed" if closed else rng.choices(states, weights)[0]
        urgency = rng.choices(("routine", "urgent", "emergency"), (0.8, 0.17, 0.03))[0]
        sent = TODAY - dt.timedelta(days=rng.randrange(30, CLOSED_DAYS) if closed else rng.randrange(0, 10))
        pool = not closed and state in ("requested", "info_requested") and rng.random() < 0.5
        owner = None if state in ("requested", "info_requested") else spec_id
        named = None if pool else spec_id
        at = dt.datetime.combine(sent, dt.time(1), dt.timezone.utc) + dt.timedelta(minutes=rng.randrange(600))
        ref_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if closed:
            returned = rng.random() < RETURNED
            kinds = ["create", "accept", "answer"] + (["return_case"] if returned else []) + ["close"]
        else:
            kinds = ["create", "message", "accept"][:rng.randrange(1, 4)]
            returned = state == "returned"
        thread, moment = [], at
        for kind in kinds:
            moment = moment if kind == "create" else moment + (_hours(rng) if kind != "close" else
                                                               dt.timedelta(days=rng.randrange(1, 22)))
            thread.append((kind, moment))
        answered = state in ("answered", "returned", "closed")
        answered_at = dict(thread).get("answer", at + dt.timedelta(days=1))
        answered_on = (answered_at + dt.timedelta(hours=8)).date() if answered else None
        visit_id = None
        if closed and rng.random() < FOLLOWED_UP:
            visit_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            visit_day = max((thread[-1][1] + dt.timedelta(hours=8)).date(), answered_on)
            # A form the rules can read: the worklist's rebuild re-decides a latest visit received before
            # others (rebuild_status), and an empty form failed it.
            form = HypertensionVisit(visit_date=visit_day, visit_mode=1, sbp=138, dbp=86).to_dict()
            visits.append((visit_id, rid, "hypertension", "visit", visit_id, 0, visit_day, 138, 86, form,
                           compact_text("hypertension", form), gp, "0" * 64, False, False, [], 0, [], thread[-1][1]))
        answer = {**ANSWER, "outcome": rng.choices(outcomes, outcome_weights)[0]} if answered else None
        refs.append((ref_id, rid, team_id, center_id, gp, hospital_id, dept, named, owner, state,
                     "requested" if state == "info_requested" else None, urgency,
                     rng.choice(("econsult", "transfer")), FORM, [], answer, RETURN if returned else None, sent,
                     rules.response_due(sent, urgency), answered_on,
                     answered_on + dt.timedelta(days=14) if answered else None, visit_id, at,
                     min(thread[-1][1], now), len(thread)))
        for kind, moment in thread:
            team_side = kind in ("create", "close", "message")
            msgs.append((ref_id, moment, gp if team_side else spec_id, "家庭医生" if team_side else spec_name,
                         "gp" if team_side else "specialist", kind,
                         FORM["present_illness"] if kind == "create" else "请尽快安排", state))
    return refs, msgs, visits


def migrate_before(url: str, revision: str) -> None:
    """Every migration but `revision` and those after it: the schema a district had before it."""
    cfg = alembic_config(url)
    script = ScriptDirectory.from_config(cfg)
    before = script.get_revision(revision).down_revision
    before = before if isinstance(before, tuple) else (before,)
    for head in script.get_heads():
        after = {r.revision for r in script.iterate_revisions(head, "base")}
        for target in (before if revision in after else (head,)):
            command.upgrade(cfg, target)


def insert_all(Session, table, columns: tuple, rows: list[tuple]) -> float:
    t0 = time.perf_counter()
    with Session() as s:
        insert_rows(s.connection(), table, rows, columns=columns)
        s.commit()
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


def bench_metrics(api: Api, Session, admin_id: int, calls: int, rounds: int) -> None:
    """The district's metrics through the API, each grouping and period; then the way before r401 against
    the new one in-process (alternating, the same session), and whether they agree."""
    from server.referrals import metrics as service
    from server.scope import Actor

    three_years = TODAY - dt.timedelta(days=service.MAX_DAYS - 1)
    periods = (("90 days", {}), ("3 years", {"date_from": three_years, "date_to": TODAY}))
    worst = 0.0
    for label, period in periods:
        for by in GROUPS:
            query = "&".join([f"by={by}"] + [f"{k}={v}" for k, v in period.items()])
            path = f"/api/v1/referrals/metrics?{query}"
            api.timed("get", path, admin_id)  # warm-up (the first call of a grouping compiles its SQL)
            times, cpu = [], []
            for _ in range(calls):
                c0 = time.process_time()
                ms, r = api.timed("get", path, admin_id)
                cpu.append((time.process_time() - c0) * 1000)
                times.append(ms)
            total = r.get_json()["total"]
            worst = max(worst, pct(times, 95))
            say(f"  {label:<7} by={by:<9}: median {statistics.median(times):7.1f} ms   p95 {pct(times, 95):7.1f} ms   "
                f"max {max(times):7.1f} ms   n={len(times)}   (this process's CPU median "
                f"{statistics.median(cpu):6.1f} ms; {total['cases']:,} cases, {len(r.get_json()['rows'])} rows)")
    say(f"  worst p95 {worst:.1f} ms (target p95 <= 1000 ms: {'met' if worst <= 1000 else 'NOT met'})")

    with api.app.app_context(), Session() as s:
        actor = Actor.of(s.get(User, admin_id))
        differ = []
        for label, period in periods:
            for by in GROUPS:
                args = {"by": by, **period}
                if service.metrics(s, actor, args, TODAY) != service.metrics_from_thread(s, actor, args, TODAY):
                    differ.append(f"{label} by={by}")
        say(f"  counted (r401's columns) vs judged case by case from the thread (before r401), every grouping "
            f"and period: {'identical' if not differ else 'DIFFERENT for ' + ', '.join(differ)}")
        args = {"by": "team", **periods[1][1]}
        timed = {"before r401": ([], [], []), "now": ([], [], [])}
        backend = s.scalar(text("SELECT pg_backend_pid()")) if s.get_bind().dialect.name == "postgresql" else None
        for _ in range(rounds):
            for name, fn in (("before r401", service.metrics_from_thread), ("now", service.metrics)):
                t0, c0, b0 = time.perf_counter(), time.process_time(), _cpu_ms(backend)
                fn(s, actor, args, TODAY)
                s.commit()
                timed[name][0].append((time.perf_counter() - t0) * 1000)
                timed[name][1].append((time.process_time() - c0) * 1000)
                timed[name][2].append(_cpu_ms(backend) - b0)
        for name, (wall, cpu, server) in timed.items() if rounds else ():  # --rounds 0: the API figures only
            say(f"  3 years by=team in-process, {name:<11}: median {statistics.median(wall):8.1f} ms wall, "
                f"{statistics.median(cpu):8.1f} ms this process's CPU"
                + (f" + {statistics.median(server):8.1f} ms PostgreSQL's" if backend else "")
                + f" (n={rounds}, alternating)")


def _cpu_ms(pid: int | None) -> float:
    """CPU time (user + system) a local process has used, from /proc: the PostgreSQL backend serving us."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teams", type=int, default=12, help="teams in the district (default 12)")
    ap.add_argument("--open", type=int, default=10_000, help="open referrals (default 10,000)")
    ap.add_argument("--closed", type=int, default=100_000, help="closed referrals (default 100,000)")
    ap.add_argument("--requests", type=int, default=300, help="timed requests per kind (default 300)")
    ap.add_argument("--sms", type=int, default=5000, help="SMS for the worker (default 5,000)")
    ap.add_argument("--metrics-calls", type=int, default=20, help="timed metrics calls per grouping and period")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of the metrics before/after r401")
    ap.add_argument("--db", default="gpo_bench_referrals", help="the benchmark's own database (recreated)")
    ap.add_argument("--sqlite", action="store_true", help="a SQLite file (in a new temporary folder) instead")
    ap.add_argument("--reuse", action="store_true",
                    help="the PostgreSQL database --db is already loaded: time only the metrics ([5])")
    args = _smoke.parse(ap, argv, teams=1, open=100, closed=1000, requests=10, sms=200, metrics_calls=3, rounds=1,
                        db="gpo_bench_referrals_smoke")
    _district.CASELOAD.update(_district.SMOKE_CASELOAD if args.smoke else
                              dict(households=500, residents=1500, hypertension=300, diabetes=100, both=50))
    started = time.perf_counter()
    say(f"GP Outreach referrals benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    if args.reuse:
        url = _district.database_url(args.db)
        say(f"reusing {args.db}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        Session = sessionmaker(bind=make_engine(url), expire_on_commit=False)
        with Session() as s:
            admin_id = s.scalar(select(User.id).where(User.role == "admin"))
        say(f"\n[5] district metrics through the HTTP API as the admin, {args.metrics_calls} calls each after one "
            f"warm-up; load average {os.getloadavg()[0]:.2f}")
        bench_metrics(Api(url), Session, admin_id, args.metrics_calls, args.rounds)
        say(f"\ndone in {time.perf_counter() - started:.0f} s; load average "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    if args.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='gpo_bench_referrals_')}/district.db"
        say(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite "
            f"{sqlite3.sqlite_version}, {url}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    else:
        url = _district.recreate_database(args.db)
        facts = _district.server_facts(url)
        say(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {facts['version']} "
            f"(shared_buffers {facts['shared_buffers']}, synchronous_commit {facts['synchronous_commit']}), "
            f"database {args.db}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    migrate_before(url, METRICS_REVISION)
    engine = make_engine(url)
    Session = sessionmaker(bind=engine, expire_on_commit=False)

    say(f"\n[1] loading: {args.teams} teams, {len(DEPARTMENTS) * HOSPITALS} pools of {SPECIALISTS_PER_DEPT} "
        f"specialists, {args.open:,} open + {args.closed:,} closed referrals")
    t0 = time.perf_counter()
    world = load_district(url, Session, args.teams)
    say(f"  district: {len(world['residents']):,} residents, {len(world['specialists'])} specialists "
        f"in {time.perf_counter() - t0:.1f} s")
    refs, msgs, visits = referral_rows(world, args.open, args.closed)
    secs = (insert_all(Session, FollowUp.__table__, VISIT_COLUMNS, visits)
            + insert_all(Session, Referral.__table__, REF_COLUMNS, refs)
            + insert_all(Session, ReferralMessage.__table__, MSG_COLUMNS, msgs))
    say(f"  copied {len(refs):,} referrals and {len(msgs):,} thread entries ({len(visits):,} closing visits) "
        f"in {secs:.1f} s")
    t0 = time.perf_counter()
    migrate(url)
    say(f"  migration {METRICS_REVISION} stamped them (the metrics' facts from each thread) in "
        f"{time.perf_counter() - t0:.1f} s")
    if args.sqlite:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            # Every table, as autovacuum would have by the time a district has this many cases: without
            # statistics on residents (the import writer leaves none) the planner guessed 526 of 18,000 and
            # joined from residents, 1.4 s an inbox.
            conn.execute("VACUUM ANALYZE")
    say(f"  then {'ANALYZE' if args.sqlite else 'VACUUM ANALYZE'}")
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
    say(f"\n[5] district metrics through the HTTP API as the admin, {args.metrics_calls} calls each after one "
        f"warm-up; load average {os.getloadavg()[0]:.2f}")
    bench_metrics(api, Session, world["district"].admin.user_id, args.metrics_calls, args.rounds)
    say(f"\ndone in {time.perf_counter() - started:.0f} s; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
