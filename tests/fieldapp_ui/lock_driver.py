"""Drives the real app's lock under Kivy's offscreen window (run by test_lock_ui.py in a subprocess): the
unlock screen on an enrolled tablet, a wrong PIN, the right one, auto-lock after inactivity on an injected
idle clock (the App's own once-a-second check), a touch that postpones it, and the lock when the app goes to
the background; of three refused records, a visit discarded from the sync screen, a visit and an amendment
fixed on the follow-up form. Exit 77: no window could be opened.

    python tests/fieldapp_ui/lock_driver.py --db FILE --member USER_ID --pin PIN --resident ID --discard CHANGE_ID
        --result FILE.json
"""
from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--db", "--member", "--pin", "--resident", "--discard", "--result"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()

    from offscreen import NO_WINDOW, finish, frames, open_window, until
    problem = open_window()
    if problem:
        print(problem, file=sys.stderr)
        return NO_WINDOW

    from fieldapp.session import TabletSession
    from fieldapp.ui.app import FieldApp
    from fieldapp.ui.widgets import Btn, Chip

    now = [1000.0]
    session = TabletSession(args.db)  # offline: no server is reachable at the URL in the key file
    # The App's own check, every 50 ms instead of every second: a wait of two periods (and Kivy's next frame)
    # is sure to include one check, as 1.2 s was with the default.
    check_every = 0.05
    app = FieldApp(session, lock_after=300, idle_clock=lambda: now[0], idle_check_every=check_every)
    app._run_prepare()
    result: dict = {"steps": []}

    def unlock_with(pin):
        screen = app.manager.get_screen("unlock")
        chip = next(c for c in screen.ids.members.children if isinstance(c, Chip) and c.value == args.member)
        chip.trigger_action(duration=0)
        screen.ids.pin.text = ""
        screen.ids.pin.insert_text(pin)
        screen.ids.submit.trigger_action(duration=0)
        frames()
        return screen

    frames()
    assert app.manager.current == "unlock" and session.locked, app.manager.current
    screen = unlock_with("000001")
    assert app.manager.current == "unlock" and session.locked
    assert "PIN不对" in screen.message and screen.problem, screen.message
    result["steps"].append("wrong PIN refused: " + screen.message)
    unlock_with(args.pin)
    assert app.manager.current == "worklist" and not session.locked, app.manager.current
    result["steps"].append("unlocked to the worklist")

    # Inactivity, on the injected clock; the App's scheduled check does the locking.
    now[0] += 299
    frames(2)
    time.sleep(2 * check_every)
    frames(3)
    assert app.manager.current == "worklist" and not session.locked, "locked before the timeout"
    app._touched()  # a tap postpones it
    now[0] += 200
    time.sleep(2 * check_every)
    frames(3)
    assert not session.locked, "a touch did not postpone the lock"
    now[0] += 101
    until(lambda: session.locked, "auto-lock after 5 minutes")
    assert app.manager.current == "unlock"
    result["steps"].append("auto-locked after 300 s idle (injected clock)")

    # The app goes to the background in the middle of a visit: the half-typed form is kept, then it locks.
    unlock_with(args.pin)
    assert not session.locked
    app.route("followup", resident_id=args.resident, condition="hypertension")
    frames()
    form = app.manager.get_screen("followup")
    form.editors["sbp"].input.text = ""
    form.editors["sbp"].input.insert_text("151")
    assert session.store.draft(args.resident, "hypertension") is None  # not kept yet (0.4 s after typing)
    assert app.on_pause() is True
    frames()
    assert session.locked and app.manager.current == "unlock"
    app.on_resume()
    frames()
    assert app.manager.current == "unlock"
    unlock_with(args.pin)
    draft = session.store.draft(args.resident, "hypertension")
    assert draft is not None and str(draft.get("sbp")) == "151", draft
    result["steps"].append("locked on pause, the half-typed visit kept")

    # Two records the server refused: one discarded from the sync screen, by a second tap after a pause (a
    # double tap or a bounce discards nothing); the other stays.
    app.route("sync")
    frames()
    sync = app.manager.get_screen("sync")

    def buttons():
        return [w for w in sync.ids.attention.walk() if isinstance(w, Btn) and getattr(w, "change_id", None)]

    assert len(session.store.needs_attention()) == 3
    assert sorted(b.text for b in buttons()) == ["修改后重新上传"] * 3 + ["放弃这条（不再上传）"] * 3  # the member's own
    name = session.store.resident(args.resident)["name"]
    assert any(name in getattr(w, "text", "") for w in sync.ids.attention.walk()), "whose visit is not shown"
    discard = next(b for b in buttons() if b.change_id == args.discard and b.text.startswith("放弃"))
    discard.trigger_action(duration=0)
    discard.trigger_action(duration=0)  # at once: a double tap
    frames()
    assert len(session.store.needs_attention()) == 3 and discard.text == "再点一次，确认放弃", discard.text
    time.sleep(sync.CONFIRM_GAP + 0.05)
    discard.trigger_action(duration=0)
    frames()
    left = session.store.needs_attention()
    assert args.discard not in [i["change_id"] for i in left] and len(left) == 2, left
    assert "不会再上传" in sync.progress_text, sync.progress_text
    assert sorted(b.text for b in buttons()) == ["修改后重新上传"] * 2 + ["放弃这条（不再上传）"] * 2
    assert {b.change_id for b in buttons()} == {i["change_id"] for i in left}
    [visit_item] = [i for i in left if not i["fields"].get("amends_id")]
    [amend_item] = [i for i in left if i["fields"].get("amends_id")]

    def fix_button(item):
        return next(b for b in buttons() if b.text == "修改后重新上传" and b.change_id == item["change_id"])
    result["steps"].append("a refused visit discarded on the sync screen, on the second tap")

    # The other one fixed: it opens on the form as it was signed, with the server's reason; corrected, it is
    # sent again under its own id, and the half-typed visit of the same resident (a draft) stays as it was.
    fix_button(visit_item).trigger_action(duration=0)
    frames()
    assert app.manager.current == "followup", app.manager.current
    form = app.manager.get_screen("followup")
    assert form.fixing and str(form.editors["sbp"].input.text) == "150", form.editors["sbp"].input.text
    assert "随访日期不对" in form.status and form.sign_button.text == "重新上传", (form.status, form.sign_button.text)
    form.editors["sbp"].input.text = ""
    form.editors["sbp"].input.insert_text("148")
    # Locked mid-correction (the app sent to the background): what was typed is kept, as a draft is.
    assert app.on_pause() is True
    frames()
    unlock_with(args.pin)
    app.route("sync", then="worklist")  # as after a sign-in: the worklist once the sync is done
    frames()
    fix_button(visit_item).trigger_action(duration=0)
    frames()
    form = app.manager.get_screen("followup")
    assert form.fixing and str(form.editors["sbp"].input.text) == "148", form.editors["sbp"].input.text
    form.sign_button.trigger_action(duration=0)
    frames()
    assert form.signed and "已改好" in form.status, form.status
    assert [i["change_id"] for i in session.store.needs_attention()] == [amend_item["change_id"]]
    [visit] = [v for v in session.store.visits(args.resident) if v["id"] == visit_item["entity_id"]]
    assert visit["sbp"] == 148, visit
    assert str(session.store.draft(args.resident, "hypertension").get("sbp")) == "151"
    assert session.store.kept_fix(visit_item["change_id"]) is None
    app.back()
    frames()
    assert app.manager.current == "sync" and {b.change_id for b in buttons()} == {amend_item["change_id"]}
    result["steps"].append("the other refused visit fixed on the form and waiting to go up again")

    # The refused amendment: its reason comes with it; corrections and reason are kept 0.4 s after typing,
    # so leaving the form (back) loses nothing; signed, it goes up again as an amendment of the same visit.
    fix_button(amend_item).trigger_action(duration=0)
    frames()
    form = app.manager.get_screen("followup")
    assert form.fixing and form.amending and form.reason.text == "血压抄错", form.reason.text
    assert str(form.editors["sbp"].input.text) == "134", form.editors["sbp"].input.text
    form.editors["sbp"].input.text = ""
    form.editors["sbp"].input.insert_text("136")
    until(lambda: str(((session.store.kept_fix(amend_item["change_id"]) or {}).get("form") or {}).get("sbp"))
          == "136", "the amendment's corrected box kept")
    form.reason.text = "血压抄错，应为136"
    until(lambda: (session.store.kept_fix(amend_item["change_id"]) or {}).get("reason") == "血压抄错，应为136",
          "the amendment's corrections kept")
    app.back()
    frames()
    fix_button(amend_item).trigger_action(duration=0)
    frames()
    form = app.manager.get_screen("followup")
    assert (str(form.editors["sbp"].input.text), form.reason.text) == ("136", "血压抄错，应为136")
    form.sign_button.trigger_action(duration=0)
    frames()
    assert form.signed and session.store.needs_attention() == [], form.status
    app.back()
    frames()
    assert app.manager.current == "sync" and buttons() == []
    app.back()  # where the sync screen was to go on to
    frames()
    assert app.manager.current == "worklist", app.manager.current
    result["steps"].append("a refused amendment fixed, its corrections kept when the form was left")
    app.lock_now()
    frames()
    # Only unlock and sign-in open while locked.
    app.route("worklist")
    frames()
    assert app.manager.current == "unlock"
    return finish(app, session, result, args.result)


if __name__ == "__main__":
    sys.exit(main())
