"""The tablet store's tables, and the forward-only upgrades that build them (PRAGMA user_version).

Entity tables mirror the server's synced columns (server/sync/registry.py); the wire and the store agree
on names so a pulled page is inserted without mapping. Never edit an upgrade once shipped: add one.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Callable, Union

from gpcore.followup.compact import compact_text as pack_form  # a form as the store keeps it


@dataclass(frozen=True)
class EntityTable:
    """One synced entity as the tablet stores it."""

    name: str
    columns: tuple[str, ...]
    json_columns: tuple[str, ...] = ()
    append_only: bool = False
    # A column holding the tablet's id of a record the server numbers (thread messages): the server's row
    # replaces the tablet's when a push answer or a page brings it.
    client_key: str | None = None
    # A column holding a follow-up form, kept without its empty boxes (gpcore.followup.compact; about half the
    # store's bytes were empty boxes) and read back whole, so every reader sees the form as it was signed.
    form_column: str | None = None


HOUSEHOLDS = EntityTable("households", (
    "id", "center_id", "committee_id", "team_id", "address", "phone", "head_id", "kitchen_exhaust", "fuel",
    "water", "toilet", "livestock_pen", "health_problems", "version", "updated_at"))
RESIDENTS = EntityTable("residents", (
    "id", "household_id", "team_id", "center_id", "record_number", "id_number", "name", "name_pinyin",
    "name_initials", "sex", "birth_date", "relation_to_head", "phone", "employer", "contact_name",
    "contact_phone", "residence_type", "ethnicity", "ethnicity_name", "blood_abo", "blood_rh", "education",
    "occupation", "marital_status", "payment_methods", "drug_allergies", "drug_allergy_other", "exposures",
    "past_diseases", "procedures", "family_history", "hereditary_disease", "disabilities", "status",
    "status_date", "death_cause", "responsible_doctor_id", "version", "updated_at"),
    json_columns=("payment_methods", "drug_allergies", "exposures", "past_diseases", "procedures",
                  "family_history", "disabilities"))
CONDITIONS = EntityTable("chronic_conditions", (
    "id", "resident_id", "condition", "diagnosed_on", "status", "status_date", "status_reason", "version",
    "updated_at"))

# Signed follow-up records: never edited on the tablet; a correction is a new record (amends_id).
FOLLOWUPS = EntityTable("followups", (
    "id", "resident_id", "condition", "kind", "original_id", "revision", "amends_id", "amendment_reason",
    "visit_date", "visit_mode", "sbp", "dbp", "fpg_mmol", "classification", "bp_controlled", "fpg_controlled",
    "emergency", "referral", "referred", "next_visit_date", "form", "recorded_at", "received_at", "signed_by"),
    json_columns=("form",), append_only=True, form_column="form")
# Lab reports and their result rows come from the hospitals through the server: pull only.
# The columns upgrade 2 created them with; upgrade 4 adds comments and the team's critical-value call (a
# shipped upgrade never changes).
_LAB_REPORT_COLUMNS_2 = (
    "id", "resident_id", "hospital_id", "filler_no", "panel_code", "panel_name", "specimen_type",
    "collected_at", "reported_at", "status", "critical", "abnormal", "changed_at")
_LAB_RESULT_COLUMNS_2 = (
    "id", "report_id", "position", "code", "name", "value_type", "value_text", "value_num", "comparator",
    "unit", "range_text", "range_low", "range_high", "flags", "critical", "abnormal", "status", "observed_at",
    "superseded_by_id")
_CRITICAL_CALL_COLUMNS = ("critical_call_at", "critical_call_noted_at", "critical_call_covers", "critical_call_note")
LAB_REPORTS = EntityTable("lab_reports", _LAB_REPORT_COLUMNS_2 + ("comments",) + _CRITICAL_CALL_COLUMNS,
                          json_columns=("comments",), append_only=True)
LAB_RESULTS = EntityTable("lab_results", _LAB_RESULT_COLUMNS_2 + ("comments",),
                          json_columns=("flags", "comments"), append_only=True)

# Referrals to specialists and their threads (server/sync/registry.py): a case is created here and pushed,
# then the server's state machine moves it; thread messages are append-only and numbered by the server.
REFERRALS = EntityTable("referrals", (
    "id", "resident_id", "team_id", "center_id", "created_by", "hospital_id", "department", "specialist_id",
    "owner_id", "state", "info_from", "urgency", "kind", "form", "lab_report_ids", "answer", "return_form",
    "sent_on", "response_due", "answered_on", "follow_up_due", "closing_followup_id", "created_at",
    "updated_at", "version"), json_columns=("form", "lab_report_ids", "answer", "return_form"))
REFERRAL_MESSAGES = EntityTable("referral_messages", (
    "id", "referral_id", "at", "author_id", "author_name", "author_role", "kind", "text", "state_after",
    "client_id"), append_only=True, client_key="client_id")

ENTITIES: dict[str, EntityTable] = {t.name: t for t in (HOUSEHOLDS, RESIDENTS, CONDITIONS, FOLLOWUPS,
                                                        LAB_REPORTS, LAB_RESULTS, REFERRALS, REFERRAL_MESSAGES)}
# The specialists' directory, a reference list replaced whole by sync (as hospitals): whom a referral
# written offline can be addressed to.
DEPARTMENT_COLUMNS = ("id", "hospital_id", "name", "specialty", "phone")
SPECIALIST_COLUMNS = ("user_id", "full_name", "hospital_id", "department", "department_specialty", "specialty",
                      "title", "title_label", "clinic_sessions", "takes_econsult", "phone_for_teams")


def _entity_ddl(t: EntityTable) -> str:
    cols = ", ".join(f"{c} TEXT PRIMARY KEY" if c == "id" else c for c in t.columns)
    # _gen: the snapshot generation that last wrote the row; a finished snapshot sweeps older ones.
    return f"CREATE TABLE {t.name} ({cols}, _gen INTEGER NOT NULL DEFAULT 0)"


def _compact_stored_forms(db: sqlite3.Connection) -> None:
    """Upgrade 8: every follow-up form already stored, without its empty boxes (what a form that is not one
    gpcore's to_dict made is left as it is: compact_form gives it back unchanged)."""
    last = -1
    while True:  # a few thousand forms at a time: a tablet's memory holds one slice, not the caseload
        rows = db.execute("SELECT rowid, condition, form FROM followups WHERE rowid > ? AND form IS NOT NULL "
                          "ORDER BY rowid LIMIT 2000", (last,)).fetchall()
        if not rows:
            return
        db.executemany("UPDATE followups SET form = ? WHERE rowid = ?",
                       [(packed, rowid) for rowid, condition, text in rows
                        if (packed := pack_form(condition, text)) != text])
        last = rows[-1][0]


# A step is an SQL statement, or a function of the connection for what SQL alone cannot do.
Step = Union[str, Callable[[sqlite3.Connection], None]]

UPGRADES: list[list[Step]] = [
    # 1: entities, outbox, sync state
    [
        _entity_ddl(HOUSEHOLDS),
        _entity_ddl(RESIDENTS),
        _entity_ddl(CONDITIONS),
        "CREATE INDEX ix_residents_household ON residents (household_id)",
        "CREATE INDEX ix_residents_initials ON residents (name_initials)",
        "CREATE INDEX ix_residents_name ON residents (name)",
        "CREATE INDEX ix_residents_id_number ON residents (id_number)",
        "CREATE INDEX ix_conditions_resident ON chronic_conditions (resident_id)",
        "CREATE INDEX ix_households_address ON households (address)",
        # Every local save, in save order. state: pending -> inflight -> acked | rejected;
        # a rejected record is 'needs attention' until a person fixes (-> fixed) or discards it.
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            change_id TEXT NOT NULL UNIQUE,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            op TEXT NOT NULL,
            base TEXT NOT NULL,
            fields TEXT NOT NULL,
            device_time TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            batch_id TEXT,
            answer TEXT,
            reason TEXT,
            acked_epoch TEXT,
            acked_at TEXT,
            replaces TEXT
        )""",
        "CREATE INDEX ix_outbox_state ON outbox (state, seq)",
        "CREATE INDEX ix_outbox_entity ON outbox (entity_id, state)",
        "CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT)",
        "CREATE VIEW needs_attention AS SELECT seq, change_id, entity, entity_id, op, fields, reason, "
        "answer, device_time FROM outbox WHERE state = 'rejected'",
    ],
    # 2: follow-up records, lab reports and result rows
    [
        _entity_ddl(FOLLOWUPS),
        _entity_ddl(replace(LAB_REPORTS, columns=_LAB_REPORT_COLUMNS_2)),
        _entity_ddl(replace(LAB_RESULTS, columns=_LAB_RESULT_COLUMNS_2)),
        "CREATE INDEX ix_followups_resident ON followups (resident_id, condition, visit_date)",
        "CREATE INDEX ix_followups_amends ON followups (amends_id)",
        "CREATE INDEX ix_lab_reports_resident ON lab_reports (resident_id)",
        "CREATE INDEX ix_lab_results_report ON lab_results (report_id)",
        # A tablet synced before this upgrade holds a cursor past records of the new kinds: download
        # everything once more (a new snapshot generation, so the sweep works); the outbox is untouched.
        "UPDATE sync_state SET value = 'null' WHERE key = 'cursor'",
        "UPDATE sync_state SET value = 'false' WHERE key = 'snapshot_done'",
        "UPDATE sync_state SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'gen'",
    ],
    # 3: reference lists the screens take names from (hospitals of lab reports); replaced whole when the
    # server's version differs from sync_state 'ref', which starts empty so the next sync fills them.
    [
        "CREATE TABLE hospitals (id TEXT PRIMARY KEY, code TEXT, name TEXT)",
    ],
    # 4: the lab's remarks on reports and result rows (HL7 NTE), and the team's note of phoning a critical
    # value through (lab_reports.critical_call_*). A tablet holds rows pulled before the
    # upgrade without them (an older app drops columns it does not know, and a server may have sent remarks
    # meanwhile), so it downloads everything once more, as after upgrade 2; a store already due for a full
    # download (snapshot not done, e.g. just through upgrade 2) keeps its generation.
    [
        "ALTER TABLE lab_reports ADD COLUMN comments",
        "ALTER TABLE lab_results ADD COLUMN comments",
        *(f"ALTER TABLE lab_reports ADD COLUMN {column}" for column in _CRITICAL_CALL_COLUMNS),
        "UPDATE sync_state SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'gen' AND EXISTS "
        "(SELECT 1 FROM sync_state WHERE key = 'snapshot_done' AND value = 'true')",
        "UPDATE sync_state SET value = 'null' WHERE key = 'cursor'",
        "UPDATE sync_state SET value = 'false' WHERE key = 'snapshot_done'",
    ],
    # 5: visit drafts the doctor has not signed yet: one per resident and condition, kept on the tablet only
    # (never synced) so a half-typed form survives an app kill. Older files keep every row; the table is new.
    [
        "CREATE TABLE drafts (resident_id TEXT NOT NULL, condition TEXT NOT NULL, form TEXT NOT NULL, "
        "updated_at TEXT NOT NULL, PRIMARY KEY (resident_id, condition))",
    ],
    # 6: referrals and their threads, and the specialists' directory (reference lists, as hospitals). The
    # server had cases before this upgrade that a synced tablet's cursor is past: download everything once
    # more (as upgrade 4 does), and the reference lists again (ref emptied).
    [
        _entity_ddl(REFERRALS),
        _entity_ddl(REFERRAL_MESSAGES),
        "CREATE INDEX ix_referrals_resident ON referrals (resident_id)",
        "CREATE INDEX ix_referral_messages_referral ON referral_messages (referral_id)",
        f"CREATE TABLE departments ({', '.join(c + ' TEXT PRIMARY KEY' if c == 'id' else c for c in DEPARTMENT_COLUMNS)})",
        f"CREATE TABLE specialists ({', '.join(c + ' TEXT PRIMARY KEY' if c == 'user_id' else c for c in SPECIALIST_COLUMNS)})",
        "UPDATE sync_state SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'gen' AND EXISTS "
        "(SELECT 1 FROM sync_state WHERE key = 'snapshot_done' AND value = 'true')",
        "UPDATE sync_state SET value = 'null' WHERE key = 'cursor'",
        "UPDATE sync_state SET value = 'false' WHERE key = 'snapshot_done'",
        "UPDATE sync_state SET value = 'null' WHERE key = 'ref'",
    ],
    # 7: who saved each outbox record (the member's user id, issue 18): on a tablet shared by a team each
    # member unlocks with their own PIN, and a record is pushed with its author's sign-in so the server signs
    # it in their name. Records saved before the upgrade have none and go up with the current sign-in.
    [
        "ALTER TABLE outbox ADD COLUMN member_id TEXT",
    ],
    # 8: follow-up forms kept without their empty boxes (read back whole: Store._decode). The store shrinks by
    # about a third on a full caseload; the file is vacuumed after the upgrade so the space is given back.
    [
        _compact_stored_forms,
    ],
]
