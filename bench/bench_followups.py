"""Follow-ups (issue 3) on PostgreSQL: the server's rules path, a team's worklist, a district's indicators.

Generates the standard caseload (shared/design/caseload.md) for N teams into its own database
(`gpo_bench_followups`, dropped and recreated every run; never `test`): households, residents and registry
entries with server.demo.caseload + server.imports.services.write, then 8 visits per patient and condition
(quarterly over two years, some uncontrolled, a few emergencies, some phone visits), each decided by the
server's own `followups.services.decide` (gpcore rules) and bulk-copied into `followups`.

    .venv/bin/python bench/bench_followups.py              # 42 teams (a district), ~1.34 M visits
    .venv/bin/python bench/bench_followups.py --teams 2    # quick

Prints figures (medians of --runs runs); asserts nothing. Targets (2 cores): rules >= 20,000 visits/s in
one process; a team's worklist p95 <= 100 ms; a 42-team district's yearly indicators <= 2 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _district  # noqa: E402
import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from gpcore import followup as rules  # noqa: E402
from gpcore.followup.compact import compact_text  # noqa: E402
from server.auth.models import User  # noqa: E402
from server.auth.services import hash_password  # noqa: E402
from server.db import make_engine, utcnow  # noqa: E402
from server.demo.caseload import Generator, team_caseload  # noqa: E402
from server.demo.load import to_groups  # noqa: E402
from server.followups import indicators, services  # noqa: E402
from server.followups.worklist import worklist  # noqa: E402
from server.referrals.worklist import referral_offers  # noqa: E402
from server.households.models import ChronicCondition, Resident  # noqa: E402
from server.imports.services import write  # noqa: E402
from server.manage import migrate  # noqa: E402
from server.org.models import Center, Committee, Team  # noqa: E402
from server.scope import Actor  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED = 20261122
TODAY = dt.date(2026, 11, 20)
FIRST_VISIT = dt.date(2024, 11, 25)  # 8 quarterly visits end before TODAY
TEAMS_PER_CENTER, COMMITTEES_PER_TEAM = 6, 4
COLUMNS = ("id", "resident_id", "condition", "kind", "original_id", "revision", "amends_id", "amendment_reason",
           "visit_date", "visit_mode", "sbp", "dbp", "fpg_mmol", "classification", "bp_controlled",
           "fpg_controlled", "emergency", "referral", "referred", "rules_next_visit_date", "next_visit_date",
           "rules_version", "missing_fields", "missing_count", "form", "form_compact", "assessment",
           "device_assessment", "disagreement", "recorded_at", "received_at", "signed_by", "device", "content_hash")
JSON_COLUMNS = {"missing_fields", "form", "assessment", "device_assessment", "disagreement"}
DRUGS = {"hypertension": ["氨氯地平", "缬沙坦", "硝苯地平缓释片", "美托洛尔"], "t2dm": ["二甲双胍", "格列美脲", "阿卡波糖"]}


def recreate(name: str) -> str:
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to recreate database {name!r}")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def organisation(session, teams: int):
    """Centers of 6 teams, 4 committees a team, one GP a team, a clerk a center, an admin."""
    pw = hash_password("bench-pass", "fast")
    admin = User(username="admin", full_name="管理员", role="admin", password_hash=pw)
    session.add(admin)
    out, staff = [], {}
    for c in range(-(-teams // TEAMS_PER_CENTER)):
        center = Center(code=f"PD-{c + 1:02d}", name=f"第{c + 1}社区卫生服务中心", county_code="310115",
                        township_code=f"{c + 1:03d}", township_name=f"第{c + 1}街道")
        session.add(center)
        session.flush()
        clerk = User(username=f"clerk{c + 1}", full_name="文员", role="center_staff", center_id=center.id,
                     password_hash=pw)
        session.add(clerk)
        for t in range(min(TEAMS_PER_CENTER, teams - c * TEAMS_PER_CENTER)):
            team = Team(center_id=center.id, name=f"{c + 1}中心{t + 1}队")
            session.add(team)
            session.flush()
            committees = [Committee(center_id=center.id, code=f"{t * COMMITTEES_PER_TEAM + k + 1:03d}",
                                    name=f"居委会{t * COMMITTEES_PER_TEAM + k + 1}", team_id=team.id, last_serial=0)
                          for k in range(COMMITTEES_PER_TEAM)]
            session.add_all(committees)
            gp = User(username=f"c{c + 1}t{t + 1}", full_name="家庭医生", role="gp", team_id=team.id,
                      center_id=center.id, team_role="family_doctor", password_hash=pw)
            session.add(gp)
            session.flush()
            out.append((team, center, committees, gp))
        session.flush()
        staff[center.id] = clerk
    session.commit()
    return admin, staff, out


def visit_form(rng: random.Random, condition: str, day: dt.date, profile: float) -> dict:
    """One plausible form; `profile` (0..1) is the patient's tendency to be uncontrolled."""
    mode = rng.choices((1, 2, 3), weights=(70, 20, 10))[0]
    form = {"visit_date": day.isoformat(), "visit_mode": mode, "symptoms": [1] if rng.random() < 0.7 else [2],
            "cigarettes_per_day": rng.choice((0, 0, 0, 10)), "liquor_liang_per_day": rng.choice((0, 0, 1)),
            "exercise_times_per_week": rng.randint(0, 7), "exercise_minutes_per_time": rng.choice((0, 30, 60)),
            "salt_intake": rng.randint(1, 3), "psychological_adjustment": 1, "compliance": rng.randint(1, 2),
            "medication_adherence": rng.choices((1, 2, 3), weights=(85, 12, 3))[0], "adverse_reaction": 1,
            "medications": [{"name": n, "times_per_day": 1, "mg_per_time": 5}
                            for n in rng.sample(DRUGS[condition], rng.randint(1, 2))],
            "doctor": "家庭医生", "classification": 1,
            "next_visit_date": (day + dt.timedelta(days=90)).isoformat()}
    if mode != 3 and rng.random() < 0.85:  # some records leave boxes empty (completeness indicator)
        form["heart_rate"] = rng.randint(60, 95)
    if rng.random() < 0.03:
        form.update(adverse_reaction=2, adverse_reaction_text="干咳")
    if mode != 3:
        high = rng.random() < profile
        sbp = int(rng.gauss(152 if high else 128, 9))
        if rng.random() < 0.004:  # a few emergencies
            sbp = rng.randint(180, 200)
        form.update(sbp=min(max(sbp, 95), 230), weight_kg=round(rng.uniform(50, 90), 1), height_cm=165.0)
        form["dbp"] = min(form["sbp"] - 25, int(rng.gauss(92 if high else 80, 6)))
        if high:  # the doctor books the 2-week recheck and ticks "uncontrolled"
            form.update(classification=2, next_visit_date=(day + dt.timedelta(days=14)).isoformat())
        if condition == "t2dm":
            fpg = round(rng.gauss(8.2 if high else 6.2, 0.8), 1)
            if rng.random() < 0.004:
                fpg = 17.5
            form.update(fpg_mmol=max(fpg, 4.2), dorsalis_pedis=1, staple_food_g_per_day=300, hypoglycaemia=1)
    return form


