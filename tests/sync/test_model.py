"""Randomised model test of the whole sync (sync.md "How to prove it").

Several tablets (the real store and engine) and the real app, with dropped requests, dropped answers,
duplicated and replayed (reordered) deliveries, app kills mid-sync and between steps, a server restore with
a new epoch, skewed device clocks, center staff editing and reassigning households meanwhile. Then the
faults stop, everyone syncs, and the invariants are checked.

Short and seeded in the suite; SYNC_MODEL_SECONDS=N (bench/bench_sync.py --model-minutes) runs seeds
for that long.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import time
import uuid

import pytest
from sqlalchemy import insert, select, text

from fieldapp.store import Store
from fieldapp.sync import SyncEngine, SyncFailed
from fieldapp.sync.transport import TransportError
from gpcore.clock import china_today

# Tablets pull incrementally from the change log's transaction-id horizon: real commits on PostgreSQL
# (tests/conftest.py).
pytestmark = pytest.mark.commits(on="postgresql")

TABLETS = (("gp-a1", "A1"), ("nurse-a1", "A1"), ("gp-a2", "A2"), ("nurse-a2", "A2"), ("gp-b1", "B1"))


def seeded_ids(rng: random.Random):
    """A source of UUID4-shaped ids drawn from rng: with it a seed replays the same ids, so a failure is
    reproducible (uuid4 made seed 11's scope finding unrepeatable)."""
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)


class _ServerUuid:
    """Stands in for the uuid module inside server.db only: the ids the server invents (households,
    residents, registry entries) follow the seed too, and with them every ORDER BY id the model uses."""

    def __init__(self, rng: random.Random):
        self.uuid4 = seeded_ids(rng)


class Killed(BaseException):
    """The app was killed in the middle of something (not an Exception: nothing may catch it)."""


