"""A durable print queue: each job is saved to SQLite before it is sent, and its outcome recorded.

Jobs hold the finished ESC/POS bytes, so what prints is exactly what was previewed. Transient failures
(printer out of reach, paper out, cover open) are retried with exponential back-off; other failures, or
too many attempts, leave the job 'failed' with the reason in words a nurse understands.

A job found 'sending' when the queue opens was interrupted mid-send (the app was killed or the tablet
died): the printer may or may not have printed it. By default it is marked failed with a reason asking to
check the paper, because a second copy of a lab report is a second copy of someone's health data; with
interrupted='retry' it is queued again instead.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from printing.errors import NeedsConfirmation, PrintingError
from printing.transports import Transport, open_transport

QUEUED, SENDING, PRINTED, FAILED = "queued", "sending", "printed", "failed"
INTERRUPTED_REASON = "打印时程序中断，不确定是否已打印。请查看打印机是否已出单；没有出单的请点“重打”。"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS print_job (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    document_key TEXT,
    printer TEXT NOT NULL,
    payload BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'printed', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    reprint_of INTEGER REFERENCES print_job(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    printed_at REAL
);
CREATE INDEX IF NOT EXISTS ix_print_job_due ON print_job (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS ix_print_job_document_key ON print_job (document_key);
"""


@dataclass(frozen=True)
class PrintJob:
    """One saved print job and where it stands."""

    id: int
    title: str
    document_key: str | None
    printer: str
    payload: bytes
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    reprint_of: int | None
    created_at: float
    updated_at: float
    printed_at: float | None


