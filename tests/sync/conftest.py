"""Helpers for the sync suite: a transport over Flask's test client, tablets for the world's users."""
from __future__ import annotations

import gzip
import json

import pytest

from fieldapp.store import Store
from fieldapp.sync import SyncEngine
from fieldapp.sync.transport import AuthError, HttpError


class FlaskTransport:
    """The engine's transport interface over the app's test client (the real server code, no sockets)."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token
        self.bytes_received = 0

    def call(self, method, path, *, params=None, body=None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept-Encoding": "gzip",
                   "Accept-Language": "zh-CN"}  # as fieldapp's HttpTransport
        params = {k: v for k, v in (params or {}).items() if v is not None}
        r = self.client.open(path, method=method, query_string=params, json=body, headers=headers)
        raw = r.get_data()
        self.bytes_received += len(raw)
        if r.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        payload = json.loads(raw) if raw else {}
        if r.status_code == 401:
            raise AuthError(401, payload)
        if r.status_code >= 400:
            raise HttpError(r.status_code, payload)
        return payload


@pytest.fixture
def tablet(client, token, tmp_path):
    """tablet(username, name=None) -> (store, engine) on a fresh store file, talking to the test app."""
    made = []

    def make(username, name=None, **engine_kw):
        store = Store(str(tmp_path / f"{name or username}.sqlite"))
        made.append(store)
        engine = SyncEngine(store, FlaskTransport(client, token(username)), sleep=lambda s: None, **engine_kw)
        return store, engine

    yield make
    for s in made:
        try:
            s.close()
        except Exception:
            pass


def _server_scope(session, team_id):
    """{entity: {id: wire row}} of everything a team's tablets should hold, straight from the database."""
    from server.sync.registry import REGISTRY

    out = {}
    conn = session.connection()
    for name, ent in REGISTRY.items():
        rows = (dict(zip(ent.columns, ent.wire(r))) for r in conn.execute(ent.scope(team_id)))
        out[name] = {r["id"]: r for r in rows}  # ids as the wire has them (text, even integer keys)
    session.rollback()
    return out


def _tablet_scope(store):
    """{entity: {id: row}} of what a tablet holds, in the same wire form, as its readers see it (a follow-up
    form stored without its empty boxes is read back whole)."""
    from fieldapp.store.schema import ENTITIES

    out = {}
    for name, t in ENTITIES.items():
        rows = {}
        for r in store.db.execute(f"SELECT * FROM {t.name}"):
            row = store._decode(t, r)
            rows[row["id"]] = {c: row.get(c) for c in t.columns}
        out[name] = rows
    return out


@pytest.fixture
def server_scope():
    """server_scope(session, team_id) -> {entity: {id: row}} the team's tablets should hold."""
    return _server_scope


@pytest.fixture
def tablet_scope():
    """tablet_scope(store) -> {entity: {id: row}} a tablet holds."""
    return _tablet_scope


def _visit_form(visit_date: str, condition: str = "hypertension", sbp: int = 128, **changes) -> dict:
    """A complete, valid follow-up form of the national template (gpcore.followup), clinic visit."""
    form = {"visit_date": visit_date, "visit_mode": 1, "symptoms": [1], "sbp": sbp, "dbp": 82, "weight_kg": 68.0,
            "height_cm": 168.0, "heart_rate": 72, "cigarettes_per_day": 0, "cigarettes_per_day_target": 0,
            "liquor_liang_per_day": 0, "liquor_liang_per_day_target": 0, "exercise_times_per_week": 5,
            "exercise_minutes_per_time": 30, "salt_intake": 1, "salt_intake_target": 1,
            "psychological_adjustment": 1, "compliance": 1, "medication_adherence": 1, "adverse_reaction": 1,
            "medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}], "doctor": "王医生"}
    if condition == "t2dm":
        form.update({"dorsalis_pedis": 1, "staple_food_g_per_day": 300, "staple_food_g_per_day_target": 250,
                     "fpg_mmol": 6.2, "hypoglycaemia": 1,
                     "medications": [{"name": "二甲双胍", "times_per_day": 2, "mg_per_time": 500}]})
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture
def visit_form():
    """visit_form(visit_date, condition="hypertension", sbp=128, **boxes) -> a valid follow-up form."""
    return _visit_form
