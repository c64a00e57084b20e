"""The tablet's print queue (fieldapp.printjobs over printing's PrintQueue): jobs kept in the store's file,
a printer that is off or out of paper retried until it answers, the problem in plain words meanwhile."""
from __future__ import annotations

import queue
import sqlite3

from fieldapp.printjobs import TabletPrinter
from fieldapp.store import Store
from printing.errors import PaperOut, PrinterOffline, PrinterSettingError
from printing.queue import FAILED, PRINTED, QUEUED


class Flaky:
    """A printer that fails with the given errors, one per attempt, then prints."""

    def __init__(self, *errors):
        self.errors, self.printed = list(errors), []

    def __call__(self, setting):
        return self

    def send(self, data):
        if self.errors:
            raise self.errors.pop(0)
        self.printed.append(data)


def _news(printer_factory, store, **options):
    news: queue.Queue = queue.Queue()
    printer = TabletPrinter(store.connect, on_change=news.put, transport_factory=printer_factory,
                            backoff_base=0.05, backoff_max=0.2, **options)
    return printer, news


def test_a_job_waits_out_a_printer_that_is_off_then_out_of_paper(tmp_path):
    store = Store(str(tmp_path / "tablet.sqlite"))
    flaky = Flaky(PrinterOffline("no answer"), PaperOut("paper sensor"))
    printer, news = _news(flaky, store)
    job = printer.submit("serial:/dev/rfcomm0?baudrate=9600", b"\x1b@slip", "随访单 张三", "followup-slip:v1")
    first, second, third = (news.get(timeout=10) for _ in range(3))
    assert (first.status, second.status, third.status) == (QUEUED, QUEUED, PRINTED)
    assert "开机" in first.last_error and "没纸" in second.last_error  # the printer's plain words
    assert third.id == job.id and third.attempts == 3 and flaky.printed == [b"\x1b@slip"]
    printer.stop()
    # The job is a row of the store's own file (so it goes, and is protected, with the store).
    again = sqlite3.connect(store.path)
    assert again.execute("SELECT title, status, payload FROM print_job").fetchall() == [
        ("随访单 张三", PRINTED, b"\x1b@slip")]
    again.close()
    store.close()


def test_a_job_that_cannot_print_stops_and_is_printed_again_on_request(tmp_path):
    store = Store(str(tmp_path / "tablet.sqlite"))
    flaky = Flaky(PrinterSettingError("bad"), PaperOut("x"), PaperOut("x"))
    printer, news = _news(flaky, store, max_attempts=2)
    job = printer.submit("tcp:10.0.0.5:9100", b"data", "检验报告 1")
    failed = news.get(timeout=10)
    assert failed.status == FAILED and "设置" in failed.last_error  # not retryable: stops at once
    printer.retry(job.id)
    assert news.get(timeout=10).status == QUEUED  # out of paper: retried
    gave_up = news.get(timeout=10)
    assert gave_up.status == FAILED and "没纸" in gave_up.last_error  # max_attempts reached
    printer.retry(job.id)
    assert news.get(timeout=10).status == PRINTED and flaky.printed == [b"data"]
    # Printing a printed document again is a second copy, not an error.
    copy = printer.submit("tcp:10.0.0.5:9100", b"data", "检验报告 1", "lab-report:1")
    assert news.get(timeout=10).status == PRINTED
    assert printer.submit("tcp:10.0.0.5:9100", b"data", "检验报告 1", "lab-report:1").reprint_of == copy.id
    printer.stop()
    store.close()


def test_jobs_left_by_an_app_kill_are_there_at_the_next_start(tmp_path):
    path = str(tmp_path / "tablet.sqlite")
    store = Store(path)
    off = Flaky(*[PrinterOffline("off")] * 50)
    printer, news = _news(off, store)
    printer.submit("serial:/dev/rfcomm0?baudrate=9600", b"slip", "随访单 李四")
    assert news.get(timeout=10).status == QUEUED
    printer.stop()
    store.close()
    store = Store(path)
    on = Flaky()
    printer, news = _news(on, store)
    assert news.get(timeout=10).status == PRINTED and on.printed == [b"slip"]
    printer.stop()
    store.close()
