"""Pull (what a team's tablets must receive since their cursor), the server epoch, the conflict log."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass

from psycopg.adapt import Loader
from sqlalchemy import any_, bindparam, delete, func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..errors import Invalid
from ..scope import Actor, require_team_member, rows_visible
from .encoding import RawJSONList
from .models import ServerState, SyncChange, SyncConflict
from .registry import REGISTRY

DEFAULT_LIMIT = 5000
MAX_LIMIT = 20000


# --- the epoch ---------------------------------------------------------------------------------

def epoch(session: Session) -> str:
    """The server epoch; made on first use (its own short transaction, so a reader stays a pure reader)."""
    value = session.scalar(select(ServerState.value).where(ServerState.key == "epoch"))
    if value is not None:
        return value
    engine = session.get_bind()
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as conn:
        conn.execute(dialect_insert(ServerState.__table__).values(key="epoch", value=str(uuid.uuid4()))
                     .on_conflict_do_nothing(index_elements=["key"]))
    return session.scalar(select(ServerState.value).where(ServerState.key == "epoch"))


def new_epoch(conn: Connection) -> str:
    """Start a new epoch after a restore: tablets re-upload what they sent and download afresh.

    The change log's transaction ids are folded to 0: a restored database may live in a cluster whose
    transaction counter is behind the copied ids, and new changes must sort after the old ones.
    Run it with the service stopped.
    """
    value = str(uuid.uuid4())
    table = ServerState.__table__
    if conn.execute(update(table).where(table.c.key == "epoch").values(value=value)).rowcount == 0:
        conn.execute(table.insert().values(key="epoch", value=value))
    conn.execute(update(SyncChange.__table__).where(SyncChange.xid != 0).values(xid=0))
    horizon = _horizon(conn)
    if horizon is not None:  # folded like the log, or every cursor would be "older" than it for ever
        _set_state(conn, HORIZON, Cursor(0, horizon.seq).encode())
    return value


# --- pruning the change log --------------------------------------------------------------------

HORIZON = "horizon"


def _set_state(conn: Connection, key: str, value: str) -> None:
    table = ServerState.__table__
    if conn.execute(update(table).where(table.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(table.insert().values(key=key, value=value))


def _horizon(conn: Connection) -> Cursor | None:
    raw = conn.execute(select(ServerState.value).where(ServerState.key == HORIZON)).scalar()
    return Cursor.decode(raw) if raw else None


def prune_changes(conn: Connection, older_than: dt.datetime) -> int:
    """Drop change-log rows (removals = tombstones among them) logged before `older_than`; returns how many.

    The log must keep a removal until every tablet has pulled past it, but a tablet may never come back, so
    the rule is a documented horizon instead (the operator runs `python -m server.manage prune-sync-log
    --days N`): the highest position dropped is kept as the horizon, and a tablet whose cursor is below it
    is told to download afresh (pull answers `resync`), which sweeps whatever it held that has since left
    its team. Only positions a reader can already have passed are dropped (below the safe xmin on
    PostgreSQL), so no commit still running can later land under the horizon.
    """
    c = SyncChange.__table__.c
    # The newest row always stays: max(seq) is how a server restored without a new epoch is recognised
    # (_behind), and SQLite would otherwise hand out its seq again.
    newest = conn.execute(select(func.max(c.seq))).scalar()
    if newest is None:
        return 0
    q = select(c.xid, c.seq).where(c.changed_at < older_than, c.seq < newest)
    xmin = _safe_xmin(conn)
    if xmin is not None:
        q = q.where(c.xid < xmin)
    top = conn.execute(q.order_by(c.xid.desc(), c.seq.desc()).limit(1)).first()
    if top is None:
        return 0
    n = conn.execute(delete(SyncChange.__table__).where(tuple_(c.xid, c.seq) <= tuple_(top.xid, top.seq),
                                                        c.seq < newest)).rowcount
    old = _horizon(conn)
    if old is None or (top.xid, top.seq) > (old.xid, old.seq):
        _set_state(conn, HORIZON, Cursor(top.xid, top.seq).encode())
    return n


# --- cursors -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cursor:
    """Where a tablet is: in the change log at (xid, seq), or in a snapshot that will resume there."""

    xid: int
    seq: int
    entity: str | None = None      # snapshot mode: the entity being paged
    after_id: str = ""             # snapshot mode: last id sent of that entity
    remaining: int = -1            # snapshot mode: rows still to send (counted once, at the start)

    def encode(self) -> str:
        """The opaque text the tablet keeps."""
        if self.entity is None:
            return f"c.{self.xid}.{self.seq}"
        return f"t.{self.xid}.{self.seq}.{max(self.remaining, 0)}.{self.entity}.{self.after_id}"

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        """Parse a cursor text; a malformed one is a 422 naming the cursor."""
        try:
            parts = raw.split(".", 4)
            if parts[0] == "c" and len(parts) == 3:
                return cls(int(parts[1]), int(parts[2]))
            if parts[0] == "s" and len(parts) == 5 and parts[3] in REGISTRY:  # before the count was carried
                return cls(int(parts[1]), int(parts[2]), parts[3], parts[4])
            parts = raw.split(".", 5)
            if parts[0] == "t" and len(parts) == 6 and parts[4] in REGISTRY:
                return cls(int(parts[1]), int(parts[2]), parts[4], parts[5], int(parts[3]))
        except ValueError:
            pass
        raise Invalid("The sync cursor is not one this server gave.", {"cursor": ["malformed"]})


_XID_WRAP = 1 << 32


def _safe_xmin(conn) -> int | None:
    """PostgreSQL: the horizon below which the change log is final. Every change row with a lower xid is
    visible to a statement that starts after this call, and no such row can appear later; rows at or above
    it are held back until a later pull. None on SQLite (writers are serial; seq order is commit order).

    Not the cluster-wide `pg_snapshot_xmin`: that is the oldest transaction running in ANY database of the
    cluster, so one long writer elsewhere (a benchmark load, a console left idle in transaction in another
    database) would hold back every tablet. Instead, in three statements, in this order:

    1. S = pg_current_snapshot(): xmax, and xip, the top-level xids (what pg_current_xact_id() stamps on
       change rows) still running when S was taken.
    2. The running xids as pg_stat_activity reports them (statistics snapshot cleared first, so this is
       read after step 1, not reused from earlier in the transaction), each with its backend's database.
    3. Prepared transactions (pg_prepared_xacts) with their database.

    horizon = min(xmax, the members of xip that step 2 reports in THIS database or in no database, or that
    step 3 lists for this database).

    Why no change row with xid x < horizon can become visible after a reader passed it (the rows are read
    by a later statement, whose snapshot is taken after step 3):
    * x not in xip, x < xmax: x had finished before S; its rows are visible to any later statement (or it
      aborted and has none).
    * x in xip, reported in step 2 by a backend of another database: a transaction writes only in its own
      database, so it never writes our sync_changes. The attribution is sound although PostgreSQL reads a
      backend's database (its status slot) and its xid (its PGPROC) at two moments: x was taken before S,
      so its backend has held its slot since before step 2 (a backend never changes slot) and the database
      read from that slot is its own. Likewise a prepared transaction of another database.
    * x in xip, reported by neither step: a backend running x through step 2 would have been reported, so
      x ended before step 2 finished, or was prepared first, in which case step 3 (read after step 2; a
      prepared transaction is listed before its backend lets go of the xid) lists it unless it has ended
      too. Ended before the rows are read: its rows are visible to that later statement.
    Transactions that take an xid after S get one >= xmax >= horizon. An open writer in this database (or
    anything we cannot place) holds the horizon back: safe, only later. Proved by
    tests/sync/test_concurrency.py against PostgreSQL.
    """
    if conn.dialect.name != "postgresql":
        return None
    xmax, running = conn.execute(text(
        "SELECT pg_snapshot_xmax(s)::text::bigint, "
        "ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) "
        "FROM pg_current_snapshot() AS s")).one()
    if not running:
        return xmax
    conn.execute(text("SELECT pg_stat_clear_snapshot()"))
    holding = set(conn.execute(text(
        "SELECT backend_xid::text::bigint FROM pg_stat_activity WHERE backend_xid IS NOT NULL "
        "AND (datid IS NULL OR datid = (SELECT oid FROM pg_database WHERE datname = current_database()))"))
        .scalars())
    holding |= set(conn.execute(text(
        "SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database = current_database()")).scalars())
    # backend_xid is a 32-bit xid; running transactions are within 2^31 of each other, so the low 32 bits
    # of an xid8 name exactly one of them.
    return min([xmax, *(x for x in running if x % _XID_WRAP in holding)])


def _start_position(conn) -> Cursor:
    """Where incremental pulls continue after a snapshot that starts now."""
    xmin = _safe_xmin(conn)
    if xmin is not None:
        return Cursor(xmin, 0)  # anything at or above xmin may postdate what the snapshot reads
    return Cursor(0, conn.execute(select(func.coalesce(func.max(SyncChange.seq), 0))).scalar_one())


# --- pull --------------------------------------------------------------------------------------

def _team(actor: Actor) -> int:
    return require_team_member(actor, "Only members of a GP team sync a tablet.")


def pull(session: Session, actor: Actor, raw_cursor: str | None, limit: int = DEFAULT_LIMIT,
         ref: str | None = None, compact_forms: bool = False) -> dict:
    """One page for the actor's team: entity rows (current state) and removals, and the next cursor.

    Without a cursor: snapshot mode, paging the entity tables; the cursor then continues from the
    change-log position taken when the snapshot started, so nothing written meanwhile is missed.
    The last page also carries the reference lists (hospital names for lab reports) unless `ref` says
    the tablet has this version of them already. compact_forms: follow-up forms go without their empty boxes
    (a tablet that stores them so asks; every other reader gets them whole, as before).
    """
    page = _pull(session, actor, raw_cursor, limit, compact_forms)
    if not page.get("more"):
        reference = _reference(session)
        if reference["version"] != ref:
            page["reference"] = reference
    return page


def _reference(session: Session) -> dict:
    """The small server-wide lists a tablet shows names from, with a version (a digest of their content):
    every hospital (a few dozen rows in a district; their lab reports name them by id), and the specialists'
    directory (departments as pools, active specialists with their entries) a referral written offline is
    addressed from; a few hundred rows, replaced whole when they change."""
    from ..directory.services import departments, entry_row, specialists
    from ..org.models import Hospital
    h = Hospital.__table__.c
    hospitals = [list(r) for r in session.execute(select(h.id, h.code, h.name).order_by(h.id))]
    pools = [[d.id, d.hospital_id, d.name, d.specialty, d.phone] for d in session.scalars(departments({}))]
    people = [entry_row(*row) for row in session.execute(specialists({}))]
    lists = {"hospitals": hospitals, "departments": pools, "specialists": people}
    digest = hashlib.sha256(json.dumps(lists, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": digest, **lists}


def _pull(session: Session, actor: Actor, raw_cursor: str | None, limit: int, compact: bool) -> dict:
    team = _team(actor)
    limit = max(1, min(limit, MAX_LIMIT))
    current_epoch = epoch(session)
    conn = session.connection()
    page = {"epoch": current_epoch, "entities": {}}
    if not raw_cursor:
        cur = _start_position(conn)
        cur = Cursor(cur.xid, cur.seq, next(iter(REGISTRY)), "")
    else:
        cur = Cursor.decode(raw_cursor)
        if _behind(conn, cur):
            # The server has less than the tablet saw: restored from a backup without a new epoch.
            return {**page, "reset": True, "cursor": None, "more": True, "mode": "reset", "remaining": 0}
        horizon = _horizon(conn)
        if horizon is not None and (cur.xid, cur.seq) < (horizon.xid, horizon.seq):
            # Changes after this cursor were pruned: download afresh. "reset" too, for an app from before
            # "resync" (it re-sends what it sent, which the server answers as duplicates: safe, slower).
            return {**page, "resync": True, "reset": True, "cursor": None, "more": True, "mode": "resync",
                    "remaining": 0}
    if cur.entity is not None:
        return {**page, **_snapshot_page(conn, team, cur, limit, compact)}
    return {**page, **_changes_page(conn, team, cur, limit, compact)}


def _behind(conn, cur: Cursor) -> bool:
    top = conn.execute(select(func.coalesce(func.max(SyncChange.seq), 0))).scalar_one()
    if cur.seq > top:
        return True
    if conn.dialect.name == "postgresql" and cur.xid:
        next_xid = conn.execute(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")).scalar_one()
        return cur.xid > next_xid
    return False


def _part(ent, rows, compact: bool) -> dict:
    """A page's rows of one entity; compact: its form column came compact (read so by page_scope / walk_page),
    which the part names for the tablet."""
    part = {"columns": list(ent.columns), "rows": [ent.wire(r) for r in rows], "removed": [],
            "json": list(ent.json_columns)}
    if compact and ent.form_column:
        part["compact"] = [ent.form_column]
    return part


def _snapshot_page(conn, team: int, cur: Cursor, limit: int, compact: bool = False) -> dict:
    names = list(REGISTRY)
    idx = names.index(cur.entity)
    after = REGISTRY[cur.entity].decode_after(cur.after_id)
    remaining = cur.remaining
    if remaining < 0:  # counted once per snapshot: counting on every page cost ~10% of a first sync
        remaining = _snapshot_remaining(conn, team, names[idx:], after)
    entities: dict = {}
    budget = limit
    built_by_pg = conn.dialect.name == "postgresql"
    while idx < len(names) and budget > 0:
        ent = REGISTRY[names[idx]]
        if built_by_pg:
            rows = _json_rows(conn, ent.walk_page(team, after, budget, "postgresql", as_json=True, compact=compact))
            width = 1  # the row's JSON text, then the path's ids
        else:
            rows = conn.execute(ent.walk_page(team, after, budget, conn.dialect.name, compact=compact)).all()
            width = len(ent.columns)  # the path's ids follow the entity's columns
        if rows:
            if built_by_pg:
                entities[ent.name] = {**_part(ent, (), compact), "rows": RawJSONList([r[0] for r in rows])}
            else:
                entities[ent.name] = _part(ent, [r[:width] for r in rows], compact)
            budget -= len(rows)
            remaining -= len(rows)
        if budget > 0:  # this entity is finished
            idx, after = idx + 1, ()
        else:
            after = tuple(k.decode() if isinstance(k, bytes) else k for k in rows[-1][width:])
    complete = idx >= len(names)
    if complete:
        nxt = Cursor(cur.xid, cur.seq)
        remaining = 0
    else:
        # Rows written during the snapshot can make the count a little off; it only drives a progress bar.
        remaining = max(remaining, 1)
        nxt = Cursor(cur.xid, cur.seq, names[idx], REGISTRY[names[idx]].encode_after(after), remaining)
    return {"entities": entities, "cursor": nxt.encode(), "more": True, "mode": "snapshot",
            "snapshot_complete": complete, "remaining": remaining}


class _TextAsBytes(Loader):
    """PostgreSQL text as the UTF-8 bytes that came (the rows' JSON goes on the wire as it is)."""

    def load(self, data) -> bytes:
        return bytes(data)


def _json_rows(conn, stmt) -> list[tuple]:
    """Run a walk_page(as_json=True) on the session's own psycopg connection (its transaction), text columns
    read as bytes: a page's JSON is never decoded to str, and no SQLAlchemy row is made for it."""
    compiled = stmt.compile(dialect=conn.dialect)
    with conn.connection.driver_connection.cursor() as cur:
        cur.adapters.register_loader("text", _TextAsBytes)
        cur.execute(str(compiled), compiled.params)
        return cur.fetchall()


def _snapshot_remaining(conn, team: int, names: list[str], after: tuple) -> int:
    total = 0
    for i, name in enumerate(names):
        ent = REGISTRY[name]
        if i == 0 and after:
            q = ent.walk_page(team, after, None, "sqlite")  # a plain join: counted, not walked
        else:
            q = ent.scope(team)
        total += conn.execute(select(func.count()).select_from(q.order_by(None).subquery())).scalar_one()
    return total


def _changes_page(conn, team: int, cur: Cursor, limit: int, compact: bool = False) -> dict:
    c = SyncChange.__table__.c
    xmin = _safe_xmin(conn)
    q = (select(c.xid, c.seq, c.entity, c.entity_id).where(c.team_id == team)
         .where(tuple_(c.xid, c.seq) > tuple_(cur.xid, cur.seq)))
    if xmin is not None:
        q = q.where(c.xid < xmin)
    changes = conn.execute(q.order_by(c.xid, c.seq).limit(limit)).all()
    if not changes:
        # Nothing new for this team: the cursor moves up to where the log is final (no row of this team
        # lies in between), so the tablets of a quiet team do not fall below a pruning horizon and resync.
        head = Cursor(xmin, 0) if xmin is not None else Cursor(
            0, conn.execute(select(func.coalesce(func.max(c.seq), 0))).scalar_one())
        nxt = head if (head.xid, head.seq) > (cur.xid, cur.seq) else cur
        return {"entities": {}, "cursor": nxt.encode(), "more": False, "mode": "changes", "remaining": 0}
    wanted: dict[str, list[str]] = {}
    for ch in changes:
        ids = wanted.setdefault(ch.entity, [])
        ids.append(ch.entity_id)
    entities = {}
    for name in sorted(wanted, key=lambda n: REGISTRY[n].order if n in REGISTRY else 99):
        ent = REGISTRY.get(name)
        if ent is None:
            continue
        ids = list(dict.fromkeys(wanted[name]))  # each record once a page, whatever its number of changes
        found = []
        if conn.dialect.name == "postgresql":
            # One array parameter instead of an IN list of up to 1,000: measured on the district's morning,
            # rendering and parsing the list (a new SQL text for every length) was ~10% of a pull's CPU.
            keys = [ent.key(k) for k in ids]
            found = conn.execute(ent.page_scope(team, compact).where(ent.table.c.id == any_(
                bindparam("ids", keys, type_=postgresql.ARRAY(ent.table.c.id.type))))).all()
        else:
            for i in range(0, len(ids), 1000):
                keys = [ent.key(k) for k in ids[i:i + 1000]]
                found += conn.execute(ent.page_scope(team, compact).where(ent.table.c.id.in_(keys))).all()
        present = {str(r[0]) for r in found}
        # Whatever is no longer in the team's scope (moved away, deleted) is a tombstone.
        entities[name] = {**_part(ent, found, compact), "removed": [i for i in ids if i not in present]}
    last = changes[-1]
    more = len(changes) == limit
    remaining = 0
    if more:
        rest = (select(c.seq).where(c.team_id == team, tuple_(c.xid, c.seq) > tuple_(last.xid, last.seq))
                .limit(MAX_LIMIT * 5))
        if xmin is not None:
            rest = rest.where(c.xid < xmin)
        remaining = conn.execute(select(func.count()).select_from(rest.subquery())).scalar_one()
        more = remaining > 0
    return {"entities": entities, "cursor": Cursor(last.xid, last.seq).encode(), "more": more,
            "mode": "changes", "remaining": remaining}


# --- the conflict log --------------------------------------------------------------------------

def list_conflicts(actor: Actor, args: dict):
    """A select of logged losing values the actor may review, newest first."""
    stmt = (select(SyncConflict).where(rows_visible(actor, SyncConflict.team_id, SyncConflict.center_id))
            .order_by(SyncConflict.id.desc()))
    if args.get("entity_id"):
        stmt = stmt.where(SyncConflict.entity_id == args["entity_id"])
    return stmt
