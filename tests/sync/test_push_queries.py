"""What a push and a signed-in request cost in statements: the batch's rows are read once, not once a record
(the identity map keeps only weak references, so a prefetch must be held to count), and the token's user is
read with its revocation check in one statement."""
from __future__ import annotations

import re
import uuid

from sqlalchemy import event


def _statements(app):
    seen = []

    def note(_conn, _cursor, statement, _params, _context, _many):
        seen.append(" ".join(statement.split()))

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", note)
    return seen, lambda: event.remove(engine, "before_cursor_execute", note)


def test_a_push_reads_its_residents_once_not_once_a_record(world, client, token, clean_app):
    headers = {"Authorization": f"Bearer {token('gp-a1')}"}
    rids = [world.residents[k] for k in ("A1-0-0", "A1-0-1", "A1-1-0")]
    body = {"batch_id": str(uuid.uuid4()), "device_id": "t1", "records": [
        {"change_id": str(uuid.uuid4()), "entity": "residents", "entity_id": rid, "op": "update", "base": {},
         "fields": {"employer": f"厂{n}"}, "device_time": "2026-01-01T08:00:00+08:00"} for n, rid in enumerate(rids)]}
    seen, stop = _statements(clean_app)
    try:
        r = client.post("/api/v1/sync/push", json=body, headers=headers)
    finally:
        stop()
    assert r.status_code == 200 and [x["status"] for x in r.get_json()["results"]] == ["applied"] * 3
    # session.get(Resident, id) when the row is not in the identity map: one SELECT by primary key each.
    by_key = [s for s in seen if re.search(r"^SELECT .* FROM residents WHERE residents\.id = \S+$", s)]
    assert by_key == [], by_key


def test_a_signed_in_request_reads_its_user_once(world, client, token, clean_app):
    headers = {"Authorization": f"Bearer {token('gp-a1')}"}
    seen, stop = _statements(clean_app)
    try:
        r = client.get("/api/v1/households", headers=headers)
    finally:
        stop()
    assert r.status_code == 200
    users = [s for s in seen if re.search(r"\bFROM users\b", s)]
    assert len(users) == 1, users
    assert "revoked_tokens" in users[0]
