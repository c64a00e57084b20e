"""`python -m server.manage mllp` end to end over a real TCP socket on 127.0.0.1: frames in, stored, ACK out."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.labs.mllp import MLLPDecoder, encode_frame
from server.labs.models import LabMessage, LabResultRow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener(db_url, feed):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "server.manage", "mllp", "--port", str(port),
                             "--feed", str(feed[0])], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"listener did not start: {proc.communicate()}")
            time.sleep(0.1)
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _exchange(sock, raw: bytes) -> bytes:
    sock.sendall(encode_frame(raw))
    decoder = MLLPDecoder()
    while True:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the ACK"
        acks = decoder.feed(chunk)
        if acks:
            return acks[0]


def test_mllp_stores_and_acknowledges(listener, fixture_message, session, ack_fields, zhang_san):
    gbk = fixture_message("gbk-no-msh18-crlf.hl7")
    utf8 = fixture_message("utf8-escapes-criticals-cr.hl7")
    with socket.create_connection(("127.0.0.1", listener), timeout=20) as sock:
        first = _exchange(sock, gbk)
        assert ack_fields(first, "gb18030")[1:3] == ["AA", "GBK0001"]
        second = _exchange(sock, utf8)  # the same connection, the next message
        assert ack_fields(second)[1:3] == ["AA", "B-1001"]
        assert _exchange(sock, utf8) == second  # a resend: the same ACK
        rejected = _exchange(sock, fixture_message("reject-adt-not-oru.hl7"))
        assert ack_fields(rejected)[1] == "AR"
    session.expire_all()
    messages = session.scalars(select(LabMessage).order_by(LabMessage.received_at)).all()
    assert [(m.control_id, m.transport, m.raw) for m in messages] == [("GBK0001", "mllp", gbk),
                                                                       ("B-1001", "mllp", utf8)]
    assert messages[1].resident_id == zhang_san
    assert session.scalar(select(func.count()).select_from(LabResultRow)) == 3 + 11  # the remark is no result
