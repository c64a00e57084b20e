"""Sync: progress (events from the worker, shown on the main thread through Clock), last sync, what is
waiting to go up, and what the server refused with its reason."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from fieldapp.store import NotFound
from fieldapp.sync import Progress

from . import theme
from .base import BaseScreen
from .strings import t
from .widgets import Btn, Card, Lbl, Title


class SyncScreen(BaseScreen):
    """Opened from the worklist, and after the first sign-in (auto=True, then the worklist)."""

    progress_text = StringProperty("")
    progress_max = NumericProperty(1)
    progress_value = NumericProperty(0)
    running = BooleanProperty(False)
    last = StringProperty("")
    waiting = StringProperty("")
    counts = StringProperty("")

    def open(self, auto: bool = False, then: str | None = None, **_):
        """Show the state; start a sync when asked."""
        self.then = then
        self.show_state()
        if auto:
            self.start()

    def show_state(self) -> None:
        """What the store says now."""
        status = self.store.status()
        when = status.get("last_synced_at")
        self.last = t("sync.last", when=str(when)[:19].replace("T", " ")) if when else t("sync.never")
        self.waiting = t("sync.waiting", n=status["outbox"]) if status["outbox"] else t("sync.all_sent")
        c = status["counts"]
        self.counts = t("sync.counts", households=c["households"], residents=c["residents"],
                        followups=c["followups"], labs=c["lab_reports"])
        box = self.ids.attention
        box.clear_widgets()
        items = self.store.needs_attention()
        if items:
            card = Card()
            card.add_widget(Title(text=t("sync.attention", n=len(items)), color=theme.DANGER))
            for item in items:
                reason = item.get("reason") or {}
                fields = "；".join(f"{k}：{'，'.join(map(str, v)) if isinstance(v, list) else v}"
                                  for k, v in (reason.get("errors") or {}).items())
                card.add_widget(Lbl(text=" · ".join(filter(None, (
                    t("entity." + item["entity"]), self._whose(item),
                    item["device_time"][:16].replace("T", " "))))))
                card.add_widget(Lbl(text=t("sync.reason", reason=(reason.get("message") or "") +
                                           (("（" + fields + "）") if fields else "")), muted=True))
                discard = Btn(text=t("sync.discard"), kind="quiet", on_release=self._discard_tapped)
                discard.change_id = item["change_id"]
                card.add_widget(discard)
            box.add_widget(card)

    def _whose(self, item: dict) -> str:
        """Whose record it is (a resident's name, a household's address), so the right one is discarded."""
        fields = item.get("fields") or {}
        if item["entity"] == "residents":
            return fields.get("name") or ""
        if item["entity"] == "households":
            return fields.get("address") or ""
        rid = fields.get("resident_id")
        try:
            return self.store.resident(rid, with_household=False)["name"] if rid else ""
        except NotFound:  # moved off this tablet meanwhile
            return ""

    def _discard_tapped(self, button) -> None:
        """Two taps, so a stray touch on a doorstep discards nothing: the first asks, the second discards
        (store.discard_rejected keeps the record on the tablet, marked discarded; it is never sent)."""
        if button.kind != "danger":
            button.kind, button.text = "danger", t("sync.discard_confirm")
            return
        self.store.discard_rejected(button.change_id)
        self.show_state()
        self.progress_text = t("sync.discarded")

    def start(self) -> None:
        """Sync in the background; typing elsewhere goes on."""
        started = self.session.start_sync(
            on_progress=lambda p: Clock.schedule_once(lambda _dt: self.on_progress(p)),
            on_done=lambda r: Clock.schedule_once(lambda _dt: self.on_done(r)))
        if started:
            self.running = True
            self.progress_text = t("sync.running")

    def on_progress(self, p: Progress) -> None:
        """A progress event, on the main thread."""
        key = {"push": "sync.push", "pull": "sync.pull"}.get(p.phase)
        self.progress_text = t(key, done=p.done, total=p.total) if key else t("sync.epoch")
        self.progress_max = max(p.total, 1)
        self.progress_value = min(p.done, self.progress_max)

    def on_done(self, result: dict) -> None:
        """The worker finished, on the main thread."""
        self.running = False
        if result.get("wiped"):
            self.app.wiped(result["wiped"])
            return
        if self.session.locked:
            return  # locked while the worker ran: nothing to show until the next unlock
        if result.get("signed_out") and result.get("member") in (None, str(self.session.me.get("id"))):
            self.app.signed_out(result["message"])  # not another member who unlocked while it ran
            return
        self.progress_text = result.get("message") or (t("sync.done") if result.get("ok") else "")
        if result.get("ok"):
            self.progress_value = self.progress_max
        self.show_state()
        if result.get("ok") and self.then:
            then, self.then = self.then, None
            self.app.route(then)
