"""Migration f005 (issue 16): every follow-up record already stored gets its compact form (gpcore's
compact_text), batch by batch; one step down and up again. SQLite and PostgreSQL (TEST_DATABASE_URL)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from alembic import command

from gpcore.followup.compact import compact_text, full_form
from gpcore.followup.visits import DiabetesVisit, HypertensionVisit
from server.db import make_engine
from server.manage import alembic_config
from tests.server.test_migrations import empty_url, migration_module  # noqa: F401 (empty_url: a fixture, SQLite or PG)

DAY = dt.date(2026, 3, 2)
FORMS = [
    ("hypertension", HypertensionVisit(visit_date=DAY, visit_mode=1, sbp=150, dbp=92, symptoms=[1]).to_dict()),
    ("t2dm", DiabetesVisit(visit_date=DAY, visit_mode=3, fpg_mmol=7.0, doctor="王医生").to_dict()),
    ("hypertension", {"visit_date": DAY.isoformat(), "visit_mode": 1}),  # not a form to_dict made: kept as it is
    ("t2dm", {"date": DAY.isoformat(), "reason": "外出务工，联系不上"}),  # a lost entry's data
]
FOLLOWUPS = sa.table("followups", *[sa.column(n) for n in (
    "id", "resident_id", "condition", "kind", "original_id", "revision", "visit_date", "emergency", "referred",
    "missing_count", "received_at", "signed_by", "content_hash")], sa.column("form", sa.JSON),
    sa.column("missing_fields", sa.JSON), sa.column("disagreement", sa.JSON))


def _records(engine, copies: int) -> None:
    """A resident of a team (with what it needs) and `copies` records of each form in FORMS."""
    with engine.begin() as conn:
        for statement in (
                "INSERT INTO centers (id, code, name, county_code, township_code, township_name) "
                "VALUES (1, 'C1', '中心', '310115', '001', '街道')",
                "INSERT INTO committees (id, center_id, code, name, last_serial) VALUES (1, 1, '001', '居委', 0)",
                "INSERT INTO teams (id, center_id, name) VALUES (1, 1, '一队')",
                "INSERT INTO users (id, username, password_hash, full_name, role, is_active, is_team_leader, "
                "team_id, created_at) VALUES (1, 'gp', 'x', '医生', 'gp', true, true, 1, CURRENT_TIMESTAMP)",
                "INSERT INTO households (id, center_id, committee_id, team_id, address, created_at, updated_at, "
                "version) VALUES ('h1', 1, 1, 1, '某路1号', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
                "INSERT INTO residents (id, household_id, team_id, center_id, record_number, name, name_pinyin, "
                "name_initials, sex, birth_date, payment_methods, drug_allergies, exposures, past_diseases, "
                "procedures, family_history, disabilities, status, created_at, updated_at, version) VALUES "
                "('r1', 'h1', 1, 1, '31011500100100001', '张三', 'zhang san', 'zs', '1', '1950-01-01', '[]', '[]', "
                "'[]', '[]', '[]', '[]', '[]', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"):
            conn.execute(sa.text(statement))
        rows = []
        for n in range(copies):
            for k, (condition, form) in enumerate(FORMS):
                rid = f"fu-{n:04d}-{k}"
                rows.append(dict(id=rid, resident_id="r1", condition=condition, kind="visit", original_id=rid,
                                 revision=0, visit_date=DAY, emergency=False, referred=False, missing_count=0,
                                 received_at=dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc), signed_by=1,
                                 content_hash="x", form=form, missing_fields=[], disagreement=[]))
        conn.execute(FOLLOWUPS.insert(), rows)


def _at_f005(url: str, copies: int):
    """The database at f004 with `copies` of FORMS' records, then upgraded to f005; (alembic config, engine)."""
    cfg = alembic_config(url)
    command.upgrade(cfg, "f004")
    engine = make_engine(url)
    _records(engine, copies)
    command.upgrade(cfg, "f005")
    return cfg, engine


def _compact_forms(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT id, form_compact FROM followups")).all())


def _expected(copies: int) -> dict:
    return {f"fu-{n:04d}-{k}": compact_text(condition, form)
            for n in range(copies) for k, (condition, form) in enumerate(FORMS)}


def _same_values(got: dict, expected: dict) -> None:
    """As JSON values: PostgreSQL's jsonb gives the form back with its keys in its own order."""
    assert got.keys() == expected.keys()
    assert {k: json.loads(v) for k, v in got.items() if v is not None} == {k: json.loads(v) for k, v in expected.items()}


def test_f005_fills_every_record_and_steps_down_and_up(empty_url):  # noqa: F811
    cfg, engine = _at_f005(empty_url, copies=3)
    got = _compact_forms(engine)
    _same_values(got, _expected(3))
    compact_visit = json.loads(got["fu-0000-0"])
    assert "heart_rate" not in compact_visit and full_form("hypertension", compact_visit) == FORMS[0][1]
    assert json.loads(got["fu-0000-3"]) == FORMS[3][1]  # an entry's data as it was
    if engine.dialect.name == "postgresql":  # the append-only trigger is on again
        with pytest.raises(sa.exc.DBAPIError, match="signed records"), engine.begin() as conn:
            conn.execute(sa.text("UPDATE followups SET sbp = 1"))
    command.downgrade(cfg, "f004")
    assert "form_compact" not in {c["name"] for c in sa.inspect(engine).get_columns("followups")}
    command.upgrade(cfg, "f005")
    _same_values(_compact_forms(engine), _expected(3))
    engine.dispose()


def test_f005_fills_batch_by_batch(empty_url):  # noqa: F811
    """The batches (tiny here) reach every record once: PostgreSQL's by page ranges, SQLite's by id."""
    _, engine = _at_f005(empty_url, copies=40)
    f005 = migration_module("f005")
    f005.BATCH_PAGES, f005.BATCH_ROWS = 1, 7
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # past the append-only trigger
            conn.execute(sa.text("UPDATE followups SET form_compact = NULL"))
            conn.execute(sa.text("SET LOCAL session_replication_role = origin"))
            pages = conn.execute(sa.text("SELECT pg_relation_size('followups') / 8192")).scalar_one()
            assert pages > 2  # more than one batch
            f005._fill_postgresql(conn)
        else:
            conn.execute(sa.text("UPDATE followups SET form_compact = NULL"))
            f005._fill_by_id(conn)
    _same_values(_compact_forms(engine), _expected(40))
    engine.dispose()
