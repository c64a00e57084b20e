"""The district import (issue 15, item 11) with 1 and 2 connections on PostgreSQL, each against a bare COPY of
the same rows with as many connections, in the same run, alternating.

    .venv/bin/python bench/bench_import_district.py                 # 6 teams loaded, then 2 rounds of 2+2 teams
    .venv/bin/python bench/bench_import_district.py --teams 3 --rounds 3
    .venv/bin/python bench/bench_import_district.py --smoke

Two databases with the same schema, indexes and data, as bench_import_copy.py: --db gets --base-teams
standard caseloads (bench/_district.py) and is copied with CREATE DATABASE ... TEMPLATE into --db-copy. Each
round then imports one center of --teams teams with `imports.district.run_district` and 1 connection, and
another center with 2 connections (which goes first alternates by round). A center is one CSV file in the
importer's columns (bench/_district.caseload_csv, generated and encoded outside the timing). Timed:
  whole   run_district from the file's bytes to the last team's commit: read, check (ID numbers looked up),
          then the teams written, each in its own transaction, N at a time;
  write   its writing phase only (the first team started to the last committed), what bench_import_copy times;
  COPY    the very rows the import wrote (read back from --db, not timed) written into the same teams of
          --db-copy by bare `COPY ... FROM STDIN`, one transaction per team, N teams at a time.
Rates are rows of every table written (households, residents, registry, assignment history, sync log,
follow-up status) per second. The process's CPU seconds are the Python side's (PostgreSQL's are not in
them). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

import _district as d  # noqa: E402
import psycopg  # noqa: E402
from bench_import_copy import bare_copy, copy_text, recording_writes  # noqa: E402


def copy_teams(url: str, per_team: list[list]) -> float:
    """Each team's COPY text into --db-copy in its own transaction, all teams at once (one connection each);
    seconds from the first start to the last commit."""
    threads = [threading.Thread(target=bare_copy, args=(url, data)) for data in per_team]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="gpo_bench_district")
    ap.add_argument("--db-copy", default="gpo_bench_district_copy")
    ap.add_argument("--base-teams", type=int, default=6, help="teams in both databases first (a multiple of --teams)")
    ap.add_argument("--teams", type=int, default=2, help="teams in each imported center")
    ap.add_argument("--rounds", type=int, default=2, help="each round: one center with 1 connection, one with 2")
    a = _smoke.parse(ap, db="gpo_bench_district_smoke", db_copy="gpo_bench_district_copy_smoke", base_teams=2,
                     teams=2, rounds=1)
    from server import bulk, create_app, db
    from server.demo.caseload import Generator
    from server.imports.district import Source, run_district
    from server.manage import migrate
    from server.sync import changes as sync_changes

    if a.smoke:
        d.use_smoke_caseload()
    if a.base_teams % a.teams:
        sys.exit("--base-teams must be a multiple of --teams (one center is --teams teams)")
    url = d.recreate_database(a.db)
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()}, PostgreSQL {d.server_facts(url)}", flush=True)
    migrate(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast", "DEVELOPMENT": True})
    t0 = time.perf_counter()
    gen = Generator(d.SEED)
    district, copy_url = d.base_and_copy(app, gen, url, a.db_copy, a.base_teams + 2 * a.rounds * a.teams,
                                         a.base_teams, teams_per_center=a.teams)
    print(f"{a.base_teams} teams in both databases ({time.perf_counter() - t0:.0f} s)", flush=True)

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast", "DEVELOPMENT": True})
    maker = app.extensions["db_sessionmaker"]
    results = {1: [], 2: []}  # connections -> [(rows, whole s, write s, copy s, cpu s)]
    with app.app_context():
        district = d.reload_district(db.session())
        db.session().close()
        centers = [district.teams[i:i + a.teams] for i in range(a.base_teams, len(district.teams), a.teams)]
        for n in range(a.rounds):
            for connections in ((1, 2) if n % 2 == 0 else (2, 1)):
                teams = centers.pop(0)
                code = next(c.code for c in district.centers.values() if c.id == teams[0].center_id)
                files = [d.caseload_csv(d.generate_team(gen, t), t.committees) for t in teams]
                # one file for the center: the first team's header, every team's rows
                data = files[0] + b"".join(f.split(b"\n", 1)[1] for f in files[1:])
                seen: list = []
                original, recording = recording_writes(seen)
                bulk.insert_rows = recording
                cpu, t1 = time.process_time(), time.perf_counter()
                try:
                    report = run_district(maker, district.admin, [Source(code, f"{code}.csv", data)],
                                          batch="bench", connections=connections)
                finally:
                    bulk.insert_rows = original
                whole, cpu = time.perf_counter() - t1, time.process_time() - cpu
                states = {t.state for t in report.teams}
                if states != {"imported"} or report.files[0].problems:
                    sys.exit(f"the import did not go in whole: {states} {report.files[0].problems[:5]}")
                writes = list(dict.fromkeys((table, tuple(cols)) for table, cols in seen))
                if not any(table == "sync_changes" for table, _c in writes):
                    writes.append(("sync_changes", ("xid", *sync_changes._COLUMNS)))  # small: INSERT, not COPY
                per_team = [copy_text(url, t.id, [(table, list(cols)) for table, cols in writes]) for t in teams]
                rows = sum(x[3] for data_ in per_team for x in data_)
                copy_s = copy_teams(copy_url, per_team) if connections == 2 else \
                    sum(bare_copy(copy_url, data_) for data_ in per_team)
                results[connections].append((rows, whole, report.write_seconds, copy_s, cpu))
                print(f"  round {n + 1}, {connections} connection(s), center {code} ({len(teams)} teams, "
                      f"{sum(t.residents for t in report.teams):,} residents): {rows:,} rows; whole "
                      f"{whole:.2f} s = {rows / whole:,.0f} rows/s (CPU {cpu:.2f} s), write "
                      f"{report.write_seconds:.2f} s = {rows / report.write_seconds:,.0f} rows/s; bare COPY "
                      f"({connections} connection(s)) {copy_s:.2f} s = {rows / copy_s:,.0f} rows/s; ratio write "
                      f"{copy_s / report.write_seconds:.2f}, whole {copy_s / whole:.2f}; load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
    app.extensions["db_engine"].dispose()
    for connections, runs in results.items():
        rows = sum(r[0] for r in runs)
        whole, write, copy_s, cpu = (sum(r[i] for r in runs) for i in (1, 2, 3, 4))
        print(f"{connections} connection(s): whole {rows / whole:,.0f} rows/s, write {rows / write:,.0f} rows/s, "
              f"bare COPY {rows / copy_s:,.0f} rows/s; ratio (import rate / COPY rate) write {copy_s / write:.2f}, "
              f"whole {copy_s / whole:.2f} [target >= 0.8]; Python CPU {cpu:.1f} s for {rows:,} rows")
    r1, r2 = (sum(r[0] for r in results[c]) / sum(r[1] for r in results[c]) for c in (1, 2))
    print(f"2 connections / 1 connection, whole: {r2 / r1:.2f}x; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