def team_visits(session, rng: random.Random, team: Team, gp: User) -> tuple[list[tuple], float, float, float]:
    """8 quarterly visits per registry entry of the team, decided by the server's rules path."""
    patients = session.execute(select(ChronicCondition.resident_id, ChronicCondition.condition, Resident.birth_date)
                               .join(Resident, Resident.id == ChronicCondition.resident_id)
                               .where(Resident.team_id == team.id).order_by(Resident.id, ChronicCondition.condition)
                               ).all()
    parse = {"hypertension": rules.parse_hypertension_visit, "t2dm": rules.parse_diabetes_visit}
    rows, spent, rules_only, rules_cpu, now = [], 0.0, 0.0, 0.0, utcnow()
    for resident_id, condition, birth in patients:
        profile = rng.choice((0.1, 0.2, 0.3, 0.6))
        start = FIRST_VISIT + dt.timedelta(days=rng.randrange(0, 60))
        previous, count_year, count = None, None, 0
        for n in range(8):
            day = start + dt.timedelta(days=91 * n + rng.randrange(-5, 6))
            form = visit_form(rng, condition, day, profile)
            t0 = time.perf_counter()
            visit, problems = parse[condition](form, today=TODAY)
            if problems:
                raise SystemExit(f"generated an invalid form: {problems[:2]}")
            if count_year != day.year:
                count_year, count = day.year, 0
            columns, _ = services.decide(condition, visit, birth, previous, count)
            spent += time.perf_counter() - t0
            # The rules alone (gpcore parse + assess, as bench/bench_rules.py measures them), once more.
            t1, c1 = time.perf_counter(), time.process_time()
            again, _ = parse[condition](form, today=TODAY)
            if condition == "hypertension":
                rules.assess_hypertension_visit(again, patient_age=rules.age_on(birth, day), previous=previous,
                                                earlier_visits_this_year=count)
            else:
                rules.assess_diabetes_visit(again, previous=previous, earlier_visits_this_year=count)
            rules_only += time.perf_counter() - t1
            rules_cpu += time.process_time() - c1
            count += visit.visit_mode in (1, 2)
            previous = visit
            rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            values = {**columns, "form_compact": compact_text(condition, columns["form"]),  # as the ORM writes it
                      "id": rid, "resident_id": resident_id, "condition": condition, "kind": "visit",
                      "original_id": rid, "revision": 0, "amends_id": None, "amendment_reason": None,
                      "device_assessment": None, "disagreement": [], "recorded_at": None, "received_at": now,
                      "signed_by": gp.id, "device": None, "content_hash": "bench"}
            rows.append(tuple(Jsonb(values[c]) if c in JSON_COLUMNS else values[c] for c in COLUMNS))
    return rows, spent, rules_only, rules_cpu


