"""A district's busiest morning (issue 15, item 12): tablets syncing, center staff browsing and searching, a
hospital feed posting HL7 v2 and GPs signing visits, all at once, on PostgreSQL behind the production server.

    .venv/bin/python bench/bench_morning.py                           # the full morning: 42 teams, 400 tablets,
                                                                      # 50 staff, 20 HL7 msg/s, 30 GPs, 10 min
    .venv/bin/python bench/bench_morning.py --teams 6 --minutes 3     # a smaller district, a shorter morning
    .venv/bin/python bench/bench_morning.py --reuse --db NAME         # skip loading (the district is there)
    .venv/bin/python bench/bench_morning.py --smoke                   # seconds; CI runs it (tests/bench)

The server is `python -m server.manage serve-production` (gunicorn, --workers 2 x --threads 6 gthread, as
serve-production's defaults on 2 cores) on 127.0.0.1, started by this script on a free port (or --port). The district is
the standard caseload (bench/_district.py, 15,000 residents a team) written with the import writer into its
own database (--db, dropped and recreated unless --reuse; never `test`). Extra GP and staff accounts are
added so that each simulated person signs in as their own user (tokens issued directly, nobody types a
password). The clients are threads of this process over the standard library's http.client with keep-alive
(one connection per simulated person, reopened when gunicorn closes an idle one): they cost the server's two
cores little CPU (bench_labs measured 0.3-0.4 ms a request against 1-1.6 ms for `requests`).

Who does what (each person's first action at a random moment within their interval, then on schedule; a late
answer makes the next action start at once, never a burst to catch up):
- a tablet (--tablets, spread over the teams) syncs every --sync-every s: a push of 1-3 resident edits (its
  own residents, so every value can be checked afterwards), then pulls with its cursor until `more` is false.
  Its first cursor is the head of the sync log after loading, as a tablet that finished yesterday's sync.
- a center staff member (--staff, spread over the centers) every --staff-think s: a household list page, a
  resident search (a full name, a 2-character name fragment, an ID number or the last 4 digits of a phone,
  from real rows of their center), or a household's detail (one from the last list page).
- the hospital feed posts ORU^R01 messages (8 results; one in ten for an unknown patient) at --hl7-rate per
  second from --hl7-connections keep-alive connections, on a fixed timetable.
- a GP (--gps, spread over the teams) every --gp-every s pushes one signed hypertension visit for a patient
  of their team (one patient a visit, never the same twice).

Phases: the mixed morning (--minutes), then each kind alone for --cpu-seconds at the same rates: the
gunicorn workers' CPU time (utime + stime from /proc, master excluded) is read at each phase's start and
end, so CPU per request kind is measured from the single-kind phases (the mixed phase's total is printed
beside it); PostgreSQL's CPU is the whole cluster's (other databases on this server count too).
Afterwards every write is accounted for: visits sent vs stored, HL7 messages and result rows sent vs
stored, each tablet edit's receipt and each edited resident's final value. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import json
import os
import random
import secrets
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

KINDS = ("tablet", "staff", "hl7", "gp")


# --- the district and the people in it -----------------------------------------------------------

def _app(url: str, secret: str):
    from server import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast", "DEVELOPMENT": True,
                       "SECRET_KEY": secret, "JWT_SECRET_KEY": secret,
                       "JWT_ACCESS_TOKEN_EXPIRES": dt.timedelta(hours=6)})


def load_district(url: str, teams: int) -> None:
    """Migrate, the organisation, a hospital, every team's standard caseload; VACUUM ANALYZE."""
    import psycopg

    import _district as d
    from server import db
    from server.demo.caseload import Generator
    from server.manage import migrate
    from server.org.models import Hospital

    migrate(url)
    app = _app(url, "x" * 32)
    t0 = time.perf_counter()
    with app.app_context():
        session = db.session()
        district = d.create_organisation(session, teams)
        session.add(Hospital(code="H-MORNING", name="浦东新区人民医院"))
        session.commit()
        gen = Generator(d.SEED)
        for team in district.teams:
            d.write_team(session, district, team, d.generate_team(gen, team))
    app.extensions["db_engine"].dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {teams} teams in {time.perf_counter() - t0:.0f} s", flush=True)


