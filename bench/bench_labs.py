"""Lab intake throughput: ORU^R01 messages (8 results each) over HTTP into PostgreSQL, and a printed lab report.

    .venv/bin/python bench/bench_labs.py                       # 3,000 messages, 8 client connections
    .venv/bin/python bench/bench_labs.py --servers 1 --messages 5000 --clients 16 --teams 42

The app runs as production serves it, `python -m server.manage serve-production` (gunicorn) in a child
process on 127.0.0.1 with --servers worker processes (default one per core, as serve-production) of --threads threads
(default 2, gthread workers; 1: gunicorn's sync workers); `--http werkzeug` runs werkzeug's threaded
development server instead (--servers N such processes sharing the port with SO_REUSEPORT), as before. This process posts from
--clients connections (keep-alive where the server keeps it) and times every request. The database
`gpo_bench_labs` (--db) is dropped and recreated on each run, with a district of --teams standard team caseloads
(default 6: 90,000 residents); `test` is never touched. Every message is a new order for a resident found by ID number (one in ten is an unknown patient and goes to the queue), so each one
is parsed, matched, stored (message, report, 8 rows, audit) and committed before its ACK. Afterwards the row
counts are checked against what was sent. It prints figures and asserts nothing else; targets: >= 200 msg/s,
a lab report rendered by `printing` in <= 20 ms.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import signal
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

PG = "postgresql://postgres@127.0.0.1:5432"


def recreate(db: str) -> str:
    """Drop and create the benchmark database; its URL."""
    from sqlalchemy import text

    from server.db import make_engine

    if db in ("test", "postgres"):
        sys.exit(f"refusing to use database {db!r}")
    admin = make_engine(f"{PG}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    admin.dispose()
    return f"{PG}/{db}"


def seed(url: str, teams: int, patients: int) -> tuple[str, list[tuple[str, str, dt.date, str]]]:
    """A district of `teams` standard team caseloads (caseload.md: 15,000 residents each, written with the
    import writer, as bench_foundation does), a hospital and one feed serving every center: (key, people), the
    people being `patients` residents with ID numbers, spread over the district, whom the messages are about.

    The residents table is district-sized because matching reads it for every message: with 2,000 residents
    (this benchmark before 29 November) a whole-table scan per message cost 0.4 ms and went unnoticed; at
    20,000 it cost 3.6 ms (migration 0005 added the index it lacked)."""
    import random

    from sqlalchemy import select

    import _district
    from server import create_app, db
    from server.demo.caseload import Generator
    from server.households.models import Resident
    from server.labs import feeds
    from server.manage import migrate
    from server.org.models import Hospital

    migrate(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast", "DEVELOPMENT": True})
    with app.app_context():
        s = db.session()
        district = _district.create_organisation(s, teams)
        hosp = Hospital(code="HB", name="基准医院")
        s.add(hosp)
        s.commit()
        gen = Generator(_district.SEED)
        for team in district.teams:
            _district.write_team(s, district, team, _district.generate_team(gen, team))
        _feed, key = feeds.create_feed(s, district.admin, {"hospital_id": hosp.id, "name": "bench LIS",
                                                            "center_ids": list(district.centers)})
        s.commit()
        rows = s.execute(select(Resident.name, Resident.sex, Resident.birth_date, Resident.id_number)).all()
    print(f"district: {len(district.centers)} center(s), {teams} teams, {len(rows):,} residents")
    rows = [r for r in rows if r.id_number]
    app.extensions["db_engine"].dispose()
    people = [(name, "M" if sex == "1" else "F", birth, number)
              for name, sex, birth, number in random.Random(_district.SEED).sample(rows, min(patients, len(rows)))]
    return key, people


PANEL = [("K", "钾", "mmol/L", "3.5-5.5", 3.0, 6.0), ("NA", "钠", "mmol/L", "137-147", 130, 150),
         ("GLU", "葡萄糖", "mmol/L", "3.9-6.1", 3.0, 12.0), ("CR", "肌酐", "umol/L", "57-111", 40, 200),
         ("UREA", "尿素", "mmol/L", "3.1-8.0", 2.0, 12.0), ("ALT", "丙氨酸氨基转移酶", "U/L", "9-50", 5, 120),
         ("TC", "总胆固醇", "mmol/L", "<5.2", 3.0, 8.0), ("WBC", "白细胞", "10\\S\\9/L", "3.5-9.5", 2.0, 15.0)]


def message(n: int, person: tuple[str, str, dt.date, str] | None) -> bytes:
    """ORU^R01 number n (8 results) for a resident, or for an unknown patient when person is None."""
    if person is None:
        pid = f"PID|1||U{n}^^^HB^MR||无名{n}||19600101|M"
    else:
        name, sex, birth, number = person
        pid = f"PID|1||{number}^^^^ID~MR{n}^^^HB^MR||{name}||{birth:%Y%m%d}|{sex}"
    segs = [f"MSH|^~\\&|LIS|HB|GPO|BENCH|20250302110000||ORU^R01^ORU_R01|BENCH-{n}|P|2.5.1|||||CHN|UNICODE UTF-8",
            pid, f"OBR|1|P{n}|F{n}|CHEM^生化^L|||20250302070000|||||||20250302073000|SER^血清|||||||"
                 "20250302105500|||F|||||||0101&李&明||0202&王&强"]
    for i, (code, name, unit, rng, lo, hi) in enumerate(PANEL, 1):
        value = round(lo + (hi - lo) * ((n * 31 + i * 17) % 100) / 100, 2)
        segs.append(f"OBX|{i}|NM|{code}^{name}^L||{value}|{unit}|{rng}|N|||F|||20250302100000")
    return ("\r".join(segs) + "\r").encode()


def serve(url: str, port: int, ready) -> None:
    """Child process: the real app under werkzeug's WSGI server, on a socket with SO_REUSEPORT so that
    several such processes share the port (the kernel spreads connections over them)."""
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    from server import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request would dominate
    WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive, as an interface engine holds its connection
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DEVELOPMENT": True})
    logging.getLogger("server").setLevel(logging.WARNING)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    server = make_server("127.0.0.1", port, app, threaded=True, fd=sock.fileno())
    ready.set()
    server.serve_forever()


def serve_production(url: str, port: int, workers: int, threads: int, env: dict | None = None) -> list[int]:
    """Start `server.manage serve-production` (gunicorn) on the port; its pids once every worker is forked
    (master first). The app is loaded before the fork, so a forked worker is ready to serve. `env` adds to or
    overrides the environment (bench_morning gives the JWT secret it issues its tokens with)."""
    import secrets
    import subprocess
    import tempfile

    # serve-production refuses the development secret; the lab feeds sign in with their keys, not tokens.
    # The workers' metrics files go to a folder of this run's own (the default, instance/metrics, is shared
    # with any other serve-production of the checkout, such as the test suite's, which it empties at start).
    extra = env
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=secrets.token_urlsafe(32),
               JWT_SECRET_KEY=secrets.token_urlsafe(32),
               PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="gpo-bench-metrics-"))
    env.update(extra or {})
    master = subprocess.Popen([sys.executable, "-m", "server.manage", "serve-production", "--port", str(port),
                               "--workers", str(workers), "--threads", str(threads)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if master.poll() is not None:
            sys.exit(f"serve-production stopped with exit code {master.returncode}")
        children = [int(p) for p in Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()]
        if len(children) == workers:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return [master.pid] + children
            except OSError:
                pass
        time.sleep(0.1)
    master.terminate()
    sys.exit("serve-production did not start within 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL postmaster's process id (a backend's parent), when the server runs on this machine."""
    from sqlalchemy import text

    from server.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:  # read while the backend lives
            backend = conn.scalar(text("SELECT pg_backend_pid()"))
            return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None
    finally:
        engine.dispose()


