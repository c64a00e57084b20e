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

from sqlalchemy import (JSON, Date, DateTime, Float, Integer, Numeric, Table, Text, and_, case, cast, func, select,
                        true, tuple_)
from sqlalchemy.sql import Select

from ..errors import Invalid
from ..followups.models import FollowUp
from ..households.models import ChronicCondition, Household, Resident
from ..labs.models import LabReport, LabResultRow
from ..referrals.models import Referral, ReferralMessage


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
    # How a snapshot walks the team's rows in order without sorting them all on every page: from the
    # team-scoped root table (households or residents, whose team_id it filters on) down to this table,
    # each step (table, the column naming its parent's id). Pages are keyset pages on the ids along the
    # path (resident, report, row), so PostgreSQL reads one page's rows through the parents' indexes instead
    # of joining and sorting all 32,000 visits or 112,000 result rows of the team for every page.
    path: tuple[tuple[Table, str | None], ...] = ()
    # Entities whose key the server numbers (thread messages): a record a tablet creates keeps the
    # tablet's UUID in this column, which is how a push finds it again; the tablet swaps its row for the
    # server's when the answer or a page brings it.
    client_key: str | None = None
    # A follow-up form column: a tablet that asks gets it without its empty boxes (services.pull), as the
    # record's compact_column holds it (the whole form where that is empty).
    form_column: str | None = None
    compact_column: str | None = None

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

    def page_scope(self, team: int, compact: bool = False) -> Select:
        """The team's rows as pull pages send them: JSON columns as their text, which the tablet stores as
        it is (decoding and re-encoding 250,000 forms and flag lists cost ~40% of a first sync); compact: the
        form column as its compact text (see _compact_form)."""
        q = self.scope(team)
        if not self.json_columns:
            return q
        return q.with_only_columns(*self._page_columns(self.table, compact), maintain_column_froms=False)

    def walk_page(self, team: int, after: tuple, limit: int, dialect: str, as_json: bool = False,
                  compact: bool = False) -> Select:
        """The next `limit` rows of the team after the keyset `after` (() = from the start), in path order:
        the entity's columns (as page_scope) followed by the path's ids k0, k1, ..., the next keyset.
        as_json (PostgreSQL): instead of the columns, one column `row`, the row as the JSON text of the array
        wire() makes of it (see json_row). compact: forms as tablets keep them (page_scope)."""
        root = self.path[0][0]
        if len(self.path) == 1:  # households, residents: an index on (team_id, ...) of their own
            ids = [root.c.id.label("k0")]
            cols = [self.json_row(root.c, compact)] if as_json else self._page_columns(root, compact)
            q = select(*cols, *ids).where(root.c.team_id == team)
        elif dialect == "postgresql":
            # Parent by parent through LATERAL subqueries (OFFSET 0 keeps each one a nested loop over its
            # parent's index): measured on 8 full teams, a follow-up page 55 ms instead of 700 (the planner
            # otherwise merges through every team's visits), a lab-result page 31 ms instead of 250.
            step = select(root.c.id.label("k0")).where(root.c.team_id == team)
            if after:
                step = step.where(root.c.id >= after[0])  # where the walk starts in the root's index
            src = step.order_by(root.c.id).subquery("p0")
            ids = [src.c.k0]
            for n, (table, parent_col) in enumerate(self.path[1:], start=1):
                own = table is self.table
                cols = [table.c.id.label(f"k{n}")] + ([self.json_row(table.c, compact)] if own and as_json else
                                                       self._page_columns(table, compact) if own else [])
                sub = (select(*cols).where(table.c[parent_col] == ids[-1]).order_by(table.c.id).offset(0)
                       .lateral(f"p{n}"))
                src = src.join(sub, true())
                ids.append(sub.c[f"k{n}"])
            cols = [sub.c.row] if as_json else [sub.c[c] for c in self.columns]
            q = select(*cols, *ids).select_from(src)
        else:
            # SQLite (tests, the demo): the same keyset over a plain join.
            tables = [table for table, _ in self.path]
            ids = [t.c.id.label(f"k{n}") for n, t in enumerate(tables)]
            q = select(*self._page_columns(self.table, compact), *ids).select_from(root)
            for (parent, _), (table, parent_col) in zip(self.path, self.path[1:]):
                q = q.join(table, table.c[parent_col] == parent.c.id)
            q = q.where(root.c.team_id == team)
            ids = [t.c.id for t in tables]
        if after:
            q = q.where(tuple_(*ids) > tuple_(*after))
        return q.order_by(*ids).limit(limit)

    def encode_after(self, keys) -> str:
        """A keyset as the snapshot cursor carries it: the path's ids joined by commas (ids hold none)."""
        return ",".join(str(k) for k in keys)

    def decode_after(self, raw: str) -> tuple:
        """The keyset in a cursor; () (walk from the start) for an empty one, or for one a server before
        keyset paths wrote (a lone id of a child table): its rows come again, which a tablet applies as the
        same rows (a page is INSERT OR REPLACE), once, for a tablet caught mid-snapshot by the upgrade."""
        parts = raw.split(",") if raw else []
        if len(parts) != len(self.path):
            return ()
        try:
            return tuple(int(v) if isinstance(t.c.id.type, Integer) else v for (t, _), v in zip(self.path, parts))
        except ValueError:
            raise Invalid("The sync cursor is not one this server gave.", {"cursor": ["malformed"]}) from None

    def json_row(self, columns, compact: bool = False) -> object:
        """PostgreSQL: a row as JSON text, exactly the array wire() makes of it once encoded (dates and times as
        isoformat, decimals and integer ids as text, JSON columns as their text), labelled `row`. Built by
        PostgreSQL, a first sync's 182,000 rows skip psycopg's conversion to Python values, wire() and json.dumps
        (measured: ~3 s of the server's CPU, the most of it). tests/sync/test_snapshot_pages.py holds the two
        forms equal on PostgreSQL, column type by column type. compact: the form as page_scope gives it."""
        return cast(func.json_build_array(*[self._compact_form(columns) if compact and c == self.form_column
                                            else self._wire_sql(columns[c]) for c in self.columns]), Text).label("row")

    def _compact_form(self, columns):
        """The form as tablets keep it, stored with the record; the whole form's text where a bulk writer left
        that empty (gpcore's full_form reads a whole form as it is, so the tablet sees the same either way)."""
        return func.coalesce(columns[self.compact_column], cast(columns[self.form_column], Text))

    def _wire_sql(self, col):
        kind = getattr(col.type, "impl", col.type)
        decimal_ = isinstance(kind, Numeric) and kind.asdecimal  # not Float (a Numeric): a JSON number
        if col.name in self.json_columns or col.name in self.text_columns or decimal_:
            return cast(col, Text)  # numeric's text is to_wire's format(value, "f")
        if isinstance(kind, DateTime):
            # isoformat: microseconds only when there are some; a moment in UTC whatever the session's time
            # zone, as to_wire writes it (a tablet orders times as text: one offset for all). The fraction is
            # the text's only '.', so only '.000000' is dropped.
            if kind.timezone:
                text = func.to_char(func.timezone("UTC", col), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
            else:
                text = func.to_char(col, 'YYYY-MM-DD"T"HH24:MI:SS.US')
            return func.replace(text, ".000000", "")
        if isinstance(kind, Date):
            return func.to_char(col, "YYYY-MM-DD")
        if isinstance(kind, Float):
            # PostgreSQL writes a whole float8 as 7, json.dumps as 7.0: the tablet would store INTEGER 7 from a
            # snapshot and REAL 7.0 from a change page. Whole values get their '.0' as Python writes them.
            whole = and_(col == func.trunc(col), func.abs(col) < 1e15)
            return case((whole, cast(func.concat(cast(col, Text), ".0"), JSON)), else_=func.to_json(col))
        return col

    def _page_columns(self, table: Table, compact: bool = False) -> list:
        return [self._compact_form(table.c).label(c) if compact and c == self.form_column else
                cast(table.c[c], Text).label(c) if c in self.json_columns else table.c[c].label(c)
                for c in self.columns]

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
    """JSON-ready form of a column value: dates as ISO text (a moment in UTC, whatever time zone the database
    session read it in: a tablet orders times as text), Decimals as text, the rest as is."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        # Positional, as PostgreSQL writes numeric (str() would give '1E-7' for an unconstrained 0.0000001).
        return format(value, "f")
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
    "households", HH, HOUSEHOLD_COLUMNS, team_column="team_id", path=((HH, None),),
    scope=lambda team: select(*_cols(HH, HOUSEHOLD_COLUMNS)).where(HH.c.team_id == team)))
register(SyncedEntity(
    "residents", RES, RESIDENT_COLUMNS, parent="households", parent_key="household_id", team_column="team_id",
    path=((RES, None),),
    scope=lambda team: select(*_cols(RES, RESIDENT_COLUMNS)).where(RES.c.team_id == team)))
register(SyncedEntity(
    "chronic_conditions", COND, CONDITION_COLUMNS, parent="residents", parent_key="resident_id",
    path=((RES, None), (COND, "resident_id")),
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
    path=((RES, None), (FU, "resident_id")), form_column="form", compact_column="form_compact",
    scope=lambda team: select(*_cols(FU, FOLLOWUP_COLUMNS)).join(RES, RES.c.id == FU.c.resident_id)
    .where(RES.c.team_id == team)))
register(SyncedEntity(
    "lab_reports", LREP, LAB_REPORT_COLUMNS, parent="residents", parent_key="resident_id",
    path=((RES, None), (LREP, "resident_id")),
    scope=lambda team: select(*_cols(LREP, LAB_REPORT_COLUMNS)).join(RES, RES.c.id == LREP.c.resident_id)
    .where(RES.c.team_id == team)))
register(SyncedEntity(
    "lab_results", LRES, LAB_RESULT_COLUMNS, parent="lab_reports", parent_key="report_id", int_id=True,
    text_columns=("id", "superseded_by_id"), path=((RES, None), (LREP, "resident_id"), (LRES, "report_id")),
    scope=lambda team: select(*_cols(LRES, LAB_RESULT_COLUMNS)).join(LREP, LREP.c.id == LRES.c.report_id)
    .join(RES, RES.c.id == LREP.c.resident_id).where(RES.c.team_id == team)))

REF, RMSG = Referral.__table__, ReferralMessage.__table__
# A team's cases as the team's API shows them (scope.referrals_visible: the team that sent the case and
# follows it up), with the forms, the answer and the return form; the state comes back from the server.
REFERRAL_COLUMNS = ("id", "resident_id", "team_id", "center_id", "created_by", "hospital_id", "department",
                    "specialist_id", "owner_id", "state", "info_from", "urgency", "kind", "form", "lab_report_ids",
                    "answer", "return_form", "sent_on", "response_due", "answered_on", "follow_up_due",
                    "closing_followup_id", "created_at", "updated_at", "version")
# The thread, append-only: messages and every transition with its text (reason, question, answer).
REFERRAL_MESSAGE_COLUMNS = ("id", "referral_id", "at", "author_id", "author_name", "author_role", "kind", "text",
                            "state_after", "client_id")

register(SyncedEntity(
    "referrals", REF, REFERRAL_COLUMNS, team_column="team_id", path=((REF, None),),
    scope=lambda team: select(*_cols(REF, REFERRAL_COLUMNS)).where(REF.c.team_id == team)))
register(SyncedEntity(
    "referral_messages", RMSG, REFERRAL_MESSAGE_COLUMNS, parent="referrals", parent_key="referral_id",
    append_only=True, int_id=True, text_columns=("id",), client_key="client_id",
    path=((REF, None), (RMSG, "referral_id")),
    scope=lambda team: select(*_cols(RMSG, REFERRAL_MESSAGE_COLUMNS)).join(REF, REF.c.id == RMSG.c.referral_id)
    .where(REF.c.team_id == team)))
