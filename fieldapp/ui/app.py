"""The App: builds the screens and routes between them; nothing else (the work is in fieldapp's
plain-Python modules, the drawing in each screen's .py + .kv pair)."""
from __future__ import annotations

import importlib
from pathlib import Path

from kivy.app import App
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty
from kivy.uix.screenmanager import NoTransition, ScreenManager

from . import printjob, theme, widgets  # noqa: F401 - widgets.kv's classes, registered with Kivy's Factory
from .strings import t

HERE = Path(__file__).resolve().parent
# Screen name -> its class in fieldapp/ui/<module>.py (with <name>.kv beside it). Imported, its kv rules
# loaded and built the first time it is shown: a start builds the worklist only (the follow-up form alone
# is hundreds of widgets), which is most of the cold start and of the memory a start needs.
SCREENS = {"signin": "signin:SignInScreen", "worklist": "worklist:WorklistScreen",
           "household": "household:HouseholdScreen", "resident": "resident:ResidentScreen",
           "followup": "followup:FollowUpScreen", "lab": "lab:LabScreen", "sync": "sync:SyncScreen",
           "printer": "printer:PrinterScreen", "referral": "referral:ReferralScreen"}


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

    def __init__(self, session, start: tuple[str, dict] | None = None, **kw):
        super().__init__(**kw)
        self.session = session
        self.start = start
        self.history: list[tuple[str, dict]] = []
        self.title = t("app.title")

    def build(self):
        """Load the shared kv rules and open the first screen (the others are made when first shown)."""
        Builder.load_file(str(HERE / "widgets.kv"))
        self.manager = LazyScreenManager(transition=NoTransition())
        Window.clearcolor = theme.BG
        Window.bind(on_keyboard=self._key)
        self.text_scale = theme.LARGE_TEXT if self.session.store.state("large_text") else 1.0
        name, params = self.start or (("worklist", {}) if self.session.signed_in else ("signin", {}))
        self.route(name, **params)
        return self.manager

    def route(self, name: str, remember: bool = True, **params) -> None:
        """Open a screen with its parameters."""
        if remember and self.history[-1:] != [(name, params)]:
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
        from kivy.clock import Clock
        Clock.schedule_once(lambda _dt: printjob.desk(self), 3)

    def on_stop(self):
        """Let a running sync finish its transaction before the process ends (it is safe either way); stop
        the printer worker (queued jobs stay in the store)."""
        self.session.wait_sync(timeout=5)
        if getattr(self, "print_desk", None) is not None:
            self.print_desk.stop()
