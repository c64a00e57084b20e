"""`python -m server.manage mllp` end to end over a real TCP socket on 127.0.0.1: frames in, stored, ACK out."""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from server.labs.mllp import MLLPDecoder, encode_frame
from server.labs.models import LabMessage, LabResultRow


@pytest.fixture
def listener(manage_command, feed):
    return manage_command("mllp", "--feed", str(feed[0]), stop_timeout=10)


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
