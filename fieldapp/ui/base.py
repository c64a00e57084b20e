"""What every screen shares: the app, the session's store, and open(**params) called by the router."""
from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen


class BaseScreen(Screen):
    """A screen; subclasses fill themselves in open() from the store's read API."""

    @property
    def app(self):
        """The running FieldApp."""
        return App.get_running_app()

    @property
    def session(self):
        """The TabletSession."""
        return self.app.session

    @property
    def store(self):
        """The main thread's Store (read API only)."""
        return self.app.session.store

    def open(self, **params) -> None:
        """Fill the screen for these parameters (override)."""

    def leaving(self) -> None:
        """The router opens another screen (or this one again): keep what must be kept (override)."""

    def before_lock(self) -> None:
        """The store is about to close (auto-lock, the app to the background): keep what must be kept now
        (override); nothing may touch the store after this until the next open()."""
