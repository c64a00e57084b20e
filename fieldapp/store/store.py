"""The tablet's local store: one SQLite file holding the team's households, an outbox and sync state."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
import uuid
from typing import Any, Callable, Iterable

from gpcore.clock import china_today
from gpcore.followup.compact import full_form

from .errors import InvalidRecord, NotFound, StoreError, StoreLocked
from .referrals import ReferralStore
from .schema import ENTITIES, UPGRADES, EntityTable, pack_form


_DIGITS = re.compile(r"^\d+[Xx]?$")
_LETTERS = re.compile(r"^[A-Za-z]+$")
OPEN_STATES = ("pending", "inflight")


_COMPACT_FORMS = 8  # the upgrade that compacts stored forms (schema.py)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# sync_state keys of corrections typed into refused visits (Store.keep_fix).
_FIX_KEY = "fix_form:"


class Store(ReferralStore):
    """The local store. Open one per thread; every write is one SQLite transaction.

    `clock` returns the device's idea of now (aware datetime); tests skew it, the server never trusts it.
    `new_id` makes every id the tablet invents (records, change ids, batch ids, the device id); random
    UUIDs unless a test passes a seeded source so that a failing run replays exactly.
    """

    def __init__(self, path: str, clock: Callable[[], dt.datetime] | None = None,
                 new_id: Callable[[], str] | None = None, key: bytes | None = None):
        self.path = path
        # UTC, as the server sends times: the tablet orders times as text (a visit's recorded_at beside one
        # pulled); screens show them on China's clock (gpcore.clock.china_minute).
        self.clock = clock or _now
        self.new_id = new_id or (lambda: str(uuid.uuid4()))
        self.encrypted = key is not None
        # The member saving on this tablet now (a user id; the session sets it at unlock or sign-in): every
        # outbox record carries it, so a shared tablet pushes each record with its author's sign-in.
        self.member_id: str | None = None
        self._key = key  # for the print queue's connection (connect()); dropped at close (lock)
        self.db = _connect(path, key)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed save survives a power cut, not only an app kill (guarantee 1).
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=5000")
        # 1 MB: when the WAL starts over it is cut back to this, so a first download's WAL is not kept beside
        # the store (at 8 MB it was an eighth of a full caseload's store on disk); a save is a few pages.
        self.db.execute("PRAGMA journal_size_limit=1048576")
        self._upgrade()

    def connect(self) -> sqlite3.Connection:
        """Another connection to this store's file (autocommit, any thread): the print queue keeps its jobs
        here, so they live and go with the store's file."""
        db = _connect(self.path, self._key, timeout=10)  # the same key: print jobs are encrypted with the rest
        db.execute("PRAGMA synchronous=FULL")
        return db

    # --- housekeeping --------------------------------------------------------------------------

    def _upgrade(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(UPGRADES):
            raise StoreError(f"store file is version {version}; this app knows up to {len(UPGRADES)}")
        if 0 < version < len(UPGRADES) and self.state("deferred_indexes", None):
            # A first download was cut short with its indexes dropped: build them before an upgrade that may
            # rebuild or drop one of them (the download then resumes with them; only a fresh one defers).
            with self.transaction():
                self._rebuild_deferred_indexes()
        for n in range(version, len(UPGRADES)):
            with self.transaction():
                for step in UPGRADES[n]:
                    step(self.db) if callable(step) else self.db.execute(step)
                self.db.execute(f"PRAGMA user_version = {n + 1}")
        if 0 < version < _COMPACT_FORMS <= len(UPGRADES):
            # Upgrade 8 shrank the stored forms: give the freed pages back (SQLite keeps a file's size
            # otherwise). Once, outside any transaction; VACUUM is atomic, a kill leaves the file as it was.
            self.db.execute("VACUUM")

    @property
    def schema_version(self) -> int:
        """The store file's schema version."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def copy_to(self, dest: str, key: bytes) -> None:
        """An encrypted copy of this (encrypted) store at `dest`, read in one consistent snapshot: the
        practice store starts as one."""
        if not self.encrypted:
            raise StoreError("only an encrypted store is copied")
        _export(self.db, dest, key, self.schema_version)

    def close(self) -> None:
        """Close the file (an open transaction is rolled back, as an app kill would)."""
        self._key = None
        self.db.close()

    @contextlib.contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error; nested use joins the outer transaction."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def state(self, key: str, default: Any = None) -> Any:
        """A sync_state value (JSON-decoded)."""
        row = self.db.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_state(self, key: str, value: Any) -> None:
        """Set a sync_state value (joins the caller's transaction, if any)."""
        self.db.execute("INSERT INTO sync_state (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))

    @property
    def device_id(self) -> str:
        """This tablet's id, made once and kept in the file."""
        value = self.state("device_id")
        if value is None:
            value = self.new_id()
            with self.transaction():
                self.set_state("device_id", value)
        return value

    # --- reading, for the screens --------------------------------------------------------------

    def _decode(self, table: EntityTable, row: sqlite3.Row | None) -> dict | None:
        if row is None:
            return None
        out = {k: row[k] for k in table.columns if k in row.keys()}
        for col in table.json_columns:
            if out.get(col) is not None:
                out[col] = json.loads(out[col])
        if out.get(table.form_column) is not None:  # kept without its empty boxes: read back whole
            out[table.form_column] = full_form(out.get("condition"), out[table.form_column])
        return out

    def search_residents(self, q: str = "", limit: int = 50, household_id: str | None = None) -> list[dict]:
        """Residents whose name, pinyin initials/full pinyin, ID number, record number or phone match q."""
        q = (q or "").strip()
        where, params = [], []
        if q:
            if _DIGITS.match(q):
                where.append("(r.id_number LIKE ? OR r.record_number LIKE ? OR r.phone LIKE ?)")
                params += [q.upper() + "%", "%" + q, "%" + q + "%"]
            elif _LETTERS.match(q):
                where.append("(r.name_initials LIKE ? OR r.name_pinyin LIKE ?)")
                params += [q.lower() + "%", q.lower() + "%"]
            else:
                where.append("(r.name LIKE ? OR h.address LIKE ?)")
                params += ["%" + q + "%", "%" + q + "%"]
        if household_id:
            where.append("r.household_id = ?")
            params.append(household_id)
        sql = ("SELECT r.id, r.name, r.sex, r.birth_date, r.record_number, r.id_number, r.phone, r.status, "
               "r.household_id, h.address FROM residents r LEFT JOIN households h ON h.id = r.household_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY r.name, r.record_number LIMIT ?")
        return [dict(r) for r in self.db.execute(sql, (*params, limit))]

    def search_households(self, q: str = "", limit: int = 50) -> list[dict]:
        """Households by address fragment or by a member's name / pinyin initials / ID number."""
        q = (q or "").strip()
        sql = ("SELECT h.id, h.address, h.committee_id, h.head_id, hd.name AS head_name, "
               "(SELECT count(*) FROM residents m WHERE m.household_id = h.id AND m.status = 'active') "
               "AS member_count FROM households h LEFT JOIN residents hd ON hd.id = h.head_id")
        params: list = []
        if q:
            members = [r["household_id"] for r in self.search_residents(q, limit=limit)]
            marks = ",".join("?" * len(members))
            sql += " WHERE h.address LIKE ?" + (f" OR h.id IN ({marks})" if members else "")
            params = ["%" + q + "%", *members]
        sql += " ORDER BY h.committee_id, h.address LIMIT ?"
        return [dict(r) for r in self.db.execute(sql, (*params, limit))]

    def household(self, household_id: str) -> dict:
        """A household with its members (each with their registry entries)."""
        hh = self._decode(ENTITIES["households"],
                          self.db.execute("SELECT * FROM households WHERE id = ?", (household_id,)).fetchone())
        if hh is None:
            raise NotFound(f"no household {household_id} on this tablet")
        hh["members"] = [self.resident(r["id"], with_household=False) for r in self.db.execute(
            "SELECT id FROM residents WHERE household_id = ? ORDER BY relation_to_head, name", (household_id,))]
        return hh

    def resident(self, resident_id: str, with_household: bool = True) -> dict:
        """A resident's file with registry entries (and household address)."""
        res = self._decode(ENTITIES["residents"],
                           self.db.execute("SELECT * FROM residents WHERE id = ?", (resident_id,)).fetchone())
        if res is None:
            raise NotFound(f"no resident {resident_id} on this tablet")
        res["conditions"] = self.conditions(resident_id)
        if with_household:
            row = self.db.execute("SELECT address FROM households WHERE id = ?", (res["household_id"],)).fetchone()
            res["address"] = row[0] if row else None
        res["pending"] = self.db.execute(
            "SELECT count(*) FROM outbox WHERE entity_id = ? AND state IN ('pending', 'inflight')",
            (resident_id,)).fetchone()[0]
        return res

    def conditions(self, resident_id: str) -> list[dict]:
        """A resident's hypertension / diabetes registry entries."""
        t = ENTITIES["chronic_conditions"]
        return [self._decode(t, r) for r in self.db.execute(
            "SELECT * FROM chronic_conditions WHERE resident_id = ? ORDER BY condition", (resident_id,))]

    def visits(self, resident_id: str, condition: str | None = None,
               include_superseded: bool = False) -> list[dict]:
        """A resident's follow-up records, newest first; only the effective version of each (an amended
        record is replaced by its amendment) unless include_superseded. Each has "pending": True while the
        server has not signed it yet, and "amended_by" (None for an effective record)."""
        t = ENTITIES["followups"]
        sql = ("SELECT f.*, (SELECT a.id FROM followups a WHERE a.amends_id = f.id) AS amended_by, "
               "EXISTS (SELECT 1 FROM outbox o WHERE o.entity = 'followups' AND o.entity_id = f.id AND "
               "o.state IN ('pending', 'inflight')) AS pending FROM followups f WHERE f.resident_id = ?")
        params: list = [resident_id]
        if condition:
            sql += " AND f.condition = ?"
            params.append(condition)
        if not include_superseded:
            sql += " AND NOT EXISTS (SELECT 1 FROM followups a WHERE a.amends_id = f.id)"
        sql += " ORDER BY f.visit_date DESC, f.revision DESC, f.id"
        out = []
        for r in self.db.execute(sql, params):
            row = self._decode(t, r)
            row.update(amended_by=r["amended_by"], pending=bool(r["pending"]))
            out.append(row)
        return out

    def visit(self, visit_id: str) -> dict:
        """One follow-up record (any version)."""
        row = self._row("followups", visit_id)
        if row is None:
            raise NotFound(f"no follow-up record {visit_id} on this tablet")
        return row

    def lab_reports(self, resident_id: str) -> list[dict]:
        """A resident's lab reports: critical ones first, then the newest."""
        t = ENTITIES["lab_reports"]
        out = []
        for r in self.db.execute(
                "SELECT l.*, h.name AS hospital_name FROM lab_reports l LEFT JOIN hospitals h "
                "ON h.id = CAST(l.hospital_id AS TEXT) WHERE l.resident_id = ? ORDER BY l.critical DESC, "
                "COALESCE(l.reported_at, l.changed_at) DESC, l.id", (resident_id,)):
            row = self._decode(t, r)
            row["hospital_name"] = r["hospital_name"]
            out.append(row)
        return out

    def lab_report(self, report_id: str) -> dict:
        """A lab report with its current result rows (critical first, then in report order); a corrected
        row is replaced by its correction, and the replaced ones are under "history"."""
        rep = self._row("lab_reports", report_id)
        if rep is None:
            raise NotFound(f"no lab report {report_id} on this tablet")
        name = self.db.execute("SELECT name FROM hospitals WHERE id = CAST(? AS TEXT)", (rep["hospital_id"],)).fetchone()
        rep["hospital_name"] = name[0] if name else None
        t = ENTITIES["lab_results"]
        rows = [self._decode(t, r) for r in self.db.execute(
            "SELECT * FROM lab_results WHERE report_id = ? ORDER BY critical DESC, abnormal DESC, "
            "CAST(position AS INTEGER), CAST(id AS INTEGER)", (report_id,))]
        rep["results"] = [r for r in rows if r["superseded_by_id"] is None]
        rep["history"] = [r for r in rows if r["superseded_by_id"] is not None]
        return rep

    def count(self, entity: str) -> int:
        """How many rows of an entity the tablet holds."""
        return self.db.execute(f"SELECT count(*) FROM {ENTITIES[entity].name}").fetchone()[0]

    def outbox_count(self) -> int:
        """Saved records not yet committed by the server."""
        return self.db.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'inflight')").fetchone()[0]

    def needs_attention(self) -> list[dict]:
        """Records the server refused, with its reason, oldest first; kept until fixed or discarded."""
        out = []
        # member_id: who saved it (a fix goes up in the fixer's name, so only its author fixes it).
        for r in self.db.execute("SELECT n.*, o.member_id FROM needs_attention n "
                                 "JOIN outbox o ON o.change_id = n.change_id ORDER BY n.seq"):
            out.append({"change_id": r["change_id"], "entity": r["entity"], "entity_id": r["entity_id"],
                        "op": r["op"], "fields": json.loads(r["fields"]), "device_time": r["device_time"],
                        "reason": json.loads(r["reason"]) if r["reason"] else None,
                        "member_id": r["member_id"]})
        return out

    def is_synced(self) -> bool:
        """True only when nothing is waiting to go up (guarantee 8); needs-attention items are shown apart."""
        return self.outbox_count() == 0

    def status(self) -> dict:
        """What the sync screen shows: outbox, needs attention, last sync, epoch, counts."""
        return {"outbox": self.outbox_count(), "needs_attention": len(self.needs_attention()),
                "synced": self.is_synced(), "last_synced_at": self.state("last_synced_at"),
                "epoch": self.state("epoch"), "cursor": self.state("cursor"),
                "snapshot_done": self.state("snapshot_done", False),
                "counts": {name: self.count(name) for name in ENTITIES}}

    def followup_status(self) -> list[dict]:
        """One row per managed registry entry of an active resident: the resident, the household's address
        and committee, and the latest effective visit (None values when never seen) with the date of the
        latest face-to-face (clinic or home) visit; what the worklist rules read."""
        # Per registry entry, its latest effective visit and latest face-to-face date by the index on
        # (resident_id, condition, visit_date): about 8 rows each. A window over every visit instead took
        # 0.4-1.5 s on a full caseload (32,000 visits); this is what the worklist is built from.
        effective = ("f.resident_id = c.resident_id AND f.condition = c.condition "
                     "AND COALESCE(f.kind, 'visit') = 'visit' "
                     "AND NOT EXISTS (SELECT 1 FROM followups a WHERE a.amends_id = f.id)")
        sql = f"""
            SELECT c.resident_id, c.condition, r.name, r.name_initials, r.sex, r.birth_date, r.phone,
                   r.responsible_doctor_id, r.household_id, h.address, h.committee_id,
                   l.visit_date, l.visit_mode, l.classification, l.emergency, l.referral, l.referred,
                   l.next_visit_date, l.signed_by,
                   (SELECT MAX(f.visit_date) FROM followups f WHERE {effective}
                    AND CAST(f.visit_mode AS INTEGER) IN (1, 2)) AS last_face_to_face
            FROM chronic_conditions c
            JOIN residents r ON r.id = c.resident_id
            LEFT JOIN households h ON h.id = r.household_id
            LEFT JOIN followups l ON l.id = (
                SELECT f.id FROM followups f WHERE {effective}
                ORDER BY f.visit_date DESC, f.recorded_at DESC, f.id LIMIT 1)
            WHERE COALESCE(c.status, 'managed') = 'managed' AND COALESCE(r.status, 'active') = 'active'"""
        return [dict(r) for r in self.db.execute(sql)]

    def critical_reports(self) -> list[dict]:
        """Critical lab reports with the resident's name and the date of their latest visit, newest first:
        the worklist's top (a call still to note, or a result newer than the last visit)."""
        sql = """
            SELECT l.id, l.resident_id, l.panel_name, l.reported_at, l.changed_at, l.critical_call_noted_at,
                   r.name, r.household_id, h.address,
                   (SELECT MAX(f.visit_date) FROM followups f WHERE f.resident_id = l.resident_id
                    AND COALESCE(f.kind, 'visit') = 'visit'
                    AND NOT EXISTS (SELECT 1 FROM followups a WHERE a.amends_id = f.id)) AS last_visit
            FROM lab_reports l JOIN residents r ON r.id = l.resident_id
            LEFT JOIN households h ON h.id = r.household_id
            WHERE l.critical IN (1, '1', 'true') ORDER BY COALESCE(l.reported_at, l.changed_at) DESC, l.id"""
        return [dict(r) for r in self.db.execute(sql)]

    def device_assessment(self, visit_id: str) -> dict | None:
        """The rules' assessment the tablet saved with a visit it signed (guidance for the printed slip);
        None for a visit signed elsewhere."""
        row = self.db.execute("SELECT fields FROM outbox WHERE entity = 'followups' AND entity_id = ? "
                              "ORDER BY seq DESC LIMIT 1", (visit_id,)).fetchone()
        return None if row is None else json.loads(row[0]).get("device_assessment")

    # --- drafts: unsigned visit forms, on this tablet only --------------------------------------

    def save_draft(self, resident_id: str, condition: str, form: dict) -> None:
        """Keep the form being typed (one draft per resident and condition); a kill loses nothing typed."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO drafts (resident_id, condition, form, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (resident_id, condition) DO UPDATE SET form = excluded.form, "
                "updated_at = excluded.updated_at",
                (resident_id, condition, json.dumps(form, ensure_ascii=False), self.clock().isoformat()))

    def draft(self, resident_id: str, condition: str) -> dict | None:
        """The unsigned form kept for this resident and condition, or None."""
        row = self.db.execute("SELECT form FROM drafts WHERE resident_id = ? AND condition = ?",
                              (resident_id, condition)).fetchone()
        return None if row is None else json.loads(row[0])

    def drafts(self) -> list[dict]:
        """Every kept draft: resident_id, condition, updated_at, the resident's name."""
        return [dict(r) for r in self.db.execute(
            "SELECT d.resident_id, d.condition, d.updated_at, r.name FROM drafts d "
            "LEFT JOIN residents r ON r.id = d.resident_id ORDER BY d.updated_at DESC")]

    def discard_draft(self, resident_id: str, condition: str) -> None:
        """Drop a draft (joins the caller's transaction: signing drops it in the same commit)."""
        with self.transaction():
            self.db.execute("DELETE FROM drafts WHERE resident_id = ? AND condition = ?", (resident_id, condition))

    def keep_fix(self, change_id: str, form: dict, reason: str | None = None) -> None:
        """Keep the corrections typed into a refused visit (the follow-up form's fix; an amendment's reason
        too), as a draft is kept: a lock, the app going to the background or a kill loses nothing typed. Not
        in `drafts`, which holds the resident's next visit; dropped when the record is fixed or discarded."""
        with self.transaction():
            self.set_state(_FIX_KEY + change_id, {"form": form, "reason": reason})

    def kept_fix(self, change_id: str) -> dict | None:
        """The corrections kept for a refused visit ({"form", "reason"}), or None."""
        return self.state(_FIX_KEY + change_id)

    def _forget_fix(self, change_id: str) -> None:
        self.db.execute("DELETE FROM sync_state WHERE key = ?", (_FIX_KEY + change_id,))

    # --- saving, for the screens -----------------------------------------------------------------

    def record(self, entity: str, entity_id: str) -> dict | None:
        """One row of a synced entity on this tablet (None if it has none), as the screens read it."""
        return self._row(entity, entity_id) if entity in ENTITIES else None

    def _row(self, entity: str, entity_id: str) -> dict | None:
        t = ENTITIES[entity]
        return self._decode(t, self.db.execute(f"SELECT * FROM {t.name} WHERE id = ?", (entity_id,)).fetchone())

    def _enqueue(self, entity: str, entity_id: str, op: str, base: dict, fields: dict,
                 replaces: str | None = None) -> str:
        change_id = self.new_id()
        self.db.execute(
            "INSERT INTO outbox (change_id, entity, entity_id, op, base, fields, device_time, replaces, "
            "member_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (change_id, entity, entity_id, op, json.dumps(base, ensure_ascii=False),
             json.dumps(fields, ensure_ascii=False), self.clock().isoformat(), replaces, self.member_id))
        return change_id

    def _write_fields(self, entity: str, entity_id: str, fields: dict) -> None:
        t = ENTITIES[entity]
        cols = [c for c in fields if c in t.columns and c != "id"]
        if not cols:
            return
        values = [json.dumps(fields[c], ensure_ascii=False) if c in t.json_columns and fields[c] is not None
                  else fields[c] for c in cols]
        self.db.execute(f"UPDATE {t.name} SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
                        (*values, entity_id))

    def _insert_row(self, entity: str, row: dict, gen: int | None = None) -> None:
        t = ENTITIES[entity]
        cols = [c for c in t.columns if c in row]
        values = [(pack_form(row.get("condition"), row[c]) if c == t.form_column else
                   json.dumps(row[c], ensure_ascii=False)) if c in t.json_columns and row[c] is not None
                  else row[c] for c in cols]
        self.db.execute(f"INSERT OR REPLACE INTO {t.name} ({', '.join(cols)}, _gen) VALUES "
                        f"({', '.join('?' * len(cols))}, ?)", (*values, self.state("gen", 0) if gen is None else gen))

    def save_edit(self, entity: str, entity_id: str, fields: dict, replaces: str | None = None) -> str:
        """Save an edit locally and queue it; always succeeds offline. Returns the change id.

        The base sent with it is what this tablet showed before the edit, so the server can merge
        field by field and log a losing value rather than overwrite it.
        """
        if entity not in ENTITIES or ENTITIES[entity].append_only:
            raise StoreError(f"{entity} cannot be edited")
        fields = {k: v for k, v in fields.items() if k != "id"}
        with self.transaction():
            row = self._row(entity, entity_id)
            if row is None:
                raise NotFound(f"no {entity} {entity_id} on this tablet")
            base = {k: row.get(k) for k in fields}
            change_id = self._enqueue(entity, entity_id, "update", base, fields, replaces)
            if entity == "residents" and "name" in fields:
                fields = {**fields, **_name_forms(fields["name"])}
            self._write_fields(entity, entity_id, fields)
        return change_id

    def save_resident_edit(self, resident_id: str, fields: dict) -> str:
        """Edit a resident's personal information (e.g. {"phone": ...})."""
        return self.save_edit("residents", resident_id, fields)

    def save_household_edit(self, household_id: str, fields: dict) -> str:
        """Edit a household's address, phone, head or living environment."""
        return self.save_edit("households", household_id, fields)

    def save_condition_edit(self, condition_id: str, fields: dict) -> str:
        """Change a registry entry's status (status, status_date, status_reason)."""
        return self.save_edit("chronic_conditions", condition_id, fields)

    def create_household(self, fields: dict, entity_id: str | None = None, replaces: str | None = None) -> str:
        """Open a household file on the tablet (committee_id and address at least); returns its id."""
        return self._create("households", fields, entity_id, replaces)

    def create_resident(self, household_id: str, fields: dict, entity_id: str | None = None,
                        replaces: str | None = None) -> str:
        """Open a resident's file in a household on the tablet; the server assigns the record number."""
        return self._create("residents", {**fields, "household_id": household_id}, entity_id, replaces)

    def add_condition(self, resident_id: str, condition: str, diagnosed_on: str | None = None,
                      entity_id: str | None = None, replaces: str | None = None) -> str:
        """Enter a resident in the hypertension or t2dm registry on the tablet; returns the entry id."""
        return self._create("chronic_conditions", {"resident_id": resident_id, "condition": condition,
                                                   "diagnosed_on": diagnosed_on}, entity_id, replaces)

    def _create(self, entity: str, fields: dict, entity_id: str | None, replaces: str | None) -> str:
        entity_id = entity_id or self.new_id()
        fields = {k: v for k, v in fields.items() if k != "id"}
        with self.transaction():
            self._enqueue(entity, entity_id, "create", {}, fields, replaces)
            local = dict(fields)
            if entity == "residents":
                local.update(_name_forms(fields.get("name", "")))
                local.setdefault("status", "active")
                hh = self._row("households", fields["household_id"])
                if hh:
                    local.update(team_id=hh["team_id"], center_id=hh["center_id"])
            if entity == "chronic_conditions":
                local.setdefault("status", "managed")
            if entity == "followups":
                self._insert_row(entity, self._local_followup(entity_id, fields))
            elif entity in ("referrals", "referral_messages"):
                self._insert_row(entity, self._local_referral_row(entity, entity_id, fields))
            else:
                self._insert_row(entity, {**local, "id": entity_id, "version": 0})
        return entity_id

    def save_visit(self, resident_id: str, condition: str, form: dict, *, device_assessment: dict | None = None,
                   entity_id: str | None = None, replaces: str | None = None) -> str:
        """Sign a follow-up visit (the national form as a dict); returns the record's id.

        The form is checked with gpcore's rules first (the server's own checks), so a doctor sees what is
        wrong before anything is saved: InvalidRecord carries {field: [messages]}. Once saved the record is
        never edited here; a correction is amend_visit().
        """
        resident = self._row("residents", resident_id)
        if resident is None:
            raise NotFound(f"no resident {resident_id} on this tablet")
        if not any(c["condition"] == condition for c in self.conditions(resident_id)):
            raise InvalidRecord({"condition": [f"resident is not registered for {condition}"]})
        normalised = self._check_form(condition, form, resident.get("sex"))
        fields = {"resident_id": resident_id, "condition": condition, "form": normalised,
                  "recorded_at": self.clock().isoformat()}
        if device_assessment:
            fields["device_assessment"] = device_assessment
        return self._create("followups", fields, entity_id, replaces)

    def amend_visit(self, visit_id: str, form: dict, reason: str, *, entity_id: str | None = None,
                    replaces: str | None = None) -> str:
        """Correct a signed visit with a new record that points to it, with the reason; returns its id."""
        target = self._row("followups", visit_id)
        if target is None:
            raise NotFound(f"no follow-up record {visit_id} on this tablet")
        if target["kind"] != "visit":
            raise InvalidRecord({"kind": ["only visit records are amended"]})
        later = self.db.execute("SELECT id FROM followups WHERE amends_id = ?", (visit_id,)).fetchone()
        if later is not None:
            raise InvalidRecord({"amends_id": [f"already amended; amend the latest version {later[0]}"]})
        if len((reason or "").strip()) < 2:
            raise InvalidRecord({"reason": ["give the reason for the correction"]})
        resident = self._row("residents", target["resident_id"]) or {}
        normalised = self._check_form(target["condition"], form, resident.get("sex"))
        fields = {"amends_id": visit_id, "form": normalised, "reason": reason.strip(),
                  "recorded_at": self.clock().isoformat()}
        return self._create("followups", fields, entity_id, replaces)

    def record_lost(self, resident_id: str, condition: str, date: str, reason: str, *,
                    entity_id: str | None = None, replaces: str | None = None) -> str:
        """Record that a registry patient is lost to follow-up (date, reason); returns the entry's id. The
        server signs it and marks the registry entry lost; the next pull brings that back here."""
        reason = (reason or "").strip()
        errors = self._entry_errors(resident_id, condition, date)
        if not 2 <= len(reason) <= 200:
            errors["reason"] = ["give the reason (2 to 200 characters)"]
        if errors:
            raise InvalidRecord(errors)
        return self._create("followups", {"kind": "lost", "resident_id": resident_id, "condition": condition,
                                          "date": date, "reason": reason,
                                          "recorded_at": self.clock().isoformat()}, entity_id, replaces)

    def record_death(self, resident_id: str, condition: str, date: str, cause: str, *,
                     entity_id: str | None = None, replaces: str | None = None) -> str:
        """Record a registry patient's death (date, cause); returns the entry's id. The server marks the
        resident deceased (closing the registry); the next pull brings that back here."""
        cause = (cause or "").strip()
        errors = self._entry_errors(resident_id, condition, date)
        if not 2 <= len(cause) <= 200:
            errors["cause"] = ["give the cause (2 to 200 characters)"]
        res = self._row("residents", resident_id)
        if "date" not in errors and res and res.get("birth_date") and date < res["birth_date"]:
            errors["date"] = ["the date is before the resident's birth"]
        if errors:
            raise InvalidRecord(errors)
        return self._create("followups", {"kind": "death", "resident_id": resident_id, "condition": condition,
                                          "date": date, "cause": cause,
                                          "recorded_at": self.clock().isoformat()}, entity_id, replaces)

    def _entry_errors(self, resident_id: str, condition: str, date: str) -> dict[str, list[str]]:
        # The server's checks for a lost / death entry that the tablet can make offline.
        if self._row("residents", resident_id) is None:
            raise NotFound(f"no resident {resident_id} on this tablet")
        errors: dict[str, list[str]] = {}
        if not any(c["condition"] == condition for c in self.conditions(resident_id)):
            errors["condition"] = [f"resident is not registered for {condition}"]
        try:
            day = dt.date.fromisoformat(date)
        except (TypeError, ValueError):
            errors["date"] = ["a date as YYYY-MM-DD"]
        else:
            if day > china_today(self.clock()):
                errors["date"] = ["the date is in the future"]
        return errors

    def _check_form(self, condition: str, form: dict, sex: str | None) -> dict:
        from gpcore import followup as rules
        parsers = {"hypertension": rules.parse_hypertension_visit, "t2dm": rules.parse_diabetes_visit}
        if condition not in parsers:
            raise InvalidRecord({"condition": [f"no follow-up form for {condition}"]})
        # The doctor's calendar day in China by the tablet's clock; the server checks again with its own.
        visit, problems = parsers[condition](form, today=china_today(self.clock()), sex=sex)
        if problems:
            raise InvalidRecord(rules.errors_by_field(problems))
        return visit.to_dict()

    def _local_followup(self, entity_id: str, fields: dict) -> dict:
        """The row a saved record shows as until the server's signed version (with its decisions) arrives."""
        kind = fields.get("kind", "visit")
        if kind != "visit":  # a lost / death entry: its form is what the server stores for it
            entry = {"date": fields["date"], **({"cause": fields["cause"]} if kind == "death"
                                                else {"reason": fields["reason"]})}
            return {"id": entity_id, "kind": kind, "form": entry, "recorded_at": fields.get("recorded_at"),
                    "visit_date": fields["date"], "resident_id": fields["resident_id"],
                    "condition": fields["condition"], "original_id": entity_id, "revision": 0}
        form = fields["form"]
        row = {"id": entity_id, "kind": "visit", "form": form, "recorded_at": fields.get("recorded_at"),
               "visit_date": form.get("visit_date"), "visit_mode": form.get("visit_mode"), "sbp": form.get("sbp"),
               "dbp": form.get("dbp"), "fpg_mmol": form.get("fpg_mmol"), "classification": form.get("classification"),
               "next_visit_date": form.get("next_visit_date")}
        if fields.get("amends_id"):
            target = self._row("followups", fields["amends_id"]) or {}
            row.update(resident_id=target.get("resident_id"), condition=target.get("condition"),
                       original_id=target.get("original_id") or fields["amends_id"],
                       revision=(target.get("revision") or 0) + 1, amends_id=fields["amends_id"],
                       amendment_reason=fields.get("reason"))
        else:
            row.update(resident_id=fields["resident_id"], condition=fields["condition"], original_id=entity_id,
                       revision=0)
        row.update(self._local_decisions(row))
        return row

    def rules_history(self, resident_id: str, condition: str, visit_date: str,
                      chain: str | None = None) -> tuple[dict | None, int]:
        """What the follow-up rules read of a patient's past for a visit on visit_date: the previous visit's
        form (None: the first visit) and how many face-to-face visits came earlier that year. The past is as
        the server takes it (its _history_filter): effective visits of this condition dated before this one,
        outside `chain`, the original id of a record being corrected (an amendment is not its own past)."""
        from gpcore.followup import codes
        history = self.db.execute(
            "SELECT f.form, f.visit_mode, f.visit_date FROM followups f WHERE f.resident_id = ? "
            "AND f.condition = ? AND COALESCE(f.kind, 'visit') = 'visit' AND f.visit_date < ? "
            "AND COALESCE(f.original_id, f.id) IS NOT ? "
            "AND NOT EXISTS (SELECT 1 FROM followups a WHERE a.amends_id = f.id) "
            # Same day: the server received this tablet's unsent visits after every row it sent here.
            "ORDER BY f.visit_date DESC, f.received_at IS NULL DESC, f.received_at DESC",
            (resident_id, condition, visit_date, chain)).fetchall()
        year = f"{visit_date[:4]}-01-01"
        face_to_face = {str(m) for m in codes.FACE_TO_FACE_MODES}
        earlier = sum(1 for h in history if h["visit_date"] >= year and str(h["visit_mode"]) in face_to_face)
        return (json.loads(history[0]["form"]) if history else None), earlier

    def _local_decisions(self, row: dict) -> dict:
        """The shared rules' decisions on a visit saved here (gpcore's record_decisions, as the server will
        store them): emergency, referral, classification, control, next date, so the worklist's buckets
        see an offline visit at once. {} when the rules cannot run on it (the server decides then)."""
        from gpcore.followup.decisions import record_decisions
        from gpcore.followup.visits import DiabetesVisit, HypertensionVisit, VisitDataError
        forms = {"hypertension": HypertensionVisit, "t2dm": DiabetesVisit}
        resident = self._row("residents", row.get("resident_id") or "") or {}
        if row.get("condition") not in forms or not resident.get("birth_date") or not row.get("visit_date"):
            return {}
        cls = forms[row["condition"]]
        previous_form, earlier = self.rules_history(row["resident_id"], row["condition"], row["visit_date"],
                                                    row["original_id"])
        try:
            visit = cls.from_dict(row["form"])
            previous = cls.from_dict(previous_form) if previous_form is not None else None
            birth = dt.date.fromisoformat(resident["birth_date"][:10])
        except (VisitDataError, ValueError, TypeError, KeyError):
            return {}
        decided, _ = record_decisions(row["condition"], visit, birth, previous, earlier)
        return {"classification": decided["classification"], "bp_controlled": decided["bp_controlled"],
                "fpg_controlled": decided["fpg_controlled"], "emergency": int(decided["emergency"]),
                "referral": decided["referral"], "referred": int(decided["referred"]),
                "next_visit_date": decided["next_visit_date"].isoformat()}

    def fix_rejected(self, change_id: str, fields: dict) -> str:
        """Send a refused record again with corrected fields (a new change id); returns it."""
        with self.transaction():
            rec = self._outbox(change_id, "rejected")
            self.db.execute("UPDATE outbox SET state = 'fixed' WHERE change_id = ?", (change_id,))
            self._forget_fix(change_id)
            if rec["op"] == "create":
                merged = {**json.loads(rec["fields"]), **fields}
                if rec["entity"] == "residents":
                    self.create_resident(merged.pop("household_id"), merged, rec["entity_id"], change_id)
                elif rec["entity"] == "households":
                    self.create_household(merged, rec["entity_id"], change_id)
                elif rec["entity"] == "chronic_conditions":
                    self.add_condition(merged["resident_id"], merged["condition"], merged.get("diagnosed_on"),
                                       rec["entity_id"], change_id)
                elif rec["entity"] == "followups":
                    # The refused record never became signed: its corrected form goes up under the same id.
                    self.db.execute("DELETE FROM followups WHERE id = ?", (rec["entity_id"],))
                    kind = merged.get("kind", "visit")
                    if kind in ("lost", "death"):
                        entry = self.record_lost if kind == "lost" else self.record_death
                        entry(merged["resident_id"], merged["condition"], merged["date"],
                              merged["reason" if kind == "lost" else "cause"], entity_id=rec["entity_id"],
                              replaces=change_id)
                    elif merged.get("amends_id"):
                        self.amend_visit(merged["amends_id"], merged["form"], merged.get("reason"),
                                         entity_id=rec["entity_id"], replaces=change_id)
                    else:
                        self.save_visit(merged["resident_id"], merged["condition"], merged["form"],
                                        device_assessment=merged.get("device_assessment"),
                                        entity_id=rec["entity_id"], replaces=change_id)
                elif rec["entity"] == "referrals":
                    # Never accepted by the server: the corrected case goes up under the same id, checked as a
                    # new one is (an InvalidRecord rolls the fix back, the refused case stays as it was).
                    self.db.execute("DELETE FROM referrals WHERE id = ?", (rec["entity_id"],))
                    self._recreate_referral(merged, fields, rec["entity_id"], change_id)
                elif rec["entity"] == "referral_messages":
                    self.db.execute("DELETE FROM referral_messages WHERE id = ?", (rec["entity_id"],))
                    self._create(rec["entity"], merged, rec["entity_id"], change_id)
                else:
                    raise StoreError(f"cannot fix a {rec['entity']} create")
                # The new record's change id (not the entity id the create helpers return).
                return self.db.execute("SELECT change_id FROM outbox WHERE replaces = ? ORDER BY seq DESC",
                                       (change_id,)).fetchone()[0]
            if rec["entity"] == "referrals":  # a refused action on a case: decided again on what it is now
                merged = {**json.loads(rec["fields"]), **fields}
                return self.act_on_referral(rec["entity_id"], merged.pop("action"), merged, replaces=change_id)
            # The refused edit with the corrections over it (the tablet's row no longer shows the edit).
            merged = {**json.loads(rec["fields"]), **fields}
            return self.save_edit(rec["entity"], rec["entity_id"], merged, replaces=change_id)

    def discard_rejected(self, change_id: str) -> None:
        """A person decided the refused record should not go to the server; it is kept, marked discarded."""
        with self.transaction():
            self._outbox(change_id, "rejected")
            self.db.execute("UPDATE outbox SET state = 'discarded' WHERE change_id = ?", (change_id,))
            self._forget_fix(change_id)

    def _outbox(self, change_id: str, state: str) -> sqlite3.Row:
        rec = self.db.execute("SELECT * FROM outbox WHERE change_id = ? AND state = ?",
                              (change_id, state)).fetchone()
        if rec is None:
            raise NotFound(f"no {state} record {change_id}")
        return rec

    # --- for the sync engine ----------------------------------------------------------------------

    def outbox_records(self, states: Iterable[str]) -> list[dict]:
        """Outbox records in these states, in save order."""
        states = tuple(states)
        rows = self.db.execute(f"SELECT * FROM outbox WHERE state IN ({','.join('?' * len(states))}) "
                               "ORDER BY seq", states)
        return [_record(r) for r in rows]

    def take_batch(self, limit: int) -> dict | None:
        """The batch in flight, or a new one of up to `limit` pending records (saved before sending)."""
        with self.transaction():
            inflight = self.state("inflight")
            if inflight:
                return inflight
            first = self.db.execute("SELECT member_id FROM outbox WHERE state = 'pending' ORDER BY seq "
                                    "LIMIT 1").fetchone()
            if first is None:
                return None
            # One author per batch (the server signs a batch as whoever sent it); in save order otherwise.
            rows = self.db.execute("SELECT * FROM outbox WHERE state = 'pending' AND member_id IS ? ORDER BY seq "
                                   "LIMIT ?", (first[0], limit)).fetchall()
            batch = {"batch_id": self.new_id(), "member_id": first[0], "records": [_record(r) for r in rows]}
            self.db.executemany("UPDATE outbox SET state = 'inflight', batch_id = ? WHERE seq = ?",
                                [(batch["batch_id"], r["seq"]) for r in rows])
            # The exact batch is kept so a retry after a lost answer or an app kill resends the same one.
            self.set_state("inflight", batch)
            return batch

    def apply_push_answer(self, batch: dict, answer: dict, epoch: str | None) -> dict[str, int]:
        """Record the server's per-record answers in one transaction; returns counts by status."""
        counts: dict[str, int] = {}
        with self.transaction():
            by_id = {r["change_id"]: r for r in batch["records"]}
            touched: dict[str, set] = {}
            for res in answer["results"]:
                rec = by_id.get(res["change_id"])
                if rec is None:
                    continue
                status = res["status"]
                if status == "duplicate":  # already committed earlier: its first answer is what counts
                    status = res.get("original", {}).get("status", "applied")
                counts[status] = counts.get(status, 0) + 1
                if status == "rejected":
                    # A repeat's reason is its first answer's (the tablet missed that answer: a lost reply).
                    reason = res.get("reason") or res.get("original", {}).get("reason")
                    self.db.execute("UPDATE outbox SET state = 'rejected', reason = ?, answer = ? "
                                    "WHERE change_id = ?", (json.dumps(reason, ensure_ascii=False),
                                                            json.dumps(res, ensure_ascii=False), rec["change_id"]))
                else:  # applied or conflict: the server has committed it (a losing value is in its log)
                    self.db.execute("UPDATE outbox SET state = 'acked', answer = ?, acked_epoch = ?, "
                                    "acked_at = ? WHERE change_id = ?",
                                    (json.dumps(res, ensure_ascii=False), epoch, _now().isoformat(),
                                     rec["change_id"]))
                if "current" in res:
                    self._replace_current(rec["entity"], rec["entity_id"], res["current"])
                    touched.setdefault(rec["entity"], set()).add(rec["entity_id"])
            for entity, ids in touched.items():
                self._reapply_pending(entity, ids)
            self.set_state("inflight", None)
        return counts

    def reject_batch(self, batch: dict, reason: dict) -> None:
        """The server refused a whole batch: each record needs attention with that reason, and the tablet's
        rows go back to what they were before it, as a record refused on its own comes back with the
        server's row (apply_push_answer): a refused new record is no longer shown as if the server had it
        (a visit would count as done on the worklist), a refused edit shows the value it replaced. The
        record itself stays in needs-attention until a person fixes or discards it. What the server sent
        meanwhile (a pull while the batch waited) is never undone."""
        with self.transaction():
            refused = [r for r in batch["records"] if self.db.execute(
                "UPDATE outbox SET state = 'rejected', reason = ? WHERE change_id = ? AND state = 'inflight'",
                (json.dumps(reason, ensure_ascii=False), r["change_id"])).rowcount]
            for r in reversed(refused):  # newest first: two edits of one field end on the value before both
                self._undo_locally(r)
            for entity in {r["entity"] for r in refused}:
                self._reapply_pending(entity, {r["entity_id"] for r in refused if r["entity"] == entity})
            self.set_state("inflight", None)

    def _undo_locally(self, rec: dict) -> None:
        entity, entity_id = rec["entity"], rec["entity_id"]
        row = self.record(entity, entity_id)
        if row is None:
            return
        if rec["op"] == "create":
            if not _from_server(entity, row):
                self._replace_current(entity, entity_id, None)  # as a create refused on its own: no row
            return
        if ENTITIES[entity].append_only or entity == "referrals":
            return  # a case's action is the server's state machine's to undo: its next answer or page says
        # Only what still shows this record's value goes back: a field a pull has set since keeps it.
        base = {k: v for k, v in (rec.get("base") or {}).items()
                if k in rec["fields"] and row.get(k) == rec["fields"][k]}
        if base:
            if entity == "residents" and "name" in base:
                base = {**base, **_name_forms(base["name"])}
            self._write_fields(entity, entity_id, base)

    def _replace_current(self, entity: str, entity_id: str, current: dict | None) -> None:
        if entity not in ENTITIES:
            return
        if current is None:
            self.db.execute(f"DELETE FROM {ENTITIES[entity].name} WHERE id = ?", (entity_id,))
            return
        # A push answer is not a snapshot page: it must not vouch for the row in an unfinished snapshot.
        # A repeated batch gets its first answer again, with the row as it was then (seed 2 of the model
        # test: a household moved to another team meanwhile, the resent batch brought its visit back, and
        # under the new generation the snapshot's sweep kept it for good). So the row keeps the generation
        # it had, and a row this tablet did not hold goes in under the previous one: the snapshot sweeps
        # it unless a page of its own delivers it. Changes after the snapshot's start come after the sweep.
        had = self.db.execute(f"SELECT _gen FROM {ENTITIES[entity].name} WHERE id = ?", (entity_id,)).fetchone()
        if str(current["id"]) != entity_id:  # numbered by the server (client_key): its row replaces ours
            self.db.execute(f"DELETE FROM {ENTITIES[entity].name} WHERE id = ?", (entity_id,))
        self._insert_row(entity, current, had[0] if had else self.state("gen", 0) - 1)

    def _reapply_pending(self, entity: str, ids: Iterable[str]) -> None:
        """Lay edits not yet committed by the server back over server rows just written."""
        ids = list(ids)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = self.db.execute(
                f"SELECT entity_id, op, fields FROM outbox WHERE entity = ? AND state IN ('pending', 'inflight') "
                f"AND entity_id IN ({','.join('?' * len(part))}) ORDER BY seq", (entity, *part)).fetchall()
            for r in rows:
                fields = json.loads(r["fields"])
                if entity == "residents" and "name" in fields:
                    fields.update(_name_forms(fields["name"]))
                if r["op"] == "create" and self._row(entity, r["entity_id"]) is None:
                    if entity == "followups":
                        self._insert_row(entity, self._local_followup(r["entity_id"], fields))
                    elif entity in ("referrals", "referral_messages"):
                        self._insert_row(entity, self._local_referral_row(entity, r["entity_id"], fields))
                    else:
                        self._insert_row(entity, {**fields, "id": r["entity_id"], "version": 0})
                elif entity in ("followups", "referrals", "referral_messages"):
                    continue  # a signed record, or a case the server's state machine keeps, is never overlaid
                else:
                    self._write_fields(entity, r["entity_id"], fields)

    def apply_page(self, page: dict, *, finish_snapshot: bool) -> int:
        """Write one pulled page and its cursor in ONE transaction (guarantee 9); returns rows applied."""
        # A snapshot page can be fetched again: committed without waiting for the disk (a power cut loses
        # at most the last pages and their cursor together, never a save). Saves and the outbox stay FULL,
        # and their next commit flushes whatever came before it. Measured: COMMIT with FULL was 0.46 s of a
        # first sync.
        relaxed = page.get("mode") == "snapshot"
        if relaxed:
            self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            n = self._apply_page(page, finish_snapshot)
        finally:
            if relaxed:
                self.db.execute("PRAGMA synchronous=FULL")
        if finish_snapshot:
            # A whole download sits in the WAL file (as large as the store); fold it into the store now
            # rather than at some later save. PASSIVE: it takes no lock a save on the screen's connection
            # would wait for (TRUNCATE holds the write lock while it waits for readers and copies ~100 MB);
            # journal_size_limit trims the file when the WAL next starts over.
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return n

    def _apply_page(self, page: dict, finish_snapshot: bool) -> int:
        n = 0
        with self.transaction():
            if page.get("mode") == "snapshot" and self.state("cursor") is None:  # a snapshot's first page
                self._defer_indexes()
            gen = self.state("gen", 0)
            for entity, part in page.get("entities", {}).items():
                t = ENTITIES.get(entity)
                if t is None:
                    continue  # an entity this app version does not know yet
                cols = part["columns"]
                keep = [i for i, c in enumerate(cols) if c in t.columns]
                names = [cols[i] for i in keep]
                # Columns the server sent as JSON text are stored as they are; older servers sent values.
                as_text = set(part.get("json", ()))
                json_idx = [j for j, c in enumerate(names) if c in t.json_columns and c not in as_text]
                rows = []
                if len(keep) == len(cols) and not json_idx:  # the usual case: rows go in as they came
                    rows = part.get("rows", ())
                for row in part.get("rows", ()) if not rows else ():
                    values = [row[i] for i in keep]
                    for j in json_idx:
                        if values[j] is not None:
                            values[j] = json.dumps(values[j], ensure_ascii=False)
                    rows.append(values)
                if rows and t.form_column in names and t.form_column not in part.get("compact", ()):
                    _pack_forms(names, rows, t.form_column)  # a server that sends the forms whole
                if rows and t.client_key in names:
                    # The server's rows of records written here replace the tablet's (a lost push answer).
                    at = names.index(t.client_key)
                    self.db.executemany(f"DELETE FROM {t.name} WHERE id = ?",
                                        [(r[at],) for r in rows if r[at] is not None])
                if rows:
                    # The generation is written into the statement (an int from the store's state): no copy of
                    # each row with it appended (0.1 s of a first sync).
                    self.db.executemany(f"INSERT OR REPLACE INTO {t.name} ({', '.join(names)}, _gen) "
                                        f"VALUES ({', '.join('?' * len(names))}, {int(gen)})", rows)
                removed = part.get("removed", ())
                if removed:
                    self.db.executemany(f"DELETE FROM {t.name} WHERE id = ?", [(i,) for i in removed])
                if (rows or removed) and self.db.execute("SELECT 1 FROM outbox WHERE entity = ? AND state IN "
                                                         "('pending', 'inflight') LIMIT 1", (entity,)).fetchone():
                    at = names.index("id")
                    self._reapply_pending(entity, [r[at] for r in rows] + list(removed))
                n += len(rows) + len(removed)
            if finish_snapshot:
                self._sweep(gen)
            if page.get("reference"):
                self._replace_reference(page["reference"])
            self.set_state("cursor", page["cursor"])
        return n

    def _replace_reference(self, reference: dict) -> None:
        self.db.execute("DELETE FROM hospitals")
        self.db.executemany("INSERT INTO hospitals (id, code, name) VALUES (?, ?, ?)",
                            [(str(i), code, name) for i, code, name in reference.get("hospitals", ())])
        self._replace_directory(reference)
        self.set_state("ref", reference.get("version"))

    def _sweep(self, gen: int) -> None:
        """After a whole snapshot: drop rows it did not deliver, except creates still waiting to go up."""
        self._rebuild_deferred_indexes()
        for t in ENTITIES.values():
            self.db.execute(f"DELETE FROM {t.name} WHERE _gen != ? AND id NOT IN (SELECT entity_id FROM outbox "
                            "WHERE entity = ? AND op = 'create' AND state IN ('pending', 'inflight'))",
                            (gen, t.name))
        self.set_state("snapshot_done", True)

    def start_snapshot(self, epoch: str | None, requeue: bool, requeue_all: bool = False) -> int:
        """Begin a full re-download (first sync or a new server epoch); with requeue, every record the old
        server acknowledged goes back in the outbox (the restored server may not have it; it answers
        'duplicate' for what it has). requeue_all: also those acknowledged in this epoch (a server found
        behind the tablet's cursor). Returns how many were requeued."""
        with self.transaction():
            n = 0
            if requeue:
                # Re-sent after anything still pending, in their original order (seq).
                cur = self.db.execute("UPDATE outbox SET state = 'pending', batch_id = NULL "
                                      "WHERE state = 'acked' AND (? OR acked_epoch IS NULL OR acked_epoch != ?)",
                                      (requeue_all, epoch))
                n = cur.rowcount
            self.set_state("epoch", epoch)
            self.set_state("cursor", None)
            self.set_state("snapshot_done", False)
            self.set_state("gen", self.state("gen", 0) + 1)
            return n

    def _rebuild_deferred_indexes(self) -> None:
        for sql in self.state("deferred_indexes", None) or ():
            # IF NOT EXISTS: an upgrade since may have made the index itself.
            self.db.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        self.set_state("deferred_indexes", None)

    def _defer_indexes(self) -> None:
        """A first download into an empty store: drop the entity tables' secondary indexes until the snapshot
        is done (the sweep builds them again, in one pass each). Filling 10 indexes row by row was 1.1 s of
        a 182,000-row first sync. A store that holds records keeps its indexes: its screens read meanwhile."""
        if self.state("deferred_indexes", None) is not None:
            return  # a resumed first download: already dropped
        if any(self.db.execute(f"SELECT 1 FROM {t.name} LIMIT 1").fetchone() for t in ENTITIES.values()):
            return
        rows = self.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                               f"AND tbl_name IN ({', '.join('?' * len(ENTITIES))})",
                               [t.name for t in ENTITIES.values()]).fetchall()
        for name, _ in rows:
            self.db.execute(f"DROP INDEX {name}")
        self.set_state("deferred_indexes", [sql for _, sql in rows])

    def mark_synced(self) -> None:
        """Remember when the outbox was last seen empty after a full pull."""
        with self.transaction():
            self.set_state("last_synced_at", _now().isoformat())


