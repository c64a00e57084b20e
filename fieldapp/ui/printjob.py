"""Printing from the screens: every receipt is a job in the print queue kept in the store's file
(fieldapp.printjobs), sent by a worker; each outcome, in words a nurse understands, comes back on the main
thread through Clock to the screen that asked (and to the printer screen's job list)."""
from __future__ import annotations

import time
from typing import Callable

from kivy.clock import Clock

from fieldapp import printouts
from fieldapp.printjobs import TabletPrinter
from printing.errors import PrintingError
from printing.queue import FAILED, PRINTED, QUEUED, PrintJob

from .strings import t


class PrintDesk:
    """The app's printer worker and who waits for which job's news (all on the main thread)."""

    def __init__(self, session):
        self.listeners: dict[int, Callable[[PrintJob], None]] = {}
        self.watchers: list[Callable[[PrintJob], None]] = []
        self.printer = TabletPrinter(session.store.connect, on_change=self._from_worker)

    def _from_worker(self, job: PrintJob) -> None:
        Clock.schedule_once(lambda _dt: self._tell(job))

    def _tell(self, job: PrintJob) -> None:
        listener = self.listeners.get(job.id)
        if listener is not None:
            if job.status in (PRINTED, FAILED):
                del self.listeners[job.id]
            listener(job)
        for watcher in list(self.watchers):
            watcher(job)

    def stop(self) -> None:
        """Stop the worker (the app is closing); queued jobs stay in the store for the next start."""
        self.printer.stop()


def desk(app) -> PrintDesk:
    """The running app's PrintDesk, started on first use (a start does not pay for it)."""
    if getattr(app, "print_desk", None) is None:
        app.print_desk = PrintDesk(app.session)
    return app.print_desk


def job_words(job: PrintJob, done_text: str = "") -> str:
    """Where a job stands, in plain words (the printer's problem while it waits or after it gave up)."""
    if job.status == PRINTED:
        return done_text or t("job.printed")
    if job.status == QUEUED and job.last_error:
        seconds = max(1, round(job.next_attempt_at - time.time()))
        return t("print.retrying", problem=job.last_error, seconds=seconds)
    if job.status == FAILED:
        return t("print.failed", problem=job.last_error or "")
    return t("job." + job.status)


def submit_print(app, config: printouts.PrinterConfig, data: bytes, title: str, done_text: str,
                 show: Callable[[str], None], document_key: str | None = None) -> PrintJob | None:
    """Queue `data` for the configured printer; show() the job's news as it comes (None: bad settings)."""
    try:
        setting = config.setting()
    except PrintingError as err:
        show(str(err))
        return None
    the_desk = desk(app)
    job = the_desk.printer.submit(setting, data, title, document_key=document_key)
    the_desk.listeners[job.id] = lambda j: show(job_words(j, done_text))
    show(t("print.queued", title=title))
    return job
