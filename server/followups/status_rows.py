"""Worklist status rows for new registry entries; imported by the households and import modules, so it
depends on nothing but the models (followups.services itself imports households)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from .models import FollowUpStatus


def empty_status(resident_id: str, condition: str, team_id: int | None) -> dict:
    """A registry entry's row before its first visit: nothing to show but "not seen this year", due now."""
    return {"resident_id": resident_id, "condition": condition, "team_id": team_id, "due_from": dt.date.min,
            "reassessed": False}


def add_status_rows(conn, entries) -> None:
    """Worklist rows for new registry entries [(resident_id, condition, team_id)], through a Session (which
    flushes pending residents first) or a Connection. Called where entries are made
    (households.services.add_condition, imports.services.write) and by services.rebuild_status."""
    rows = [empty_status(*entry) for entry in entries]
    if rows:
        conn.execute(insert(FollowUpStatus), rows)