class PrintQueue:
    """Jobs in a SQLite file, sent through transports made from each job's printer setting."""

    def __init__(self, path: str | Path, *, transport_factory: Callable[[str], Transport] = open_transport,
                 clock: Callable[[], float] = time.time, max_attempts: int = 5, backoff_base: float = 2.0,
                 backoff_max: float = 60.0, interrupted: str = "flag",
                 connect: Callable[[], sqlite3.Connection] | None = None):
        if interrupted not in ("flag", "retry"):
            raise ValueError("interrupted must be 'flag' or 'retry'")
        self.path = str(path)
        self.transport_factory = transport_factory
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._lock = threading.Lock()
        # Autocommit mode; transactions are opened explicitly where several statements must hold together.
        # `connect` opens the connection instead (autocommit, usable from another thread): the tablet keeps its
        # jobs in its store's file through the store's own way of opening it.
        self._db = connect() if connect is not None else sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10)
        if self._db.row_factory is None:  # a given connection keeps its own (SQLCipher's Row is its own class)
            self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a saved job must survive a power cut
        self._db.executescript(_SCHEMA)
        self.recovered = self._recover_interrupted(interrupted)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> "PrintQueue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------- saving

    def submit(self, payload: bytes, printer: str, title: str = "", document_key: str | None = None,
               confirm_reprint: bool = False) -> PrintJob:
        """Save a job (before anything is sent) and return it.

        With a document_key (e.g. 'lab-report:LR-1'), a document already printed needs confirm_reprint,
        else NeedsConfirmation is raised; one still waiting or being sent is returned instead of a copy.
        """
        now = self.clock()
        with self._lock, self._transaction():
            reprint_of = None
            if document_key is not None:
                rows = self._db.execute(
                    "SELECT * FROM print_job WHERE document_key = ? ORDER BY id DESC", (document_key,)
                ).fetchall()
                pending = [r for r in rows if r["status"] in (QUEUED, SENDING)]
                if pending:
                    return _job(pending[0])
                printed = [r for r in rows if r["status"] == PRINTED]
                if printed:
                    if not confirm_reprint:
                        raise NeedsConfirmation(f"{document_key} already printed as job {printed[0]['id']}",
                                                job_id=printed[0]["id"])
                    reprint_of = printed[0]["id"]
            cur = self._db.execute(
                "INSERT INTO print_job (title, document_key, printer, payload, status, next_attempt_at, "
                "reprint_of, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (title, document_key, printer, bytes(payload), QUEUED, now, reprint_of, now, now))
            return self._get(cur.lastrowid)

    def reprint(self, job_id: int, confirm: bool = False) -> PrintJob:
        """Queue a job again. A job already printed needs confirm=True, else NeedsConfirmation is raised.

        A failed job is queued again as it is; a printed one gets a new job (marked reprint_of) so the
        record of what was printed stays.
        """
        now = self.clock()
        with self._lock, self._transaction():
            job = self._get(job_id)
            if job.status in (QUEUED, SENDING):
                return job
            if job.status == FAILED:
                if job.last_error == INTERRUPTED_REASON and not confirm:
                    # The interrupted job may be on paper already, so this is a reprint too.
                    raise NeedsConfirmation(f"job {job_id} was interrupted while sending", job_id=job_id)
                self._db.execute(
                    "UPDATE print_job SET status = ?, attempts = 0, next_attempt_at = ?, last_error = NULL, "
                    "updated_at = ? WHERE id = ?", (QUEUED, now, now, job_id))
                return self._get(job_id)
            if not confirm:
                raise NeedsConfirmation(f"job {job_id} already printed", job_id=job_id)
            cur = self._db.execute(
                "INSERT INTO print_job (title, document_key, printer, payload, status, next_attempt_at, "
                "reprint_of, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.title, job.document_key, job.printer, job.payload, QUEUED, now, job.id, now, now))
            return self._get(cur.lastrowid)

    # --------------------------------------------------------------------------------------- sending

    def process_due(self, limit: int | None = None) -> list[PrintJob]:
        """Send every job that is due now, oldest first; return them as they ended up."""
        done = []
        while limit is None or len(done) < limit:
            job = self._claim_next()
            if job is None:
                break
            done.append(self._send(job))
        return done

    def _claim_next(self) -> PrintJob | None:
        now = self.clock()
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT * FROM print_job WHERE status = ? AND next_attempt_at <= ? ORDER BY id LIMIT 1",
                (QUEUED, now)).fetchone()
            if row is None:
                return None
            # 'sending' is committed before the first byte leaves, so a crash mid-send is visible later.
            self._db.execute("UPDATE print_job SET status = ?, attempts = attempts + 1, updated_at = ? "
                             "WHERE id = ?", (SENDING, now, row["id"]))
            return self._get(row["id"])

    def _send(self, job: PrintJob) -> PrintJob:
        try:
            transport = self.transport_factory(job.printer)
            transport.send(job.payload)
        except PrintingError as exc:
            return self._record_failure(job, exc)
        except Exception as exc:  # a bug must not leave the job 'sending' for ever
            return self._record_failure(job, PrintingError(repr(exc)))
        now = self.clock()
        with self._lock:
            self._db.execute("UPDATE print_job SET status = ?, last_error = NULL, printed_at = ?, "
                             "updated_at = ? WHERE id = ?", (PRINTED, now, now, job.id))
            return self._get(job.id)

    def _record_failure(self, job: PrintJob, exc: PrintingError) -> PrintJob:
        now = self.clock()
        if exc.retryable and job.attempts < self.max_attempts:
            delay = min(self.backoff_max, self.backoff_base * 2 ** (job.attempts - 1))
            status, next_at = QUEUED, now + delay
        else:
            status, next_at = FAILED, job.next_attempt_at
        with self._lock:
            self._db.execute("UPDATE print_job SET status = ?, next_attempt_at = ?, last_error = ?, "
                             "updated_at = ? WHERE id = ?", (status, next_at, str(exc), now, job.id))
            return self._get(job.id)

    def _recover_interrupted(self, policy: str) -> list[int]:
        now = self.clock()
        with self._lock, self._transaction():
            ids = [r["id"] for r in self._db.execute("SELECT id FROM print_job WHERE status = ?", (SENDING,))]
            if policy == "retry":
                self._db.execute("UPDATE print_job SET status = ?, next_attempt_at = ?, updated_at = ? "
                                 "WHERE status = ?", (QUEUED, now, now, SENDING))
            else:
                self._db.execute("UPDATE print_job SET status = ?, last_error = ?, updated_at = ? "
                                 "WHERE status = ?", (FAILED, INTERRUPTED_REASON, now, SENDING))
            return ids

    # --------------------------------------------------------------------------------------- reading

    def get(self, job_id: int) -> PrintJob:
        """One job by id (KeyError when there is none)."""
        with self._lock:
            return self._get(job_id)

    def jobs(self, status: str | None = None) -> list[PrintJob]:
        """All jobs, newest first, optionally only those with one status."""
        with self._lock:
            if status is None:
                rows = self._db.execute("SELECT * FROM print_job ORDER BY id DESC").fetchall()
            else:
                rows = self._db.execute("SELECT * FROM print_job WHERE status = ? ORDER BY id DESC",
                                        (status,)).fetchall()
            return [_job(r) for r in rows]

    def next_due_at(self) -> float | None:
        """When the next queued job is due (None when nothing waits), so a worker knows how long to sleep."""
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt_at) FROM print_job WHERE status = ?",
                                   (QUEUED,)).fetchone()
            return row[0]

    def _get(self, job_id: int) -> PrintJob:
        row = self._db.execute("SELECT * FROM print_job WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, so two workers on one file never claim the same job."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *exc):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _job(row: sqlite3.Row) -> PrintJob:
    return PrintJob(**{k: row[k] for k in row.keys()})