def _ensure_users(session, role: str, prefix: str, homes: list, count: int) -> list:
    """`count` accounts of a role named prefix0.., spread round-robin over homes (teams or centers); kept
    between --reuse runs."""
    from sqlalchemy import select

    from server.auth.models import User
    from server.auth.services import hash_password

    users = []
    pw = None
    for i in range(count):
        name = f"{prefix}{i}"
        user = session.scalars(select(User).where(User.username == name)).first()
        if user is None:
            pw = pw or hash_password("bench-pass", "fast")
            home = homes[i % len(homes)]
            if role == "gp":
                user = User(username=name, full_name="家庭医生", role="gp", team_id=home.id,
                            center_id=home.center_id, team_role="family_doctor", password_hash=pw)
            else:
                user = User(username=name, full_name="中心文员", role="center_staff", center_id=home.id,
                            password_hash=pw)
            session.add(user)
        users.append(user)
    session.flush()
    return users


def prepare(url: str, a: argparse.Namespace, secret: str) -> dict:
    """Accounts and tokens, a new feed key, and what each person will work on (rows drawn from the data)."""
    from flask_jwt_extended import create_access_token
    from sqlalchemy import select, text

    from bench_labs import message  # noqa: F401  (checked importable before the run starts)
    from server import clock, db
    from server.auth.tokens import FAMILY, GENERATION
    from server.labs import feeds
    from server.org.models import Center, Hospital, Team
    from server.scope import Actor
    from server.auth.models import User

    rng = random.Random(20261206)
    app = _app(url, secret)
    with app.app_context():
        session = db.session()
        teams = session.scalars(select(Team).order_by(Team.id)).all()
        centers = session.scalars(select(Center).order_by(Center.id)).all()
        gp_users = _ensure_users(session, "gp", "morning-gp", teams, a.gps)
        staff_users = _ensure_users(session, "center_staff", "morning-staff", centers, a.staff)
        tablet_users = _ensure_users(session, "gp", "morning-tablet", teams, a.tablets)
        admin = session.scalars(select(User).where(User.role == "admin")).first()
        hospital = session.scalars(select(Hospital)).first()
        feed, key = feeds.create_feed(session, Actor.of(admin), {
            "hospital_id": hospital.id, "name": f"morning LIS {int(time.time())}",
            "center_ids": [c.id for c in centers]})
        session.commit()
        feed_id = feed.id

        def token(user):
            return create_access_token(identity=str(user.id), additional_claims={
                "role": user.role, GENERATION: user.token_generation, FAMILY: uuid.uuid4().hex})

        conn = session.connection()
        head = conn.execute(text("SELECT coalesce(max(xid), 0), coalesce(max(seq), 0) FROM sync_changes")).one()
        residents = {}  # team id -> [(id, center_id)], ordered
        for tid, rid in conn.execute(text("SELECT team_id, id FROM residents WHERE team_id IS NOT NULL "
                                          "ORDER BY team_id, id")):
            residents.setdefault(tid, []).append(rid)
        patients = {}
        for tid, rid in conn.execute(text(
                "SELECT r.team_id, r.id FROM residents r JOIN chronic_conditions c ON c.resident_id = r.id "
                "WHERE c.condition = 'hypertension' AND r.team_id IS NOT NULL "
                # not visited by an earlier run on this database (--reuse): a visit a patient, as planned
                "AND NOT EXISTS (SELECT 1 FROM followups f WHERE f.resident_id = r.id) ORDER BY r.team_id, r.id")):
            patients.setdefault(tid, []).append(rid)
        sample = conn.execute(text(
            "SELECT center_id, name, sex, birth_date, id_number, phone FROM residents "
            "WHERE id_number IS NOT NULL ORDER BY random() LIMIT :n"), {"n": 4000}).all()
        today = clock.today()

        # Tablets of a team edit disjoint slices of its residents; GPs of a team visit disjoint slices of its
        # hypertension patients (a visit a patient), so every write can be checked by its own value afterwards.
        tablets = []
        per_team: dict[int, int] = {}
        on_team = {t.id: sum(1 for u in tablet_users if u.team_id == t.id) for t in teams}
        for i, user in enumerate(tablet_users):
            k = per_team[user.team_id] = per_team.get(user.team_id, -1) + 1
            size = min(50, len(residents[user.team_id]) // on_team[user.team_id])
            tablets.append({"token": token(user), "device": f"morning-tab-{i}",
                            "residents": residents[user.team_id][k * size:(k + 1) * size]})
        gps = []
        per_team = {}
        for i, user in enumerate(gp_users):
            k = per_team[user.team_id] = per_team.get(user.team_id, -1) + 1
            mine = patients[user.team_id][k::max(1, sum(1 for g in gp_users if g.team_id == user.team_id))]
            gps.append({"token": token(user), "device": f"morning-gp-{i}", "patients": mine})
        by_center: dict[int, list] = {}
        for row in sample:
            by_center.setdefault(row.center_id, []).append(row)
        staff = []
        for user in staff_users:
            rows = by_center.get(user.center_id) or sample
            terms = []
            for row in rows[:80]:
                terms += [row.name, row.name[:2], row.id_number] + ([row.phone[-4:]] if row.phone else [])
            staff.append({"token": token(user), "terms": terms})
        people = [(r.name, "M" if r.sex == "1" else "F", r.birth_date, r.id_number) for r in sample[:2000]]
    app.extensions["db_engine"].dispose()
    rng.shuffle(tablets)
    return {"cursor": f"c.{head[0]}.{head[1]}", "tablets": tablets, "gps": gps, "staff": staff,
            "feed_key": key, "feed_id": feed_id, "people": people, "today": today}


# --- the clients ---------------------------------------------------------------------------------

class Client:
    """One person's keep-alive connection; reopened once when gunicorn has closed it while idle (every
    request here is safe to send again: GETs, pushes by batch id, HL7 by its control id)."""

    def __init__(self, port: int, token: str | None = None, headers: dict | None = None):
        self.port = port
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        hdrs = {**self.headers, **(headers or {})}
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        self.conn.close()


@dataclass
class Record:
    """What every request did, by kind; shared by all threads under one lock."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict = field(default_factory=dict)      # request kind -> [seconds]
    errors: list = field(default_factory=list)         # (request kind, what)
    counts: dict = field(default_factory=dict)         # person kind -> requests

    def add(self, person: str, kind: str, seconds: float, error: str | None = None):
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.counts[person] = self.counts.get(person, 0) + 1
            if error:
                self.errors.append((kind, error[:200]))


class Ledger:
    """Every write sent, to be checked against the database afterwards."""

    def __init__(self):
        self.lock = threading.Lock()
        self.resident_values: dict[str, str] = {}   # resident id -> the last employer a tablet pushed
        self.change_ids: list[str] = []             # tablet edits answered 'applied'
        self.visits: list[str] = []                 # followup ids answered 'applied'
        self.hl7_sent = 0
        self.hl7_acked = 0
        self.rows_pulled = 0


def timed(rec: Record, person: str, kind: str, fn):
    t0 = time.perf_counter()
    try:
        status, data = fn()
    except Exception as exc:  # counted as an error and reported; the person carries on
        rec.add(person, kind, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
        return None
    took = time.perf_counter() - t0
    if status != 200:
        rec.add(person, kind, took, f"HTTP {status}: {data[:150]!r}")
        return None
    rec.add(person, kind, took)
    return data


class Tablet:
    def __init__(self, spec: dict, cursor: str, rng: random.Random):
        self.spec, self.cursor, self.rng = spec, cursor, rng
        self.ref = None
        self.n = 0

    def act(self, client: Client, rec: Record, ledger: Ledger) -> None:
        records, values = [], {}
        for rid in self.rng.sample(self.spec["residents"], min(len(self.spec["residents"]), self.rng.randint(1, 3))):
            self.n += 1
            value = f"晨{self.spec['device'][-6:]}-{self.n}"
            records.append({"change_id": str(uuid.uuid4()), "entity": "residents", "entity_id": rid, "op": "update",
                            "base": {}, "fields": {"employer": value},
                            "device_time": dt.datetime.now(dt.timezone.utc).isoformat()})
            values[rid] = value
        body = json.dumps({"batch_id": str(uuid.uuid4()), "device_id": self.spec["device"], "records": records},
                          ensure_ascii=False).encode()
        data = timed(rec, "tablet", "tablet push", lambda: client.request(
            "POST", "/api/v1/sync/push", body, {"Content-Type": "application/json"}))
        if data is not None:
            results = json.loads(data)["results"]
            applied = [r["change_id"] for r in results if r["status"] == "applied"]
            bad = [r for r in results if r["status"] != "applied"]
            with ledger.lock:
                ledger.change_ids += applied
                ledger.resident_values.update(values)
            for r in bad:
                rec.add("tablet", "tablet push record", 0.0, f"record {r['status']}: {json.dumps(r)[:150]}")
        more = True
        while more:
            query = {"cursor": self.cursor, **({"ref": self.ref} if self.ref else {})}
            data = timed(rec, "tablet", "tablet pull", lambda: client.request(
                "GET", "/api/v1/sync/pull?" + urlencode(query), None, {"Accept-Encoding": "gzip"}))
            if data is None:
                return
            page = json.loads(data)
            if page.get("reset") or page.get("resync"):
                rec.add("tablet", "tablet pull", 0.0, f"pull asked to start over: {page.get('mode')}")
                return
            self.cursor = page["cursor"] or self.cursor
            self.ref = (page.get("reference") or {}).get("version", self.ref)
            with ledger.lock:
                ledger.rows_pulled += sum(len(e["rows"]) for e in page["entities"].values())
            more = page["more"]


class Staff:
    def __init__(self, spec: dict, rng: random.Random):
        self.spec, self.rng = spec, rng
        self.last_households: list[str] = []

    def act(self, client: Client, rec: Record, ledger: Ledger) -> None:
        choice = self.rng.random()
        if choice < 0.3 and self.last_households:
            hid = self.rng.choice(self.last_households)
            timed(rec, "staff", "household detail", lambda: client.request("GET", f"/api/v1/households/{hid}"))
        elif choice < 0.6:
            page = self.rng.randint(1, 40)
            data = timed(rec, "staff", "households list", lambda: client.request(
                "GET", f"/api/v1/households?page={page}&page_size=50"))
            if data is not None:
                self.last_households = [h["id"] for h in json.loads(data)["items"]][:50] or self.last_households
        else:
            q = self.rng.choice(self.spec["terms"])
            timed(rec, "staff", "resident search", lambda: client.request(
                "GET", "/api/v1/residents?" + urlencode({"q": q})))


class GP:
    def __init__(self, spec: dict, today: dt.date, rng: random.Random):
        self.spec, self.today, self.rng = spec, today, rng
        self.next_patient = 0

    def act(self, client: Client, rec: Record, ledger: Ledger) -> None:
        from bench_followups import visit_form

        if self.next_patient >= len(self.spec["patients"]):
            rec.add("gp", "gp visit push", 0.0, "this GP has visited every patient of theirs")
            return
        rid = self.spec["patients"][self.next_patient]
        self.next_patient += 1
        vid = str(uuid.uuid4())
        form = visit_form(self.rng, "hypertension", self.today, 0.3)
        body = json.dumps({"batch_id": str(uuid.uuid4()), "device_id": self.spec["device"], "records": [{
            "change_id": str(uuid.uuid4()), "entity": "followups", "entity_id": vid, "op": "create", "base": {},
            "fields": {"resident_id": rid, "condition": "hypertension", "form": form,
                       "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat()},
            "device_time": dt.datetime.now(dt.timezone.utc).isoformat()}]}, ensure_ascii=False).encode()
        data = timed(rec, "gp", "gp visit push", lambda: client.request(
            "POST", "/api/v1/sync/push", body, {"Content-Type": "application/json"}))
        if data is not None:
            result = json.loads(data)["results"][0]
            if result["status"] == "applied":
                with ledger.lock:
                    ledger.visits.append(vid)
            else:
                rec.add("gp", "gp visit record", 0.0, f"visit {result['status']}: {json.dumps(result)[:150]}")


def run_person(person, client: Client, kind: str, every: float, start: float, end: float, rec, ledger,
               first_delay: float) -> None:
    """Act every `every` seconds from start + first_delay until end; a late answer starts the next at once."""
    at = start + first_delay
    try:
        while True:
            now = time.monotonic()
            if at >= end:
                return
            if at > now:
                time.sleep(at - now)
            person.act(client, rec, ledger)
            at = max(at + every, time.monotonic())
    finally:
        client.close()


def run_feed(port: int, key: str, people: list, rate: float, connections: int, start: float, end: float,
             rec: Record, ledger: Ledger, counter: list) -> list[threading.Thread]:
    """The hospital's interface engine: message k is due at start + k / rate, sent by the next free
    connection; each ACK must be AA."""
    from bench_labs import message

    lock = threading.Lock()

    def worker():
        client = Client(port, headers={"X-Lab-Feed-Key": key, "Content-Type": "x-application/hl7-v2+er7"})
        try:
            while True:
                with lock:
                    k = counter[1]
                    due = start + k / rate
                    if due >= end:
                        return
                    counter[1] += 1
                    n = counter[0] + k
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                with ledger.lock:
                    ledger.hl7_sent += 1
                body = message(n, None if n % 10 == 9 else people[n % len(people)]).replace(b"BENCH-", b"MORN-")
                data = timed(rec, "hl7", "hl7 message", lambda: client.request("POST", "/api/v1/labs/hl7", body))
                if data is not None:
                    if b"MSA|AA|" in data:
                        with ledger.lock:
                            ledger.hl7_acked += 1
                    else:
                        rec.add("hl7", "hl7 message", 0.0, f"ACK not AA: {data[:150]!r}")
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    return threads


# --- the server and its CPU ----------------------------------------------------------------------

def worker_cpu(pids: list[int]) -> float:
    from bench_labs import cpu_seconds
    return sum(cpu_seconds(p) for p in pids[1:])  # the master only watches its workers


def database_cpu(db: str) -> dict[int, float]:
    """CPU seconds so far of each live PostgreSQL backend serving database `db` (its process title names it:
    "postgres: [cluster:] user db host(port) state"). The workers' pooled connections live through a phase, so the
    difference of two readings is this benchmark's database work, without the other databases on the server;
    a backend that exits within a phase is missed."""
    from bench_labs import cpu_seconds

    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
            # Debian's titles carry the cluster's name first: "postgres: 15/main: user db host(port) state".
            if title[:1] == ["postgres:"] and db in title[2:4]:
                out[int(entry.name)] = cpu_seconds(int(entry.name))
        except OSError:
            continue
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def phase(label: str, kinds: tuple, seconds: float, a, port: int, plan: dict, people_objs: dict, pids: list[int],
          postmaster, ledger: Ledger, hl7_counter: list) -> dict:
    """Run the given kinds of people together for `seconds`; latencies, errors and CPU of the phase."""
    from bench_labs import postgres_cpu_seconds

    rec = Record()
    rng = random.Random(label)
    start = time.monotonic() + 1.0
    end = start + seconds
    threads = []
    every = {"tablet": a.sync_every, "staff": a.staff_think, "gp": a.gp_every}
    for kind in kinds:
        if kind == "hl7":
            threads += run_feed(port, plan["feed_key"], plan["people"], a.hl7_rate, a.hl7_connections, start,
                                end, rec, ledger, hl7_counter)
            continue
        for person, token in people_objs[kind]:
            t = threading.Thread(target=run_person, daemon=True, args=(
                person, Client(port, token), kind, every[kind], start, end, rec, ledger,
                rng.uniform(0, min(every[kind], seconds))))
            t.start()
            threads.append(t)
    load_before = os.getloadavg()
    clock0 = time.time()
    cpu0, pg0, wall0 = worker_cpu(pids), postgres_cpu_seconds(postmaster), time.monotonic()
    db0, client0 = database_cpu(a.db), time.process_time()
    for t in threads:
        t.join()
    cpu1, pg1, wall1 = worker_cpu(pids), postgres_cpu_seconds(postmaster), time.monotonic()
    db1, client1 = database_cpu(a.db), time.process_time()
    clock1 = time.time()
    hl7_counter[0] += hl7_counter[1]  # message numbers go on from where this phase stopped
    hl7_counter[1] = 0
    return {"label": label, "kinds": kinds, "rec": rec, "cpu": cpu1 - cpu0,
            "pg_cpu": None if pg0 is None or pg1 is None else pg1 - pg0, "wall": wall1 - wall0,
            "db_cpu": sum(v - db0.get(p, 0.0) for p, v in db1.items()), "client_cpu": client1 - client0,
            "load": (load_before, os.getloadavg()), "clock": (clock0, clock1)}


def report(ph: dict) -> None:
    rec = ph["rec"]
    n = sum(len(v) for v in rec.latencies.values())
    print(f"\n== {ph['label']}: {ph['wall']:.0f} s, {n} requests ({n / ph['wall']:.1f}/s), errors {len(rec.errors)}; "
          f"load average {ph['load'][0][0]:.1f} at the start, {ph['load'][1][0]:.1f} / {ph['load'][1][1]:.1f} "
          f"(1/5 min) at the end")
    print(f"   {'request kind':22} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, lat in sorted(rec.latencies.items()):
        lat = [x for x in lat if x > 0] or [0.0]
        print(f"   {kind:22} {len(lat):7} {pct(lat, 50) * 1000:8.1f} {pct(lat, 95) * 1000:8.1f} "
              f"{pct(lat, 99) * 1000:8.1f} {max(lat) * 1000:8.1f}")
    pg = f"{ph['pg_cpu'] * 1000 / max(n, 1):.1f} ms" if ph["pg_cpu"] is not None else "(not readable)"
    print(f"   CPU: gunicorn workers {ph['cpu']:.1f} s = {ph['cpu'] * 1000 / max(n, 1):.1f} ms a request "
          f"({ph['cpu'] / ph['wall'] * 100:.0f} % of one core); this database's backends "
          f"{ph['db_cpu'] * 1000 / max(n, 1):.1f} ms a request ({ph['db_cpu'] / ph['wall'] * 100:.0f} % of a core); "
          f"the whole PostgreSQL server (other databases too) {pg}; the clients (this process) "
          f"{ph['client_cpu'] * 1000 / max(n, 1):.1f} ms")
    for kind, what in sorted(set(rec.errors))[:8]:
        print(f"   error {kind}: {what}")


def route_cpu(folder: str, ph: dict) -> None:
    """CPU per route in a phase, from the server's own per-request lines (--profile: server/profiling.py):
    each request's thread CPU, so it holds in the mixed phase too."""
    by_route: dict[str, list[tuple[float, float]]] = {}
    for f in Path(folder).glob("requests-*.tsv"):
        for line in f.read_text().splitlines():
            t, method, route, _status, cpu, wall = line.split("\t")
            if ph["clock"][0] <= float(t) <= ph["clock"][1]:
                by_route.setdefault(f"{method} {route}", []).append((float(cpu), float(wall)))
    total = sum(c for v in by_route.values() for c, _ in v)
    print(f"   server CPU per route (request threads: {total / 1000:.1f} s of the workers' {ph['cpu']:.1f} s):")
    print(f"   {'route':42} {'count':>6} {'cpu ms':>7} {'p50':>6} {'p99':>6} {'wall p50':>8} {'p99':>7}")
    for route, v in sorted(by_route.items(), key=lambda kv: -sum(c for c, _ in kv[1])):
        cpus, walls = [c for c, _ in v], [w for _, w in v]
        print(f"   {route[:42]:42} {len(v):6} {sum(cpus) / len(v):7.1f} {pct(cpus, 50):6.1f} {pct(cpus, 99):6.1f} "
              f"{pct(walls, 50):8.1f} {pct(walls, 99):7.1f}")


def account(url: str, ledger: Ledger, feed_id: int) -> dict:
    """Every write sent, looked up in the database."""
    import psycopg

    with psycopg.connect(url) as conn:
        visits = conn.execute("SELECT count(*) FROM followups WHERE id = ANY(%s)", (ledger.visits,)).fetchone()[0]
        receipts = conn.execute("SELECT count(*) FROM sync_receipts WHERE change_id = ANY(%s) AND status = 'applied'",
                                (ledger.change_ids,)).fetchone()[0]
        ids = list(ledger.resident_values)
        now = dict(conn.execute("SELECT id, employer FROM residents WHERE id = ANY(%s)", (ids,)).fetchall())
        same = sum(1 for rid, value in ledger.resident_values.items() if now.get(rid) == value)
        msgs = conn.execute("SELECT count(*) FROM lab_messages WHERE feed_id = %s", (feed_id,)).fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM lab_results r JOIN lab_messages m ON m.id = r.message_id "
                            "WHERE m.feed_id = %s", (feed_id,)).fetchone()[0]
    return {"visits_applied": len(ledger.visits), "visits_stored": visits,
            "edits_applied": len(ledger.change_ids), "edit_receipts": receipts,
            "residents_edited": len(ids), "residents_with_last_value": same,
            "hl7_sent": ledger.hl7_sent, "hl7_acked_AA": ledger.hl7_acked, "hl7_stored": msgs,
            "hl7_result_rows": rows, "hl7_result_rows_expected": ledger.hl7_acked * 8,
            "rows_pulled": ledger.rows_pulled}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="gpo_bench_morning")
    ap.add_argument("--teams", type=int, default=42)
    ap.add_argument("--reuse", action="store_true", help="the district is loaded already (in --db)")
    ap.add_argument("--tablets", type=int, default=400)
    ap.add_argument("--staff", type=int, default=50)
    ap.add_argument("--gps", type=int, default=30)
    ap.add_argument("--hl7-rate", type=float, default=20.0, help="HL7 messages per second")
    ap.add_argument("--hl7-connections", type=int, default=4)
    ap.add_argument("--sync-every", type=float, default=60.0, help="seconds between a tablet's syncs")
    ap.add_argument("--staff-think", type=float, default=5.0, help="seconds between a staff member's requests")
    ap.add_argument("--gp-every", type=float, default=20.0, help="seconds between a GP's signed visits")
    ap.add_argument("--minutes", type=float, default=10.0, help="the mixed morning's length (0: skip it)")
    ap.add_argument("--cpu-seconds", type=float, default=60.0,
                    help="each kind alone afterwards, for CPU per request kind (0: skip)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--profile", metavar="DIR", help="the server writes each request's CPU time there "
                    "(GPO_PROFILE_DIR, server/profiling.py); printed per route and phase")
    ap.add_argument("--profile-calls", action="store_true",
                    help="with --profile: cProfile every request too (pstats files per route; costs CPU)")
    ap.add_argument("--load-only", action="store_true", help="load the district and stop")
    a = _smoke.parse(ap, db="gpo_bench_morning_smoke", teams=1, tablets=6, staff=3, gps=2, hl7_rate=5.0,
                     hl7_connections=2, sync_every=2.0, staff_think=0.5, gp_every=1.0, minutes=0.1,
                     cpu_seconds=2.0)
    import _district as d
    from bench_labs import postmaster_pid, serve_production

    if a.smoke:
        d.use_smoke_caseload()
    url = d.database_url(a.db) if a.reuse else d.recreate_database(a.db)
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()}, PostgreSQL {d.server_facts(url)}", flush=True)
    if not a.reuse:
        load_district(url, a.teams)
    if a.load_only:
        return
    secret = secrets.token_urlsafe(32)
    plan = prepare(url, a, secret)
    rng = random.Random(7)
    people_objs = {"tablet": [(Tablet(t, plan["cursor"], random.Random(i)), t["token"])
                              for i, t in enumerate(plan["tablets"])],
                   "staff": [(Staff(s, random.Random(100 + i)), s["token"]) for i, s in enumerate(plan["staff"])],
                   "gp": [(GP(g, plan["today"], random.Random(200 + i)), g["token"]) for i, g in enumerate(plan["gps"])]}
    del rng
    port = a.port
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    postmaster = postmaster_pid(url)
    print(f"{len(plan['tablets'])} tablets (sync every {a.sync_every:g} s), {len(plan['staff'])} staff (a request "
          f"every {a.staff_think:g} s), HL7 {a.hl7_rate:g} msg/s over {a.hl7_connections} connections, "
          f"{len(plan['gps'])} GPs (a visit every {a.gp_every:g} s); gunicorn {a.workers} workers x {a.threads} "
          f"threads on port {port}", flush=True)
    env = {"JWT_SECRET_KEY": secret, "SECRET_KEY": secret}
    if a.profile:
        import shutil
        shutil.rmtree(a.profile, ignore_errors=True)
        env.update(GPO_PROFILE_DIR=str(Path(a.profile).resolve()), GPO_PROFILE_CALLS="1" if a.profile_calls else "")
    pids = serve_production(url, port, a.workers, a.threads, env=env)
    ledger = Ledger()
    hl7_counter = [int(time.time()) % 100000 * 1000, 0]  # message numbers new to this database on every run
    phases = []
    try:
        if a.minutes:
            phases.append(phase("mixed morning", KINDS, a.minutes * 60, a, port, plan, people_objs, pids,
                                postmaster, ledger, hl7_counter))
            report(phases[-1])
        if a.cpu_seconds:
            for kind in KINDS:
                phases.append(phase(f"{kind} alone", (kind,), a.cpu_seconds, a, port, plan, people_objs, pids,
                                    postmaster, ledger, hl7_counter))
                report(phases[-1])
    finally:
        os.kill(pids[0], signal.SIGTERM)
        os.waitpid(pids[0], 0)
    if a.profile:
        for ph in phases:
            print(f"\n== {ph['label']}")
            route_cpu(a.profile, ph)
    if a.cpu_seconds:
        print("\nCPU per request kind (single-kind phases; gunicorn workers, this database's backends):")
        for ph in phases[1 if a.minutes else 0:]:
            rec = ph["rec"]
            n = sum(len(v) for v in rec.latencies.values())
            pg = f"{ph['db_cpu'] * 1000 / max(n, 1):.1f}"
            kinds = ", ".join(f"{k} {len(v)}" for k, v in sorted(rec.latencies.items()))
            print(f"   {ph['kinds'][0]:7} {ph['cpu'] * 1000 / max(n, 1):6.1f} ms workers, {pg:>6} ms PostgreSQL a "
                  f"request ({kinds})")
    acc = account(url, ledger, plan["feed_id"])
    errors = sum(len(ph["rec"].errors) for ph in phases)
    print("\nwrites accounted for:", json.dumps(acc))
    ok = (acc["visits_applied"] == acc["visits_stored"] and acc["edits_applied"] == acc["edit_receipts"]
          and acc["residents_edited"] == acc["residents_with_last_value"]
          and acc["hl7_sent"] == acc["hl7_acked_AA"] == acc["hl7_stored"]
          and acc["hl7_result_rows"] == acc["hl7_result_rows_expected"])
    print(f"summary: errors {errors}, every write accounted for: {'yes' if ok else 'NO'}; "
          f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
