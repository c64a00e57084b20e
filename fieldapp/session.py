"""The signed-in tablet: its store, the server, signing in, unlocking, and sync in a worker thread (plain
Python).

The screens call these; the worker reports through callbacks that the UI forwards to the main thread
(Clock), so nothing here touches a widget. The worker opens a Store of its own (one per thread).

A secure session (the app's) keeps the store encrypted (fieldapp/keys.py): the first online sign-in enrols
the tablet with the server's device registry, which answers with a device secret and an escrow key; the
store key K is then wrapped by the escrow key and, once the member sets one, by their PIN. While locked,
`store` is None and only `unlock()` (PIN, offline) or `sign_in()` (online) opens it. `secure=False` opens a
plain file as it is (tests of other features, the demo store behind screenshots, benches).
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import threading
from typing import Callable

from gpcore.clock import china_today

from .keys import KeyFile, KeyMaterialError, WrongKey, keyfile_path, new_store_key, unb64
from .lock import Keyring, pin_problem
from .store import Store, encrypt_file, is_plain_sqlite
from .store.schema import UPGRADES
from .sync import HttpTransport, Progress, SyncEngine, SyncFailed
from .sync.engine import SignInExpired
from .sync.transport import DeviceLost, HttpError, TransportError

ENROL = "/api/v1/devices/enrol"
_MEMBER_KEYS = ("me", "access_token", "refresh_token", "username")


class SignInFailed(Exception):
    """Sign-in did not work; str() is a sentence for the screen (Chinese)."""


class Locked(Exception):
    """The store is locked: unlock with a PIN or sign in online first."""


def local_today() -> dt.date:
    """The doctor's calendar day in China (gpcore.clock: the same day the server and the store count)."""
    return china_today()


def _app_version() -> str:
    try:
        from importlib.metadata import version
        return version("gp-outreach")
    except Exception:  # noqa: BLE001 - an uninstalled checkout still reports something
        return "0.0.0"


def device_info() -> dict:
    """What the registry is told about this tablet besides its id (Android would give the build model)."""
    return {"model": (platform.node() or "unknown")[:60] + " " + platform.machine(),
            "app_version": _app_version(), "store_version": len(UPGRADES)}


