"""Sync benchmark (issue 4): first full sync, incremental sync, 400 tablets, on PostgreSQL over real HTTP.

    .venv/bin/python bench/bench_sync.py                       # 42 teams, 400 tablets over 300 s
    .venv/bin/python bench/bench_sync.py --teams 6 --window 60 # quicker
    .venv/bin/python bench/bench_sync.py --reuse               # skip loading, database already built
    .venv/bin/python bench/bench_sync.py --model-minutes 10    # the randomised model test, long mode
    .venv/bin/python bench/bench_sync.py --districts 4         # + one team's first sync on 1 vs 4 districts
    .venv/bin/python bench/bench_sync.py --smoke               # seconds; CI runs it (tests/bench)

The first full sync of one team runs --first-runs times (default 3), each followed by the plain-HTTP floor's
(../shared/floor: generated once into --floor-data, loaded into its own database, its own server), and the
medians and their ratio are printed (target: ours <= 1.5x the floor's, tablet store <= 1.3x the floor's).

Every team of the district works (issue 16): the first team's visits, lab reports and referrals are generated
in Python, and copied to the other teams in SQL (_district.replicate_records). Then 10 teams' tablets do their
first sync at once against 2 of them alone (server and PostgreSQL CPU per synced row, from /proc), and with
--districts N the first team's first sync is compared on a copy of the database holding N districts.

The district goes into its own database (gpo_bench_sync). The server is the real app under Werkzeug's
threaded server on 127.0.0.1 in a child process; the first sync runs the real client engine (stdlib HTTP,
gzip) into a fresh SQLite file in another child process so its peak RSS is its own; the 400-tablet load
runs from a third process. Figures are printed, nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)
DB = "gpo_bench_sync"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app(url):
    from server import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast", "DEVELOPMENT": True})


# --- child: the server ---------------------------------------------------------------------------

def serve(url: str, port: int) -> None:
    """Run the real app on 127.0.0.1:port (threaded Werkzeug, no reloader, quiet log)."""
    import logging

    from werkzeug.serving import make_server
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    make_server("127.0.0.1", port, _app(url), threaded=True).serve_forever()


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: on Linux a child started by fork + exec keeps its
    parent's peak there, so a tablet started from the loader reported the loader's 549 MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- child: one tablet's first and incremental syncs --------------------------------------------

def first_sync(server: str, token: str, db: str, incremental_rounds: int) -> None:
    """Fresh store -> full sync (timed, RSS), then incremental syncs with 50 changes each way."""
    from fieldapp.store import Store
    from fieldapp.sync import HttpTransport, SyncEngine

    store = Store(db)
    transport = HttpTransport(server, store, token=token)
    engine = SyncEngine(store, transport)
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = engine.sync()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss_mb = peak_rss_mb()
    # client_cpu_s: the tablet's CPU (its page-ahead thread included), beside the server's and PostgreSQL's.
    out = {"first_sync_s": round(seconds, 3), "client_cpu_s": round(cpu, 2), "rows": result.pulled,
           "pages": result.pages,
           "bytes_received": transport.bytes_received, "peak_rss_mb": round(rss_mb, 1),
           "counts": store.status()["counts"],
           # WAL mode: what is not checkpointed yet is in the -wal file beside the store.
           "db_bytes": sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p)),
           # Where the store's bytes are, per table and index (SQLite's dbstat).
           "table_bytes": dict(store.db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name "
                                                "ORDER BY 2 DESC LIMIT 12").fetchall())}
    # A second tablet of the team: a copy of this store with its own device id.
    store.close()
    other_db = db + ".other"
    shutil.copy(db, other_db)
    store, other = Store(db), Store(other_db)
    with other.transaction():
        other.set_state("device_id", None)
    engine = SyncEngine(store, HttpTransport(server, store, token=token))
    other_engine = SyncEngine(other, HttpTransport(server, other, token=token))
    rng = random.Random(7)
    ids = [r[0] for r in store.db.execute("SELECT id FROM residents")]
    timings, wire = [], []
    for n in range(incremental_rounds):
        for rid in rng.sample(ids, 50):
            other.save_resident_edit(rid, {"employer": f"厂{n}-{rng.randrange(1000)}"})
        other_engine.sync()  # 50 changes reach the server
        for rid in rng.sample(ids, 50):
            store.save_resident_edit(rid, {"contact_phone": f"139{rng.randrange(10**8):08d}"})
        before = engine.transport.bytes_received + engine.transport.bytes_sent
        t0 = time.perf_counter()
        r = engine.sync()  # 50 up, 50+ down
        timings.append(time.perf_counter() - t0)
        wire.append(engine.transport.bytes_received + engine.transport.bytes_sent - before)
        assert r.synced and r.pushed.get("applied", 0) + r.pushed.get("conflict", 0) == 50, r
    out["incremental_ms"] = [round(t * 1000, 1) for t in timings]
    out["incremental_bytes"] = wire
    print(json.dumps(out))


# --- child: one tablet's first sync only (the scale phases) -------------------------------------

def tablet(server: str, token: str, db: str) -> None:
    """Fresh store -> full sync; rows, pages, seconds, or the error, as one JSON line."""
    from fieldapp.store import Store
    from fieldapp.sync import HttpTransport, SyncEngine

    store = Store(db)
    t0 = time.perf_counter()
    try:
        result = SyncEngine(store, HttpTransport(server, store, token=token, timeout=300)).sync()
        out = {"rows": result.pulled, "pages": result.pages, "synced": bool(result.synced), "error": None}
    except Exception as exc:  # reported by the parent, which counts it as an error
        out = {"rows": 0, "pages": 0, "synced": False, "error": repr(exc)[:200]}
    out["seconds"] = round(time.perf_counter() - t0, 3)
    out["counts"] = store.status()["counts"]
    store.close()
    print(json.dumps(out))


# --- child: the 400-tablet load ------------------------------------------------------------------

def load(server: str, spec_file: str, window: float, workers: int, timeout: float) -> None:
    """Each tablet starts at a random moment in the window, saves 2 edits and syncs; latencies printed."""
    from fieldapp.store import Store
    from fieldapp.sync import HttpTransport, SyncEngine

    spec = json.loads(Path(spec_file).read_text())
    tmp = Path(tempfile.mkdtemp(prefix="gpo-load-"))
    rng = random.Random(11)
    starts = sorted((rng.uniform(0, window), i) for i in range(len(spec["tablets"])))
    lat, errors, lock = [], [], threading.Lock()
    t_start = time.perf_counter()
    queue = list(starts)

    def work():
        while True:
            with lock:
                if not queue:
                    return
                at, i = queue.pop(0)
            tab = spec["tablets"][i]
            delay = at - (time.perf_counter() - t_start)
            if delay > 0:
                time.sleep(delay)
            if time.perf_counter() - t_start > timeout:
                with lock:
                    errors.append("timeout budget")
                continue
            store = Store(str(tmp / f"t{i}.sqlite"))
            page = tab["page"]
            store.apply_page(page, finish_snapshot=False)
            with store.transaction():
                store.set_state("epoch", spec["epoch"])
                store.set_state("snapshot_done", True)
            rows = page["entities"]["residents"]["rows"]
            for row in rng.sample(rows, 2):
                store.save_resident_edit(row[0], {"employer": f"负载{i}"})
            engine = SyncEngine(store, HttpTransport(server, store, token=tab["token"], timeout=30))
            t0 = time.perf_counter()
            try:
                r = engine.sync()
                ok = r.synced
            except Exception as exc:  # counted and reported, the run goes on
                ok = False
                with lock:
                    errors.append(repr(exc)[:120])
            dt_ = time.perf_counter() - t0
            with lock:
                lat.append(dt_)
                if not ok:
                    errors.append("not synced")
            store.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shutil.rmtree(tmp, ignore_errors=True)
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else None

    print(json.dumps({"tablets": len(lat), "elapsed_s": round(time.perf_counter() - t_start, 1),
                      "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": pct(1.0) and
                      round(lat[-1] * 1000, 1), "errors": len(errors), "error_kinds": sorted(set(errors))[:5]}))


# --- the parent ---------------------------------------------------------------------------------

LAB_PANEL = (  # code, name, unit, low, high, mean, sd  (a chronic-disease check: glucose, lipids, kidney)
    ("GLU", "葡萄糖", "mmol/L", 3.9, 6.1, 6.8, 1.6), ("HBA1C", "糖化血红蛋白", "%", 4.0, 6.0, 6.9, 1.0),
    ("TC", "总胆固醇", "mmol/L", 2.8, 5.2, 5.0, 0.9), ("TG", "甘油三酯", "mmol/L", 0.56, 1.7, 1.7, 0.7),
    ("LDL", "低密度脂蛋白胆固醇", "mmol/L", 0.0, 3.4, 3.0, 0.8), ("CREA", "肌酐", "umol/L", 57, 111, 85, 20),
    ("UA", "尿酸", "umol/L", 208, 428, 360, 80), ("K", "钾", "mmol/L", 3.5, 5.3, 4.3, 0.45))
LAB_RESULT_COLUMNS = ("report_id", "message_id", "position", "set_id", "code", "name", "coding_system",
                      "value_type", "value_text", "value_num", "value_code", "comparator", "unit", "range_text",
                      "range_low", "range_high", "range_by_sex", "flags", "critical", "abnormal", "status",
                      "observed_at", "observer", "received_at")


def team_labs(url: str, team_id: int, hospital_id: int, rng: random.Random) -> tuple[int, int]:
    """caseload.md: 4 lab reports a chronic patient, 8 result rows each, a few critical; one message a
    patient (as a hospital sends them), written with COPY. Returns (reports, results)."""
    import datetime as dt
    import uuid

    import psycopg
    from psycopg.types.json import Jsonb

    from server.labs.models import content_fingerprint
    now = dt.datetime.now(dt.timezone.utc)
    # The messages are stored without their bytes (raw b""); the fingerprint is of what is stored, as intake's.
    empty_fingerprint = content_fingerprint(b"", "hl7v2")
    with psycopg.connect(url) as conn:
        patients = [r[0] for r in conn.execute(
            "SELECT DISTINCT r.id FROM residents r JOIN chronic_conditions c ON c.resident_id = r.id "
            "WHERE r.team_id = %s ORDER BY r.id", (team_id,))]
        feed = conn.execute("INSERT INTO lab_feeds (hospital_id, name, key_hash, key_hint, created_at) "
                            "VALUES (%s, 'bench LIS', %s, 'bench', now()) RETURNING id",
                            (hospital_id, uuid.uuid4().hex * 2)).fetchone()[0]
        messages, reports, links, results = [], [], [], []
        for n, rid in enumerate(patients):
            mid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            messages.append((mid, feed, hospital_id, "hl7v2", "http", "LIS", "HOSP", f"B{team_id}-{n}", "ORU^R01",
                             "2.5.1", b"", empty_fingerprint, "utf-8", "", "", now, now, "AA", Jsonb([]), "", "", "U", Jsonb([]),
                             "matched", "id_number", rid))
            for q in range(4):
                rep = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                at = now - dt.timedelta(days=90 * q + rng.randrange(30))
                crit_any = False
                for pos, (code, name, unit, low, high, mean, sd) in enumerate(LAB_PANEL):
                    value = round(max(0.1, rng.gauss(mean, sd)), 2)
                    flag = "H" if value > high else ("L" if value < low else "N")
                    critical = code in ("K", "GLU") and rng.random() < 0.01
                    if critical:
                        value, flag = (6.9, "HH") if code == "K" else (2.1, "LL")
                    crit_any |= critical
                    results.append((rep, mid, pos + 1, str(pos + 1), code, name, "L", "NM", str(value), value, "",
                                    "", unit, f"{low}-{high}", low, high, Jsonb({}), Jsonb([flag]), critical,
                                    flag != "N", "F", at, "", now))
                reports.append((rep, hospital_id, rid, f"B{team_id}-{n}-{q}", "", "CHEM", "生化", "L", "血清",
                                at, at, at, "F", "", "", crit_any, True, Jsonb([]), now, now))
                links.append((mid, rep))
        with conn.cursor() as cur:
            with cur.copy("COPY lab_messages (id, feed_id, hospital_id, format, transport, sending_app, "
                          "sending_facility, control_id, message_type, version, raw, fingerprint, encoding, "
                          "encoding_reason, charset_declared, sent_at, received_at, ack_code, warnings, patient_name, "
                          "patient_name_alphabetic, patient_sex, patient_identifiers, match_status, match_method, "
                          "resident_id) FROM STDIN") as copy:
                for row in messages:
                    copy.write_row(row)
            with cur.copy("COPY lab_reports (id, hospital_id, resident_id, filler_no, placer_no, panel_code, "
                          "panel_name, panel_coding_system, specimen_type, collected_at, specimen_received_at, "
                          "reported_at, status, tester, reviewer, critical, abnormal, excluded, created_at, "
                          "changed_at) FROM STDIN") as copy:
                for row in reports:
                    copy.write_row(row)
            with cur.copy("COPY lab_message_reports (message_id, report_id) FROM STDIN") as copy:
                for row in links:
                    copy.write_row(row)
            with cur.copy(f"COPY lab_results ({', '.join(LAB_RESULT_COLUMNS)}) FROM STDIN") as copy:
                for row in results:
                    copy.write_row(row)
    return len(reports), len(results)


# Per standard team (caseload.md): 500 referrals with their threads; most closed, some still open.
REFERRALS, OPEN_REFERRALS = 500, 50
DEPARTMENTS = ("心内科", "内分泌科", "神经内科", "肾内科", "呼吸科", "眼科")
# The other districts of a --districts database: their own county codes, so their ID numbers and record
# numbers cannot collide with the first district's (310115) however their generators draw.
COUNTIES = ("310115", "310104", "310105", "310106", "310107", "310109", "310110", "310112")


def team_referrals(url: str, team, specialists: list[tuple], n: int, rng: random.Random) -> tuple[int, int]:
    """n referrals of the team's chronic patients with their threads (bench_referrals' rows: the same forms,
    states and thread kinds), bulk-copied. Returns (referrals, thread entries)."""
    import types

    import psycopg
    from bench_referrals import MSG_COLUMNS, REF_COLUMNS, VISIT_COLUMNS, referral_rows
    with psycopg.connect(url) as conn:
        patients = conn.execute(
            "SELECT DISTINCT r.id, r.team_id, r.center_id FROM residents r JOIN chronic_conditions c "
            "ON c.resident_id = r.id WHERE r.team_id = %s ORDER BY r.id", (team.id,)).fetchall()
    n_open = max(1, n * OPEN_REFERRALS // REFERRALS)
    world = {"district": types.SimpleNamespace(teams=[team]), "specialists": specialists, "residents": patients}
    refs, msgs, visits = referral_rows(world, n_open, n - n_open, seed=rng.randrange(1 << 30))
    from server.bulk import insert_rows
    from server.db import make_engine
    from server.followups.models import FollowUp
    from server.referrals.models import Referral, ReferralMessage
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # the closing visits first: the cases name them
        for table, columns, rows in ((FollowUp.__table__, VISIT_COLUMNS, visits),
                                     (Referral.__table__, REF_COLUMNS, refs),
                                     (ReferralMessage.__table__, MSG_COLUMNS, msgs)):
            insert_rows(conn, table, rows, columns=columns)
        # What services.act stamps on a case as it happens (first response, outcome, return, closing visit),
        # filled in for the copied cases by migration r401's own backfill, so they read as the app's cases.
        for statement in _r401().backfill():
            conn.execute(statement)
    engine.dispose()
    return len(refs), len(msgs)


def _r401():
    import importlib.util
    path = next((ROOT / "migrations" / "versions").glob("*_r401_*.py"))
    spec = importlib.util.spec_from_file_location("r401", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(url: str, teams: int, full_teams: int) -> None:
    """The district: households and residents of every team written with the import writer; the first team
    (the template, whose first sync is measured) gets its follow-up visits (the server's rules path), lab
    reports and referrals generated in Python, and teams 2..`full_teams` get copies of them re-attached to
    their own patients in SQL (_district.replicate_records); then the change log rows for all of them, the
    worklist rows the visits decide, and VACUUM ANALYZE."""
    import types

    import _district as d
    from bench_followups import copy_visits, team_visits

    from server import db
    from server.auth.models import User
    from server.auth.services import hash_password
    from server.demo.caseload import Generator
    from server.directory.models import Department
    from server.followups import services as followups
    from server.manage import migrate
    from server.org.models import Hospital
    migrate(url)
    app = _app(url)
    with app.app_context():
        session = db.session()
        district = d.create_organisation(session, teams)
        hospital = Hospital(code="H-BENCH", name="浦东新区人民医院")
        session.add(hospital)
        session.flush()
        pw = hash_password("bench-pass", "fast")
        specialists = []
        for n, dept in enumerate(DEPARTMENTS):  # whom referrals are addressed to
            session.add(Department(hospital_id=hospital.id, name=dept, specialty=dept))
            for k in range(2):
                u = User(username=f"spec{n + 1}-{k + 1}", full_name=f"{dept}医生{k + 1}", role="specialist",
                         hospital_id=hospital.id, department=dept, phone=f"1390000{n:02d}{k:02d}", password_hash=pw)
                session.add(u)
                session.flush()
                specialists.append((u.id, hospital.id, dept, u.full_name))
        session.commit()
        gen = Generator(d.SEED)
        rng = random.Random(d.SEED)
        t0 = time.perf_counter()
        for team in district.teams:
            d.write_team(session, district, team, d.generate_team(gen, team))
        print(f"loaded {teams} teams' households and residents in {time.perf_counter() - t0:.0f} s", flush=True)
        session.commit()
        if full_teams:
            t0 = time.perf_counter()
            template = district.teams[0]
            rows = team_visits(session, rng, types.SimpleNamespace(id=template.id),
                               types.SimpleNamespace(id=template.gp.user_id))[0]
            session.commit()
            copy_visits(url, rows)
            reports, results = team_labs(url, template.id, hospital.id, rng)
            n_ref = REFERRALS * d.CASELOAD["households"] // 5000
            refs, msgs = team_referrals(url, template, specialists, n_ref, rng)
            print(f"  team {template.key} (template, generated in Python): {len(rows)} visits, {reports} lab "
                  f"reports, {results} results, {refs} referrals with {msgs} thread entries in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            targets = [t.id for t in district.teams[1:full_teams]]
            if targets:
                t0 = time.perf_counter()
                d.replicate_records(url, template.id, targets)
                print(f"  copied to {len(targets)} more teams in {time.perf_counter() - t0:.0f} s", flush=True)
            t0 = time.perf_counter()
            logged = d.log_records(url, [t.id for t in district.teams[:full_teams]])
            print(f"  change log: {sum(n for n, _ in logged.values()):,} rows "
                  f"({', '.join(f'{k} {n:,}' for k, (n, _) in logged.items())}) in {time.perf_counter() - t0:.0f} s",
                  flush=True)
            t0 = time.perf_counter()
            followups.rebuild_status(session)  # the worklist rows the visits decide (the writer left them empty)
            session.commit()
            followups.rebuild_years(session)
            session.commit()
            print(f"  worklist and yearly rows rebuilt in {time.perf_counter() - t0:.0f} s", flush=True)
        session.close()
        db.engine().dispose()  # nobody connected: a --districts copy takes this database as its template
    import psycopg
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        sizes = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    print(f"VACUUM ANALYZE in {time.perf_counter() - t0:.0f} s; database {sizes}", flush=True)


def build_districts(url: str, big: str, districts: int, teams: int) -> str:
    """A copy of the district's database with `districts` - 1 more districts' households and residents
    (each `teams` teams, its own centers and county code), for "a team's first sync does not grow with the
    database". Returns its URL."""
    import _district as d
    from server import db
    from server.demo.caseload import Generator
    t0 = time.perf_counter()
    big_url = d.copy_database(url.rsplit("/", 1)[1], big)
    print(f"districts: copied the district into {big} in {time.perf_counter() - t0:.0f} s", flush=True)
    app = _app(big_url)
    centers = -(-teams // d.TEAMS_PER_CENTER)
    with app.app_context():
        session = db.session()
        for n in range(1, districts):
            t0 = time.perf_counter()
            county = COUNTIES[n % len(COUNTIES)]
            district = d.create_organisation(session, teams, first_center=n * centers, county_code=county)
            session.commit()
            gen = Generator(d.SEED + n, county_code=county)
            for team in district.teams:
                d.write_team(session, district, team, d.generate_team(gen, team))
            print(f"  district {n + 1}: {teams} teams' households and residents in {time.perf_counter() - t0:.0f} s",
                  flush=True)
        session.close()
        db.engine().dispose()
    import psycopg
    with psycopg.connect(big_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        residents = conn.execute("SELECT count(*) FROM residents").fetchone()[0]
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    print(f"districts: {big} holds {residents:,} residents ({size})", flush=True)
    return big_url


def tokens_and_spec(url: str, tablets: int, spec_path: Path) -> tuple[str, dict]:
    """An access token per team GP, and per tablet a small starting page (3 residents) at the log's head."""
    from flask_jwt_extended import create_access_token
    from sqlalchemy import select, text

    from server import db
    from server.auth.models import User
    from server.sync import services
    from server.sync.registry import REGISTRY
    app = _app(url)
    with app.app_context():
        session = db.session()
        gps = session.scalars(select(User).where(User.role == "gp").order_by(User.team_id)).all()
        toks = {u.team_id: create_access_token(identity=str(u.id)) for u in gps}
        epoch = services.epoch(session)
        head = session.execute(text("SELECT max(xid), max(seq) FROM sync_changes")).one()
        res = REGISTRY["residents"]
        spec = {"epoch": epoch, "tablets": []}
        team_ids = sorted(toks)
        for i in range(tablets):
            team = team_ids[i % len(team_ids)]
            rows = session.connection().execute(res.scope(team).order_by(res.table.c.id)
                                                .offset((i // len(team_ids)) * 3).limit(3)).all()
            spec["tablets"].append({"token": toks[team], "page": {
                "cursor": f"c.{head[0]}.{head[1]}",
                "entities": {"residents": {"columns": list(res.columns), "rows": [res.wire(r) for r in rows],
                                           "removed": []}}}})
        spec_path.write_text(json.dumps(spec, ensure_ascii=False))
        return toks[team_ids[0]], spec


def team_tokens(url: str) -> dict[int, str]:
    """An access token for each team's GP, by team id in team order."""
    from flask_jwt_extended import create_access_token
    from sqlalchemy import select

    from server import db
    from server.auth.models import User
    app = _app(url)
    with app.app_context():
        gps = db.session().scalars(select(User).where(User.role == "gp").order_by(User.team_id, User.id)).all()
        toks = {}
        for u in gps:
            toks.setdefault(u.team_id, create_access_token(identity=str(u.id)))
        db.engine().dispose()
        return toks


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads) from /proc; None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of stat)


class CpuMeter:
    """CPU spent by our server process and by this database's PostgreSQL backends between start() and stop(),
    read from /proc. Backends are found in pg_stat_activity (through a connection to another database, so the
    meter adds none of its own) every `every` seconds; each one's CPU counts from when it was first seen (or
    from start() for those already there) to its last reading, so a backend that ends between two readings
    loses at most `every` seconds of its CPU, and one that lives less than `every` is missed: the app's pool
    keeps 5 connections, but the 10 overflow ones it opens under 10 tablets close when returned, so how many
    ended during the phase is reported (`backends_ended`)."""

    def __init__(self, server_pid: int, dbname: str, every: float = 0.05):
        self.server_pid, self.dbname, self.every = server_pid, dbname, every

    def _backends(self, conn) -> list[int]:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.dbname,))]

    def start(self) -> None:
        import psycopg

        import _district as d
        self.conn = psycopg.connect(d.ADMIN_URL, autocommit=True)
        self.server0 = _cpu_s(self.server_pid)
        self.first, self.last = {}, {}
        self._sample(born_now=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self, born_now: bool = True) -> set[int]:
        """Read every backend's CPU; one not seen before started during the phase (its CPU counts from 0)
        unless this is the reading at start(). Returns the backends read."""
        seen = set()
        for pid in self._backends(self.conn):
            cpu = _cpu_s(pid)
            if cpu is not None:
                self.first.setdefault(pid, 0.0 if born_now else cpu)
                self.last[pid] = cpu
                seen.add(pid)
        return seen

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        alive = self._sample()
        self.conn.close()
        return {"server_cpu_s": round(_cpu_s(self.server_pid) - self.server0, 3),
                "postgres_cpu_s": round(sum(self.last[p] - self.first[p] for p in self.last), 3),
                "backends": len(self.last), "backends_ended": len(set(self.last) - alive)}


FLOOR_DIR = ROOT.parent / "shared" / "floor"


class Floor:
    """The plain-HTTP sync floor (../shared/floor, see its README): the least work a first sync of the standard
    caseload can do. Its caseload is generated once (deterministic) and kept in `data_dir`; it is loaded into
    its own database; its server runs beside ours, and its client pulls into a fresh SQLite file per run."""

    def __init__(self, scripts: Path, data_dir: Path, db: str):
        self.scripts, self.peer, self.db = scripts, data_dir, db
        self.proc = None
        self.port = _free_port()

    def _run(self, *args: str, **kw) -> str:
        return subprocess.run([sys.executable, *args], cwd=self.scripts, env={**os.environ, "PEER": str(self.peer)},
                              check=True, capture_output=True, text=True, **kw).stdout

    def start(self) -> None:
        import _district as d
        data = self.peer / "data"
        if not (data / "server.sqlite").exists():
            t0 = time.perf_counter()
            self._run("gen.py", str(data))
            print(f"floor: caseload generated in {time.perf_counter() - t0:.0f} s into {data}", flush=True)
        dsn = d.recreate_database(self.db)
        self._run("pg_load.py", dsn)
        self.proc = subprocess.Popen([sys.executable, "floor_server.py", "--pg", dsn, "--port", str(self.port)],
                                     cwd=self.scripts, env={**os.environ, "PEER": str(self.peer)},
                                     stdout=subprocess.DEVNULL)
        if not _wait_for(self.port):
            raise SystemExit("the floor's server did not start")

    def pull(self, out: Path) -> dict:
        """One first sync by the floor's client (pipelined, as measured in its README)."""
        return json.loads(self._run("floor_client.py", "--port", str(self.port), "--pipeline", "--out", str(out))
                          .strip().splitlines()[-1])

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


def run_tablets(command, tokens: list[str], work: Path, tag: str) -> list[dict]:
    """First syncs of fresh tablets, one child process each, all started at once; their JSON lines."""
    procs = [subprocess.Popen(command(token, work / f"{tag}{i}.sqlite"), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i, token in enumerate(tokens)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode:
            results.append({"rows": 0, "synced": False, "error": f"exit {proc.returncode}: {err.strip()[-200:]}"})
        else:
            results.append(json.loads(out.strip().splitlines()[-1]))
    for path in work.glob(f"{tag}*"):
        path.unlink()
    return results


def measured(meter: CpuMeter, command, tokens: list[str], work: Path, tag: str) -> dict:
    """run_tablets under the CPU meter: rows, wall time, server and PostgreSQL CPU, per synced row, errors."""
    meter.start()
    t0 = time.perf_counter()
    results = run_tablets(command, tokens, work, tag)
    wall = time.perf_counter() - t0
    cpu = meter.stop()
    rows = sum(r["rows"] for r in results)
    errors = [r["error"] or "not synced" for r in results if r["error"] or not r["synced"]]
    per_row = (lambda s: round(s / rows * 1e6, 2) if rows else None)
    return {"tablets": len(tokens), "rows": rows, "rows_each": [r["rows"] for r in results],
            "seconds_each": [r.get("seconds") for r in results], "wall_s": round(wall, 2), **cpu,
            "server_us_per_row": per_row(cpu["server_cpu_s"]), "postgres_us_per_row": per_row(cpu["postgres_cpu_s"]),
            "us_per_row": per_row(cpu["server_cpu_s"] + cpu["postgres_cpu_s"]),
            "errors": len(errors), "error_kinds": sorted(set(errors))[:5]}


def scale_phase(command, meter: CpuMeter, tokens: dict[int, str], n: int, alone: int, work: Path) -> None:
    """Issue 16 item 5: n tablets of n different teams doing their first sync at once all finish with no
    error, at no more server and PostgreSQL CPU per synced row than one tablet alone (each of the first
    `alone` of those teams synced on its own, just before)."""
    teams = list(tokens)[:n]
    solo = [measured(meter, command, [tokens[t]], work, f"alone{i}-") for i, t in enumerate(teams[:alone])]
    together = measured(meter, command, [tokens[t] for t in teams], work, "together-")
    rows = sum(r["rows"] for r in solo)
    cpu = sum(r["server_cpu_s"] + r["postgres_cpu_s"] for r in solo)
    alone_fig = {"runs": len(solo), "rows": rows, "seconds": [r["wall_s"] for r in solo],
                 "server_cpu_s": round(sum(r["server_cpu_s"] for r in solo), 3),
                 "postgres_cpu_s": round(sum(r["postgres_cpu_s"] for r in solo), 3),
                 "server_us_per_row": round(sum(r["server_cpu_s"] for r in solo) / rows * 1e6, 2) if rows else None,
                 "postgres_us_per_row": round(sum(r["postgres_cpu_s"] for r in solo) / rows * 1e6, 2) if rows else None,
                 "us_per_row": round(cpu / rows * 1e6, 2) if rows else None,
                 "backends_ended": sum(r["backends_ended"] for r in solo), "errors": sum(r["errors"] for r in solo)}
    print("first sync, one tablet alone:", json.dumps(alone_fig, ensure_ascii=False))
    print(f"first sync, {len(teams)} tablets of {len(teams)} teams at once:", json.dumps(together, ensure_ascii=False))
    ratio = (round(together["us_per_row"] / alone_fig["us_per_row"], 2)
             if together["us_per_row"] and alone_fig["us_per_row"] else None)
    print(f"scale: server + PostgreSQL CPU per synced row: one alone {alone_fig['us_per_row']} us (server "
          f"{alone_fig['server_us_per_row']}, PostgreSQL {alone_fig['postgres_us_per_row']}), {len(teams)} at once "
          f"{together['us_per_row']} us (server {together['server_us_per_row']}, PostgreSQL "
          f"{together['postgres_us_per_row']}), ratio {ratio} [target <= 1]; {together['tablets']} tablets, "
          f"errors {together['errors']} [target 0], wall {together['wall_s']} s", flush=True)


def districts_phase(command_small, meter_small: CpuMeter, command_big, meter_big: CpuMeter, token_small: str,
                    token_big: str, runs: int, residents: tuple[int, int], districts: int, work: Path) -> None:
    """Issue 16 item 5: a team's first sync does not grow with the database. The same team's first sync on the
    one-district database and on its copy holding `districts` districts' households and residents, each
    with its own server, alternating (the machine's speed moves minute to minute)."""
    small, big = [], []
    for n in range(runs):
        small.append(measured(meter_small, command_small, [token_small], work, f"small{n}-"))
        big.append(measured(meter_big, command_big, [token_big], work, f"big{n}-"))
        print(f"  run {n + 1}: 1 district {small[-1]['seconds_each'][0]} s, {districts} districts "
              f"{big[-1]['seconds_each'][0]} s", flush=True)
    fig = {}
    for name, side in (("one_district", small), ("districts", big)):
        fig[name] = {"residents": residents[name != "one_district"], "rows": side[0]["rows"],
                     "seconds_runs": [r["seconds_each"][0] for r in side],
                     "seconds": statistics.median(r["seconds_each"][0] for r in side),
                     "us_per_row_runs": [r["us_per_row"] for r in side],
                     "us_per_row": statistics.median(r["us_per_row"] or 0 for r in side),
                     "errors": sum(r["errors"] for r in side)}
    fig["ratio"] = round(fig["districts"]["seconds"] / fig["one_district"]["seconds"], 2)
    fig["cpu_ratio"] = (round(fig["districts"]["us_per_row"] / fig["one_district"]["us_per_row"], 2)
                        if fig["one_district"]["us_per_row"] else None)
    print("first sync of one team, one district vs more:", json.dumps(fig, ensure_ascii=False))
    print(f"districts: first sync of one team, median of {runs} alternating runs: 1 district "
          f"({residents[0]:,} residents) {fig['one_district']['seconds']:.2f} s, {districts} districts "
          f"({residents[1]:,} residents) {fig['districts']['seconds']:.2f} s, ratio {fig['ratio']} [target <= 1.2]; "
          f"server + PostgreSQL CPU per row {fig['one_district']['us_per_row']} / {fig['districts']['us_per_row']} us, "
          f"ratio {fig['cpu_ratio']}", flush=True)


def _count_residents(url: str) -> int:
    import psycopg
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM residents").fetchone()[0]


def _wait_for(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port within ~20 s."""
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=42)
    ap.add_argument("--tablets", type=int, default=400)
    ap.add_argument("--window", type=float, default=300.0, help="seconds over which the tablets arrive")
    ap.add_argument("--workers", type=int, default=32, help="tablets syncing at once at most (load process)")
    ap.add_argument("--rounds", type=int, default=5, help="incremental syncs to time")
    ap.add_argument("--db", default=DB)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--full-teams", type=int, default=None,
                    help="teams given visits and lab reports too (default: every team, the standard caseload's "
                         "density everywhere, so PostgreSQL picks the plans a real district gets)")
    ap.add_argument("--first-runs", type=int, default=3,
                    help="first syncs of one team to time, each followed by the floor's (median reported)")
    ap.add_argument("--floor", default=str(FLOOR_DIR) if FLOOR_DIR.exists() else "",
                    help="the plain-HTTP floor's scripts (default ../shared/floor; '' to skip it)")
    ap.add_argument("--floor-data", default=str(Path(tempfile.gettempdir()) / "gpo-floor"),
                    help="where the floor's generated caseload is kept between runs (made once)")
    ap.add_argument("--floor-db", default="gpo_bench_floor")
    ap.add_argument("--scale-tablets", type=int, default=10,
                    help="tablets of as many different teams doing their first sync at once, after --scale-alone "
                         "of them alone; server and PostgreSQL CPU per synced row compared (0 skips)")
    ap.add_argument("--scale-alone", type=int, default=2, help="of those teams, how many sync alone first")
    ap.add_argument("--districts", type=int, default=1,
                    help="N > 1: also copy the district's database into --big-db with N-1 more districts' "
                         "households and residents, and compare one team's first sync on both (4: 2.5 M residents)")
    ap.add_argument("--big-db", default=None, help="the --districts database (default: --db + '_districts')")
    ap.add_argument("--district-runs", type=int, default=3, help="alternating first syncs on each database")
    ap.add_argument("--model-minutes", type=float)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--args", help=argparse.SUPPRESS)
    smoke = dict(teams=2, tablets=4, window=3.0, workers=2, rounds=2, db="gpo_bench_sync_smoke", first_runs=1,
                 floor_db="gpo_bench_floor_smoke", scale_tablets=2, scale_alone=1, districts=2, district_runs=1)
    for name in ("db", "floor_db"):  # --smoke --db X: a smoke run in a database of one's own
        if any(arg.split("=")[0] == f"--{name.replace('_', '-')}" for arg in sys.argv[1:]):
            del smoke[name]
    a = _smoke.parse(ap, **smoke)
    if a.child:
        kw = json.loads(a.args)
        {"serve": serve, "first": first_sync, "load": load, "tablet": tablet}[a.child](**kw)
        return
    if a.model_minutes:
        env = {**os.environ, "SYNC_MODEL_SECONDS": str(a.model_minutes * 60)}
        sys.exit(subprocess.call([sys.executable, "-m", "pytest", "tests/sync/test_model.py", "-q", "-s", "-x",
                                  "-k", "test_model[1]"], cwd=ROOT, env=env))
    import _district as d
    url = d.database_url(a.db) if a.reuse else d.recreate_database(a.db)
    print(f"cores {os.cpu_count()}, PostgreSQL {d.server_facts(url)}")
    if a.smoke:
        d.use_smoke_caseload()
    big_db = a.big_db or f"{a.db}_districts"
    t_load = time.perf_counter()
    if not a.reuse:
        build(url, a.teams, a.teams if a.full_teams is None else a.full_teams)
        if a.districts > 1:
            build_districts(url, big_db, a.districts, a.teams)
        print(f"load: {time.perf_counter() - t_load:.0f} s in all", flush=True)
    work = Path(tempfile.mkdtemp(prefix="gpo-bench-sync-"))
    token, _ = tokens_and_spec(url, a.tablets, work / "spec.json")
    port = _free_port()
    server_url = f"http://127.0.0.1:{port}"

    def child(kind, **kw):
        return [sys.executable, __file__, "--child", kind, "--args", json.dumps(kw)]

    srv = subprocess.Popen(child("serve", url=url, port=port), cwd=ROOT)
    meter = CpuMeter(srv.pid, a.db)
    big_srv = floor = None
    try:
        _wait_for(port)
        floor = Floor(Path(a.floor), Path(a.floor_data), a.floor_db) if a.floor and a.first_runs else None
        if floor:
            floor.start()
        runs, floors = [], []
        for n in range(max(1, a.first_runs)):
            # Alternating, so both see the same machine: its speed moves by up to 1.6x minute to minute.
            db = work / f"tab{n}.sqlite"
            meter.start()
            runs.append(json.loads(subprocess.run(
                child("first", server=server_url, token=token, db=str(db), incremental_rounds=a.rounds if n == 0 else 0),
                cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]))
            # Includes run 1's incremental rounds (a few hundred rows next to the first sync's 182,000).
            runs[-1].update(meter.stop())
            if floor:
                floors.append(floor.pull(work / f"floor{n}.sqlite"))
                print(f"  run {n + 1}: project {runs[-1]['first_sync_s']:.2f} s, floor {floors[-1]['seconds']:.2f} s",
                      flush=True)
        first = dict(runs[0])
        first["first_sync_runs_s"] = [r["first_sync_s"] for r in runs]
        first["first_sync_s"] = statistics.median(first["first_sync_runs_s"])
        first["server_cpu_runs_s"] = [r["server_cpu_s"] for r in runs]
        first["postgres_cpu_runs_s"] = [r["postgres_cpu_s"] for r in runs]
        first["client_cpu_runs_s"] = [r["client_cpu_s"] for r in runs]
        for key in ("server_cpu_s", "postgres_cpu_s", "client_cpu_s", "backends", "backends_ended"):
            first.pop(key, None)
        if floors:
            first["floor_runs_s"] = [f["seconds"] for f in floors]
            first["floor_s"] = statistics.median(first["floor_runs_s"])
            first["floor_ratio"] = round(first["first_sync_s"] / first["floor_s"], 2)
            first["floor_rows"] = floors[0]["rows"]
            first["floor_db_bytes"] = floors[0]["client_db_bytes"]
            first["db_ratio"] = round(first["db_bytes"] / first["floor_db_bytes"], 2)
        print("first full sync of one team:", json.dumps(first, ensure_ascii=False))
        if floors:
            print(f"first sync, median of {len(runs)} alternating runs: project {first['first_sync_s']:.2f} s, "
                  f"floor {first['floor_s']:.2f} s, ratio {first['floor_ratio']} [target <= 1.5]; tablet store "
                  f"{first['db_bytes'] / 1e6:.1f} MB, floor's {first['floor_db_bytes'] / 1e6:.1f} MB, ratio "
                  f"{first['db_ratio']} [target <= 1.3]")
        inc = sorted(first["incremental_ms"])
        print(f"incremental sync, 50 changes each way: median {statistics.median(inc)} ms, max {inc[-1]} ms, "
              f"bytes on the wire per sync {first['incremental_bytes']}")

        def tablet_command(at: str):
            return lambda tok, db: child("tablet", server=at, token=tok, db=str(db))

        if a.scale_tablets:
            scale_phase(tablet_command(server_url), meter, team_tokens(url), a.scale_tablets, a.scale_alone, work)
        if a.districts > 1:
            big_url = d.database_url(big_db)
            big_port = _free_port()
            big_srv = subprocess.Popen(child("serve", url=big_url, port=big_port), cwd=ROOT)
            _wait_for(big_port)
            first_team = next(iter(team_tokens(url)))
            districts_phase(tablet_command(server_url), meter, tablet_command(f"http://127.0.0.1:{big_port}"),
                            CpuMeter(big_srv.pid, big_db), token, team_tokens(big_url)[first_team],
                            a.district_runs, (_count_residents(url), _count_residents(big_url)), a.districts, work)
        if not a.tablets:
            return
        budget = a.window + 120
        out = subprocess.run(child("load", server=server_url, spec_file=str(work / "spec.json"), window=a.window,
                                   workers=a.workers, timeout=budget), cwd=ROOT, check=True, capture_output=True,
                             text=True, timeout=budget + 60).stdout.strip().splitlines()[-1]
        print(f"{a.tablets} tablets, incremental sync each (2 edits up, the team's news down), arriving over "
              f"{a.window:.0f} s:", out)
    finally:
        if floor:
            floor.stop()
        for proc in (srv, big_srv):
            if proc:
                proc.terminate()
                proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