def copy_visits(url: str, rows: list[tuple]) -> float:
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY followups ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - t0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def load(session, url: str, engine, teams: int):
    """Generate and write the caseload and visits of `teams` teams; print what it took."""
    admin, staff, teams = organisation(session, teams)
    gen = Generator(SEED)
    rng = random.Random(SEED)
    rules_s = rules_cpu_s = server_s = copy_s = write_s = 0.0
    visits = 0
    for i, (team, center, committees, gp) in enumerate(teams):
        files = team_caseload(gen, f"T{i + 1}", len(committees), **_district.CASELOAD)
        t0 = time.perf_counter()
        write(session, Actor.of(admin), center, to_groups(files, committees), reason="benchmark")
        session.commit()
        write_s += time.perf_counter() - t0
        rows, spent, rules_only, rules_cpu = team_visits(session, rng, team, gp)
        server_s += spent
        rules_s += rules_only
        rules_cpu_s += rules_cpu
        copy_s += copy_visits(url, rows)
        visits += len(rows)
        print(f"  team {i + 1}/{len(teams)}: {len(rows)} visits", flush=True)
    status_s, years_s = rebuild(session)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        size = conn.execute(text("SELECT pg_size_pretty(pg_total_relation_size('followups'))")).scalar()
        emergencies = conn.execute(text("SELECT count(*) FROM followups WHERE emergency")).scalar()
    print(f"\nloaded {visits:,} visits ({emergencies:,} emergencies, followups table {size}); "
          f"household files written in {write_s:.1f} s, visits copied in {copy_s:.1f} s "
          f"({visits / copy_s:,.0f} rows/s)")
    print(f"worklist status rows rebuilt in {status_s:.1f} s, yearly indicator rows in {years_s:.1f} s")
    # Other work on a 2-core machine steals wall time; CPU time says what the rules cost in themselves.
    print(f"rules alone (gpcore parse + assess, one process): {visits / rules_s:,.0f} visits/s wall, "
          f"{visits / rules_cpu_s:,.0f} visits/s of CPU time [target >= 20,000]")
    print(f"server path (gpcore parse + services.decide: assess, BP control, form/assessment JSON, completeness): "
          f"{visits / server_s:,.0f} visits/s")
    return admin, staff, teams


def rebuild(session) -> tuple[float, float]:
    """The rows every signed visit keeps (worklist status, yearly indicator figures), for all visits at once."""
    t0 = time.perf_counter()
    services.rebuild_status(session)
    session.commit()
    t1 = time.perf_counter()
    services.rebuild_years(session)
    session.commit()
    return t1 - t0, time.perf_counter() - t1


