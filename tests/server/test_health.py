"""/healthz and /readyz (issue 15, deliverable 9): unauthenticated probes that carry no health data."""
from sqlalchemy import text

from server import create_app


def test_healthz_answers_without_a_token_or_the_database(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'no.db'}",
                      "DEVELOPMENT": True})
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_readyz_when_migrated(client):
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json() == {"status": "ready"}
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_readyz_refuses_an_unreachable_or_unmigrated_database(tmp_path):
    down = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none",
                       "DEVELOPMENT": True})
    r = down.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["errors"] == {"database": "unreachable"}
    assert r.headers["Retry-After"]
    empty = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}", "DEVELOPMENT": True})
    r = empty.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["errors"] == {"migrations": "not_at_head"}, r.get_json()


def test_readyz_sees_a_database_one_migration_behind(tmp_path):
    from alembic import command

    from server.manage import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    # readyz reads only Alembic's version table: stamped at head (not migrated, ~1 s of CPU), then set back.
    command.stamp(alembic_config(url), "heads")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DEVELOPMENT": True})
    assert app.test_client().get("/readyz").status_code == 200
    with app.extensions["db_engine"].begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0002' WHERE version_num = 'a001'"))
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["errors"] == {"migrations": "not_at_head"}
