"""`python -m server.manage serve-production` (gunicorn) end to end: two worker processes on a real port, lab
messages posted over HTTP, each answered AA after it is stored, a resend answered with the same ACK."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.labs.models import LabMessage, LabResultRow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def production_server(db_url, feed):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "server.manage", "serve-production", "--port", str(port),
                             "--workers", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"server did not start: {proc.communicate()}")
            time.sleep(0.1)
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _post(port: int, key: str, raw: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/labs/hl7", data=raw, method="POST",
                                 headers={"X-Lab-Feed-Key": key, "Content-Type": "x-application/hl7-v2+er7"})
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.status, r.read()


def test_production_server_stores_then_acknowledges(production_server, feed, fixture_message, session,
                                                     ack_fields, zhang_san):
    utf8 = fixture_message("utf8-escapes-criticals-cr.hl7")
    gbk = fixture_message("gbk-no-msh18-crlf.hl7")
    status, first = _post(production_server, feed[1], utf8)
    assert status == 200 and ack_fields(first)[1:3] == ["AA", "B-1001"]
    status, other = _post(production_server, feed[1], gbk)
    assert status == 200 and ack_fields(other, "gb18030")[1:3] == ["AA", "GBK0001"]
    assert _post(production_server, feed[1], utf8) == (200, first)  # a resend, whichever worker: the same ACK
    session.expire_all()
    stored = session.scalars(select(LabMessage).order_by(LabMessage.received_at)).all()
    assert [(m.control_id, m.transport) for m in stored] == [("B-1001", "http"), ("GBK0001", "http")]
    assert stored[0].resident_id == zhang_san
    assert session.scalar(select(func.count()).select_from(LabResultRow)) == 11 + 3
