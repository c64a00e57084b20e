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
        headers = {"Authorization": f"Bearer {self.token}", "Accept-Encoding": "gzip"}
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
        out[name] = {r[0]: dict(zip(ent.columns, ent.wire(r))) for r in conn.execute(ent.scope(team_id))}
    session.rollback()
    return out


def _tablet_scope(store):
    """{entity: {id: row}} of what a tablet holds, in the same wire form."""
    from fieldapp.store.schema import ENTITIES

    out = {}
    for name, t in ENTITIES.items():
        rows = {}
        for r in store.db.execute(f"SELECT * FROM {t.name}"):
            row = {c: r[c] for c in t.columns}
            for c in t.json_columns:
                if row[c] is not None:
                    row[c] = json.loads(row[c])
            rows[row["id"]] = row
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