def _pack_forms(names: list[str], rows: list[list], column: str) -> None:
    """Store a page's follow-up forms without their empty boxes (in place; a form as JSON text or value)."""
    at, condition = names.index(column), names.index("condition") if "condition" in names else None
    for row in rows:
        form = row[at]
        if form is not None:
            row[at] = pack_form(row[condition] if condition is not None else None, form)


def _connect(path: str, key: bytes | None, timeout: float = 5.0):
    """The file's connection: plain SQLite, or SQLCipher 4 (AES-256, HMAC-SHA512 per page) under a raw 32-byte
    key (a raw key skips SQLCipher's PBKDF2: K is random, the slow derivation is the PIN's, in fieldapp/keys)."""
    # isolation_level=None: we issue BEGIN/COMMIT ourselves so a page is exactly one transaction.
    if key is None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
        db.row_factory = sqlite3.Row
        return db
    from sqlcipher3 import dbapi2 as sqlcipher
    db = sqlcipher.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    db.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is StoreLocked here, not lines on stderr
    db.execute(f"PRAGMA key = \"x'{_hex_key(key)}'\"")
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher.DatabaseError as err:
        db.close()
        raise StoreLocked(f"this key does not open {path}") from err
    db.row_factory = sqlcipher.Row
    return db


def _hex_key(key: bytes) -> str:
    if len(key) != 32:
        raise StoreLocked("a store key is 32 bytes")
    return key.hex()


