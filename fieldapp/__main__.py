"""Run the tablet app, or render one screen with demo data to a PNG.

    python -m fieldapp --server http://127.0.0.1:5000 --user t1-doctor [--password PW] [--db FILE]
    python -m fieldapp --screenshot worklist --size 1200x1920 --out worklist.png [--db FILE]

SCREEN is one of worklist, household, resident, followup, lab, referral, sync, printer, signin, unlock. Without
--db, a screenshot uses a demo tablet store built once by
`python -m server.demo.tablet` (the demo district synced into a store by the real sync engine).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCREENS = ("worklist", "household", "resident", "followup", "lab", "referral", "sync", "printer", "signin", "unlock")
DEMO_CACHE = Path(tempfile.gettempdir()) / "gpo-demo-tablet"


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def demo_store(user: str = "t1-doctor") -> str:
    """A copy of the demo tablet store (built once and cached), so a screenshot never changes the cache."""
    DEMO_CACHE.mkdir(exist_ok=True)
    cached = DEMO_CACHE / f"{user}.sqlite"
    if not cached.exists():
        partial = cached.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "server.demo.tablet", "--out", str(partial), "--user", user],
                       check=True, stdout=subprocess.DEVNULL)
        partial.rename(cached)
    copy = Path(tempfile.mkdtemp(prefix="gpo-shot-")) / "tablet.sqlite"
    shutil.copy(cached, copy)
    return str(copy)


def main(argv=None) -> int:
    """Parse the command line and run the app (or one screenshot)."""
    parser = argparse.ArgumentParser(prog="python -m fieldapp")
    parser.add_argument("--server", default=os.environ.get("GPO_SERVER"), help="the center server's URL")
    parser.add_argument("--user", default=os.environ.get("GPO_USER"), help="sign in as this team member")
    parser.add_argument("--password", default=os.environ.get("GPO_PASSWORD"),
                        help="sign in at once (the demo; otherwise typed on the sign-in screen)")
    parser.add_argument("--db", help="the tablet's store file (default: instance/tablet-USER.sqlite)")
    parser.add_argument("--screenshot", choices=SCREENS, help="render this screen to --out and exit")
    parser.add_argument("--size", type=_size, default=None, help="window size WIDTHxHEIGHT, e.g. 1200x1920")
    parser.add_argument("--out", help="PNG file for --screenshot")
    parser.add_argument("--large-text", action="store_true", help="screenshot with the large-text setting")
    parser.add_argument("--lock-after", type=float, default=float(os.environ.get("GPO_LOCK_AFTER", 300)),
                        help="lock after this many seconds without a touch (default 300: 5 minutes)")
    parser.add_argument("--density", type=float, default=None,
                        help="pixels per dp for --screenshot (default: 1.5 for a 10-inch 1200x1920 tablet, "
                             "2 for a 6-inch 720x1280 handheld)")
    args = parser.parse_args(argv)
    if args.screenshot and not args.out:
        parser.error("--screenshot needs --out FILE.png")

    from fieldapp.ui import boot
    density = args.density
    if args.screenshot and density is None and args.size:
        density = 1.5 if min(args.size) >= 1000 else 2.0
    boot.prepare(args.size, offscreen=bool(args.screenshot), density=density)

    from fieldapp.session import TabletSession
    from fieldapp.ui.app import FieldApp

    if args.screenshot:
        from fieldapp.ui.showcase import ScreenshotApp
        db = args.db or demo_store(args.user or "t1-doctor")
        session = TabletSession(db, secure=False)  # the demo store is a plain file
        app = ScreenshotApp(session, args.screenshot, args.out, large_text=args.large_text)
        app.run()
        session.close()
        return 0 if app.saved else 1
    db = args.db or str(Path("instance") / f"tablet-{args.user or 'default'}.sqlite")
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    session = TabletSession(db, server_url=args.server)
    start = None
    if not session.signed_in or (args.user and args.password and session.me.get("username") != args.user):
        start = ("signin", {"server": args.server or "", "username": args.user or "",
                            "password": args.password or "", "auto": bool(args.password)})
    FieldApp(session, start=start, lock_after=args.lock_after).run()
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
