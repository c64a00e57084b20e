"""The signed-in tablet: its store, the server, signing in, and sync in a worker thread (plain Python).

The screens call these; the worker reports through callbacks that the UI forwards to the main thread
(Clock), so nothing here touches a widget. The worker opens a Store of its own (one per thread).
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import Callable

from gpcore.clock import china_today

from .store import Store
from .sync import HttpTransport, Progress, SyncEngine, SyncFailed
from .sync.transport import HttpError, TransportError


class SignInFailed(Exception):
    """Sign-in did not work; str() is a sentence for the screen (Chinese)."""


def local_today() -> dt.date:
    """The doctor's calendar day in China (gpcore.clock: the same day the server and the store count)."""
    return china_today()


class TabletSession:
    """One store file and the server it syncs with. `transport_factory(url, store)` makes the transport
    (HttpTransport; tests and the demo pass an in-process one)."""

    def __init__(self, store_path: str, server_url: str | None = None,
                 transport_factory: Callable = HttpTransport, today: Callable[[], dt.date] = local_today):
        self.store_path = store_path
        self.store = Store(store_path)
        self.server_url = server_url or self.store.state("server_url")
        self.transport_factory = transport_factory
        self.today = today
        self._worker: threading.Thread | None = None

    # --- who is signed in ---------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        """True once this tablet holds a sign-in (the first one needs the server)."""
        return bool(self.store.state("access_token"))

    @property
    def me(self) -> dict:
        """The signed-in account as the server described it (id, full_name, team_id, ...)."""
        return self.store.state("me") or {"full_name": self.store.state("full_name") or "",
                                          "username": self.store.state("username") or ""}

    @property
    def team(self) -> dict:
        """The team (name, phone, committees, members) as fetched at sign-in."""
        return self.store.state("team") or {}

    @property
    def center(self) -> dict:
        """The center (name, phone) as fetched at sign-in."""
        return self.store.state("center") or {}

    def sign_in(self, server_url: str, username: str, password: str) -> dict:
        """Sign in online (the first time): keeps the tokens, the account and the team in the store."""
        if not server_url or not username or not password:
            raise SignInFailed("请填写服务器地址、用户名和密码。")
        transport = self.transport_factory(server_url, self.store)
        try:
            transport.login(username, password)
            me = transport.call("GET", "/api/v1/auth/me")
            team = transport.call("GET", f"/api/v1/teams/{me['team_id']}") if me.get("team_id") else {}
            centers = transport.call("GET", "/api/v1/centers") if me.get("center_id") else {}
        except HttpError as err:
            if err.status in (400, 401, 422):
                raise SignInFailed("用户名或密码不对，请再试一次。") from err
            if err.status == 429:
                raise SignInFailed("尝试次数过多，请过几分钟再试。") from err
            raise SignInFailed(f"服务器暂时无法登录（{err.status}），请稍后再试。") from err
        except TransportError as err:
            raise SignInFailed("连接不上服务器。第一次登录需要联网，请检查网络后重试。") from err
        center = next((c for c in (centers.get("items") if isinstance(centers, dict) else centers) or []
                       if c.get("id") == me.get("center_id")), {})
        with self.store.transaction():
            self.store.set_state("server_url", server_url)
            self.store.set_state("me", me)
            self.store.set_state("team", team)
            self.store.set_state("center", center)
        self.server_url = server_url
        return me

    # --- sync in the background ---------------------------------------------------------------------

    @property
    def syncing(self) -> bool:
        """True while the worker runs."""
        return self._worker is not None and self._worker.is_alive()

    def start_sync(self, on_progress: Callable[[Progress], None], on_done: Callable[[dict], None]) -> bool:
        """Sync in a worker thread with its own Store; False if one is already running. Both callbacks are
        called on the worker thread: the UI forwards them to the main thread."""
        if self.syncing:
            return False
        if not self.server_url:
            on_done({"ok": False, "message": "还没有登录服务器。"})
            return False
        self._worker = threading.Thread(target=self._sync, args=(on_progress, on_done), daemon=True,
                                        name="sync")
        self._worker.start()
        return True

    def _sync(self, on_progress, on_done) -> None:
        store = Store(self.store_path)
        try:
            engine = SyncEngine(store, self.transport_factory(self.server_url, store), progress=on_progress)
            result = engine.sync()
            on_done({"ok": True, "synced": result.synced, "pulled": result.pulled, "pushed": result.pushed,
                     "outbox": result.outbox, "needs_attention": result.needs_attention})
        except SyncFailed as err:
            on_done({"ok": False, "message": _sync_words(str(err))})
        except HttpError as err:
            on_done({"ok": False, "message": f"服务器暂时不能同步（{err.status}），记录都保存在本机。"})
        except Exception as err:  # noqa: BLE001 - the worker must always report back; nothing saved is lost
            on_done({"ok": False, "message": f"同步中断：{err}。记录都保存在本机，稍后再试。"})
        finally:
            store.close()

    def wait_sync(self, timeout: float | None = None) -> None:
        """Wait for the worker (tests, and the app before it quits)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def close(self) -> None:
        """Close the main thread's store."""
        self.store.close()


def _sync_words(message: str) -> str:
    if "Sign in again" in message:
        return "登录已过期，请重新登录后同步。记录都保存在本机。"
    if "No connection" in message:
        return "连接不上服务器，记录都保存在本机，有网络时再同步。"
    return "同步没有完成，记录都保存在本机，稍后再试。"
