"""The App: builds the screens and routes between them; nothing else (the work is in fieldapp's
plain-Python modules, the drawing in each screen's .py + .kv pair)."""
from __future__ import annotations

import importlib
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty
from kivy.uix.screenmanager import NoTransition, ScreenManager

from fieldapp.lock import IDLE_TIMEOUT_S, IdleLock

from . import printjob, theme, widgets  # noqa: F401 - widgets.kv's classes, registered with Kivy's Factory
from .strings import t

HERE = Path(__file__).resolve().parent
# Screen name -> its class in fieldapp/ui/<module>.py (with <name>.kv beside it). Imported, its kv rules
# loaded and built the first time it is shown: a start builds the worklist only (the follow-up form alone
# is hundreds of widgets), which is most of the cold start and of the memory a start needs.
SCREENS = {"signin": "signin:SignInScreen", "worklist": "worklist:WorklistScreen",
           "household": "household:HouseholdScreen", "resident": "resident:ResidentScreen",
           "followup": "followup:FollowUpScreen", "lab": "lab:LabScreen", "sync": "sync:SyncScreen",
           "printer": "printer:PrinterScreen", "referral": "referral:ReferralScreen",
           "unlock": "unlock:UnlockScreen"}


class LazyScreenManager(ScreenManager):
    """A ScreenManager that makes a screen of SCREENS when it is first asked for."""

    def get_screen(self, name):
        if not self.has_screen(name) and name in SCREENS:
            module, _, cls = SCREENS[name].partition(":")
            screen_class = getattr(importlib.import_module(f"{__package__}.{module}"), cls)
            Builder.load_file(str(HERE / f"{name}.kv"))
            self.add_widget(screen_class(name=name))
        return super().get_screen(name)


