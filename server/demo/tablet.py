"""A demo tablet store: the demo district loaded into a throwaway server database, then synced into a
tablet store by the real sync engine over the Flask test client (no sockets), as a team member's tablet.

The tablet app (fieldapp) may not import the server; `python -m fieldapp --screenshot` runs this module
in a subprocess when it needs demo data:

    python -m server.demo.tablet --out /tmp/demo-tablet.sqlite [--user t1-doctor] [--households 60]
"""
from __future__ import annotations

import argparse
import gzip
import json
import secrets
import sys
import tempfile
from pathlib import Path

from fieldapp.session import TabletSession
from fieldapp.store import Store
from fieldapp.sync import SyncEngine
from fieldapp.sync.transport import AuthError, device_error, device_headers

from .load import DEMO_PASSWORD


class ClientTransport:
    """The sync engine's transport over a Flask test client (the real server code, in-process)."""

    def __init__(self, client, store: Store | None = None):
        self.client = client
        self.store = store
        self.token: str | None = None
        self.bytes_received = self.bytes_sent = 0
        self.device_id: str | None = None  # sent when there is no store (a sign-in before the store opens)
        self.device_state: str | None = None

    def login(self, username: str, password: str) -> dict:
        """Sign in; keeps the tokens in the store like HttpTransport.login."""
        tokens = self.call("POST", "/api/v1/auth/login", body={"username": username, "password": password})
        self.token = tokens["access_token"]
        if self.store is not None:
            with self.store.transaction():
                self.store.set_state("access_token", tokens["access_token"])
                self.store.set_state("refresh_token", tokens.get("refresh_token"))
                self.store.set_state("username", username)
        return tokens

    def call(self, method, path, *, params=None, body=None, token=None):
        """One request through the test client; errors raised as HttpTransport raises them."""
        headers = {"Accept-Encoding": "gzip", "Accept-Language": "zh-CN"}  # as fieldapp's HttpTransport
        token = token or self.token or (self.store.state("access_token") if self.store is not None else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(device_headers(self.store, self.device_id))
        params = {k: v for k, v in (params or {}).items() if v is not None}
        r = self.client.open(path, method=method, query_string=params, json=body, headers=headers)
        raw = r.get_data()
        if r.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        payload = json.loads(raw) if raw else {}
        self.device_state = r.headers.get("X-Device-State") or self.device_state
        if r.status_code == 401:
            raise AuthError(401, payload)
        if r.status_code >= 400:
            raise device_error(r.status_code, payload)
        return payload


def demo_app(db_path: str, households_per_team: int = 60):
    """A migrated server app on a SQLite file with a (smaller) demo district loaded."""
    from server import create_app
    from server.manage import migrate

    from . import load

    url = f"sqlite:///{db_path}"
    migrate(url)
    # Its own secrets: this in-process server lives for one build, and the config check refuses the
    # public development value for a server that signs tokens.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_PROFILE": "fast",
                      "SECRET_KEY": secrets.token_urlsafe(32), "JWT_SECRET_KEY": secrets.token_urlsafe(32)})
    with app.app_context():
        session = app.extensions["db_sessionmaker"]()
        try:
            if not load.is_loaded(session):
                load.load(session, hash_profile="fast", households_per_team=households_per_team,
                          residents_per_team=households_per_team * 3)
        finally:
            session.close()
    return app


def build_demo_store(out: str, username: str = "t1-doctor", households_per_team: int = 60) -> dict:
    """Build (or refresh) a tablet store at `out` for `username` from a fresh demo district, signing in and
    syncing as the app does (TabletSession), over the test client."""
    with tempfile.TemporaryDirectory() as tmp:
        app = demo_app(str(Path(tmp) / "server.db"), households_per_team)
        client = app.test_client()
        # A plain file: the demo store is screenshots' and benches' input, not a tablet in the field.
        session = TabletSession(out, transport_factory=lambda url, store: ClientTransport(client, store),
                                secure=False)
        try:
            session.sign_in("demo", username, DEMO_PASSWORD)
            transport = ClientTransport(client, session.store)
            transport.token = session.store.state("access_token")
            result = SyncEngine(session.store, transport, sleep=lambda s: None).sync()
            return {"synced": result.synced, "pulled": result.pulled, **session.store.status()["counts"]}
        finally:
            session.close()


def main(argv=None) -> int:
    """Command line: build the demo tablet store and print its counts."""
    parser = argparse.ArgumentParser(prog="python -m server.demo.tablet")
    parser.add_argument("--out", required=True)
    parser.add_argument("--user", default="t1-doctor")
    parser.add_argument("--households", type=int, default=60, help="households per team")
    args = parser.parse_args(argv)
    print(json.dumps(build_demo_store(args.out, args.user, args.households), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
