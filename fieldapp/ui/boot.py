"""Kivy's environment, set before Kivy is imported: no command-line parsing by Kivy, the window size, an
offscreen window when asked, and the project's CJK font as Kivy's default so Chinese renders."""
from __future__ import annotations

import atexit
import os
import shutil
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
    cache = escpos_cache()
    if cache:
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
        # A private Kivy home: no config file of the machine's user changes a screenshot or a test. Removed
        # when the process ends (one was left behind by every screenshot and test driver).
        if "KIVY_HOME" not in os.environ:
            os.environ["KIVY_HOME"] = tempfile.mkdtemp(prefix="kivy-home-")
            atexit.register(shutil.rmtree, os.environ["KIVY_HOME"], ignore_errors=True)
    from kivy.config import Config
    if size:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    register_font()


def escpos_cache(base: str | None = None) -> str | None:
    """The folder for python-escpos's capability pickle: the user's own cache folder ($XDG_CACHE_HOME or
    ~/.cache; on Android the app's private home), made 0700; None, leaving escpos to its slow default, if it
    is not this user's or others may write to it. A pickle runs code when it is loaded, so it is never kept
    where another account could put one (the shared temporary folder, where it was until December 2026)."""
    base = base or os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    app_folder = os.path.join(base, "gp-outreach")
    folder = os.path.join(app_folder, "escpos")
    try:
        for path in (app_folder, folder):  # makedirs gives its mode to the last folder only
            os.makedirs(path, mode=0o700, exist_ok=True)
        for path in (app_folder, folder):
            st = os.stat(path)
            if st.st_mode & 0o022 or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
                return None
    except OSError:
        return None
    return folder


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
