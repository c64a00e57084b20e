"""The durable print queue: saved before sending, retried with back-off, reprints need confirmation."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from printing import (FAILED, PRINTED, QUEUED, NeedsConfirmation, PaperOut, PrinterError, PrinterOffline,
                      PrintQueue, Transport)
from printing.queue import INTERRUPTED_REASON

REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class ScriptedPrinter(Transport):
    """Records what it was sent; raises the scripted errors first."""

    def __init__(self, errors=()):
        super().__init__()
        self.errors = list(errors)
        self.sent: list[bytes] = []

    def send(self, data):
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(data)


@pytest.fixture
def clock():
    return Clock()


def make_queue(path, printer, clock, **kw):
    return PrintQueue(path, transport_factory=lambda setting: printer, clock=clock, **kw)


def test_job_is_saved_then_printed(tmp_path, clock):
    printer = ScriptedPrinter()
    q = make_queue(tmp_path / "q.db", printer, clock)
    job = q.submit(b"\x1b@receipt", "file:/dev/null", title="检验报告单 张秀英", document_key="lab:LR-1")
    assert job.status == QUEUED and job.attempts == 0
    assert printer.sent == []  # saving never sends
    [done] = q.process_due()
    assert done.status == PRINTED and done.printed_at == clock.now and done.attempts == 1
    assert printer.sent == [b"\x1b@receipt"]


def test_transient_failures_are_retried_with_growing_back_off(tmp_path, clock):
    printer = ScriptedPrinter([PrinterOffline("bt"), PaperOut("paper"), PrinterOffline("bt")])
    q = make_queue(tmp_path / "q.db", printer, clock, backoff_base=2, backoff_max=60)
    job = q.submit(b"x", "serial:/dev/rfcomm0")
    waits = []
    for _ in range(3):
        [failed] = q.process_due()
        assert failed.status == QUEUED and failed.last_error
        waits.append(failed.next_attempt_at - clock.now)
        assert q.process_due() == []  # not due yet
        clock.now = failed.next_attempt_at
    assert waits == [2, 4, 8]
    assert "没纸" in q.get(job.id).last_error or "连接不上" in q.get(job.id).last_error
    [done] = q.process_due()
    assert done.status == PRINTED and done.attempts == 4 and done.last_error is None


def test_job_fails_after_max_attempts_with_the_reason(tmp_path, clock):
    printer = ScriptedPrinter([PrinterOffline("bt")] * 10)
    q = make_queue(tmp_path / "q.db", printer, clock, max_attempts=3)
    job = q.submit(b"x", "serial:/dev/rfcomm0")
    for _ in range(3):
        q.process_due()
        clock.now += 100
    final = q.get(job.id)
    assert final.status == FAILED and final.attempts == 3 and "连接不上打印机" in final.last_error
    assert q.process_due() == []


def test_fault_that_retrying_cannot_fix_fails_at_once(tmp_path, clock):
    q = make_queue(tmp_path / "q.db", ScriptedPrinter([PrinterError("cutter")]), clock)
    q.submit(b"x", "tcp:10.0.0.9")
    [job] = q.process_due()
    assert job.status == FAILED and job.attempts == 1 and "故障" in job.last_error


def test_unexpected_exception_does_not_leave_a_job_sending(tmp_path, clock):
    q = make_queue(tmp_path / "q.db", ScriptedPrinter([RuntimeError("bug")]), clock)
    q.submit(b"x", "tcp:10.0.0.9")
    [job] = q.process_due()
    assert job.status == FAILED


def test_printing_a_printed_document_again_needs_confirmation(tmp_path, clock):
    printer = ScriptedPrinter()
    q = make_queue(tmp_path / "q.db", printer, clock)
    first = q.submit(b"r1", "file:x", document_key="lab:LR-1")
    # Pressing print twice before it went out does not make two copies.
    assert q.submit(b"r1", "file:x", document_key="lab:LR-1").id == first.id
    q.process_due()
    with pytest.raises(NeedsConfirmation) as err:
        q.submit(b"r1", "file:x", document_key="lab:LR-1")
    assert err.value.job_id == first.id and "已经打印过" in str(err.value)
    with pytest.raises(NeedsConfirmation):
        q.reprint(first.id)
    again = q.reprint(first.id, confirm=True)
    assert again.id != first.id and again.reprint_of == first.id and again.status == QUEUED
    q.process_due()
    third = q.submit(b"r1", "file:x", document_key="lab:LR-1", confirm_reprint=True)
    assert third.reprint_of is not None
    q.process_due()
    assert printer.sent == [b"r1", b"r1", b"r1"]
    assert len(q.jobs(PRINTED)) == 3


def test_failed_job_can_be_retried_without_confirmation(tmp_path, clock):
    q = make_queue(tmp_path / "q.db", ScriptedPrinter([PrinterError("x")]), clock)
    job = q.submit(b"x", "file:x")
    q.process_due()
    assert q.reprint(job.id).status == QUEUED
    assert q.process_due()[0].status == PRINTED


def _child(db, body):
    code = textwrap.dedent(f"""
        import sys, time
        from printing import PrintQueue, Transport
        {body}
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def test_job_saved_by_a_killed_process_is_still_there_and_prints(tmp_path):
    db = tmp_path / "q.db"
    child = _child(db, f"""
        q = PrintQueue({str(db)!r})
        q.submit(b"receipt-bytes", "file:{tmp_path}/paper.bin", document_key="lab:LR-9")
        print("saved", flush=True)
        time.sleep(60)
    """)
    try:
        assert child.stdout.readline().strip() == "saved"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    with PrintQueue(db) as q:
        [job] = q.jobs()
        assert job.status == QUEUED and q.recovered == []
        [done] = q.process_due()
    assert done.status == PRINTED
    assert (tmp_path / "paper.bin").read_bytes() == b"receipt-bytes"


@pytest.mark.parametrize("policy", ["flag", "retry"])
def test_job_interrupted_while_sending_is_flagged_or_retried_after_restart(tmp_path, policy):
    db = tmp_path / "q.db"
    child = _child(db, f"""
        class Stuck(Transport):
            def send(self, data):
                print("sending", flush=True)
                time.sleep(60)
        q = PrintQueue({str(db)!r}, transport_factory=lambda s: Stuck())
        q.submit(b"receipt-bytes", "file:{tmp_path}/paper.bin", document_key="lab:LR-9")
        q.process_due()
    """)
    try:
        assert child.stdout.readline().strip() == "sending"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    with PrintQueue(db, interrupted=policy) as q:
        [job] = q.jobs()
        assert q.recovered == [job.id]
        if policy == "flag":
            assert job.status == FAILED and job.last_error == INTERRUPTED_REASON
            assert q.process_due() == []
            with pytest.raises(NeedsConfirmation):
                q.reprint(job.id)
            q.reprint(job.id, confirm=True)
        else:
            assert job.status == QUEUED
        [done] = q.process_due()
    assert done.status == PRINTED and (tmp_path / "paper.bin").read_bytes() == b"receipt-bytes"


def test_two_queues_on_one_file_do_not_send_a_job_twice(tmp_path, clock):
    printer = ScriptedPrinter()
    a = make_queue(tmp_path / "q.db", printer, clock)
    b = make_queue(tmp_path / "q.db", printer, clock)
    for i in range(20):
        a.submit(f"job{i}".encode(), "file:x")
    import threading

    threads = [threading.Thread(target=q.process_due) for q in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(printer.sent) == sorted(f"job{i}".encode() for i in range(20))
