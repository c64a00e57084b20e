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

from sqlalchemy import Table, select
from sqlalchemy.sql import Select

from ..households.models import ChronicCondition, Household, Resident


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

    def wire(self, row) -> list:
        """A row as JSON-ready values, in column order."""
        return [to_wire(v) for v in row]


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