class Harness:
    """The server's true history as seen on the wire, and the faults."""

    def __init__(self, app, client, token, world, tmp_path, rng):
        self.app, self.client, self.world, self.tmp, self.rng = app, client, world, tmp_path, rng
        self.new_id = seeded_ids(random.Random(rng.random()))
        self.tokens = {u: token(u) for u, _ in TABLETS}
        self.staff = token("staff-a")
        self.faults = True
        self.expected: dict[tuple, object] = {}     # (entity, id, field) -> last value applied, server order
        self.conflicts: set[tuple] = set()          # (change_id, field, losing value) as answered
        self.answers: dict[str, dict] = {}          # batch id -> first answer the database holds
        self.sent: list[tuple[str, dict]] = []      # (user, push body) for replays
        self.saved: dict[str, set] = {}             # tablet -> change ids it saved
        self.snapshot = None
        self.tablets = {}
        self.stats = {"drop_request": 0, "drop_answer": 0, "duplicate": 0, "replay": 0, "kill": 0, "restore": 0}
        for user, team in TABLETS:
            self.open(user, team, offset_h=rng.choice((-9, -3, 0, 5, 14)))

    # --- tablets -------------------------------------------------------------------------------
    def open(self, user, team, offset_h=None):
        old = self.tablets.get(user)
        offset = offset_h if offset_h is not None else old["offset"]
        store = Store(str(self.tmp / f"{user}.sqlite"),
                      clock=lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=offset),
                      new_id=lambda: str(self.new_id()))
        engine = SyncEngine(store, FaultyTransport(self, user), batch_size=self.rng.choice((2, 5, 50)),
                            page_limit=self.rng.choice((3, 7, 1000)), retries=2, sleep=lambda s: None,
                            rng=random.Random(self.rng.random()))
        self.tablets[user] = {"store": store, "engine": engine, "team": team, "offset": offset}

    def kill(self, user):
        self.stats["kill"] += 1
        t = self.tablets[user]
        t["store"].close()
        self.open(user, t["team"])

    # --- the wire ------------------------------------------------------------------------------
    def observe_push(self, body, answer):
        first = self.answers.setdefault(body["batch_id"], answer)
        if first is not answer:
            # A repeat (duplicate delivery, replay, retry after a lost answer): the server must give the
            # first answer again and change nothing, so it says nothing new about server order. Counting
            # it as a fresh write was the model's own bug (seed 2): a replayed old batch re-set the
            # expectation to a value a later acknowledged write had already replaced.
            assert answer == first, "a repeated batch got a different answer"
            return
        for rec, res in zip(body["records"], answer["results"]):
            assert res["change_id"] == rec["change_id"]
            status = res["status"]
            if status == "duplicate":
                continue
            if status in ("applied", "conflict"):
                # Applied means in the pushing team's scope at that moment: never a resurrection.
                assert res["current"] is not None, res
                for f in res["applied"]:
                    self.expected[(rec["entity"], rec["entity_id"], f)] = rec["fields"][f]
                for f, c in (res.get("conflicts") or {}).items():
                    self.conflicts.add((rec["change_id"], f, repr(c["yours"])))
                if rec["op"] == "create":
                    for f, v in rec["fields"].items():
                        self.expected.setdefault((rec["entity"], rec["entity_id"], f), v)

    # --- the server's operator and staff ---------------------------------------------------------
    def staff_edit(self):
        w = self.world
        rid = self.rng.choice(list(w.residents.values()))
        phone = f"1{self.rng.randrange(10**10):010d}"
        r = self.client.patch(f"/api/v1/residents/{rid}", json={"phone": phone},
                              headers={"Authorization": f"Bearer {self.staff}", "If-Match": "*"})
        if r.status_code == 200:
            self.expected[("residents", rid, "phone")] = phone

    def staff_reassign(self):
        w = self.world
        hid = self.rng.choice([w.households[k] for k in ("A1-0", "A1-1", "A2-0", "A2-1")])
        team = self.rng.choice((w.teams["A1"], w.teams["A2"]))
        r = self.client.post("/api/v1/assignments/", json={"household_ids": [hid], "team_id": team,
                                                           "reason": "model"},
                             headers={"Authorization": f"Bearer {self.staff}"})
        assert r.status_code in (200, 201), r.get_json()

    def take_snapshot(self):
        from server.models import Base
        with self.app.extensions["db_engine"].connect() as conn:
            tables = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in Base.metadata.sorted_tables}
        self.snapshot = (tables, dict(self.expected), set(self.conflicts), dict(self.answers))

    def restore(self):
        """Put the database back as the snapshot had it (sequences too), then a new epoch, as an operator."""
        from server.models import Base
        from server.sync.services import new_epoch
        self.stats["restore"] += 1
        tables, expected, conflicts, answers = self.snapshot
        engine = self.app.extensions["db_engine"]
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(t.name for t in Base.metadata.sorted_tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                # The rows as the snapshot read them, in the heap's order: an original that was updated after
                # its amendment came in sits after it, and the amendment's foreign key refused it (seed 2).
                # Constraints and triggers wait, as in a restore of a dump (tests/conftest.py's put_back too).
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                for t in reversed(Base.metadata.sorted_tables):
                    conn.execute(t.delete())
            for t in Base.metadata.sorted_tables:
                if tables[t.name]:
                    conn.execute(insert(t), tables[t.name])
                if conn.dialect.name == "postgresql":
                    for col in t.primary_key.columns:
                        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                           {"t": t.name, "c": col.name}).scalar()
                        if seq:
                            conn.execute(text(f"SELECT setval('{seq}', COALESCE((SELECT max({col.name}) "
                                              f"FROM {t.name}), 0) + 1, false)"))
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = origin"))
            new_epoch(conn)
        # The restored database still has the batches it had stored then: their repeats are repeats.
        self.expected, self.conflicts, self.answers = dict(expected), set(conflicts), dict(answers)


