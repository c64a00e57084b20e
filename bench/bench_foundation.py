"""Benchmark for the service foundation (issue 2): import rate, resident search and household list latency.

    .venv/bin/python bench/bench_foundation.py                 # the full district: 42 teams, ~630,000 residents
    .venv/bin/python bench/bench_foundation.py --teams 6       # one center, a quick run
    .venv/bin/python bench/bench_foundation.py --reuse --explain   # query phases only, on the loaded database

Targets (2-core machine): import >= 20,000 residents/s; resident search p95 <= 50 ms over 1,000 mixed
queries; a team's household list page p95 <= 30 ms. The script prints what it measured; it asserts nothing.

The district goes into its own database (default gpo_bench), dropped and recreated on every loading run.
The last team of the district is loaded through the CSV file import (parse, validate, write); the others
through the bulk writer the demo uses. Queries run through the same service code the endpoints run
(build the select, then api.paginate with its count); optionally also through Flask's test client.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

import _district as district_mod  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from server.api import paginate  # noqa: E402
from server.db import make_engine  # noqa: E402
from server.demo.caseload import Generator  # noqa: E402
from server.households.services import household_rows, list_households  # noqa: E402
from server.imports import services as imports  # noqa: E402
from server.manage import migrate  # noqa: E402
from server.search.services import classify_query, planned_for_each_query, search_residents  # noqa: E402

SEARCH_TARGET_MS = 50.0
LIST_TARGET_MS = 30.0
IMPORT_TARGET = 20_000
# Kinds of text a doctor types, with their share of the 1,000 queries.
KINDS = (("name_full", 14), ("name_part", 12), ("pinyin", 14), ("id_number", 12), ("record_number", 10),
         ("record_last8", 10), ("phone_full", 10), ("phone_part", 8), ("address", 10))
ROLES = (("gp", 80), ("center_staff", 15), ("admin", 5))


# --- small helpers ----------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    xs = sorted(values)
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)]


def summary(values_ms: list[float]) -> dict:
    return {"n": len(values_ms), "p50": pct(values_ms, 50), "p95": pct(values_ms, 95),
            "p99": pct(values_ms, 99), "max": max(values_ms)}


def fmt_row(label: str, s: dict) -> str:
    return (f"  {label:<22} n={s['n']:>5}  p50 {s['p50']:7.2f}  p95 {s['p95']:7.2f}  p99 {s['p99']:7.2f}"
            f"  max {s['max']:7.2f} ms")


def median_of(runs: list[dict]) -> dict:
    """Per-statistic median over several runs' summaries."""
    return {k: (runs[0][k] if k == "n" else statistics.median(r[k] for r in runs)) for k in runs[0]}


def weighted(rng: random.Random, table) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def say(msg: str = "") -> None:
    print(msg, flush=True)


# --- step 1: load -------------------------------------------------------------------------------

