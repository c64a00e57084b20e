"""The import target, restated (issue 15, item 11): the district import's rows/s against a bare COPY of the
same rows into the same schema, in the same run, alternating.

    .venv/bin/python bench/bench_import_copy.py                    # 6 teams loaded first, then 6 pairs
    .venv/bin/python bench/bench_import_copy.py --base-teams 12 --pairs 8
    .venv/bin/python bench/bench_import_copy.py --profile          # cProfile of one more import (Python side)
    .venv/bin/python bench/bench_import_copy.py --smoke

Two databases with the same schema, indexes and data: --db is migrated and given --base-teams standard
caseloads (bench/_district.py) with the import writer, then copied with CREATE DATABASE ... TEMPLATE into
--db-copy. Then, per pair, a new team is generated (not timed) and
  1. imported into --db by the writer (`imports.services.write` + commit: households, residents, registry,
     assignment history, sync change log, follow-up status rows; what bench_foundation times), and
  2. the very rows that import wrote, read back from --db as COPY text (not timed), are written into the same
     team of --db-copy by bare `COPY ... FROM STDIN` of the same columns, in one transaction + commit.
The runs interleave (import, COPY, import, COPY, ...), so both see the same machine within seconds of each
other; generating the team and reading the rows back are outside both timings. Both databases grow alike,
so each sees indexes of the same size. The ratio is import rows/s over COPY rows/s (target >= 0.8). The
committees' record-number counters (one UPDATE a committee) are the import's only other writes; the COPY side
does not repeat them. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from itertools import chain
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

import _district as d  # noqa: E402
import psycopg  # noqa: E402


def recording_writes(seen: list):
    """server.bulk.insert_rows, noting each COPY's table and columns (what the import wrote, in order)."""
    from server import bulk

    original = bulk.insert_rows

    def insert_rows(conn, table, rows, chunk=5000, columns=None):
        if columns is None:
            it = iter(rows)
            first = next(it, None)
            if first is None:
                return 0
            cols, rows = list(first), chain((first,), it)
        else:
            cols = list(columns)
        seen.append((table.name, cols))
        return original(conn, table, rows, chunk, columns)

    return original, insert_rows


# Which of a table's rows one team's import wrote (the team is new: nothing else wrote for it).
TEAM_ROWS = {
    "households": "team_id = %(team)s",
    "residents": "team_id = %(team)s",
    "chronic_conditions": "resident_id IN (SELECT id FROM residents WHERE team_id = %(team)s)",
    "assignment_changes": "to_team_id = %(team)s",
    "sync_changes": "team_id = %(team)s",
    "followup_status": "team_id = %(team)s",
}


def copy_text(url: str, team: int, writes: list) -> list[tuple[str, list, bytes, int]]:
    """The rows the import wrote for the team, per COPY it made: (table, columns, COPY text, rows)."""
    out = []
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table, cols in writes:
            where = TEAM_ROWS[table].replace("%(team)s", str(int(team)))
            buf = io.BytesIO()
            with cur.copy(f"COPY (SELECT {', '.join(cols)} FROM {table} WHERE {where}) TO STDOUT") as copy:
                for data in copy:
                    buf.write(data)
            raw = buf.getvalue()
            out.append((table, cols, raw, raw.count(b"\n")))
    return out


def bare_copy(url: str, data: list[tuple[str, list, bytes, int]]) -> float:
    """COPY the text into the same tables in one transaction and commit; seconds."""
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for table, cols, raw, _n in data:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    view = memoryview(raw)
                    for i in range(0, len(view), 1 << 20):
                        copy.write(view[i:i + (1 << 20)])
        conn.commit()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="gpo_bench_import")
    ap.add_argument("--db-copy", default="gpo_bench_import_copy")
    ap.add_argument("--base-teams", type=int, default=6, help="teams in both databases before the pairs")
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--profile", action="store_true", help="cProfile one more import afterwards")
    a = _smoke.parse(ap, db="gpo_bench_import_smoke", db_copy="gpo_bench_import_copy_smoke", base_teams=1,
                     pairs=2)
    from server import bulk, create_app, db
    from server.demo.caseload import Generator
    from server.manage import migrate
    from server.sync import changes as sync_changes

    if a.smoke:
        d.use_smoke_caseload()
    url = d.recreate_database(a.db)
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()}, PostgreSQL {d.server_facts(url)}", flush=True)
    migrate(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast", "DEVELOPMENT": True})
    extra = a.pairs + (1 if a.profile else 0)
    t0 = time.perf_counter()
    gen = Generator(d.SEED)
    district, copy_url = d.base_and_copy(app, gen, url, a.db_copy, a.base_teams + extra, a.base_teams)
    print(f"{a.base_teams} teams in both databases ({time.perf_counter() - t0:.0f} s)", flush=True)

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast", "DEVELOPMENT": True})
    results = []  # (team key, rows, import s, copy s, load average)
    with app.app_context():
        session = db.session()
        district = d.reload_district(session)
        for n, team in enumerate(district.teams[a.base_teams:a.base_teams + a.pairs]):
            files = d.generate_team(gen, team)
            seen: list = []
            original, recording = recording_writes(seen)
            bulk.insert_rows = recording
            try:
                import_s = d.write_team(session, district, team, files)
            finally:
                bulk.insert_rows = original
            if not any(table == "sync_changes" for table, _cols in seen):
                # A small import logs its sync rows with INSERT, not COPY (sync.changes._COPY_FROM); the
                # bare COPY side still writes them.
                seen.append(("sync_changes", ["xid", *sync_changes._COLUMNS]))
            data = copy_text(url, team.id, seen)
            copy_s = bare_copy(copy_url, data)
            rows = sum(x[3] for x in data)
            results.append((team.key, rows, import_s, copy_s, os.getloadavg()[0]))
            print(f"  pair {n + 1}: {rows:,} rows ({', '.join(f'{t} {r:,}' for t, _c, _b, r in data)}); "
                  f"import {import_s:.2f} s = {rows / import_s:,.0f} rows/s, bare COPY {copy_s:.2f} s = "
                  f"{rows / copy_s:,.0f} rows/s, ratio {copy_s / import_s:.2f}; load average "
                  f"{results[-1][4]:.1f}", flush=True)
        if a.profile:
            team = district.teams[a.base_teams + a.pairs]
            files = d.generate_team(gen, team)
            prof = cProfile.Profile()
            prof.enable()
            d.write_team(session, district, team, files)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())
    app.extensions["db_engine"].dispose()
    ratios = [c / i for _k, _r, i, c, _l in results]
    total_rows = sum(r for _k, r, *_ in results)
    imp, cop = sum(i for *_x, i, _c, _l in results), sum(c for *_x, c, _l in results)
    print(f"import {total_rows / imp:,.0f} rows/s, bare COPY {total_rows / cop:,.0f} rows/s over {len(results)} "
          f"pairs; ratio (import rate / COPY rate) overall {cop / imp:.2f}, median of pairs "
          f"{statistics.median(ratios):.2f} [target >= 0.8]; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
