"""The tablet's printing: every receipt goes through printing's PrintQueue, its jobs kept in the store's
file, sent by one worker thread; a printer that is off, out of reach or out of paper is tried again with
back-off until it answers, and the problem is told in the printer's plain words meanwhile (plain Python;
the screens forward `on_change` to the main thread).

    printer = TabletPrinter(store.connect, on_change=lambda job: ...)
    job = printer.submit(config.setting(), data, "随访单 张三", document_key="followup-slip:<id>")
    printer.retry(job.id)           # a job that gave up (or was cut short by an app kill)
    printer.stop()
"""
from __future__ import annotations

import threading
from typing import Callable

from printing.errors import NeedsConfirmation
from printing.queue import FAILED, PRINTED, QUEUED, SENDING, PrintJob, PrintQueue

# On a doorstep a printer is usually just switched on late or refilled: try for a few minutes, not hours.
MAX_ATTEMPTS = 8
BACKOFF_BASE = 2.0
BACKOFF_MAX = 30.0
STATES = (QUEUED, SENDING, PRINTED, FAILED)


class TabletPrinter:
    """A PrintQueue on the store's file and the worker that sends its jobs."""

    def __init__(self, connect: Callable, on_change: Callable[[PrintJob], None] | None = None,
                 transport_factory: Callable | None = None, **queue_options):
        options = dict(max_attempts=MAX_ATTEMPTS, backoff_base=BACKOFF_BASE, backoff_max=BACKOFF_MAX)
        options.update(queue_options)
        if transport_factory is not None:
            options["transport_factory"] = transport_factory
        self.queue = PrintQueue("store", connect=connect, **options)
        self.on_change = on_change or (lambda job: None)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, daemon=True, name="printer")
        self._worker.start()

    def submit(self, printer: str, data: bytes, title: str, document_key: str | None = None) -> PrintJob:
        """Save a job (before anything is sent) and wake the worker. A document still waiting is not queued
        twice; one already printed is printed again (the doctor pressed print again: a second copy)."""
        try:
            job = self.queue.submit(data, printer, title=title, document_key=document_key)
        except NeedsConfirmation:
            job = self.queue.submit(data, printer, title=title, document_key=document_key, confirm_reprint=True)
        self._wake.set()
        return job

    def retry(self, job_id: int) -> PrintJob:
        """Queue a failed job again now (confirmed: the doctor asked for it)."""
        job = self.queue.reprint(job_id, confirm=True)
        self._wake.set()
        return job

    def jobs(self, limit: int = 10) -> list[PrintJob]:
        """The latest jobs, newest first."""
        return self.queue.jobs()[:limit]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker (a job being sent is finished first) and close the queue's connection."""
        self._stopping.set()
        self._wake.set()
        self._worker.join(timeout)
        if not self._worker.is_alive():
            self.queue.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            # One job at a time, each outcome told as soon as it is known.
            while not self._stopping.is_set() and (done := self.queue.process_due(limit=1)):
                self.on_change(done[0])
            due = self.queue.next_due_at()
            # Sleep until the next retry is due, or a new job (or stop) wakes us.
            self._wake.wait(None if due is None else max(0.05, due - self.queue.clock()))