def postgres_cpu_seconds(postmaster: int | None) -> float | None:
    """CPU time the whole PostgreSQL cluster has used so far: the postmaster with its exited children
    (backends that ended, counted by the kernel on reaping) and every live child. Other databases' work
    counts too."""
    if postmaster is None:
        return None
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == postmaster:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def post_all(port: int, key: str, payloads: list[bytes], clients: int) -> tuple[list[float], list[int], float]:
    """Post every payload from `clients` keep-alive connections; (latencies s, HTTP statuses, wall time s).

    The load generator is the standard library's http.client, not `requests`: it shares the two cores
    with the server under test (in production the sender is the hospital's interface engine, elsewhere),
    and `requests` cost 1.0-1.6 ms of CPU a message against 0.3-0.4 ms here (measured), CPU the server
    did not get."""
    import http.client

    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    queue = list(reversed(payloads))
    headers = {"X-Lab-Feed-Key": key, "Content-Type": "x-application/hl7-v2+er7"}

    def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
        conn.request("POST", "/api/v1/labs/hl7", body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                t0 = time.perf_counter()
                try:
                    status, content = post(conn, body)
                except (http.client.RemoteDisconnected, ConnectionError):
                    # The server closed an idle keep-alive connection: connect again and send once more
                    # (a repeat is answered with the first ACK: intake is idempotent per MSH-10).
                    conn.close()
                    status, content = post(conn, body)
                took = time.perf_counter() - t0
                ok = status == 200 and b"MSA|AA|" in content
                with lock:
                    latencies.append(took)
                    statuses.append(status if ok else -status)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - start


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def print_bench(url: str, runs: int) -> None:
    """Render a stored 8-result report with printing, `runs` times; print p50/p95/max."""
    from sqlalchemy import select

    import printing
    from server import create_app, db
    from server.households.models import Resident
    from server.labs import services
    from server.labs.models import LabReport

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DEVELOPMENT": True})
    with app.app_context():
        s = db.session()
        rep = s.scalars(select(LabReport).where(LabReport.resident_id.is_not(None)).limit(1)).one()
        rep.results, rep.hospital  # noqa: B018 - load before timing
        res = s.get(Resident, rep.resident_id)
        times = {"adapter+render": [], "render": []}
        settings = {"58 mm text": printing.PrinterSettings(),
                    "80 mm text": printing.PrinterSettings(width=printing.PaperWidth.MM80)}
        for label, setting in settings.items():
            adapter, render = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                printable = services.printable(rep, res)
                t1 = time.perf_counter()
                data = printing.lab_report(printable, setting)
                t2 = time.perf_counter()
                adapter.append(t2 - t0)
                render.append(t2 - t1)
            print(f"  print {label}: adapter+render p50 {statistics.median(adapter) * 1000:.2f} ms, "
                  f"p95 {pct(adapter, 95) * 1000:.2f} ms, max {max(adapter) * 1000:.2f} ms "
                  f"({len(printable.results)} items, {len(data)} bytes)")
        assert res.name in printing.preview(data).text  # the bytes are a readable receipt
    app.extensions["db_engine"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="gpo_bench_labs")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--servers", type=int, default=os.cpu_count() or 1,
                        help="server processes (gunicorn workers; serve-production's default: one per core)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads per gunicorn worker (serve-production's default; 1: sync workers)")
    parser.add_argument("--http", choices=("gunicorn", "werkzeug"), default="gunicorn",
                        help="gunicorn: server.manage serve-production; werkzeug: the development server")
    parser.add_argument("--teams", type=int, default=6,
                        help="teams of 15,000 residents each in the district (6: one center, 90,000 residents)")
    parser.add_argument("--patients", type=int, default=2000, help="residents the messages are about")
    parser.add_argument("--print-runs", type=int, default=200)
    args = _smoke.parse(parser, db="gpo_bench_labs_smoke", messages=100, warmup=10, clients=2, servers=1,
                        teams=1, patients=50, print_runs=5)
    if args.smoke:
        import _district
        _district.use_smoke_caseload()

    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, database {args.db} (dropped and recreated)")
    url = recreate(args.db)
    t0 = time.perf_counter()
    key, people = seed(url, args.teams, args.patients)
    print(f"seeded in {time.perf_counter() - t0:.1f} s; the messages are about {len(people)} of them")

    total = args.warmup + args.messages
    payloads = [message(n, None if n % 10 == 9 else people[n % len(people)]) for n in range(total)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    postmaster = postmaster_pid(url)
    if args.http == "werkzeug":
        ctx = mp.get_context("spawn")
        servers = []
        for _ in range(args.servers):
            ready = ctx.Event()
            servers.append(ctx.Process(target=serve, args=(url, port, ready), daemon=True))
            servers[-1].start()
            ready.wait(60)
        pids = [p.pid for p in servers]
        time.sleep(0.3)
    else:
        pids = serve_production(url, port, args.servers, args.threads)
    try:
        post_all(port, key, payloads[:args.warmup], args.clients)
        server_cpu = sum(cpu_seconds(pid) for pid in pids)
        client_cpu = time.process_time()
        pg_cpu = postgres_cpu_seconds(postmaster)
        latencies, statuses, wall = post_all(port, key, payloads[args.warmup:], args.clients)
        client_cpu = time.process_time() - client_cpu
        server_cpu = sum(cpu_seconds(pid) for pid in pids) - server_cpu
        pg_after = postgres_cpu_seconds(postmaster)
        pg_cpu = pg_after - pg_cpu if pg_cpu is not None and pg_after is not None else None
    finally:
        if args.http == "werkzeug":
            for p in servers:
                p.terminate()
                p.join(10)
        else:
            os.kill(pids[0], signal.SIGTERM)  # gunicorn's master stops its workers
            os.waitpid(pids[0], 0)

    failed = [s for s in statuses if s != 200]
    http = ("werkzeug threaded WSGI server" if args.http == "werkzeug" else
            f"gunicorn {'sync' if args.threads == 1 else f'gthread x {args.threads} threads'} workers")
    print(f"HTTP intake ({http} x {args.servers} process(es); {args.clients} client "
          f"connections; {args.messages} messages x {len(PANEL)} results; warm-up {args.warmup}):")
    print(f"  {args.messages / wall:.0f} msg/s ({args.messages * len(PANEL) / wall:.0f} results/s), "
          f"wall {wall:.2f} s, failures {len(failed)}")
    print(f"  latency p50 {pct(latencies, 50) * 1000:.1f} ms, p95 {pct(latencies, 95) * 1000:.1f} ms, "
          f"p99 {pct(latencies, 99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    print(f"  CPU per message: server process(es) {server_cpu * 1000 / args.messages:.1f} ms, "
          f"client (this process) {client_cpu * 1000 / args.messages:.1f} ms, PostgreSQL "
          + (f"{pg_cpu * 1000 / args.messages:.1f} ms" if pg_cpu is not None else "(not readable)")
          + f"; load average after {os.getloadavg()[0]:.1f}")

    from sqlalchemy import func, select

    from server.db import make_engine
    from server.labs.models import LabMessage, LabResultRow

    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(LabMessage))
        rows = conn.scalar(select(func.count()).select_from(LabResultRow))
        queued = conn.scalar(select(func.count()).select_from(LabMessage).where(LabMessage.match_status == "unmatched"))
    engine.dispose()
    print(f"  stored {stored} messages (sent {total}), {rows} result rows (expected {total * len(PANEL)}), "
          f"{queued} in the unmatched queue")
    print_bench(url, args.print_runs)


if __name__ == "__main__":
    main()
