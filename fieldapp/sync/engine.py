"""The sync engine: push the outbox, pull pages, handle a new server epoch; state lives only in the store.

Plain Python, no Kivy: the app runs `SyncEngine.sync()` in a worker thread with its own Store and shows
progress events through Clock on the main thread. Every step is a store transaction, so an app kill at
any point resumes correctly: an unanswered batch is resent as it was (same batch id), and the pull
cursor only moves with the page it belongs to.
"""
from __future__ import annotations

import json
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from .transport import Answer, AuthError, DeviceLost, HttpError, TransportError

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"


@dataclass
class Progress:
    """A progress event: phase (push | pull | epoch), records done and the total expected so far."""

    phase: str
    done: int
    total: int
    message: str = ""


@dataclass
class SyncResult:
    """What one sync did; `synced` is True only when the outbox is empty (guarantee 8)."""

    synced: bool
    pushed: dict
    pulled: int
    pages: int
    outbox: int
    needs_attention: int
    epoch_changed: bool = False
    author_signed_out: str | None = None  # a member whose records wait because the server cut their sign-in
    moved_authors: tuple[str, ...] = ()  # members the server no longer lets use this tablet (moved teams)


class SyncFailed(Exception):
    """Sync stopped (no connection after retries, or the sign-in must be renewed); nothing is lost."""


class SignInExpired(SyncFailed):
    """The server refused the sign-in the request went with (expired or revoked)."""


class AuthorSignedOut(Exception):
    """Records saved by another member of a shared tablet cannot go up: the server refuses their sign-in."""

    def __init__(self, member: str):
        super().__init__(f"member {member} must sign in again to send their records")
        self.member = member


