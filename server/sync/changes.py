"""Writing the change log, in the transaction of the change: an ORM event for ordinary writes, and
explicit calls for the bulk paths (imports, assignment) that bypass the ORM."""
from __future__ import annotations

from itertools import chain
from typing import Iterable

from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, attributes

from .. import bulk
from .models import SyncChange
from .registry import BY_TABLE, REGISTRY

# The writing transaction's 64-bit id; readers order by (xid, seq) and stop below their snapshot's xmin.
_PG_XID = text("pg_current_xact_id()::text::bigint")
_CHUNK = 5000
_COPY_FROM = 1000  # rows; below this an INSERT is as quick and simpler


_COLUMNS = ("entity", "entity_id", "team_id", "op")


def log(conn: Connection, rows: Iterable[dict]) -> int:
    """Append change rows {entity, entity_id, team_id, op}; rows without a team reach no tablet."""
    # Ids go in as text whatever the key type (lab result rows have integer keys).
    return log_many(conn, ((r["entity"], str(r["entity_id"]), r["team_id"], r["op"]) for r in rows))


def log_many(conn: Connection, rows: Iterable[tuple[str, str, int | None, str]]) -> int:
    """As log(), for rows already as (entity, entity_id as text, team_id, op) tuples: the bulk writers'
    tens of thousands of rows go to COPY without two dicts made per row on the way."""
    rows = [r for r in rows if r[2] is not None]
    if not rows:
        return 0
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_FROM:
        # A bulk write (an import): COPY, with the transaction's id taken once (the same for every row).
        xid = conn.execute(select(_PG_XID)).scalar_one()
        return bulk.insert_rows(conn, SyncChange.__table__, ((xid, *r) for r in rows),
                                columns=("xid", *_COLUMNS))
    stmt = insert(SyncChange.__table__)
    if conn.dialect.name == "postgresql":
        stmt = stmt.values(xid=_PG_XID)
    for i in range(0, len(rows), _CHUNK):
        conn.execute(stmt, [dict(zip(_COLUMNS, r)) for r in rows[i:i + _CHUNK]])
    return len(rows)


def _descendants(conn: Connection, entity: str, ids: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for child_name in REGISTRY[entity].children:
        child = REGISTRY[child_name]
        child_ids: list[str] = []
        for i in range(0, len(ids), 1000):
            child_ids += conn.execute(select(child.table.c.id).where(
                child.table.c[child.parent_key].in_(ids[i:i + 1000]))).scalars().all()
        out += [(child_name, c) for c in child_ids]
        if child_ids:
            out += _descendants(conn, child_name, child_ids)
    return out


def team_moves(conn: Connection, entity: str, moves: Iterable[tuple[str, int | None]],
               new_team: int | None) -> int:
    """Records of `entity` (id, old team) now belong to `new_team`: the old team's tablets get removals
    for each and everything hanging off it, the new team's get them whole. Returns rows logged."""
    by_old: dict[int | None, list[str]] = {}
    for entity_id, old in moves:
        if old != new_team:
            by_old.setdefault(old, []).append(entity_id)
    rows = []
    for old, ids in by_old.items():
        tree = [(entity, i) for i in ids] + _descendants(conn, entity, ids)
        if old is not None:
            rows += [{"entity": e, "entity_id": i, "team_id": old, "op": "remove"} for e, i in tree]
        if new_team is not None:
            rows += [{"entity": e, "entity_id": i, "team_id": new_team, "op": "upsert"} for e, i in tree]
    return log(conn, rows)


def _team_of(conn: Connection, entity: str, ids: set[str]) -> dict[str, int | None]:
    """The team of each record of an entity that has no team column of its own (via its parents)."""
    ent = REGISTRY[entity]
    parent = REGISTRY[ent.parent]
    links = {}
    for chunk in _chunks(sorted(ids), 1000):
        links.update(conn.execute(select(ent.table.c.id, ent.table.c[ent.parent_key])
                                  .where(ent.table.c.id.in_(chunk))).all())
    parent_ids = {p for p in links.values() if p is not None}
    if parent.team_column:
        teams = {}
        for chunk in _chunks(sorted(parent_ids), 1000):
            teams.update(conn.execute(select(parent.table.c.id, parent.table.c[parent.team_column])
                                      .where(parent.table.c.id.in_(chunk))).all())
    else:
        teams = _team_of(conn, parent.name, parent_ids)
    return {i: teams.get(p) for i, p in links.items()}


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _team_of_record(conn: Connection, entity: str, entity_id) -> int | None:
    """The team a record of `entity` belongs to now (None when none, or no such record)."""
    ent = REGISTRY[entity]
    if ent.team_column:
        return conn.execute(select(ent.table.c[ent.team_column]).where(ent.table.c.id == entity_id)).scalar()
    return _team_of(conn, entity, {entity_id}).get(entity_id)


def _after_flush(session: Session, _ctx) -> None:
    rows: list[dict] = []
    moves: list[tuple[str, str, int | None, int | None]] = []
    reparented: list[tuple[str, object, object, object]] = []
    via_parent: dict[str, dict[str, str]] = {}
    for obj in chain(session.new, session.dirty, session.deleted):
        ent = BY_TABLE.get(getattr(obj, "__tablename__", ""))
        if ent is None:
            continue
        op = "remove" if obj in session.deleted else "upsert"
        if op == "upsert" and obj not in session.new and not session.is_modified(obj, include_collections=False):
            continue
        if ent.team_column is None:
            if op == "upsert" and obj not in session.new and ent.parent_key:
                # Filed under another parent (a lab report matched by hand, or taken off a resident): the
                # teams of the old and the new parent see it, and everything under it, leave or arrive.
                hist = attributes.get_history(obj, ent.parent_key)
                if hist.deleted and hist.deleted[0] != getattr(obj, ent.parent_key):
                    reparented.append((ent.name, obj.id, hist.deleted[0], getattr(obj, ent.parent_key)))
                    continue
            via_parent.setdefault(ent.name, {})[obj.id] = op
            continue
        team = getattr(obj, ent.team_column)
        hist = attributes.get_history(obj, ent.team_column)
        if obj not in session.new and hist.deleted and hist.deleted[0] != team:
            moves.append((ent.name, obj.id, hist.deleted[0], team))
        else:
            rows.append({"entity": ent.name, "entity_id": obj.id, "team_id": team, "op": op})
    if not (rows or moves or via_parent or reparented):
        return
    conn = session.connection()
    for entity, ops in via_parent.items():
        teams = _team_of(conn, entity, set(ops))
        rows += [{"entity": entity, "entity_id": i, "team_id": teams.get(i), "op": op} for i, op in ops.items()]
    log(conn, rows)
    for entity, entity_id, old, new in moves:
        team_moves(conn, entity, [(entity_id, old)], new)
    for entity, entity_id, old_parent, new_parent in reparented:
        parent = REGISTRY[entity].parent
        old = _team_of_record(conn, parent, old_parent) if old_parent is not None else None
        new = _team_of_record(conn, parent, new_parent) if new_parent is not None else None
        if old == new:
            # Its rows too: a snapshot walks child rows by their parents' ids (sync/registry.walk_page), so a
            # record re-filed under another resident of the team mid-snapshot can move behind the cursor.
            tree = [(entity, entity_id)] + _descendants(conn, entity, [entity_id])
            log(conn, [{"entity": e, "entity_id": i, "team_id": new, "op": "upsert"} for e, i in tree])
        else:
            team_moves(conn, entity, [(entity_id, old)], new)


def install() -> None:
    """Listen to every Session's flushes (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