class TabletSession:
    """One store file and the server it syncs with. `transport_factory(url, store)` makes the transport
    (HttpTransport; tests and the demo pass an in-process one). `now` is the wrong-PIN ladder's clock."""

    def __init__(self, store_path: str, server_url: str | None = None,
                 transport_factory: Callable = HttpTransport, today: Callable[[], dt.date] = local_today, *,
                 secure: bool = True, now: Callable[[], dt.datetime] | None = None):
        self.store_path = str(store_path)
        self.secure = secure
        self.transport_factory = transport_factory
        self.today = today
        self.keyring = Keyring(KeyFile.load_or_new(keyfile_path(self.store_path)),
                               **({"now": now} if now else {}))
        self.store: Store | None = None
        self._key: bytes | None = None
        self.practice = False
        self.wiped: str | None = None  # "lost" | "retired" once this tablet wiped itself
        self._worker: threading.Thread | None = None
        if not secure or is_plain_sqlite(self.store_path):
            # A store written before encryption (or whose encryption a crash cut short, after the key file was
            # written) opens as it is; the next online sign-in encrypts it.
            self.store = Store(self.store_path)
            self._attach_member()
        self.server_url = server_url or (self.store.state("server_url") if self.store else None) \
            or self.keyring.keyfile.server_url

    # --- who is signed in ---------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        """True while the store is closed (a PIN or an online sign-in opens it)."""
        return self.store is None

    @property
    def can_unlock_offline(self) -> bool:
        """True when a member's PIN may open the store here (enrolled, a store file, a PIN that works)."""
        return (self.locked and self.keyring.keyfile.enrolled and os.path.exists(self.store_path)
                and any(not m["disabled"] for m in self.keyring.members()))

    @property
    def signed_in(self) -> bool:
        """True once this tablet holds a sign-in (the first one needs the server) and is open."""
        return self.store is not None and bool(self.store.state("access_token"))

    @property
    def me(self) -> dict:
        """The signed-in account as the server described it (id, full_name, team_id, ...)."""
        if self.store is None:
            return {}
        return self.store.state("me") or {"full_name": self.store.state("full_name") or "",
                                          "username": self.store.state("username") or ""}

    @property
    def team(self) -> dict:
        """The team (name, phone, committees, members) as fetched at sign-in."""
        return (self.store.state("team") if self.store else None) or {}

    @property
    def center(self) -> dict:
        """The center (name, phone) as fetched at sign-in."""
        return (self.store.state("center") if self.store else None) or {}

    @property
    def needs_pin(self) -> bool:
        """True when the member who is in has no working PIN on this tablet yet (set one before going on)."""
        if not self.secure or self.store is None or self.practice:
            return False
        entry = self.keyring.keyfile.members.get(str(self.me.get("id")))
        return entry is None or bool(entry.get("disabled"))

    def sign_in(self, server_url: str, username: str, password: str) -> dict:
        """Sign in online: keeps the tokens, the account and the team in the store. A secure session also
        enrols the tablet, and opens (or creates, or encrypts) the store with K from the escrow wrap."""
        if not server_url or not username or not password:
            raise SignInFailed("请填写服务器地址、用户名和密码。")
        transport = self.transport_factory(server_url, None)
        transport.device_id = self.keyring.keyfile.device_id if self.secure else (
            self.store.device_id if self.store else None)
        try:
            tokens = transport.call("POST", "/api/v1/auth/login",
                                    body={"username": username, "password": password})
            token = tokens["access_token"]
            me = transport.call("GET", "/api/v1/auth/me", token=token)
            team = transport.call("GET", f"/api/v1/teams/{me['team_id']}", token=token) if me.get("team_id") else {}
            centers = transport.call("GET", "/api/v1/centers", token=token) if me.get("center_id") else {}
            enrolment = self._enrol(transport, token) if self.secure else None
        except DeviceLost:
            self._wipe_files()
            self._confirm_wiped(transport, token, "lost")
            raise SignInFailed("这台平板已被挂失，本机数据已全部清除。") from None
        except HttpError as err:
            if err.status == 409 or (err.body or {}).get("code") == "device_other_team":
                raise SignInFailed("这台平板登记在其他团队名下，不能用这个账号登录。") from err
            if err.status in (400, 401, 422):
                raise SignInFailed("用户名或密码不对，请再试一次。") from err
            if err.status == 429:
                raise SignInFailed("尝试次数过多，请过几分钟再试。") from err
            raise SignInFailed(f"服务器暂时无法登录（{err.status}），请稍后再试。") from err
        except TransportError as err:
            raise SignInFailed("连接不上服务器。第一次登录需要联网，请检查网络后重试。") from err
        if enrolment is not None:
            self._open_enrolled(enrolment, me, transport, token)
        center = next((c for c in (centers.get("items") if isinstance(centers, dict) else centers) or []
                       if c.get("id") == me.get("center_id")), {})
        member = {"me": me, "access_token": token, "refresh_token": tokens.get("refresh_token"),
                  "username": username}
        with self.store.transaction():
            for key, value in member.items():
                self.store.set_state(key, value)
            self._remember_member(me, member)
            self.store.set_state("server_url", server_url)
            self.store.set_state("team", team)
            self.store.set_state("center", center)
        self._attach_member()
        self.server_url = server_url
        if self.secure:
            self.keyring.keyfile.server_url = server_url
            self.keyring.keyfile.save()
        return me

    def _enrol(self, transport, token: str) -> dict:
        kf = self.keyring.keyfile
        return transport.call("POST", ENROL, token=token, body={"device_id": kf.device_id, **device_info()})

    def _open_enrolled(self, enrolment: dict, me: dict, transport, token: str) -> None:
        """After the registry answered: open the store with K (escrow), make a new one, or encrypt a plain one."""
        kf = self.keyring.keyfile
        if enrolment.get("state") != "active":
            if not os.path.exists(self.store_path) or (self.store is not None and self.store.is_synced()
                                                        and not self.store.needs_attention()):
                self._wipe_files()
                self._confirm_wiped(transport, token, "retired")
                raise SignInFailed("这台平板已停用，本机数据已清除。")
            raise SignInFailed("这台平板已停用。请用已设置的 PIN 解锁并同步，未上传的记录送出后本机会自动清除。")
        try:
            unb64(enrolment["device_secret"])
            escrow = unb64(enrolment["escrow_key"])
        except (KeyError, KeyMaterialError) as err:
            raise SignInFailed("服务器返回的设备密钥不完整，请联系中心。") from err
        if kf.escrow_wrap and os.path.exists(self.store_path) and not is_plain_sqlite(self.store_path):
            try:
                key = kf.open_escrow(escrow)
            except WrongKey as err:
                raise SignInFailed("服务器的密钥打不开本机数据，请联系中心（数据仍在本机）。") from err
            self.lock()
        else:
            key = new_store_key()
        kf.device_secret, kf.team_id = enrolment["device_secret"], me.get("team_id")
        kf.set_escrow(escrow, key)
        if kf.members.get(str(me.get("id")), {}).get("disabled"):
            del kf.members[str(me.get("id"))]  # an online sign-in ends the lockout; a new PIN is asked for
        # The key file is written before the store is encrypted: a crash in between leaves a plain store
        # that the next sign-in encrypts, never an encrypted one without its wrap.
        kf.save()
        if self.store is not None:
            self.store.close()
            self.store = None
            encrypt_file(self.store_path, key)
        self._open(key)
        if self.store.state("device_id") != kf.device_id:
            with self.store.transaction():
                self.store.set_state("device_id", kf.device_id)

    def _open(self, key: bytes) -> None:
        self.store = Store(self.store_path, key=key)
        self._key = key

    def _remember_member(self, me: dict, member: dict) -> None:
        """Each member's own sign-in is kept in the (encrypted) store, so whoever unlocks next syncs as
        themselves (joins the caller's transaction)."""
        members = self.store.state("members") or {}
        members[str(me.get("id"))] = member
        self.store.set_state("members", members)

    def unlock(self, user_id: str, pin: str) -> dict:
        """Open the store offline with this member's PIN; the member's own sign-in becomes the current one.
        Raises fieldapp.lock's WrongPin / TooSoon / PinDisabled."""
        key = self.keyring.unlock_pin(str(user_id), pin)
        self._open(key)
        member = (self.store.state("members") or {}).get(str(user_id))
        if member:
            with self.store.transaction():
                for name in _MEMBER_KEYS:
                    self.store.set_state(name, member.get(name))
        self._attach_member()
        return self.me

    def _attach_member(self) -> None:
        """What the store saves from now on is this member's (their records go up with their sign-in)."""
        member = self.me.get("id")
        self.store.member_id = str(member) if member is not None else None

    def set_pin(self, pin: str) -> None:
        """The member who is in sets (or changes) their PIN; ValueError(message key) if it is trivial."""
        me = self.me
        problem = pin_problem(pin, me.get("birth_date"))
        if problem:
            raise ValueError(problem)
        if self._key is None:
            raise Locked("the store is not open with its key")
        self.keyring.set_pin(str(me.get("id")), pin, self._key, name=me.get("full_name") or "",
                             username=me.get("username") or "", birth_date=me.get("birth_date"))

    def lock(self) -> None:
        """Close the store and forget K (a secure session only); a running sync finishes on its own store."""
        if not self.secure or self.store is None or self._key is None:
            return
        if self.practice:
            self.leave_practice()
        self._save_member()
        self.store.close()
        self.store, self._key = None, None

    def _save_member(self) -> None:
        me = self.me
        if me.get("id") is None:
            return
        with self.store.transaction():
            members = self.store.state("members") or {}
            members[str(me["id"])] = {name: self.store.state(name) for name in _MEMBER_KEYS}
            self.store.set_state("members", members)

    # --- practice -------------------------------------------------------------------------------------

    @property
    def practice_path(self) -> str:
        """The practice store: a copy of the team's store whose saves never leave the tablet."""
        return self.store_path + ".practice"

    def enter_practice(self) -> None:
        """Train on a copy of the team's data: a separate store (same key), outbox emptied, tokens removed,
        marked practice so the sync engine refuses it; left (and deleted) by leave_practice or lock."""
        if self._key is None or self.practice:
            raise Locked("open the store first")
        if self.syncing:
            raise Locked("wait for the sync to finish")
        self._save_member()
        self.store.copy_to(self.practice_path, self._key)
        self.store.close()
        self.store = Store(self.practice_path, key=self._key)
        with self.store.transaction():
            self.store.db.execute("DELETE FROM outbox")
            for name in ("access_token", "refresh_token", "members", "inflight"):
                self.store.set_state(name, None)
            self.store.set_state("practice", True)
        self.practice = True

    def leave_practice(self) -> None:
        """Back to the team's store; the practice copy and everything saved in it are deleted."""
        if not self.practice:
            return
        self.store.close()
        _remove(self.practice_path)
        self.practice = False
        self.store = Store(self.store_path, key=self._key)
        self._attach_member()

    # --- wipe -----------------------------------------------------------------------------------------

    def _wipe_files(self, close_main: bool = True) -> None:
        """Delete the store, its journal files, the practice copy and the key file (K is then unrecoverable
        even from a copy of the store taken earlier, unless the server's escrow key is given out again).
        From the sync worker close_main=False: the main thread closes its connection (after_wipe)."""
        if close_main and self.store is not None:
            self.store.close()
            self.store = None
        for path in (self.store_path, self.practice_path):
            for suffix in ("", "-wal", "-shm", "-journal", ".encrypting"):
                _remove(path + suffix)
        _remove(str(keyfile_path(self.store_path)))
        self._key = None

    def _confirm_wiped(self, transport, token: str | None, reason: str) -> bool:
        """Tell the registry this tablet wiped itself; False if the server could not be told (the wipe
        stands either way; the registry then shows the order as not yet confirmed)."""
        self.wiped = reason
        device_id = self.keyring.keyfile.device_id
        self.keyring = Keyring(KeyFile.load_or_new(keyfile_path(self.store_path)), self.keyring.now)
        try:
            transport.call("POST", f"/api/v1/devices/{device_id}/wiped", token=token)
            return True
        except (HttpError, TransportError):
            return False

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
        # Whose sync this is, read now: another member may unlock the tablet while it runs.
        me_id = (self.store.state("me") or {}).get("id") if self.store is not None else None
        member = str(me_id) if me_id is not None else None
        self._worker = threading.Thread(target=self._sync, args=(on_progress, on_done, member), daemon=True,
                                        name="sync")
        self._worker.start()
        return True

    def _sync(self, on_progress, on_done, member: str | None = None) -> None:
        store = Store(self.store_path if not self.practice else self.practice_path, key=self._key)
        transport = self.transport_factory(self.server_url, store)
        try:
            engine = SyncEngine(store, transport, progress=on_progress,
                                member_token=lambda member, refresh: _member_token(store, transport, member, refresh))
            result = engine.sync()
            if self.secure and transport.device_state == "retire":
                if result.synced and not result.needs_attention:
                    # Retire: everything waiting has been accepted; now wipe and confirm.
                    on_done(self._wipe_from_worker(store, transport, "retired"))
                    return
                on_done({"ok": False, "retire": True, "outbox": result.outbox,
                         "needs_attention": result.needs_attention,
                         "message": "这台平板已停用：请处理需注意的记录并再次同步，全部送出后本机会自动清除。"})
                return
            done = {"ok": True, "synced": result.synced, "pulled": result.pulled, "pushed": result.pushed,
                    "outbox": result.outbox, "needs_attention": result.needs_attention}
            if result.moved_authors:
                # Members whose own sign-in the server refused on this tablet: moved to another team. Their
                # PINs stop opening it now, not only when they next sync themselves.
                for moved in result.moved_authors:
                    self._cut_off(moved)
                done.update(moved_authors=list(result.moved_authors), message=(
                    "有成员已调到其他团队，其PIN在本机已停用；其未上传的记录保存在本机，列在“需注意”中。"))
            if result.author_signed_out:
                who = ((store.state("members") or {}).get(result.author_signed_out) or {}).get("me") or {}
                done.update(author_signed_out=result.author_signed_out, message=(
                    f"{who.get('full_name') or '另一位成员'}保存的记录要等他/她联网登录后才能上传，记录都保存在本机。"))
            on_done(done)
        except DeviceLost:
            if self.secure:
                on_done(self._wipe_from_worker(store, transport, "lost"))
            else:
                on_done({"ok": False, "message": "这台平板已被挂失，不能同步。"})
        except SignInExpired:
            # The server no longer takes this member's sign-in (account disabled, or signed out too long):
            # their PIN stops opening the tablet here too; an online sign-in gives it back. Data stays.
            self._cut_off(member)
            on_done({"ok": False, "signed_out": True, "member": member,
                     "message": "登录已失效（账号已停用或太久没有联网），请联网登录。本机数据和未上传的记录都还在。"})
        except SyncFailed as err:
            on_done({"ok": False, "message": _sync_words(str(err))})
        except HttpError as err:
            if err.body.get("code") == "device_other_team":
                # This member was moved to another team: the tablet (and the households on it) stays with
                # the team it is enrolled to, so their PIN stops opening it; their online sign-in is refused
                # here too (sign_in). What they saved before the move stays on the tablet, in needs-attention.
                self._cut_off(member)
                cut = "您的PIN在本机已停用" if self.secure else "不能再用您的账号同步"
                on_done({"ok": False, "signed_out": True, "member": member, "message": (
                    f"您已调到其他团队，这台平板属于原团队，{cut}。您未上传的记录保存在本机，列在“需注意”中。")})
                return
            on_done({"ok": False, "message": f"服务器暂时不能同步（{err.status}），记录都保存在本机。"})
        except Exception as err:  # noqa: BLE001 - the worker must always report back; nothing saved is lost
            on_done({"ok": False, "message": f"同步中断：{err}。记录都保存在本机，稍后再试。"})
        finally:
            store.close()

    def _cut_off(self, member: str | None) -> None:
        """The server no longer takes this member here: their PIN stops opening the tablet (the data stays;
        an online sign-in, where the server allows one, gives it back)."""
        if self.secure and member is not None:
            self.keyring.disable(member)

    def _wipe_from_worker(self, store: Store, transport, reason: str) -> dict:
        """Wipe now (lost: without sending anything more; retire: after the last push), then confirm."""
        token = store.state("access_token")
        store.close()
        self._wipe_files(close_main=False)
        bare = self.transport_factory(self.server_url, None)
        bare.device_id = self.keyring.keyfile.device_id
        confirmed = self._confirm_wiped(bare, token, reason)
        words = ("这台平板已被挂失，本机数据已全部清除。" if reason == "lost"
                 else "这台平板已停用，所有记录都已送到服务器，本机数据已清除。")
        return {"ok": False, "wiped": reason, "confirmed": confirmed, "message": words}

    def after_wipe(self) -> None:
        """On the main thread once the worker wiped the tablet: close the (deleted) store's connection."""
        if self.store is not None:
            self.store.close()
            self.store = None
        self.practice = False

    def wait_sync(self, timeout: float | None = None) -> None:
        """Wait for the worker (tests, and the app before it quits)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def close(self) -> None:
        """Close the main thread's store (kept locked: K is forgotten)."""
        if self.store is not None:
            if self.practice:
                self.leave_practice()
            if self.secure and self._key is not None:
                self._save_member()
            self.store.close()
            self.store, self._key = None, None


def _member_token(store: Store, transport, member: str, refresh: bool) -> str | None:
    """The access token of the member who saved a batch (None: the sign-in in use now, which the transport
    refreshes itself); with refresh=True a new one from their refresh token, kept in the store."""
    members = store.state("members") or {}
    entry = members.get(str(member))
    if not entry or str((store.state("me") or {}).get("id")) == str(member):
        return None
    if not refresh:
        return entry.get("access_token")
    if not entry.get("refresh_token"):
        return None
    try:
        tokens = transport.call("POST", "/api/v1/auth/refresh", token=entry["refresh_token"])
    except (HttpError, TransportError):
        return None
    entry["access_token"] = tokens["access_token"]
    with store.transaction():
        store.set_state("members", {**members, str(member): entry})
    return entry["access_token"]


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _sync_words(message: str) -> str:
    if "Sign in again" in message:
        return "登录已过期，请重新登录后同步。记录都保存在本机。"
    if "No connection" in message:
        return "连接不上服务器，记录都保存在本机，有网络时再同步。"
    return "同步没有完成，记录都保存在本机，稍后再试。"