class SyncEngine:
    """Push, then pull, against one server for one store."""

    def __init__(self, store, transport, *, batch_size: int = 500, page_limit: int = 5000, retries: int = 5,
                 backoff: float = 0.5, max_backoff: float = 30.0, progress: Callable[[Progress], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                 member_token: Callable[[str, bool], str | None] | None = None):
        self.store = store
        self.transport = transport
        self.batch_size = batch_size
        self.page_limit = page_limit
        self.compact_forms = True  # until a server from before forms=compact refuses the parameter
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.progress = progress or (lambda p: None)
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._pushed: dict = {}
        self._epoch_changed = False
        self._moved: list[str] = []
        self._sent_as: str | None = None  # the member whose own token the last batch went with, if not ours
        # member_token(member_id, refresh) -> that member's access token (None: the transport's own sign-in):
        # on a shared tablet each batch goes up as its author (fieldapp/session.py keeps every member's).
        self.member_token = member_token

    # --- the whole sync ------------------------------------------------------------------------

    def sync(self) -> SyncResult:
        """Push everything queued, pull everything new, push what was saved meanwhile; report the state."""
        if self.store.state("practice"):
            raise SyncFailed("A practice store never syncs.")
        self._pushed, self._epoch_changed, self._moved = {}, False, []
        blocked = None
        try:
            self.push_all()
        except AuthorSignedOut as err:
            blocked = err.member  # their records wait in save order (and what was saved after them); pull goes on
        pulled, pages = self.pull_all()
        if self.store.outbox_count() and blocked is None:
            self.push_all()
        synced = self.store.is_synced()
        if synced:
            self.store.mark_synced()
        return SyncResult(synced, dict(self._pushed), pulled, pages, self.store.outbox_count(),
                          len(self.store.needs_attention()), self._epoch_changed, blocked,
                          tuple(dict.fromkeys(self._moved)))

    # --- retries --------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kw) -> dict:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return self.transport.call(method, path, **kw)
            except AuthError as err:
                raise SignInExpired("Sign in again to sync.") from err
            except DeviceLost:
                raise  # not a refusal of the batch: the tablet must wipe itself (fieldapp/session.py)
            except HttpError as err:
                if not err.retryable or attempt == self.retries:
                    raise
            except TransportError as err:
                if attempt == self.retries:
                    raise SyncFailed(f"No connection to the server ({err}); your records are kept.") from err
            # Exponential back-off with jitter so 400 tablets coming back online do not retry in step.
            self.sleep(min(delay, self.max_backoff) * (0.5 + self.rng.random()))
            delay *= 2
        raise AssertionError("unreachable")

    # --- push -----------------------------------------------------------------------------------

    def push_all(self) -> None:
        """Send batches until the outbox has nothing pending; each answer is applied in one transaction."""
        total = self.store.outbox_count()
        done = 0
        while True:
            batch = self.store.take_batch(self.batch_size)
            if batch is None:
                return
            body = {"batch_id": batch["batch_id"], "device_id": self.store.device_id,
                    "records": [{k: r[k] for k in ("change_id", "entity", "entity_id", "op", "base", "fields",
                                                   "device_time")} for r in batch["records"]]}
            try:
                answer = self._push_as_author(batch, body)
            except DeviceLost:
                raise
            except HttpError as err:
                # The server refuses the batch as a whole (a client bug, a record it cannot even parse, an
                # author moved to another team): every record goes to needs-attention with the reason, so
                # nothing is stuck or lost.
                reason = err.body or {"code": err.status, "message": str(err)}
                if reason.get("code") == "device_other_team":  # the server's words address the author
                    reason = {"code": "device_other_team", "message": AUTHOR_MOVED}
                    if self._sent_as is not None:  # refused in the author's own name: they were moved
                        self._moved.append(self._sent_as)
                self.store.reject_batch(batch, reason)
                self._count("rejected", len(batch["records"]))
                continue
            counts = self.store.apply_push_answer(batch, answer, answer.get("epoch"))
            for status, n in counts.items():
                self._count(status, n)
            done += len(batch["records"])
            self.progress(Progress("push", done, max(total, done)))
            self._saw_epoch(answer.get("epoch"))

    def _push_as_author(self, batch: dict, body: dict) -> dict:
        member = batch.get("member_id")
        token = self.member_token(member, False) if member and self.member_token else None
        self._sent_as = str(member) if token is not None else None  # None: the signed-in member's own token
        if token is None:
            return self._call("POST", PUSH, body=body)
        try:
            return self._call("POST", PUSH, body=body, token=token)
        except SignInExpired:
            # The author's access token expired while others used the tablet: renew it with theirs to refresh.
            token = self.member_token(member, True)
            if token is None:
                raise AuthorSignedOut(member) from None
            try:
                return self._call("POST", PUSH, body=body, token=token)
            except SignInExpired:
                raise AuthorSignedOut(member) from None

    def _count(self, status: str, n: int) -> None:
        self._pushed[status] = self._pushed.get(status, 0) + n

    # --- pull -----------------------------------------------------------------------------------

    def pull_all(self) -> tuple[int, int]:
        """Fetch and apply pages until the server has nothing more; returns (rows applied, pages).

        With a transport that can make requests on another thread (`detached`), pages are asked for ahead of
        the store, one after another on a worker thread (each request goes out as soon as the answer before
        it names the next cursor, at most AHEAD answers waiting): the server's work and the tablet's overlap
        and the server is not idle while a page is unpacked and written (a first sync is ~40 pages). A page
        fetched ahead is used only if the store, once the previous page is written, asks for exactly it;
        otherwise (or if it was lost) it is asked for again here, with retries, and the chain starts anew."""
        done = pages = 0
        restarts = 0
        ahead = None  # the chain of pages being asked for ahead (_Ahead), if any
        can_detach = hasattr(self.transport, "detached")
        with ThreadPoolExecutor(max_workers=1) as pool:
            try:
                while True:
                    params = self._pull_params(self.store.state("cursor"), self.store.state("ref"))
                    page = ahead.take(params) if ahead else None
                    if page is None:
                        if ahead:
                            ahead.stop()
                            ahead = None
                        page = self._pull_page(params)
                    if page.get("resync") and not self._epoch_differs(page.get("epoch")):
                        # The server pruned its change log past this tablet's cursor: download afresh (the
                        # sweep drops what left the team meanwhile); the server has everything acknowledged,
                        # so nothing is re-sent.
                        restarts += 1
                        if restarts > 3:
                            raise SyncFailed("The server keeps restarting its history; try again later.")
                        self.store.start_snapshot(self.store.state("epoch"), requeue=False)
                        done = 0
                        continue
                    if page.get("reset") or self._epoch_differs(page.get("epoch")):
                        restarts += 1
                        if restarts > 3:
                            raise SyncFailed("The server keeps restarting its history; try again later.")
                        self._restart(page.get("epoch"), everything=bool(page.get("reset")))
                        done = 0
                        continue
                    if self.store.state("epoch") is None:
                        with self.store.transaction():
                            self.store.set_state("epoch", page.get("epoch"))
                    if can_detach and page.get("more") and ahead is None:
                        ref = (page.get("reference") or {}).get("version", self.store.state("ref"))
                        ahead = _Ahead(self, pool, self._pull_params(page.get("cursor"), ref))
                    done += self.store.apply_page(page, finish_snapshot=bool(page.get("snapshot_complete")))
                    pages += 1
                    self.progress(Progress("pull", done, done + int(page.get("remaining") or 0)))
                    if not page.get("more"):
                        return done, pages
            finally:
                if ahead:
                    ahead.stop()

    def _pull_params(self, cursor, ref) -> dict:
        # forms=compact: follow-up forms come without their empty boxes, as the store keeps them (upgrade 8).
        params = {"cursor": cursor, "limit": self.page_limit, "ref": ref}
        return {**params, "forms": "compact"} if self.compact_forms else params

    def _pull_page(self, params: dict) -> dict:
        """One page. A server older than forms=compact refuses the unknown parameter (422 naming it): the tablet
        then asks without it for the rest of the sync and the store compacts the whole forms itself."""
        try:
            return self._call("GET", PULL, params=params)
        except HttpError as err:
            if not (err.status == 422 and "forms" in params and "forms" in json.dumps(err.body.get("errors"))):
                raise
            self.compact_forms = False
            return self._call("GET", PULL, params={k: v for k, v in params.items() if k != "forms"})

    def _epoch_differs(self, epoch: str | None) -> bool:
        known = self.store.state("epoch")
        return epoch is not None and known is not None and epoch != known

    def _saw_epoch(self, epoch: str | None) -> None:
        if self._epoch_differs(epoch):
            self._restart(epoch, everything=False)
        elif epoch is not None and self.store.state("epoch") is None:
            with self.store.transaction():
                self.store.set_state("epoch", epoch)

    def _restart(self, epoch: str | None, everything: bool) -> None:
        """The server was restored: re-send what it acknowledged before, then download afresh."""
        n = self.store.start_snapshot(epoch, requeue=True, requeue_all=everything)
        self._epoch_changed = True
        self.progress(Progress("epoch", 0, n, "The server was restored; re-sending your records."))
        self.push_all()


# Shown with each record of an author the server no longer lets use this tablet (moved to another team).
AUTHOR_MOVED = "保存这条记录的成员已调到其他团队，这条记录不能再从这台平板上传，保存在本机。"


AHEAD = 2  # answers fetched ahead and not yet used, at most (a page is ~200 KB on the wire)


class _Ahead:
    """Pull pages asked for ahead on a worker thread, in a chain: the first with `params`, each next one with
    the cursor the answer before it names (its X-Sync-Next-Cursor header, read before the body is decoded;
    a transport without deferred answers decodes the page to find it). Stops at the last page, at an error
    (the engine asks for that page again itself) or when told to."""

    def __init__(self, engine: SyncEngine, pool: ThreadPoolExecutor, params: dict):
        self.transport = engine.transport.detached()  # token and device read here, on the store's thread
        self.pull_params = engine._pull_params
        self.answers: queue.Queue = queue.Queue()
        self.slots = threading.Semaphore(AHEAD)
        self.stopped = threading.Event()
        self.running = True
        pool.submit(self._chain, params)

    def _chain(self, params: dict) -> None:
        deferred = getattr(self.transport, "deferred_answers", False)
        try:
            while True:
                self.slots.acquire()
                if self.stopped.is_set():
                    return
                try:
                    answer = self.transport.call("GET", PULL, params=params, **({"deferred": True} if deferred
                                                                                  else {}))
                except Exception:  # noqa: BLE001 - lost, refused or signed out: asked again on the engine's thread
                    return
                self.answers.put((params, answer))
                if isinstance(answer, Answer):
                    cursor = answer.next_cursor
                else:
                    plain = answer.get("more") and not (answer.get("reset") or answer.get("resync"))
                    cursor = answer.get("cursor") if plain else None
                if not cursor:
                    return
                params = self.pull_params(cursor, params["ref"])
        finally:
            self.answers.put(None)

    def take(self, params: dict) -> dict | None:
        """The next page of the chain if it was asked for with exactly these parameters and arrived (decoded
        here); None if not (the chain is then over: stop() it)."""
        if not self.running:
            return None
        item = self.answers.get()
        if item is None:
            self.running = False
            return None
        self.slots.release()
        asked, answer = item
        if asked != params:
            return None
        if not isinstance(answer, Answer):
            return answer
        try:
            return answer.json()
        except Exception:  # noqa: BLE001 - damaged on the way: asked again on the engine's thread
            return None

    def stop(self) -> None:
        """End the chain; returns once the worker has put its last answer (a request under way finishes)."""
        self.stopped.set()
        self.slots.release()
        while self.running and self.answers.get() is not None:
            self.slots.release()
        self.running = False
