"""Unlock and PIN set-up (issue 18): a member picks their name and types their PIN (offline); after an online
sign-in a member without a PIN sets one. The rules (allowed PINs, the ladder, K) are fieldapp/lock.py's and
fieldapp/session.py's; this screen only shows them."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from fieldapp.lock import MAX_FAILURES, PinDisabled, TooSoon, WrongPin

from .base import BaseScreen
from .strings import t
from .widgets import Chip


class UnlockScreen(BaseScreen):
    """mode "unlock" (the store is locked) or "setpin" (a member is in and has no PIN yet)."""

    mode = StringProperty("unlock")
    message = StringProperty("")
    problem = BooleanProperty(False)
    member = StringProperty("")  # the chosen member's user id
    practice = BooleanProperty(False)
    footer = StringProperty("")

    def open(self, mode: str = "unlock", notice: str = "", then: str = "worklist", **_):
        """Fill the member list (unlock) or greet the member (setpin)."""
        self.mode, self.then = mode, then
        idle = int(self.app.idle.timeout)
        self.footer = t("pin.shared", idle=t("pin.minutes", n=idle // 60) if idle % 60 == 0 else t("pin.seconds", n=idle))
        self.practice = False
        self.ids.pin.text = ""
        self.ids.pin2.text = ""
        self.problem = bool(notice)
        self._stop_countdown()
        if mode == "setpin":
            self.message = notice or t("pin.setup_intro", name=self.session.me.get("full_name") or "")
            return
        box = self.ids.members
        box.clear_widgets()
        members = self.session.keyring.members()
        usable = [m for m in members if not m["disabled"]]
        if self.member not in {m["user_id"] for m in usable}:
            self.member = usable[0]["user_id"] if usable else ""
        for m in members:
            chip = Chip(text=m["name"] + (t("pin.disabled_mark") if m["disabled"] else ""), group="member",
                        value=m["user_id"], state="down" if m["user_id"] == self.member else "normal",
                        disabled=m["disabled"], allow_no_selection=False)
            chip.bind(on_release=lambda c: self.choose(c.value))
            box.add_widget(chip)
        self.message = notice or (t("pin.unlock_intro") if usable else t("pin.none_usable"))
        self._show_wait()

    def choose(self, user_id: str) -> None:
        """A member taps their name."""
        self.member = user_id
        self.problem = False
        self.message = t("pin.unlock_intro")
        self._show_wait()

    def submit(self) -> None:
        """Unlock with the PIN typed, or set the PIN typed twice."""
        if self.mode == "setpin":
            self._set_pin()
            return
        if not self.member:
            self._say(t("pin.none_usable"), True)
            return
        pin, self.ids.pin.text = self.ids.pin.text, ""
        try:
            self.session.unlock(self.member, pin)
        except WrongPin as err:
            self._say(t("pin.wrong", left=err.left) + (t("pin.wait", s=err.wait) if err.wait else ""), True)
            self._show_wait()
            return
        except TooSoon as err:
            self._say(t("pin.wait", s=err.seconds), True)
            self._show_wait()
            return
        except PinDisabled:
            self._say(t("pin.disabled", n=MAX_FAILURES), True)
            self.open(notice=self.message)
            return
        if self.practice:
            self.session.enter_practice()
        self.app.unlocked(self.then)

    def _set_pin(self) -> None:
        pin, again = self.ids.pin.text, self.ids.pin2.text
        if pin != again:
            self._say(t("pin.mismatch"), True)
            return
        try:
            self.session.set_pin(pin)
        except ValueError as err:
            self._say(t(str(err)), True)
            return
        self.ids.pin.text = self.ids.pin2.text = ""
        self.app.pin_set(self.then)

    def later(self) -> None:
        """Set-up skipped: without a PIN only an online sign-in opens the store after it locks."""
        self.app.pin_set(self.then)

    def sign_in_online(self) -> None:
        """A member whose PIN is disabled, or a new member: the sign-in screen."""
        self.app.route("signin", notice=t("pin.online_hint"))

    def _say(self, text: str, problem: bool) -> None:
        self.message, self.problem = text, problem

    # --- the wait after wrong tries, counted down on the screen ----------------------------------------

    def _show_wait(self) -> None:
        self._stop_countdown()
        if self.member and self.session.keyring.seconds_to_wait(self.member):
            self._tick(0)
            self._countdown = Clock.schedule_interval(self._tick, 1)

    def _tick(self, _dt) -> None:
        left = self.session.keyring.seconds_to_wait(self.member) if self.member else 0
        self.ids.submit.disabled = bool(left)
        if left:
            self._say(t("pin.wait", s=left), True)
        else:
            self._stop_countdown()
            self._say(t("pin.unlock_intro"), False)

    def _stop_countdown(self) -> None:
        event = getattr(self, "_countdown", None)
        if event is not None:
            event.cancel()
            self._countdown = None
        if "submit" in self.ids:
            self.ids.submit.disabled = False

    def on_leave(self, *_):
        self._stop_countdown()
