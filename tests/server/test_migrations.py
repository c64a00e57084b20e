"""Migrations from empty to head match the models, and step down and up again, on SQLite and PostgreSQL."""
import os
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import load_python_file
from sqlalchemy import inspect, text

from server.db import make_engine
from server.manage import alembic_config, migrate
from server.models import Base


@pytest.fixture
def empty_url(tmp_path):
    pg = os.environ.get("TEST_DATABASE_URL")
    if not pg:
        yield f"sqlite:///{tmp_path / 'mig.db'}"
        return
    name = f"gpo_mig_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg.rsplit("/", 1)[0] + "/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def migration_module(revision: str):
    """A fresh copy of a migration script as a module (Alembic's own loader), so a test can call its helpers
    and change its settings without touching the copy the run's migrations use."""
    path = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision).path
    return load_python_file(os.path.dirname(path), os.path.basename(path))


def diff(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        result = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return result


def test_empty_to_head_matches_models_then_down_and_up_then_down_to_nothing(empty_url):
    migrate(empty_url)
    assert diff(empty_url) == []
    cfg = alembic_config(empty_url)
    script = ScriptDirectory.from_config(cfg)
    heads = set(script.get_heads())
    # Domains keep their own branches: step each head down by one revision, then back up. "<head>@-1" takes off
    # that revision alone; "<head>-1" names its parent, and a downgrade to a parent that other branches grow
    # from took all of those off too (for a child of 0002, nearly the whole tree, ten times over).
    for head in sorted(heads):
        command.downgrade(cfg, f"{head}@-1")
        left = current(empty_url)
        assert head not in left and heads - {head} <= left, (head, left)
        migrate(empty_url)
        assert current(empty_url) == heads
    assert diff(empty_url) == []
    # Every downgrade, to the bottom (on the database just checked, rather than on another migrated anew).
    command.downgrade(cfg, "base")
    engine = make_engine(empty_url)
    left = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert left == set()


def current(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        revs = set(MigrationContext.configure(conn).get_current_heads())
    engine.dispose()
    return revs


def test_a_failing_migration_keeps_the_ones_before_it_on_sqlite(tmp_path):
    """SQLite keeps DDL at once, so each migration must commit its version row as it goes: when a later one
    fails, the database says where it is and the next `migrate` (make run) goes on from there."""
    import shutil

    scripts = tmp_path / "migrations"
    shutil.copytree(alembic_config("sqlite://").get_main_option("script_location"), scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "zz_fails.py").write_text(
        'from alembic import op\nimport sqlalchemy as sa\n'
        'revision = "zz_fails"\ndown_revision = "0004"\nbranch_labels = None\ndepends_on = None\n'
        'def upgrade():\n    op.create_table("zz_half", sa.Column("id", sa.Integer, primary_key=True))\n'
        '    raise RuntimeError("this migration fails")\n'
        'def downgrade():\n    pass\n')
    url = f"sqlite:///{tmp_path / 'half.db'}"
    cfg = alembic_config(url)
    cfg.set_main_option("script_location", str(scripts))
    with pytest.raises(RuntimeError, match="this migration fails"):
        command.upgrade(cfg, "heads")
    # 0004 is kept (its version row, or a later revision's that Alembic ran on top of it before this one).
    script = ScriptDirectory.from_config(cfg)
    kept = current(url)
    assert "zz_fails" not in kept
    assert any("0004" in {r.revision for r in script.iterate_revisions(rev, "base")} for rev in kept)
    (scripts / "versions" / "zz_fails.py").unlink()
    migrate(url)  # the real scripts: nothing left to do but the other branches' heads
    assert current(url) == set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
