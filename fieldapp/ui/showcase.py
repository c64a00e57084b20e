"""Screenshots: open a screen with the demo store's data (a representative household, resident, report,
and a follow-up typed with an emergency blood pressure), render it to a PNG, quit."""
from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock

from fieldapp.worklist import WorklistBuilder

from .app import FieldApp


def pick(store, today) -> dict:
    """A resident with the most visits (charts), their household, a report (critical first)."""
    items = WorklistBuilder(store, today).build().items
    rows = store.followup_status()
    by_visits = sorted(rows, key=lambda r: -len(store.visits(r["resident_id"])))
    best = next((r for r in by_visits if store.lab_reports(r["resident_id"])), by_visits[0] if by_visits else None)
    first = items[0] if items else best
    reports = [rep for r in rows for rep in store.lab_reports(r["resident_id"])]
    reports.sort(key=lambda rep: (not rep.get("critical"), not rep.get("abnormal")))
    # The case with the most to show: returned, then answered, then the rest.
    order = {"returned": 0, "answered": 1, "info_requested": 2, "accepted": 3}
    cases = sorted(store.referrals(), key=lambda c: (order.get(c.get("state"), 9), c["id"]))
    return {"referral": cases[0]["id"] if cases else None,
            "household": first["household_id"] if first else None,
            "household_resident": first["resident_id"] if first else None,
            "resident": best["resident_id"] if best else None,
            "condition": best["condition"] if best else "hypertension",
            "report": reports[0]["id"] if reports else None}


def demo_keyring(session):
    """The unlock screen's picture needs members with PINs: three of the demo team, in a key file of their
    own under a temporary folder (random device secret and store key; nothing here opens the demo store);
    the third has mistyped twice."""
    import os
    import tempfile

    from fieldapp.keys import KeyFile, b64, new_store_key
    from fieldapp.lock import Keyring

    kf = KeyFile(path=Path(tempfile.mkdtemp(prefix="gpo-shot-keys-")) / "tablet.sqlite.keys")
    kf.device_secret = b64(os.urandom(32))
    ring = Keyring(kf)
    members = [m for m in (session.team.get("members") or []) if m.get("full_name")][:3] or [
        {"id": 1, "full_name": "王建国"}, {"id": 2, "full_name": "李秀兰"}, {"id": 3, "full_name": "张丽"}]
    key = new_store_key()
    for n, m in enumerate(members):
        ring.set_pin(str(m["id"]), f"58{n}2{n}7", key, name=m["full_name"])
    kf.members[str(members[-1]["id"])]["failures"] = 2
    kf.save()
    return ring


class ScreenshotApp(FieldApp):
    """The app opened on one screen; saves its picture once a few frames are drawn, then stops."""

    def __init__(self, session, screen: str, out: str, large_text: bool = False, **kw):
        self.screen_name, self.out, self.saved = screen, out, False
        self.large_text = large_text
        chosen = pick(session.store, session.today())
        params = {"worklist": {}, "sync": {}, "printer": {}, "signin": {"server": "http://127.0.0.1:5000",
                                                                     "username": "t1-doctor"},
                  "household": {"household_id": chosen["household"], "resident_id": chosen["household_resident"]},
                  "resident": {"resident_id": chosen["resident"]},
                  "followup": {"resident_id": chosen["resident"], "condition": chosen["condition"]},
                  "lab": {"report_id": chosen["report"]},
                  "referral": ({"referral_id": chosen["referral"]} if chosen["referral"] else
                               {"resident_id": chosen["resident"], "new": True}),
                  "unlock": {}}[screen]
        if screen == "unlock":
            session.keyring = demo_keyring(session)
        super().__init__(session, start=(screen, params), **kw)

    def build(self):
        root = super().build()
        if self.large_text:
            self.text_scale = 1.25
        screen = self.manager.get_screen(self.screen_name)
        if self.screen_name == "followup":
            screen.use_previous()
            for name, value in (("sbp", "185"), ("dbp", "112"), ("heart_rate", "88"), ("weight_kg", "71.5")):
                screen.editors[name].input.text = value
            screen.editors["symptoms"].by_value[2].state = "down"
            screen.editors["symptoms"]._press(screen.editors["symptoms"].by_value[2])
            screen.editors["weight_kg"].input.focus = True  # the keypad, offering the last visit's weight
        if self.screen_name == "lab":
            screen.show_preview()
        if self.screen_name == "printer":
            # A test page to the demo's Bluetooth printer, which is not there: the job list shows the
            # printer's problem in plain words and the retry to come.
            screen.test_print()
        Clock.schedule_once(self._capture, 0)
        return root

    def _capture(self, _dt):
        # Frames, not seconds: building a screen may take longer than any fixed wait, and layout and text
        # textures settle over the first frames drawn.
        waiting_for_printer = self.screen_name == "printer" and Clock.frames_displayed < 400 and not any(
            job.last_error for job in self.print_desk.printer.jobs())
        if Clock.frames_displayed < 4 or waiting_for_printer:
            Clock.schedule_once(self._capture, 0)
            return
        # The window's clear colour is the app's background; a widget's picture starts transparent, so the
        # picture is taken over that colour (what the screen shows).
        from kivy.graphics import Color, Rectangle
        from . import theme
        with self.root.canvas.before:
            Color(*theme.BG)
            Rectangle(pos=self.root.pos, size=self.root.size)
        self.root.export_to_png(self.out)
        self.saved = True
        self.stop()
