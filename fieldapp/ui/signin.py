"""Sign-in: online the first time (HttpTransport.login through the session), then the first sync."""
from __future__ import annotations

import threading

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from fieldapp.session import SignInFailed

from .base import BaseScreen
from .strings import t


class SignInScreen(BaseScreen):
    """The first screen on a new tablet."""

    message = StringProperty("")
    working = BooleanProperty(False)

    def open(self, server: str = "", username: str = "", password: str = "", auto: bool = False,
             notice: str = "", **_):
        """Prefill; with auto=True sign in at once (make fieldapp); `notice` replaces the introduction."""
        self.ids.server.text = server or self.session.server_url or ""
        self.ids.username.text = username or (self.session.me.get("username") or "")
        self.ids.password.text = password
        self.message = notice or t("signin.intro")
        if auto:
            self.submit()

    def submit(self) -> threading.Thread | None:
        """Sign in on a worker thread (the network may be slow); the answer comes back through Clock."""
        if self.working:
            return None
        self.working = True
        self.message = t("signin.working")
        server, user, password = self.ids.server.text.strip(), self.ids.username.text.strip(), self.ids.password.text

        def work():
            try:
                me = self.session.sign_in(server, user, password)
                Clock.schedule_once(lambda _dt: self._signed_in(me))
            except SignInFailed as err:
                text = str(err)
                Clock.schedule_once(lambda _dt: self._failed(text))
        worker = threading.Thread(target=work, daemon=True, name="sign-in")
        worker.start()
        return worker

    def _signed_in(self, me: dict) -> None:
        self.working = False
        self.ids.password.text = ""
        self.message = t("signin.done", name=me.get("full_name", ""))
        if self.session.needs_pin:
            self.app.route("unlock", mode="setpin", then="sync")
        else:
            self.app.route("sync", auto=True, then="worklist")

    def _failed(self, text: str) -> None:
        self.working = False
        self.message = text
