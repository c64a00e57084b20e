"""`python -m server.manage mllp` end to end over a real TCP socket on 127.0.0.1: frames in, stored, ACK out."""
from __future__ import annotations

import socket
import urllib.request

import pytest
from sqlalchemy import func, select

from server.labs.messages.hl7v2 import parse_oru
from server.labs.messages.mllp import MLLPDecoder, encode_frame
from server.labs.models import LabMessage, LabResultRow


@pytest.fixture
def metrics_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener(manage_command, feed, metrics_port):
    return manage_command("mllp", "--feed", str(feed[0]), "--metrics-port", str(metrics_port), stop_timeout=10)


def hl7_counts(metrics_port: int) -> dict[str, float]:
    """The listener's HL7 messages by ACK code, as Prometheus scrapes them from it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    prefix = 'gpo_hl7_messages_total{ack_code="'
    return {line[len(prefix):len(prefix) + 2]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith(prefix) and 'transport="mllp"' in line}


def _exchange(sock, raw: bytes) -> bytes:
    sock.sendall(encode_frame(raw))
    decoder = MLLPDecoder()
    while True:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the ACK"
        acks = decoder.feed(chunk)
        if acks:
            return acks[0]


def test_mllp_stores_and_acknowledges(listener, metrics_port, fixture_message, session, ack_fields, zhang_san):
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
    assert hl7_counts(metrics_port) == {"AA": 3.0, "AR": 1.0}  # the resend was answered AA too
    session.expire_all()
    messages = session.scalars(select(LabMessage).order_by(LabMessage.received_at)).all()
    assert [(m.control_id, m.transport, m.raw) for m in messages] == [("GBK0001", "mllp", gbk),
                                                                       ("B-1001", "mllp", utf8)]
    assert messages[1].resident_id == zhang_san
    # Every result row the parser finds in the two messages, stored once (the resend added none).
    assert session.scalar(select(func.count()).select_from(LabResultRow)) == sum(
        len(report.results) for raw in (gbk, utf8) for report in parse_oru(raw).reports)


def test_mllp_oversized_message_gets_ar_and_is_kept_in_part(listener, metrics_port, fixture_message, session,
                                                            ack_fields):
    from server.labs.messages.mllp import OVERSIZED_HEAD_BYTES
    from server.labs.models import LabRejection

    utf8 = fixture_message("utf8-escapes-criticals-cr.hl7")
    big = utf8 + b"NTE|1||" + b"x" * (8 * 1024 * 1024) + b"\r"  # over the listener's 8 MiB
    with socket.create_connection(("127.0.0.1", listener), timeout=20) as sock:
        refused = _exchange(sock, big)
        assert ack_fields(refused)[1:3] == ["AR", "B-1001"] and "8388608" in ack_fields(refused)[3]
        assert ack_fields(_exchange(sock, utf8))[1:3] == ["AA", "B-1001"]  # the connection goes on
    assert hl7_counts(metrics_port) == {"AA": 1.0, "AR": 1.0}
    session.expire_all()
    kept = session.scalar(select(LabRejection))
    assert (kept.transport, kept.ack_code, kept.control_id, kept.size) == ("mllp", "AR", "B-1001", len(big))
    assert kept.raw == big[:OVERSIZED_HEAD_BYTES] and kept.ack == refused
    assert session.scalar(select(func.count()).select_from(LabMessage)) == 1
