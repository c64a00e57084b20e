"""`python -m server.manage serve-production` (gunicorn) end to end: two worker processes on a real port, lab
messages posted over HTTP, each answered AA after it is stored, a resend answered with the same ACK."""
from __future__ import annotations

import urllib.request

import pytest
from sqlalchemy import func, select

from server.labs.models import LabMessage, LabResultRow


@pytest.fixture
def production_server(manage_command, feed, monkeypatch, tmp_path):
    # serve-production refuses the development secret (the command copies the environment)
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    # Its workers' metrics files in a folder of its own: the default (instance/metrics) is shared by every
    # serve-production of the checkout, and a benchmark smoke's server running meanwhile added its counts.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 40)
    return manage_command("serve-production", "--workers", "2")


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
    # /metrics adds up the two worker processes' counts, whichever worker answers the scrape.
    for _ in range(3):
        with urllib.request.urlopen(f"http://127.0.0.1:{production_server}/metrics", timeout=20) as r:
            text = r.read().decode()
        assert 'gpo_hl7_messages_total{ack_code="AA",transport="http"} 3.0' in text, text[:2000]
        assert 'route="/api/v1/labs/hl7",status="200"} 3.0' in text
    session.expire_all()
    stored = session.scalars(select(LabMessage).order_by(LabMessage.received_at)).all()
    assert [(m.control_id, m.transport) for m in stored] == [("B-1001", "http"), ("GBK0001", "http")]
    assert stored[0].resident_id == zhang_san
    assert session.scalar(select(func.count()).select_from(LabResultRow)) == 11 + 4  # the GBK fixture: 3 values and a specimen remark
