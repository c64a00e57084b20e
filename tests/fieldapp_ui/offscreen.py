"""What the Kivy drivers (visit_driver.py, lock_driver.py) share: Kivy prepared for an offscreen window of a
6-inch handheld, or the reason there is none (the driver then exits 77 and its test skips)."""
from __future__ import annotations

NO_WINDOW = 77


def open_window(size=(720, 1280)) -> str | None:
    """Prepare Kivy offscreen and open its window; None when it opened, else why it could not."""
    import os

    from fieldapp.ui import boot
    # A driver draws frames as fast as it can: at Kivy's default of 60 a second, each frame's tick slept out
    # the rest of its 1/60 s (60 frames: 0.74 s, against 0.001 s). Kivy's Clock reads this once, when it is
    # made (boot.prepare already imports it), so it goes in the environment Kivy reads its config from.
    os.environ["KCFG_GRAPHICS_MAXFPS"] = "0"
    boot.prepare(size, offscreen=True)
    try:
        from kivy.core.window import Window
        if Window is None:
            raise RuntimeError("no window provider")
    except Exception as err:  # noqa: BLE001
        return f"Kivy cannot open a window here: {err}"
    return None


def frames(n: int = 3) -> None:
    """Let Kivy draw n frames (layout and bindings settle)."""
    from kivy.base import EventLoop
    for _ in range(n):
        EventLoop.idle()


def until(condition, what: str, timeout: float = 60.0) -> None:
    """Draw frames until condition() holds (a worker's answer arrives through Clock), or fail naming `what`."""
    import time

    from kivy.base import EventLoop
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        EventLoop.idle()
        time.sleep(0.01)
    frames()


def finish(app, session, result: dict, path: str) -> int:
    """Stop the app, close the store, write the driver's result for its test; the exit status."""
    import json

    from kivy.clock import Clock
    app.stop()
    Clock.tick()
    session.close()
    with open(path, "w") as fh:
        json.dump(result, fh, ensure_ascii=False)
    exit_quickly()
    return 0


def exit_quickly() -> None:
    """The driver's process ends now: its ~200,000 objects (Kivy, the screens, the store) frozen, so the
    interpreter's exit does not walk them in its garbage collections (0.7-1.2 s at the end of each run)."""
    import gc
    gc.freeze()
