"""Sync: progress (events from the worker, shown on the main thread through Clock), last sync, what is
waiting to go up, and what the server refused with its reason."""
from __future__ import annotations

import time

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from fieldapp import attention
from fieldapp.sync import Progress
from gpcore.clock import china_minute

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
        self.last = t("sync.last", when=china_minute(when)) if when else t("sync.never")  # kept in UTC
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
            me = self.session.me.get("id")
            for item in items:
                card.add_widget(Lbl(text=" · ".join(filter(None, (
                    t("entity." + item["entity"]), self._whose(item),
                    china_minute(item["device_time"]))))))
                reason = attention.reason_text(item.get("reason"), item["entity"])
                card.add_widget(Lbl(text=t("sync.reason", reason=reason), muted=True))
                if attention.fixable(item, me, self.store):
                    fix = Btn(text=t("sync.fix"), kind="primary", on_release=self._fix_tapped)
                    fix.change_id = item["change_id"]
                    card.add_widget(fix)
                discard = Btn(text=t("sync.discard"), kind="quiet", on_release=self._discard_tapped)
                discard.change_id = item["change_id"]
                card.add_widget(discard)
            box.add_widget(card)

    def _whose(self, item: dict) -> str:
        """Whose record it is (a resident's name, a household's address), so the right one is discarded: from
        what it carries, else from the tablet's row it names (an edit carries only what it changed)."""
        fields, entity = item.get("fields") or {}, item["entity"]
        row = self.store.record(entity, item["entity_id"]) or {}
        if entity == "residents":
            return fields.get("name") or row.get("name") or ""
        if entity == "households":
            return fields.get("address") or row.get("address") or ""
        rid = fields.get("resident_id") or row.get("resident_id")
        if not rid and fields.get("amends_id"):
            rid = (self.store.record("followups", fields["amends_id"]) or {}).get("resident_id")
        resident = self.store.record("residents", rid) if rid else None
        return (resident or {}).get("name") or ""

    def _fix_tapped(self, button) -> None:
        """The refused visit on the follow-up form, as it was signed, or the refused referral on the referral
        form, as it was written, to be corrected and sent again."""
        item = next((i for i in self.store.needs_attention() if i["change_id"] == button.change_id), None)
        if item is None or not attention.fixable(item, self.session.me.get("id"), self.store):
            self.show_state()  # fixed, discarded, or its resident pulled away meanwhile
            return
        fields = item["fields"]
        target = self.store.record("followups", fields["amends_id"]) if fields.get("amends_id") else fields
        # Coming back here shows the list: it does not start the first sign-in's sync again, nor go on to
        # the worklist (then) when a sync ends while the form is open; where it was to go on to is what
        # going back from here leads to.
        if self.app.history[-1:] and self.app.history[-1][0] == self.name:
            below = [(self.then, {})] if self.then else self.app.history[:-1]
            self.app.history[:] = [*below, (self.name, {})]
        self.then = None
        if item["entity"] == "referrals":
            self.app.route("referral", resident_id=fields["resident_id"], new=True, fix=item["change_id"])
            return
        self.app.route("followup", resident_id=target["resident_id"], condition=target["condition"],
                       amend_id=fields.get("amends_id"), fix=item["change_id"])

    def _discard_tapped(self, button) -> None:
        """Two taps, so a stray touch on a doorstep discards nothing: the first arms the button (for
        DISARM_AFTER seconds, the only one armed), the second discards, unless it came so soon after the
        first that it was a bounce or a double tap. store.discard_rejected marks the record discarded: it is
        never sent; the tablet's rows already went back to what they were when the server refused it."""
        now = time.monotonic()
        armed = getattr(button, "armed_at", None)
        if armed is None or now - armed > self.DISARM_AFTER:
            self._disarm_all()
            button.armed_at, button.kind, button.text = now, "danger", t("sync.discard_confirm")
            # Only this arming's timer disarms it (one armed, disarmed and armed again keeps its 5 s).
            Clock.schedule_once(lambda _dt, at=now: button.armed_at == at and self._disarm(button),
                                self.DISARM_AFTER)
            return
        if now - armed < self.CONFIRM_GAP:
            return
        self.store.discard_rejected(button.change_id)
        self.show_state()
        self.progress_text = t("sync.discarded")

    DISARM_AFTER = 5.0
    CONFIRM_GAP = 0.5  # seconds between the two taps, at least

    def _disarm(self, button) -> None:
        button.armed_at, button.kind, button.text = None, "quiet", t("sync.discard")

    def _disarm_all(self) -> None:
        for w in self.ids.attention.walk():
            if getattr(w, "armed_at", None) is not None:
                self._disarm(w)

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
        if result.get("ok") and self.then and self.manager is not None and self.manager.current == self.name:
            then, self.then = self.then, None
            self.app.route(then)