class FaultyTransport:
    """The Flask test client with faults: lost requests, lost answers, duplicates, kills."""

    def __init__(self, harness: Harness, user: str):
        self.h, self.user = harness, user

    def call(self, method, path, *, params=None, body=None):
        h, rng = self.h, self.h.rng
        if h.faults and rng.random() < 0.08:
            h.stats["drop_request"] += 1
            raise TransportError("request lost")
        answer = self.deliver(method, path, params, body)
        if h.faults and rng.random() < 0.06:
            h.stats["duplicate"] += 1
            again = self.deliver(method, path, params, body)
            if path.endswith("/push"):
                assert again == answer
        if h.faults and path.endswith("/push") and rng.random() < 0.1:
            h.sent.append((self.user, body))
        if h.faults and rng.random() < 0.04:
            raise Killed()
        if h.faults and rng.random() < 0.08:
            h.stats["drop_answer"] += 1
            raise TransportError("answer lost")
        return answer

    def deliver(self, method, path, params, body, user=None):
        import gzip
        import json

        from fieldapp.sync.transport import HttpError
        token = self.h.tokens[user or self.user]
        r = self.h.client.open(path, method=method, query_string={k: v for k, v in (params or {}).items()
                                                                  if v is not None},
                               json=body, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
        raw = r.get_data()
        if r.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        payload = json.loads(raw)
        if r.status_code >= 400:
            raise HttpError(r.status_code, payload)
        if path.endswith("/push"):
            self.h.observe_push(body, payload)
        return payload


def _local_edit(h: Harness, user: str):
    store = h.tablets[user]["store"]
    rng = h.rng
    kind = rng.random()
    residents = [r["id"] for r in store.search_residents("", limit=1000)]
    households = [x["id"] for x in store.search_households("", limit=1000)]
    change = None
    if 0.74 <= kind < 0.8:
        if _referral_step(h, store):
            change = store.outbox_records(["pending"])[-1]["change_id"]
    elif kind >= 0.8:
        if _visit_step(h, store, kind):
            change = store.outbox_records(["pending"])[-1]["change_id"]
    elif kind < 0.45 and residents:
        field = rng.choice(("phone", "employer", "contact_name"))
        value = f"{field[:2]}-{rng.randrange(1000)}"
        change = store.save_resident_edit(rng.choice(residents), {field: value})
    elif kind < 0.57 and households:
        change = store.save_household_edit(rng.choice(households), {"health_problems": f"问题{rng.randrange(100)}"})
    elif kind < 0.7 and households:
        born = "2999-01-01" if rng.random() < 0.2 else f"19{rng.randrange(30, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(9)}"
        rid = store.create_resident(rng.choice(households), {"name": rng.choice(("周一", "吴二", "郑三")), "sex": "1",
                                                             "birth_date": born})
        change = store.outbox_records(["pending"])[-1]["change_id"]
        assert store.outbox_records(["pending"])[-1]["entity_id"] == rid
    elif residents:
        rid = rng.choice(residents)
        if not store.conditions(rid):
            store.add_condition(rid, rng.choice(("hypertension", "t2dm")))
            change = store.outbox_records(["pending"])[-1]["change_id"]
    if change:
        h.saved.setdefault(user, set()).add(change)


def _visit_step(h: Harness, store, kind: float) -> bool:
    """Sign a follow-up visit for a patient in this tablet's registries (kind < 0.93) or amend the latest
    version of one (the same visit may be amended on two tablets at once: the server refuses the second).
    Returns False when nothing fits."""
    from fieldapp.store import InvalidRecord, NotFound
    rng = h.rng
    if kind < 0.93:
        entries = store.db.execute("SELECT resident_id, condition FROM chronic_conditions ORDER BY id").fetchall()
        if not entries:
            return False
        rid, condition = rng.choice(entries)
        day = (china_today() - dt.timedelta(days=rng.randrange(2, 700))).isoformat()
        try:
            store.save_visit(rid, condition, h.visit_form(day, condition, sbp=rng.randrange(100, 200)))
        except (InvalidRecord, NotFound):  # NotFound: an entry created here for a resident since moved away
            return False
        return True
    visits = store.db.execute("SELECT id, condition, visit_date FROM followups f WHERE kind = 'visit' AND NOT "
                              "EXISTS (SELECT 1 FROM followups a WHERE a.amends_id = f.id) ORDER BY id").fetchall()
    if not visits:
        return False
    vid, condition, day = rng.choice(visits)
    try:
        store.amend_visit(vid, h.visit_form(day, condition, sbp=rng.randrange(100, 200)), reason="血压抄错")
    except InvalidRecord:
        return False
    return True


def _referral_step(h: Harness, store) -> bool:
    """Send a case offline to the directory's specialist, or write in the thread of one the tablet holds
    (the server may have cancelled it meanwhile, or the resident may have moved: then it refuses)."""
    from fieldapp.store import InvalidRecord, NotFound
    rng = h.rng
    cases = [r["id"] for r in store.referrals() if r["state"] not in ("cancelled", "declined", "closed")]
    try:
        if cases and rng.random() < 0.2:  # the team cancels one (the server may have moved it meanwhile)
            case = rng.choice(cases)
            if "cancel" not in store.team_actions(case):
                return False
            store.act_on_referral(case, "cancel", {"reason": "患者已就诊"})
            return True
        if cases and rng.random() < 0.7:
            store.post_referral_message(rng.choice(cases), f"留言{rng.randrange(100)}", author_name="医生")
            return True
        residents = [r["id"] for r in store.search_residents("", limit=1000) if r["status"] == "active"]
        if not residents or not store.directory()["specialists"]:
            return False
        rid = rng.choice(residents)
        res = store.resident(rid)
        form = {"patient_name": res["name"], "patient_sex": res["sex"], "patient_age": 60,
                "record_number": res["record_number"] or "待分配", "address": res["address"] or "地址",
                "referral_date": china_today().isoformat(), "initial_impression": "血压高", "present_illness": "头晕",
                "past_history": "无", "referring_doctor": "医生", "doctor_phone": "1", "institution": "中心"}
        store.create_referral(rid, urgency=rng.choice(("routine", "urgent")), kind="econsult", form=form,
                              specialist_id=store.directory()["specialists"][0]["user_id"])
    except (InvalidRecord, NotFound):
        return False
    return True


def _attend(h: Harness, user: str, discard_all=False):
    store = h.tablets[user]["store"]
    for item in store.needs_attention():
        if not discard_all and item["op"] == "create" and item["fields"].get("birth_date") == "2999-01-01" \
                and h.rng.random() < 0.5:
            h.saved[user].add(store.fix_rejected(item["change_id"], {"birth_date": "1960-05-05"}))
        else:
            store.discard_rejected(item["change_id"])


def _sync(h: Harness, user: str):
    try:
        h.tablets[user]["engine"].sync()
    except SyncFailed:
        pass
    except Killed:
        h.kill(user)


def run_model(h: Harness, steps: int):
    """Random steps with faults, then quiet rounds, then the invariants."""
    rng = h.rng
    users = [u for u, _ in TABLETS]
    for u in users:
        _sync(h, u)
    for _ in range(steps):
        user = rng.choice(users)
        x = rng.random()
        if x < 0.35:
            _local_edit(h, user)
        elif x < 0.7:
            _sync(h, user)
        elif x < 0.78:
            h.staff_edit()
        elif x < 0.83:
            h.staff_reassign()
        elif x < 0.87:
            h.kill(user)
        elif x < 0.9 and h.sent:
            replay_user, body = rng.choice(h.sent)
            h.stats["replay"] += 1
            FaultyTransport(h, replay_user).deliver("POST", "/api/v1/sync/push", None, body)
        elif x < 0.92:
            if h.snapshot is None:
                h.take_snapshot()
            elif rng.random() < 0.5:
                h.restore()
        elif x < 0.95:
            _attend(h, user)
    h.faults = False
    for _ in range(3):
        for u in users:
            _attend(h, u, discard_all=True)
            h.tablets[u]["engine"].sync()
    check(h)


def check(h: Harness):
    """Every invariant of sync.md after the faults stop and everyone has synced."""
    from server.sync.models import SyncConflict, SyncReceipt
    from server.sync.registry import REGISTRY, to_wire

    maker = h.app.extensions["db_sessionmaker"]
    with maker() as session:
        conn = session.connection()
        receipts = dict(conn.execute(select(SyncReceipt.change_id, SyncReceipt.status)).all())
        logged = {(c.change_id, c.field, repr(c.losing_value)) for c in session.scalars(select(SyncConflict))}
        for user, t in h.tablets.items():
            store = t["store"]
            assert store.is_synced(), (user, store.status())
            team = h.world.teams[t["team"]]
            server = {name: {str(r[0]): dict(zip(ent.columns, ent.wire(r))) for r in conn.execute(ent.scope(team))}
                      for name, ent in REGISTRY.items()}
            held = _held(store)
            for name in server:
                # Exactly the team's scope, and the same values as the server (tablets of a team agree).
                assert set(held[name]) == set(server[name]), (user, name)
                for i, row in server[name].items():
                    assert held[name][i] == row, (user, name, i)
            # Nothing saved is lost: each save is on the server, or with a person (needs attention /
            # discarded by one / fixed into a newer record).
            states = dict(store.db.execute("SELECT change_id, state FROM outbox").fetchall())
            for change in h.saved.get(user, ()):
                assert states[change] in ("acked", "discarded", "fixed"), (user, change, states[change])
                if states[change] == "acked":
                    assert receipts.get(change) in ("applied", "conflict"), (user, change)
        # Every acknowledged write is on the server, unless a later write in server order replaced it.
        for (entity, entity_id, field), value in h.expected.items():
            ent = REGISTRY[entity]
            if field not in ent.columns or field in ("name", "recorded_at", "author_name") or (
                    entity == "referrals" and field == "form"):
                # name: stored with pinyin forms; recorded_at: kept in UTC, the tablet sent its zone; a
                # message's author and a case's identity and destination are the server's own
                continue
            key = ent.table.c[ent.client_key or "id"]  # a thread message keeps the tablet's id there
            row = conn.execute(select(ent.table.c[field]).where(key == entity_id)).first()
            if ent.append_only:
                assert row is not None, ("a signed record is missing", entity, entity_id)
            if row is not None:
                assert to_wire(row[0]) == value, (entity, entity_id, field)
        # Every losing value is in the conflict log (and nothing else is).
        assert logged == h.conflicts


def _signed(app) -> dict:
    from sqlalchemy import func

    from server.followups.models import FollowUp
    from server.referrals.models import Referral, ReferralMessage
    with app.extensions["db_sessionmaker"]() as session:
        return {"records": session.scalar(select(func.count()).select_from(FollowUp)),
                "amendments": session.scalar(select(func.count()).where(FollowUp.amends_id.is_not(None))),
                "referrals": session.scalar(select(func.count()).select_from(Referral)),
                "tablet messages": session.scalar(select(func.count()).where(ReferralMessage.client_id.is_not(None)))}


def _held(store):
    """What a tablet holds, as its readers see it (a follow-up form kept compact is read back whole)."""
    from fieldapp.store.schema import ENTITIES
    out = {}
    for name, t in ENTITIES.items():
        rows = {}
        for r in store.db.execute(f"SELECT * FROM {t.name}"):
            row = store._decode(t, r)
            rows[row["id"]] = {c: row.get(c) for c in t.columns}
        out[name] = rows
    return out


def _seeds() -> tuple[int, ...]:
    """SYNC_MODEL_SEEDS="1-200" or "7,11" runs those seeds instead of the suite's."""
    spec = os.environ.get("SYNC_MODEL_SEEDS")
    if not spec:
        return SEEDS
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return tuple(out)


# Seed 2 found the model's own bug (a replayed batch counted as a new write; see observe_push).
SEEDS = (1, 2, 3)


@pytest.fixture
def server_ids(request, monkeypatch):
    """Seeded ids inside server.db for this test's seed; requested before `world`, which makes the first."""
    import server.db
    seed = request.node.callspec.params["seed"] + int(os.environ.get("SYNC_MODEL_SEED_BASE", "0"))
    monkeypatch.setattr(server.db, "uuid", _ServerUuid(random.Random(f"server-{seed}")))


@pytest.mark.parametrize("seed", _seeds())
def test_model(seed, server_ids, clean_app, client, token, world, tmp_path, visit_form):
    seed = int(os.environ.get("SYNC_MODEL_SEED_BASE", "0")) + seed
    seconds = float(os.environ.get("SYNC_MODEL_SECONDS", "0"))
    runs = int(os.environ.get("SYNC_MODEL_RUNS", "0"))  # replay a long-mode failure: its run count
    deadline = time.monotonic() + seconds
    Harness.visit_form = staticmethod(visit_form)
    from server.directory.models import Department, SpecialistEntry
    with clean_app.extensions["db_sessionmaker"]() as s:  # a specialist in the directory to refer to
        s.add(Department(hospital_id=world.hospital_id, name="心内科", specialty="高血压"))
        s.add(SpecialistEntry(user_id=world.users["spec"], specialty="高血压", title="chief"))
        s.commit()
    for n, key in enumerate(sorted(world.residents)):  # registry patients to visit from the start
        rid = world.residents[key]
        r = client.post(f"/api/v1/residents/{rid}/conditions", json={"condition": ("hypertension", "t2dm")[n % 2]},
                        headers={"Authorization": f"Bearer {token('admin')}"})
        assert r.status_code == 201, r.get_json()
    h = Harness(clean_app, client, token, world, tmp_path, random.Random(seed))
    run_model(h, steps=int(os.environ.get("SYNC_MODEL_STEPS", "120")))
    print(f"seed {seed}: {h.stats}, conflicts {len(h.conflicts)}, signed visits {_signed(clean_app)}, "
          f"outcome {_digest(h)}")
    n = 0
    while (n < runs) if runs else (time.monotonic() < deadline):
        # Long mode: more runs on fresh tablets of the same world. Each follows from the seed and its
        # number, so a failure names both and SYNC_MODEL_RUNS=n replays it without the clock.
        n += 1
        sub = tmp_path / f"run{n}"
        sub.mkdir()
        h2 = Harness(clean_app, client, token, world, sub, random.Random(seed * 1000 + n))
        h2.expected, h2.conflicts = dict(h.expected), set(h.conflicts)
        try:
            run_model(h2, steps=300)
        except BaseException:
            print(f"FAILED: seed {seed} run {n}; replay with SYNC_MODEL_SEEDS={seed} SYNC_MODEL_RUNS={n}")
            raise
        h = h2
    if n:
        print(f"seed {seed}: {n} long-mode runs passed, outcome {_digest(h)}")


def _digest(h: Harness) -> str:
    """A short fingerprint of what a run did and ended with, wall-clock stamps left out (they are the one
    thing a seed does not fix): the same seed must give the same one."""
    import hashlib

    def timeless(row: dict) -> dict:
        return {k: v for k, v in row.items() if not k.endswith("_at")}
    state = (sorted(h.stats.items()), sorted(repr(kv) for kv in h.expected.items() if not kv[0][2].endswith("_at")),
             sorted(h.conflicts),
             {u: {name: sorted(repr(timeless(r)) for r in rows.values()) for name, rows in _held(t["store"]).items()}
              for u, t in sorted(h.tablets.items())})
    if os.environ.get("SYNC_MODEL_DUMP"):
        import pprint
        with open(os.environ["SYNC_MODEL_DUMP"], "w") as f:
            pprint.pprint(state, stream=f, width=200)
    return hashlib.sha256(repr(state).encode()).hexdigest()[:12]
