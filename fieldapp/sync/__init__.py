"""The tablet's sync client (plain Python, stdlib only; no Kivy).

    from fieldapp.store import Store
    from fieldapp.sync import HttpTransport, SyncEngine
    store = Store(path)
    transport = HttpTransport("https://center.example", store)
    transport.login(username, password)                 # once; tokens are kept in the store
    result = SyncEngine(store, transport, progress=on_progress).sync()
    result.synced        # True only when the outbox is empty

`progress` receives Progress(phase, done, total, message) events from the worker thread; the app forwards
them to the screen with Clock.schedule_once. SyncFailed means "try later"; nothing saved is lost.
"""
from .engine import Progress, SyncEngine, SyncFailed, SyncResult
from .transport import AuthError, DeviceLost, HttpError, HttpTransport, TransportError

__all__ = ["SyncEngine", "SyncResult", "SyncFailed", "Progress", "HttpTransport", "HttpError", "AuthError",
           "DeviceLost", "TransportError"]
