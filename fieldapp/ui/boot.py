"""Kivy's environment, set before Kivy is imported: no command-line parsing by Kivy, the window size, an
offscreen window when asked, and the project's CJK font as Kivy's default so Chinese renders."""
from __future__ import annotations

import os
import tempfile


def prepare(size: tuple[int, int] | None = None, offscreen: bool = False, quiet: bool = True,
            density: float | None = None) -> None:
    """Set Kivy's environment and window size; register the CJK font. Call once, before importing Kivy.
    `density` is pixels per dp (Android reports it; a desktop window is 1): screenshots pass the device's."""
    if density:
        os.environ["KIVY_METRICS_DENSITY"] = str(density)
    # python-escpos pickles its printer capabilities into a new mkdtemp() folder at every import unless told
    # where: a cache that is never found again (about 1 s of every cold start here, and a folder left
    # behind each time). One folder for the app, so the second start reads the pickle.
    cache = os.path.join(tempfile.gettempdir(), "gpo-escpos-cache")
    os.makedirs(cache, exist_ok=True)
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", cache)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # MIXED: Kivy leaves sys.stderr alone, so a traceback is printed even with its console log off.
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    if quiet:
        os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    if offscreen:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
        os.environ.setdefault("KIVY_WINDOW", "sdl2")
        # A private Kivy home: no config file of the machine's user changes a screenshot or a test.
        os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))
    from kivy.config import Config
    if size:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    register_font()


def register_font() -> str | None:
    """Make the project's CJK font (fonts-wqy-microhei) Kivy's default; returns its path, None if absent."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    from printing import FontMissing, find_cjk_font
    try:
        path = find_cjk_font()
    except FontMissing:
        return None  # boxes instead of Chinese; scripts/system-deps.sh installs the font
    LabelBase.register(DEFAULT_FONT, path)
    return path