def load(args, url: str, Session) -> tuple[district_mod.District, dict]:
    figures = {}
    t0 = time.perf_counter()
    migrate(url)
    figures["migrate_s"] = time.perf_counter() - t0
    session = Session()
    district = district_mod.create_organisation(session, args.teams)
    session.commit()
    say(f"schema migrated in {figures['migrate_s']:.1f} s; {len(district.centers)} centers, "
        f"{len(district.teams)} teams, {sum(len(t.committees) for t in district.teams)} committees")

    gen = Generator(district_mod.SEED)
    writer_teams, file_team = district.teams[:-1], district.teams[-1]
    timings = []
    say(f"\n[1] import: {len(writer_teams)} teams through the bulk writer (imports.services.write)")
    for team in writer_teams:
        g0 = time.perf_counter()
        files = district_mod.generate_team(gen, team)
        gen_s = time.perf_counter() - g0
        n = sum(len(f.members) for f in files)
        write_s = district_mod.write_team(session, district, team, files)
        timings.append(district_mod.LoadTiming(team.key, n, gen_s, write_s))
        say(f"  team {team.key:<6} {n} residents  generate {gen_s:5.2f} s  write+commit {write_s:5.2f} s"
            f"  = {n / write_s:8,.0f} residents/s")
    residents = sum(t.residents for t in timings)
    gen_total = sum(t.generate_s for t in timings)
    write_total = sum(t.write_s for t in timings)
    per_team = [t.residents / t.write_s for t in timings]
    figures.update(writer_residents=residents, writer_rate=residents / write_total, writer_s=write_total,
                   generate_s=gen_total, writer_team_median=statistics.median(per_team),
                   writer_first=per_team[0], writer_last=per_team[-1])
    say(f"  generation {gen_total:.1f} s total ({residents / gen_total:,.0f} residents/s, not part of the rate)")
    say(f"  writing    {write_total:.1f} s total for {residents:,} residents")
    say(f"  WRITER RATE {figures['writer_rate']:,.0f} residents/s overall; per team median "
        f"{figures['writer_team_median']:,.0f}, first {per_team[0]:,.0f}, last {per_team[-1]:,.0f}"
        f"  (target >= {IMPORT_TARGET:,})")

    say(f"\n[1b] file import: team {file_team.key} as one CSV through imports.services.run (parse+validate+write)")
    g0 = time.perf_counter()
    files = district_mod.generate_team(gen, file_team)
    data = district_mod.caseload_csv(files, file_team.committees)
    gen_s = time.perf_counter() - g0
    n = sum(len(f.members) for f in files)
    staff = district.center_staff[file_team.center_id]
    say(f"  CSV of {n} residents, {len(data) / 1e6:.1f} MB, generated in {gen_s:.2f} s")
    session.close()
    session = Session()
    t0 = time.perf_counter()
    report = imports.run(session, staff, file_team.center_id, data, "team.csv", dry_run=True, today=gen.today)
    dry_s = time.perf_counter() - t0
    session.rollback()
    say(f"  dry run (parse+validate, no write): {dry_s:.2f} s = {n / dry_s:,.0f} residents/s, "
        f"{len(report.problems)} problems")
    t0 = time.perf_counter()
    report = imports.run(session, staff, file_team.center_id, data, "team.csv", dry_run=False, today=gen.today)
    session.commit()
    file_s = time.perf_counter() - t0
    for p in report.problems[:10]:
        say(f"  problem: row {p.row} {p.field}: {p.message} {p.value!r}")
    figures.update(file_rate=n / file_s, file_s=file_s, dry_rate=n / dry_s, file_problems=len(report.problems))
    say(f"  FILE IMPORT RATE {n / file_s:,.0f} residents/s ({file_s:.2f} s for {report.residents} residents, "
        f"{report.households} households, {report.conditions} registry entries, {len(report.problems)} problems)")
    session.close()

    # VACUUM as well as ANALYZE: what autovacuum does to freshly inserted tables within minutes anyway.
    # It sets the visibility map (searches read covering indexes without the table) and merges the trigram
    # indexes' pending lists (otherwise each fragment search scans them); not part of the import rate.
    t0 = time.perf_counter()
    with Session.kw["bind"].connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")
    figures["analyze_s"] = time.perf_counter() - t0
    say(f"  VACUUM (ANALYZE) {figures['analyze_s']:.1f} s")
    return district, figures


def table_facts(Session) -> None:
    with Session() as s:
        rows = s.execute(text(
            "SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables "
            "WHERE relname IN ('households','residents','chronic_conditions','assignment_changes') "
            "ORDER BY relname")).all()
        size = s.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    say("  tables: " + ", ".join(f"{r[0]} {r[1]:,} rows ({r[2]})" for r in rows) + f"; database {size}")


# --- step 2: search -----------------------------------------------------------------------------

def sample_residents(Session, n: int, seed: int) -> list[dict]:
    """About n real residents with their household address, drawn reproducibly."""
    with Session() as s:
        total = s.scalar(text("SELECT count(*) FROM residents"))
        share = min(100.0, 100.0 * n * 1.5 / total)
        rows = s.execute(text(
            f"SELECT r.name, r.name_initials, r.name_pinyin, r.id_number, r.record_number, r.phone, "
            f"r.team_id, r.center_id, h.address FROM residents r TABLESAMPLE BERNOULLI ({share:.4f}) "
            f"REPEATABLE ({seed}) JOIN households h ON h.id = r.household_id ORDER BY r.record_number")).mappings().all()
    return [dict(r) for r in rows]


_ADDR = re.compile(r"^(?P<street>.+?路)(?P<lane>\d+弄)(?P<estate>.+?)(?P<building>\d+号)(?P<room>\d+室)$")


def make_query(kind: str, r: dict, rng: random.Random) -> str | None:
    name = r["name"]
    if kind == "name_full":
        return name
    if kind == "name_part":
        return rng.choice([name[:1], name[:2], name[-2:] if len(name) >= 3 else name[-1:]])
    if kind == "pinyin":
        return rng.choice([r["name_initials"], r["name_initials"], r["name_initials"][:2], r["name_pinyin"]])
    if kind == "id_number":
        return r["id_number"]
    if kind == "record_number":
        return r["record_number"]
    if kind == "record_last8":
        return r["record_number"][-8:]
    if kind == "phone_full":
        return r["phone"]
    if kind == "phone_part":
        if not r["phone"]:
            return None
        return rng.choice([r["phone"][-4:], r["phone"][3:7], r["phone"][:7]])
    if kind == "address":
        m = _ADDR.match(r["address"])
        if not m:
            return r["address"]
        return rng.choice([m["street"] + m["lane"], m["estate"] + m["building"], m["building"] + m["room"],
                           m["estate"] + m["building"] + m["room"], r["address"]])
    raise ValueError(kind)


