"""Which records sync, how a team's scope reaches them, and how an uploaded record is applied.

Registering another entity is a few lines: its table, the columns tablets get, how to find its team
(`scope`), its parent (so a household's reassignment carries it along) and, if tablets may upload it, a
push handler (server/sync/push.py). Append-only entities (follow-up visits) only ever get 'create'.
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import JSON, Date, DateTime, Numeric, Table, Text, cast, select
from sqlalchemy.sql import Select

from ..followups.models import FollowUp
from ..households.models import ChronicCondition, Household, Resident
from ..labs.models import LabReport, LabResultRow


@dataclass
class SyncedEntity:
    """One synced record type."""

    name: str                          # on the wire and in the tablet store
    table: Table
    columns: tuple[str, ...]           # what tablets receive, in this order
    # (table, team_id) -> a select of this table's rows in the team, columns in self.columns order
    scope: Callable[[int], Select]
    parent: str | None = None          # entity whose scope this one follows
    parent_key: str | None = None      # column naming the parent's id
    team_column: str | None = None     # a column of its own holding the team (fast path for events)
    push: object | None = None         # a push handler, or None for pull-only entities
    append_only: bool = False
    order: int = 0                     # snapshot order: parents before children
    children: list[str] = field(default_factory=list)
    # Integer keys (lab result rows): the change log and the tablet hold ids as text, so these columns
    # go on the wire as text and ids from the log are turned back into numbers for queries.
    int_id: bool = False
    text_columns: tuple[str, ...] = ()

    def __post_init__(self):
        self._text_idx = [self.columns.index(c) for c in self.text_columns]
        # Only dates, times and decimals need converting (measured: converting every value of a first sync
        # cost seconds); JSON columns go on pull pages as their JSON text (see page_scope).
        self._convert_idx = [i for i, c in enumerate(self.columns)
                             if isinstance(getattr(self.table.c[c].type, "impl", self.table.c[c].type),
                                           (Date, DateTime, Numeric))]
        self.json_columns = tuple(c for c in self.columns if isinstance(self.table.c[c].type, JSON))

    def wire(self, row) -> list:
        """A row as JSON-ready values, in column order."""
        out = list(row)
        for i in self._convert_idx:
            if out[i] is not None:
                out[i] = to_wire(out[i])
        for i in self._text_idx:
            if out[i] is not None:
                out[i] = str(out[i])
        return out

    def page_scope(self, team: int) -> Select:
        """The team's rows as pull pages send them: JSON columns as their text, which the tablet stores as
        it is (decoding and re-encoding 250,000 forms and flag lists cost ~40% of a first sync)."""
        q = self.scope(team)
        if not self.json_columns:
            return q
        return q.with_only_columns(*[cast(self.table.c[c], Text) if c in self.json_columns else self.table.c[c]
                                     for c in self.columns], maintain_column_froms=False)

    def key(self, entity_id: str):
        """An id as the change log holds it (text) -> as the table's key column compares."""
        return int(entity_id) if self.int_id else entity_id


REGISTRY: dict[str, SyncedEntity] = {}
BY_TABLE: dict[str, SyncedEntity] = {}


def register(entity: SyncedEntity) -> SyncedEntity:
    """Add an entity to the registry (parents first)."""
    entity.order = len(REGISTRY)
    REGISTRY[entity.name] = entity
    BY_TABLE[entity.table.name] = entity
    if entity.parent:
        REGISTRY[entity.parent].children.append(entity.name)
    return entity