SQLITE_HEADER = b"SQLite format 3\x00"


def is_plain_sqlite(path: str) -> bool:
    """True for an unencrypted store file (an encrypted one starts with its random salt, not the header)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_HEADER
    except FileNotFoundError:
        return False


def encrypt_file(path: str, key: bytes) -> None:
    """Turn an unencrypted store file into an encrypted one in place, keeping every row (sqlcipher_export
    copies schema and data; the schema version is copied by hand, export does not). A crash before the final
    rename leaves the plain file as it was; the copy is rebuilt next time."""
    from sqlcipher3 import dbapi2 as sqlcipher
    plain = sqlite3.connect(path)
    try:
        # Fold the WAL into the file so nothing lives only in the -wal beside it, and leave rollback mode so
        # closing removes the -wal (a stale one next to the new file would be read as its journal).
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute("PRAGMA journal_mode=DELETE")
        version = plain.execute("PRAGMA user_version").fetchone()[0]
    finally:
        plain.close()
    tmp = path + ".encrypting"
    db = sqlcipher.connect(path, isolation_level=None)
    try:
        _export(db, tmp, key, version)
    finally:
        db.close()
    os.replace(tmp, path)


def _export(db, dest: str, key: bytes, version: int) -> None:
    """Copy every table, index and row of the open connection `db` into a new encrypted file `dest`."""
    for leftover in (dest, dest + "-journal", dest + "-wal", dest + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    db.execute("ATTACH DATABASE ? AS exported KEY \"x'" + _hex_key(key) + "'\"", (dest,))
    try:
        db.execute("SELECT sqlcipher_export('exported')")
        db.execute(f"PRAGMA exported.user_version = {int(version)}")
    finally:
        db.execute("DETACH DATABASE exported")
    with open(dest, "rb") as fh:
        os.fsync(fh.fileno())


def _record(r: sqlite3.Row) -> dict:
    return {"seq": r["seq"], "change_id": r["change_id"], "entity": r["entity"], "entity_id": r["entity_id"],
            "op": r["op"], "base": json.loads(r["base"]), "fields": json.loads(r["fields"]),
            "device_time": r["device_time"]}


def _from_server(entity: str, row: dict) -> bool:
    """Whether a tablet row is the server's (pulled or answered) rather than one only saved here."""
    if entity == "followups":
        return bool(row.get("received_at") or row.get("signed_by"))
    # A thread message has no version, and the server's row of one has the server's number for id, so a
    # row found by the tablet's id is always the tablet's own.
    return (row.get("version") or 0) > 0


def _name_forms(name: str) -> dict:
    # Imported here, not with the store: pypinyin takes ~0.7 s to import, paid on the first name saved
    # rather than each time the tablet opens its store.
    from gpcore.names import search_forms
    return search_forms(name)