def reload(session):
    """The organisation of an already loaded benchmark database."""
    users = session.scalars(select(User)).all()
    admin = next(u for u in users if u.role == "admin")
    staff = {u.center_id: u for u in users if u.role == "center_staff"}
    gps = {u.team_id: u for u in users if u.role == "gp"}
    centers = {c.id: c for c in session.scalars(select(Center))}
    out = [(t, centers[t.center_id], None, gps[t.id]) for t in session.scalars(select(Team).order_by(Team.id))]
    return admin, staff, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teams", type=int, default=42)
    ap.add_argument("--db", default="gpo_bench_followups")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--worklist-calls", type=int, default=100, help="per run")
    ap.add_argument("--reuse", action="store_true", help="query phases only, on the database already loaded")
    ap.add_argument("--rebuild", action="store_true",
                    help="with --reuse: recompute the status and yearly rows first (a database loaded before f004)")
    args = _smoke.parse(ap, teams=1, db="gpo_bench_followups_smoke", runs=1, worklist_calls=5)
    if args.smoke:
        _district.use_smoke_caseload()
    started = time.perf_counter()
    url = f"postgresql://postgres@127.0.0.1:5432/{args.db}" if args.reuse else recreate(args.db)
    migrate(url)
    engine = make_engine(url)
    Session = sessionmaker(bind=engine, expire_on_commit=False)
    print(f"cores: {os.cpu_count()}  database: {args.db}  teams: {args.teams}  today: {TODAY}")
    with psycopg.connect(url) as conn:
        print("PostgreSQL", conn.execute("SHOW server_version").fetchone()[0],
              {s: conn.execute(f"SHOW {s}").fetchone()[0] for s in ("shared_buffers", "work_mem")})

    session = Session()
    if args.reuse:
        admin, staff, teams = reload(session)
        args.teams = len(teams)
        if args.rebuild:
            status_s, years_s = rebuild(session)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE followup_status"))
                conn.execute(text("VACUUM ANALYZE followup_years"))
            print(f"worklist status rows rebuilt in {status_s:.1f} s, yearly indicator rows in {years_s:.1f} s")
    else:
        admin, staff, teams = load(session, url, engine, teams=args.teams)

    # --- worklist: team 1 as its GP -------------------------------------------------------------------
    team, center, _, gp = teams[0]
    gp_actor = Actor.of(gp)
    variants = [{}, {"condition": "hypertension"}, {"condition": "t2dm"}, {"member_id": gp.id},
                {"bucket": "overdue"}]
    p50s, p95s, sizes = [], [], {}
    offer_p50s, offer_p95s, offer_cpu, offered = [], [], [], {}
    for run in range(args.runs + 1):
        times, offer_times = [], []
        for n in range(args.worklist_calls):
            query = variants[n % len(variants)]
            s = Session()
            t0 = time.perf_counter()
            result = worklist(s, gp_actor, query, TODAY)
            times.append((time.perf_counter() - t0) * 1000)
            # The API's first page (200 items) then gets its referral offers (server/followups/routes.py).
            page = result["items"][:200]
            t0, c0 = time.perf_counter(), time.process_time()
            referral_offers(s, gp_actor, page)
            offer_times.append((time.perf_counter() - t0) * 1000)
            if run:
                offer_cpu.append((time.process_time() - c0) * 1000)
            s.close()
            sizes[str(query)] = len(result["items"])
            offered[str(query)] = sum(i["referral_offer"] is not None for i in page)
        if run:  # the first run warms the cache
            p50s.append(pct(times, 50))
            p95s.append(pct(times, 95))
            offer_p50s.append(pct(offer_times, 50))
            offer_p95s.append(pct(offer_times, 95))
    print(f"\nworklist, one team ({args.worklist_calls} calls x {args.runs} runs, 5 filter variants; items: "
          f"{sizes}):\n  p50 {statistics.median(p50s):.1f} ms  p95 {statistics.median(p95s):.1f} ms "
          f"[target p95 <= 100 ms]")
    print(f"  + the first page's referral offers (offered: {offered}): p50 {statistics.median(offer_p50s):.1f} ms  "
          f"p95 {statistics.median(offer_p95s):.1f} ms, CPU median {statistics.median(offer_cpu):.1f} ms")

    # --- indicators ----------------------------------------------------------------------------------------
    def timed(actor, query):
        values = []
        for run in range(args.runs + 1):
            s = Session()
            t0 = time.perf_counter()
            report = indicators.indicators(s, actor, query)
            values.append(time.perf_counter() - t0)
            s.close()
        return statistics.median(values[1:]), report

    admin_actor = Actor.of(admin)
    for label, actor, query in (
            (f"district ({args.teams} teams), year 2025", admin_actor, {"year": 2025}),
            (f"district ({args.teams} teams), 2026 Q3", admin_actor, {"year": 2026, "quarter": 3}),
            ("one center (6 teams), year 2025", Actor.of(staff[center.id]), {"year": 2025}),
            ("one team, year 2025", gp_actor, {"year": 2025})):
        seconds, report = timed(actor, query)
        top = [r for r in report["rows"] if r["level"] == ("district" if actor is admin_actor else
                                                           "center" if actor.role == "center_staff" else "team")]
        print(f"\nindicators, {label}: median {seconds * 1000:.0f} ms over {args.runs} runs"
              + (" [target <= 2 s for 42 teams]" if actor is admin_actor and "quarter" not in query else ""))
        for r in top[:2]:
            print(f"  {r['condition']:12} under {r['under_management']:>7,}  spec {r['spec_rate']}  "
                  f"BP {r['bp_control_rate']}  FPG {r['glucose_control_rate']}  "
                  f"emergency visits {r['emergency_visits']}  completeness {r['completeness_rate']}")
    session.close()
    engine.dispose()
    print(f"\nwhole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