def build_queries(district, residents: list[dict], n: int, seed: int) -> list[dict]:
    """n queries: (kind, text, role, actor), drawn from real residents with a fixed seed."""
    rng = random.Random(seed)
    teams = district.teams
    by_team = {t.id: t for t in teams}
    out = []
    while len(out) < n:
        r = rng.choice(residents)
        kind = weighted(rng, KINDS)
        q = make_query(kind, r, rng)
        if not q:
            continue
        role = weighted(rng, ROLES)
        if role == "gp":  # mostly a resident of the doctor's own team; sometimes someone else's (no hit)
            team = by_team[r["team_id"]] if rng.random() < 0.9 else rng.choice(teams)
            actor = team.gp
        elif role == "center_staff":
            actor = district.center_staff[r["center_id"]]
        else:
            actor = district.admin
        out.append({"kind": kind, "q": q, "role": role, "actor": actor, "classified": classify_query(q)})
    return out


def run_search(Session, queries: list[dict]) -> list[tuple[dict, float, int]]:
    """Each query as the endpoint runs it: build the select, page 1 of 20 with its count."""
    results = []
    for item in queries:
        session = Session()
        t0 = time.perf_counter()
        planned_for_each_query(session)
        stmt = search_residents(item["actor"], {"q": item["q"]})
        page = paginate(session, stmt, 1, 20)
        for res in page["items"]:  # what the row schema reads
            res.household.address
        ms = (time.perf_counter() - t0) * 1000
        session.close()
        results.append((item, ms, page["total"]))
    return results


def report_search(label: str, runs: list[list[tuple[dict, float, int]]]) -> dict:
    """Per kind, per role and overall, each statistic the median over runs."""
    say(f"  {label}: {len(runs)} run(s) of {len(runs[0])} queries; statistics are medians over runs")
    groups = defaultdict(lambda: [[] for _ in runs])
    for i, results in enumerate(runs):
        for item, ms, _total in results:
            groups["kind " + item["kind"]][i].append(ms)
            groups["role " + item["role"]][i].append(ms)
            groups["overall"][i].append(ms)
    out = {}
    for key in [f"kind {k}" for k, _ in KINDS] + [f"role {r}" for r, _ in ROLES] + ["overall"]:
        if key in groups:
            out[key] = median_of([summary(v) for v in groups[key]])
            say(fmt_row(key, out[key]))
    say(f"  per-run overall p95: " + ", ".join(f"{summary(g)['p95']:.2f}" for g in groups["overall"]) + " ms")
    return out


def hits_report(results) -> None:
    hits = defaultdict(list)
    for item, _ms, total in results:
        hits[item["kind"]].append(total)
    say("  hits (total matches) per kind: " + "; ".join(
        f"{k} median {statistics.median(v):g} max {max(v)}" for k, v in hits.items()))


# --- step 3: household list -----------------------------------------------------------------------

def build_pages(district, n: int, seed: int, role: str = "gp") -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        team = rng.choice(district.teams)
        if role == "gp":
            actor, pages = team.gp, math.ceil(district_mod.CASELOAD["households"] / 50)
        else:
            actor = district.center_staff[team.center_id]
            teams_here = sum(t.center_id == team.center_id for t in district.teams)
            pages = math.ceil(district_mod.CASELOAD["households"] * teams_here / 50)
        out.append({"actor": actor, "page": rng.randint(1, pages), "role": role})
    return out


def run_pages(Session, pages: list[dict]) -> list[float]:
    out = []
    for item in pages:
        session = Session()
        t0 = time.perf_counter()
        page = paginate(session, list_households(item["actor"], {}), item["page"], 50, rows=True,
                        then=household_rows)
        ms = (time.perf_counter() - t0) * 1000
        session.close()
        if not page["items"]:
            raise RuntimeError(f"empty page {item['page']} of {page['total']}")
        out.append(ms)
    return out


# --- HTTP through Flask's test client -----------------------------------------------------------

def http_client(url: str, district):
    from flask_jwt_extended import create_access_token

    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DEVELOPMENT": True})
    import logging
    logging.getLogger().setLevel(logging.WARNING)
    actors = [district.admin, *district.center_staff.values(), *(t.gp for t in district.teams)]
    with app.app_context():
        tokens = {a.user_id: create_access_token(identity=str(a.user_id), additional_claims={"role": a.role},
                                                 expires_delta=False) for a in actors}
    return app.test_client(), tokens


