"""Finding 7 of issue 15: 50 concurrent follow-ups for one patient got 2,084 answers of 409 in a load test,
from a race on the patient's worklist row. Writers for one patient now take turns on it: every valid visit
is stored (201), and the worklist row and the year's figures count every one of them."""
import datetime as dt
import os
import threading

import pytest
from sqlalchemy import select

WRITERS = 50


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                    reason="SQLite lets one writer at a time into the database, so writers cannot race there")
@pytest.mark.commits  # fifty writers, each through its own connection
def test_fifty_writers_on_one_patient_lose_nothing_and_fail_nothing(fu, clean_app, token, session):
    from server.followups.models import FollowUp, FollowUpStatus, FollowUpYear

    fu.register("A1-0-0")
    resident = fu.w.residents["A1-0-0"]
    headers = {"Authorization": f"Bearer {token('gp-a1')}"}
    dates = [dt.date(2026, 1, 1) + dt.timedelta(days=3 * i) for i in range(WRITERS)]  # the last: 2026-05-27
    start = threading.Barrier(WRITERS)
    answers = []

    def write(day):
        client = clean_app.test_client()
        body = {"id": fu.new_id(), "resident_id": resident, "condition": "hypertension",
                "form": fu.htn_form(day.isoformat())}
        start.wait()
        r = client.post("/api/v1/followups", json=body, headers=headers)
        answers.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=write, args=(day,)) for day in dates]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(code for code, _ in answers) == [201] * WRITERS, [a for a in answers if a[0] != 201][:3]
    session.expire_all()
    stored = session.scalars(select(FollowUp).where(FollowUp.resident_id == resident)).all()
    assert len(stored) == WRITERS
    status = session.get(FollowUpStatus, (resident, "hypertension"))
    latest = max(stored, key=lambda r: r.visit_date)
    assert status.followup_id == latest.id and status.visit_date == dates[-1]
    year = session.get(FollowUpYear, (resident, "hypertension", 2026))
    assert year.visits == WRITERS and year.face_to_face == WRITERS