class FieldApp(App):
    """The tablet app over one TabletSession; `start` is (screen, params) to open first."""

    text_scale = NumericProperty(1.0)
    session = ObjectProperty(None)

    def __init__(self, session, start: tuple[str, dict] | None = None, lock_after: float = IDLE_TIMEOUT_S,
                 idle_clock=None, idle_check_every: float = 1.0, **kw):
        super().__init__(**kw)
        self.idle_check_every = idle_check_every  # seconds; a test on an injected idle clock waits less
        self.session = session
        self.start = start
        self.history: list[tuple[str, dict]] = []
        self.title = t("app.title")
        self.idle = IdleLock(lock_after, **({"clock": idle_clock} if idle_clock else {}))

    def build(self):
        """Load the shared kv rules and open the first screen (the others are made when first shown)."""
        Builder.load_file(str(HERE / "widgets.kv"))
        self.manager = LazyScreenManager(transition=NoTransition())
        Window.clearcolor = theme.BG
        Window.bind(on_keyboard=self._key, on_touch_down=self._touched, on_key_down=self._touched)
        store = self.session.store
        self.text_scale = theme.LARGE_TEXT if store is not None and store.state("large_text") else 1.0
        name, params = self._first_screen()
        self.route(name, **params)
        # Once a second: the lock comes within a second of the timeout, and the check costs nothing.
        self._idle_check = Clock.schedule_interval(self.check_idle, self.idle_check_every)
        return self.manager

    def _first_screen(self) -> tuple[str, dict]:
        if self.start:
            return self.start[0], self.start[1]
        if self.session.locked:
            return ("unlock", {}) if self.session.can_unlock_offline else ("signin", {})
        if self.session.needs_pin:
            return "unlock", {"mode": "setpin"}
        return ("worklist", {}) if self.session.signed_in else ("signin", {})

    def route(self, name: str, remember: bool = True, **params) -> None:
        """Open a screen with its parameters (a locked store opens only the unlock and sign-in screens)."""
        if self.session.locked and name not in ("unlock", "signin"):
            name, params = ("unlock", {"then": name}) if self.session.can_unlock_offline else ("signin", {})
        self._route(name, remember, **params)

    # --- locking --------------------------------------------------------------------------------------

    def _touched(self, *_):
        self.idle.touch()
        return False  # the touch or key goes on to the widgets

    def check_idle(self, _dt=None) -> None:
        """Lock when the tablet has been left alone for the timeout (default 5 minutes)."""
        if self.idle.due() and not self.session.locked:
            self.lock_now()

    def lock_now(self) -> None:
        """Close the store and show the unlock screen; a running sync finishes on its own."""
        if not self.session.secure or self.session.locked:
            return
        if self.manager.current_screen is not None:
            self.manager.current_screen.before_lock()
        self._stop_printing()  # its connection holds the store's key; queued jobs wait in the store
        self.session.lock()
        self.history.clear()
        self.route("unlock" if self.session.can_unlock_offline else "signin")

    def unlocked(self, then: str = "worklist") -> None:
        """A member unlocked: the screen they meant to open."""
        self.idle.touch()
        Clock.schedule_once(lambda _dt: self._resume_printing(), 3)
        self.text_scale = theme.LARGE_TEXT if self.session.store.state("large_text") else 1.0
        self.history.clear()
        if self.session.needs_pin:
            self.route("unlock", mode="setpin", then=then)
        else:
            self.route(then)

    def pin_set(self, then: str = "worklist") -> None:
        """After the PIN set-up (or skipping it)."""
        self.route(then, **({"auto": True, "then": "worklist"} if then == "sync" else {}))

    def wiped(self, reason: str) -> None:
        """The tablet wiped itself (retired or lost): nothing is left to show but the sign-in screen."""
        self._stop_printing()
        self.session.after_wipe()
        self.history.clear()
        self.route("signin", notice=t("lock.wiped_lost" if reason == "lost" else "lock.wiped_retired"))

    def signed_out(self, message: str) -> None:
        """The server cut this member's sign-in off at this contact: lock, and ask for an online sign-in."""
        self.lock_now()
        self.route("signin", notice=message)

    def _stop_printing(self) -> None:
        """Stop the print worker and drop it; the first print after an unlock starts a new one."""
        if getattr(self, "print_desk", None) is not None:
            self.print_desk.stop()
            self.print_desk = None

    def on_pause(self):
        """Android sends the app to the background: lock first (the store closes, K is dropped)."""
        self.lock_now()
        return True

    def on_resume(self):
        """Back from the background: the unlock screen is already showing."""
        self.idle.touch()

    def _route(self, name: str, remember: bool = True, **params) -> None:
        if self.manager.current_screen is not None:
            self.manager.current_screen.leaving()
        if remember and self.manager.current_screen is not None and self.history[-1:] != [(name, params)]:
            self.history.append((name, params))
        self.manager.get_screen(name).open(**params)
        self.manager.current = name

    def back(self) -> None:
        """The screen before this one (the worklist when there is none)."""
        if len(self.history) > 1:
            self.history.pop()
            name, params = self.history[-1]
            self.route(name, remember=False, **params)
        else:
            self.route("worklist", remember=False)

    def toggle_text_size(self) -> None:
        """Large text on or off (kept in the store)."""
        large = self.text_scale == 1.0
        self.text_scale = theme.LARGE_TEXT if large else 1.0
        with self.session.store.transaction():
            self.session.store.set_state("large_text", large)

    def _key(self, _window, key, *_):
        if key == 27:  # Android's back button arrives as Escape
            self.back()
            return True
        return False

    def on_start(self):
        """Print jobs left waiting by the last run (printer off, app closed) go out once the app is up."""
        Clock.schedule_once(lambda _dt: self._resume_printing(), 3)

    def _resume_printing(self) -> None:
        # Only with the store open: a locked tablet's jobs wait, encrypted, until a member unlocks.
        if self.session.store is not None and not self.session.locked:
            printjob.desk(self)

    def on_stop(self):
        """Let a running sync finish its transaction before the process ends (it is safe either way); stop
        the printer worker (queued jobs stay in the store)."""
        self.session.wait_sync(timeout=5)
        if getattr(self, "print_desk", None) is not None:
            self.print_desk.stop()