def run_http_search(client, tokens, queries) -> list[tuple[dict, float, int]]:
    out = []
    for item in queries:
        headers = {"Authorization": f"Bearer {tokens[item['actor'].user_id]}"}
        t0 = time.perf_counter()
        resp = client.get("/api/v1/residents", query_string={"q": item["q"]}, headers=headers)
        body = resp.get_json()
        ms = (time.perf_counter() - t0) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"search {item['q']!r}: {resp.status_code} {body}")
        out.append((item, ms, body["total"]))
    return out


def run_http_pages(client, tokens, pages) -> list[float]:
    out = []
    for item in pages:
        headers = {"Authorization": f"Bearer {tokens[item['actor'].user_id]}"}
        t0 = time.perf_counter()
        resp = client.get("/api/v1/households", query_string={"page": item["page"], "page_size": 50},
                          headers=headers)
        body = resp.get_json()
        ms = (time.perf_counter() - t0) * 1000
        if resp.status_code != 200 or not body["items"]:
            raise RuntimeError(f"household page {item['page']}: {resp.status_code}")
        out.append(ms)
    return out


# --- EXPLAIN ---------------------------------------------------------------------------------------

def explain(engine, stmt, title: str, page: int = 1, page_size: int = 20, then=None) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the page query and of its count, as paginate builds them."""
    from sqlalchemy import func, select

    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    paged = stmt.limit(page_size).offset((page - 1) * page_size)
    if then is not None:
        paged = then(paged.subquery("page"))
    for what, s in (("count", count), ("page", paged)):
        compiled = s.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
        raw = engine.raw_connection()
        try:
            cur = raw.driver_connection.cursor()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params)
            plan = "\n".join("      " + r[0] for r in cur.fetchall())
            raw.driver_connection.rollback()
        finally:
            raw.close()
        say(f"    --- {title} [{what}]\n{plan}")


# --- main --------------------------------------------------------------------------------------------

def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teams", type=int, default=42, help="teams in the district (6 a center; default 42)")
    ap.add_argument("--db", default="gpo_bench", help="the benchmark's own database (dropped and recreated)")
    ap.add_argument("--reuse", action="store_true", help="skip loading; query the database as it is")
    ap.add_argument("--queries", type=int, default=1000, help="search queries a run (default 1000)")
    ap.add_argument("--pages", type=int, default=500, help="household list pages a run (default 500)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of the query phases (default 3)")
    ap.add_argument("--no-http", action="store_true", help="skip the Flask test-client measurements")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest query of each kind")
    args = _smoke.parse(ap, argv, teams=2, db="gpo_bench_smoke", queries=20, pages=5, runs=1)
    if args.smoke:
        district_mod.use_smoke_caseload()
    if args.teams < 2 and not args.reuse:
        ap.error("--teams must be at least 2 (the last team goes through the file import)")

    started = time.perf_counter()
    url = district_mod.database_url(args.db) if args.reuse else district_mod.recreate_database(args.db)
    engine = make_engine(url)
    Session = sessionmaker(bind=engine, expire_on_commit=False)
    facts = district_mod.server_facts(url)
    say(f"GP Outreach foundation benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    say(f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), Python "
        f"{platform.python_version()}, PostgreSQL {facts['version']} "
        f"(shared_buffers {facts['shared_buffers']}, work_mem {facts['work_mem']}, "
        f"synchronous_commit {facts['synchronous_commit']}, lc_collate {facts['lc_collate']}), database {args.db}")

    figures = {}
    if args.reuse:
        with Session() as s:
            district = district_mod.reload_district(s)
        say(f"reusing the loaded database: {len(district.teams)} teams")
    else:
        district, figures = load(args, url, Session)
    table_facts(Session)

    say(f"\n[2] resident search: {args.queries} mixed queries, page 1 of 20 with its count (service code)")
    residents = sample_residents(Session, 3 * args.queries, seed=7)
    queries = build_queries(district, residents, args.queries, seed=11)
    warm = build_queries(district, residents, 200, seed=12)
    mismatched = sum(1 for q in queries if q["classified"] not in _EXPECTED[q["kind"]])
    say(f"  {len(residents)} residents sampled; queries by role: " + ", ".join(
        f"{r} {sum(q['role'] == r for q in queries)}" for r, _ in ROLES)
        + f"; {mismatched} queries classified differently from how they were drawn (by classify_query)")
    t0 = time.perf_counter()
    run_search(Session, warm)
    say(f"  warm-up: 200 other queries in {time.perf_counter() - t0:.1f} s")
    search_runs = [run_search(Session, queries) for _ in range(args.runs)]
    search = report_search("service", search_runs)
    hits_report(search_runs[0])

    say(f"\n[3] household list: {args.pages} random (team, page) pairs, page_size 50 (service code)")
    pages = build_pages(district, args.pages, seed=13)
    run_pages(Session, pages[:50])
    list_runs = [summary(run_pages(Session, pages)) for _ in range(args.runs)]
    hh = median_of(list_runs)
    per_run = ", ".join(f"{r['p95']:.2f}" for r in list_runs)
    say(fmt_row("gp team list", hh) + f"   (per-run p95: {per_run})")
    staff_pages = build_pages(district, min(args.pages, 200), seed=14, role="center_staff")
    staff_list = summary(run_pages(Session, staff_pages))
    say(fmt_row("center staff list", staff_list) + "   (information: a whole center, 6 teams)")

    http = {}
    if not args.no_http:
        say("\n[2h/3h] the same through Flask's test client (JWT check, audit row on search, JSON)")
        client, tokens = http_client(url, district)
        run_http_search(client, tokens, warm[:50])
        http_search = run_http_search(client, tokens, queries)
        http["search"] = report_search("HTTP GET /api/v1/residents", [http_search])
        http_pages = summary(run_http_pages(client, tokens, pages))
        http["list"] = http_pages
        say(fmt_row("HTTP household list", http_pages))

    if args.explain:
        say("\n[explain] the slowest query of each kind (last service run), any role and GPs only, "
            "as paginate runs it")
        slowest = {}
        for item, ms, total in search_runs[-1]:
            for key in (item["kind"], item["kind"] + " (gp)") if item["role"] == "gp" else (item["kind"],):
                if key not in slowest or ms > slowest[key][1]:
                    slowest[key] = (item, ms, total)
        for key, (item, ms, total) in sorted(slowest.items()):
            a = item["actor"]
            if key.endswith("(gp)") and slowest[item["kind"]][0] is item:
                continue  # the same query as the kind's slowest
            explain(engine, search_residents(a, {"q": item["q"]}),
                    f"{key} q={item['q']!r} as {a.role} (team {a.team_id}, center {a.center_id}): "
                    f"{ms:.1f} ms, {total} hits")
        last = math.ceil(district_mod.CASELOAD["households"] / 50)
        for page in (1, last // 2, last):
            explain(engine, list_households(district.teams[0].gp, {}), f"household list, team 1's GP, page {page}",
                    page, 50, then=household_rows)

    total_s = time.perf_counter() - started
    say("\n== summary ==")
    if figures:
        say(f"  writer import       {figures['writer_rate']:10,.0f} residents/s  (target >= {IMPORT_TARGET:,}) "
            f"{'MET' if figures['writer_rate'] >= IMPORT_TARGET else 'MISSED'}")
        say(f"  file import (CSV)   {figures['file_rate']:10,.0f} residents/s  (parse+validate+write; "
            f"dry run {figures['dry_rate']:,.0f}/s)")
        say(f"  generation {figures['generate_s']:.1f} s vs writing {figures['writer_s']:.1f} s; VACUUM (ANALYZE) "
            f"{figures['analyze_s']:.1f} s")
    o = search["overall"]
    say(f"  search p95          {o['p95']:10.2f} ms  (target <= {SEARCH_TARGET_MS:g}) "
        f"{'MET' if o['p95'] <= SEARCH_TARGET_MS else 'MISSED'}; p50 {o['p50']:.2f}, p99 {o['p99']:.2f}")
    say(f"  household list p95  {hh['p95']:10.2f} ms  (target <= {LIST_TARGET_MS:g}) "
        f"{'MET' if hh['p95'] <= LIST_TARGET_MS else 'MISSED'}; p50 {hh['p50']:.2f}, p99 {hh['p99']:.2f}")
    if http:
        say(f"  HTTP search p95 {http['search']['overall']['p95']:.2f} ms; HTTP household list p95 "
            f"{http['list']['p95']:.2f} ms")
    say(f"  whole run {total_s / 60:.1f} min")


# How classify_query should see each kind of query (name fragments may be read as name-or-address).
_EXPECTED = {"name_full": {"name"}, "name_part": {"name"}, "pinyin": {"pinyin"}, "id_number": {"id_number"},
             "record_number": {"record_number"}, "record_last8": {"record_short"}, "phone_full": {"phone"},
             "phone_part": {"phone"}, "address": {"address", "name"}}

if __name__ == "__main__":
    main()
