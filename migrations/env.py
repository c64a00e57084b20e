"""Alembic environment: URL from the caller (manage.py, tests) or DATABASE_URL; batch mode for SQLite."""
import os

from alembic import context

from server.db import make_engine

config = context.config


def _target_metadata():
    # Only autogenerate needs the live models; migrations themselves never import them.
    if context.get_x_argument(as_dictionary=True).get("autogenerate") or os.environ.get("ALEMBIC_AUTOGENERATE"):
        from server.models import Base
        return Base.metadata
    return None


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table on SQLite (copy, drop, rename); with foreign keys enforced (the
        # engine turns them on) dropping a table that other rows reference fails. Off while migrating, as
        # SQLite's own procedure for altering a table says (the pragma is ignored inside a transaction, so
        # before it begins), then every reference is checked before they are on again.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # The pragma opened SQLAlchemy's transaction; Alembic would take an open one for the caller's and
        # then commit nothing until the end, so a failing migration would also roll back the version rows
        # of the ones before it (whose DDL SQLite has already kept). Close it: each migration commits.
        connection.commit()
    try:
        context.configure(connection=connection, target_metadata=_target_metadata(),
                          render_as_batch=sqlite, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"migration left rows with broken references: {broken[:5]}")
    finally:
        if sqlite:
            if connection.in_transaction():
                connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


run_migrations_online()