def to_wire(value):
    """JSON-ready form of a column value: dates as ISO text, Decimals as text, the rest as is."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _cols(table: Table, names: tuple[str, ...]):
    return [table.c[n] for n in names]


HH, RES, COND = Household.__table__, Resident.__table__, ChronicCondition.__table__

HOUSEHOLD_COLUMNS = ("id", "center_id", "committee_id", "team_id", "address", "phone", "head_id",
                     "kitchen_exhaust", "fuel", "water", "toilet", "livestock_pen", "health_problems",
                     "version", "updated_at")
RESIDENT_COLUMNS = (
    "id", "household_id", "team_id", "center_id", "record_number", "id_number", "name", "name_pinyin",
    "name_initials", "sex", "birth_date", "relation_to_head", "phone", "employer", "contact_name",
    "contact_phone", "residence_type", "ethnicity", "ethnicity_name", "blood_abo", "blood_rh", "education",
    "occupation", "marital_status", "payment_methods", "drug_allergies", "drug_allergy_other", "exposures",
    "past_diseases", "procedures", "family_history", "hereditary_disease", "disabilities", "status",
    "status_date", "death_cause", "responsible_doctor_id", "version", "updated_at")
CONDITION_COLUMNS = ("id", "resident_id", "condition", "diagnosed_on", "status", "status_date", "status_reason",
                     "version", "updated_at")

register(SyncedEntity(
    "households", HH, HOUSEHOLD_COLUMNS, team_column="team_id",
    scope=lambda team: select(*_cols(HH, HOUSEHOLD_COLUMNS)).where(HH.c.team_id == team)))
register(SyncedEntity(
    "residents", RES, RESIDENT_COLUMNS, parent="households", parent_key="household_id", team_column="team_id",
    scope=lambda team: select(*_cols(RES, RESIDENT_COLUMNS)).where(RES.c.team_id == team)))
register(SyncedEntity(
    "chronic_conditions", COND, CONDITION_COLUMNS, parent="residents", parent_key="resident_id",
    scope=lambda team: select(*_cols(COND, CONDITION_COLUMNS)).join(RES, RES.c.id == COND.c.resident_id)
    .where(RES.c.team_id == team)))

FU, LREP, LRES = FollowUp.__table__, LabReport.__table__, LabResultRow.__table__
# What a screen shows of a signed record: the form as gpcore normalised it and the server's decisions.
# Left out: the full assessment text, the tablet's own assessment, the content hash (server bookkeeping).
FOLLOWUP_COLUMNS = ("id", "resident_id", "condition", "kind", "original_id", "revision", "amends_id",
                    "amendment_reason", "visit_date", "visit_mode", "sbp", "dbp", "fpg_mmol", "classification",
                    "bp_controlled", "fpg_controlled", "emergency", "referral", "referred", "next_visit_date",
                    "form", "recorded_at", "received_at", "signed_by")
# comments: the lab's remarks (HL7 NTE); a doctor reading a high potassium on the tablet must see "标本溶血".
LAB_REPORT_COLUMNS = ("id", "resident_id", "hospital_id", "filler_no", "panel_code", "panel_name",
                      "specimen_type", "collected_at", "reported_at", "status", "critical", "abnormal",
                      "changed_at", "comments", "critical_call_at", "critical_call_noted_at",
                      "critical_call_covers", "critical_call_note")
# Every row, superseded ones too: a correction is a new row and the old one points to it.
LAB_RESULT_COLUMNS = ("id", "report_id", "position", "code", "name", "value_type", "value_text", "value_num",
                      "comparator", "unit", "range_text", "range_low", "range_high", "flags", "critical",
                      "abnormal", "status", "observed_at", "superseded_by_id", "comments")

register(SyncedEntity(
    "followups", FU, FOLLOWUP_COLUMNS, parent="residents", parent_key="resident_id", append_only=True,
    scope=lambda team: select(*_cols(FU, FOLLOWUP_COLUMNS)).join(RES, RES.c.id == FU.c.resident_id)
    .where(RES.c.team_id == team)))
register(SyncedEntity(
    "lab_reports", LREP, LAB_REPORT_COLUMNS, parent="residents", parent_key="resident_id",
    scope=lambda team: select(*_cols(LREP, LAB_REPORT_COLUMNS)).join(RES, RES.c.id == LREP.c.resident_id)
    .where(RES.c.team_id == team)))
register(SyncedEntity(
    "lab_results", LRES, LAB_RESULT_COLUMNS, parent="lab_reports", parent_key="report_id", int_id=True,
    text_columns=("id", "superseded_by_id"),
    scope=lambda team: select(*_cols(LRES, LAB_RESULT_COLUMNS)).join(LREP, LREP.c.id == LRES.c.report_id)
    .join(RES, RES.c.id == LREP.c.resident_id).where(RES.c.team_id == team)))
