"""Backups that restore: the database copied whole, and put back with a new sync epoch.

A restore takes the server back to the moment of the dump, but the tablets went on: they hold visits the
server has now lost, and cursors past anything it knows. So every restore ends with a new epoch
(server/sync/services.new_epoch): at their next contact the tablets re-send everything they ever sent (the
server keeps what it lacks and answers "duplicate" for the rest) and download afresh. Nothing a tablet
recorded is lost, however old the dump.

PostgreSQL through pg_dump's custom format and pg_restore (the client tools of the server's major version);
SQLite (the demo) through SQLite's own online backup. Restore with the service stopped.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from . import db
from .sync.services import new_epoch


class BackupError(RuntimeError):
    """A dump or restore that did not complete; the message is for the operator."""


def _libpq_url(url: str) -> str:
    # pg_dump takes a libpq URI: postgresql://..., without SQLAlchemy's +driver.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def backup(url: str, out: Path) -> int:
    """Copy the database at `url` to the file `out`; returns its size in bytes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(out), _libpq_url(url)], "pg_dump")
    else:
        _sqlite_copy(_sqlite_path(url), out)
    return out.stat().st_size


def restore(url: str, dump: Path) -> str:
    """Put the dump back into the database at `url`, replacing what is there, and start a new sync epoch;
    returns the epoch."""
    dump = Path(dump)
    if not dump.is_file():
        raise BackupError(f"no backup file {dump}")
    if make_url(url).get_backend_name() == "postgresql":
        # One transaction: a restore that fails half-way leaves the database as it was.
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
              "--dbname", _libpq_url(url), str(dump)], "pg_restore")
    else:
        _sqlite_copy(dump, _sqlite_path(url))
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            return new_epoch(conn)
    finally:
        engine.dispose()


def _sqlite_copy(source_path: Path, target_path: Path) -> None:
    # SQLite's online backup: a consistent copy even while another connection reads.
    source, target = sqlite3.connect(source_path), sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


def _run(cmd: list[str], tool: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise BackupError(f"{tool} is not installed (Debian: postgresql-client of the server's version)")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        # The tool's own words, without the URL (it may hold a password).
        raise BackupError(f"{tool} failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode}")
