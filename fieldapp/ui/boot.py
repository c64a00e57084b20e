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
    # where: a cache that is never found again (about 1 s of every cold start here). One folder for the
    # app, so the second start reads the pickle. (escpos 3.1 still makes an empty mkdtemp() folder at each
    # import, told or not: its default argument is evaluated either way.)
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
    """The folder for python-escpos's capability pickle, gp-outreach/escpos in the user's cache folder
    ($XDG_CACHE_HOME if absolute, else ~/.cache), made 0700 when it is made. A pickle runs code when it is
    loaded, so it is never kept where another account could put one (the shared temporary folder, where it
    was until December 2026): None, leaving escpos to its slow default, unless both folders are real folders
    (not links) of this user's that nobody else may write to, in a cache folder of this user's or root's
    that others may write to only if it is sticky. None too where there are no user ids (Windows)."""
    import stat

    if not hasattr(os, "getuid"):
        return None
    if base is None:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    app_folder = os.path.join(base, "gp-outreach")
    folder = os.path.join(app_folder, "escpos")
    uid = os.getuid()
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)  # as the XDG specification asks, if it is made here
        st = os.stat(base)
        if st.st_uid not in (uid, 0) or (st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
            return None
        for path in (app_folder, folder):  # makedirs gives its mode to the last folder only
            os.makedirs(path, mode=0o700, exist_ok=True)
        for path in (app_folder, folder):
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
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
