"""Drives the real app under Kivy's offscreen window, tap by tap (run by test_visit_ui.py in a subprocess,
so Kivy's window and logging stay out of the pytest process). Exit 77: no window could be opened.

    python tests/fieldapp_ui/visit_driver.py --server URL --db FILE --user gp-a1 --password PW
        --printer-file FILE --result FILE.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--server", "--db", "--user", "--password", "--printer-file", "--result"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()

    from offscreen import NO_WINDOW, finish, frames, open_window, until
    problem = open_window()
    if problem:
        print(problem, file=sys.stderr)
        return NO_WINDOW

    from fieldapp import printouts
    from fieldapp.session import TabletSession
    from fieldapp.ui.app import FieldApp
    from fieldapp.ui.widgets import Btn
    from fieldapp.ui.worklist import WorklistRow
    from gpcore.clock import china_today
    from gpcore.followup import advice_for_patient_zh, age_on, bmi
    from gpcore.followup.visits import HypertensionVisit
    from gpcore.followup.schedule import working_day_for
    from printing import FollowUpSlip, Patient, follow_up_slip

    session = TabletSession(args.db)
    app = FieldApp(session, start=("signin", {"server": args.server, "username": args.user}))
    app._run_prepare()
    taps = {"count": 0, "log": []}
    result: dict = {}

    def tap(widget, why):
        # A finger on the widget: press and release through Kivy's button behaviour.
        assert widget.get_root_window() is not None, f"{why}: the widget is not on screen"
        assert not widget.disabled, f"{why}: disabled"
        taps["count"] += 1
        taps["log"].append(why)
        widget.trigger_action(duration=0)
        frames()

    def focus(field, why):
        taps["count"] += 1
        taps["log"].append(why)
        field.focus = True
        frames(1)

    def type_into(field, text):
        field.text = ""
        field.insert_text(text)
        frames(1)

    def pad_key(pad, key):
        return next(w for w in pad.walk(restrict=True) if getattr(w, "key", None) == key)

    def type_on_pad(pad, text):
        # Typing the measured numbers: key presses through the keypad's buttons, not counted as taps.
        for ch in text:
            button = pad_key(pad, ch)
            assert button.height >= 48 and not button.disabled, (ch, button.height)
            button.trigger_action(duration=0)
        frames(1)

    def walk(widget):
        yield widget
        for child in widget.children:
            yield from walk(child)

    frames()
    # 1. Sign in online, then the first sync runs with its progress bar and lands on the worklist.
    signin = app.manager.get_screen("signin")
    type_into(signin.ids.password, args.password)
    tap(signin.ids.submit, "sign in")
    # The tablet enrols (issue 18) and asks the member for a PIN before the first sync.
    until(lambda: app.manager.current == "unlock" or not signin.working, "the answer to the sign-in")
    assert app.manager.current == "unlock", signin.message
    unlock = app.manager.get_screen("unlock")
    assert unlock.mode == "setpin", unlock.mode
    type_into(unlock.ids.pin, "123456")
    type_into(unlock.ids.pin2, "123456")
    tap(unlock.ids.submit, "set a trivial PIN")
    assert app.manager.current == "unlock" and "连续" in unlock.message, unlock.message
    type_into(unlock.ids.pin, "358172")
    type_into(unlock.ids.pin2, "358172")
    tap(unlock.ids.submit, "set the PIN")
    until(lambda: app.manager.current in ("sync", "worklist"), "the first sync")
    bar = app.manager.get_screen("sync").ids.bar
    until(lambda: app.manager.current == "worklist", "the worklist after the first sync")
    assert bar.value == bar.max > 0, (bar.value, bar.max)
    sign_in_taps = taps["count"]
    taps.update(count=0, log=[])

    # Printer: a file, set once for the tablet (not part of a visit).
    printouts.PrinterConfig(connection="file", target=args.printer_file, width_mm=58).save(session.store)

    # 2. Worklist -> 张三 by pinyin initials -> household.
    worklist = app.manager.get_screen("worklist")
    focus(worklist.ids.search, "search box")
    type_into(worklist.ids.search, "zs")
    rows = [w for w in walk(worklist.ids.rv) if isinstance(w, WorklistRow) and w.payload]
    target = [r for r in rows if r.title.startswith("张三")]
    assert target, [r.title for r in rows]
    tap(target[0], "张三 in the search results")
    assert app.manager.current == "household"
    household = app.manager.get_screen("household")
    visit_button = next(w for w in walk(household.ids.body) if isinstance(w, Btn) and w.text == "高血压随访")
    tap(visit_button, "高血压随访 on 张三's card")
    assert app.manager.current == "followup"

    # 3. The form: the previous visit's answers, symptoms, the numbers, and the rules' live feedback.
    form = app.manager.get_screen("followup")
    tap(form.previous_button, "沿用上次随访")
    tap(form.editors["symptoms"].by_value[1], "无症状")
    # The numbers on the screen's keypad (no system keyboard): a tap on the first box, its digits, then
    # 下一项 to the next box; the weight is the last visit's, offered on the keypad.
    pad = form.ids.pad
    focus(form.editors["sbp"].input, "sbp box")
    assert pad.shown and pad.target is form.editors["sbp"].input and pad.height >= 4 * 48
    assert pad.ids.point.disabled  # blood pressure is a whole number: no point key
    for name, value in (("sbp", "185"), ("dbp", "112"), ("heart_rate", "80")):
        assert pad.target is form.editors[name].input, (name, pad.target)
        type_on_pad(pad, value)
        assert form.editors[name].input.text == value
        tap(pad_key(pad, "next"), "下一项 on the keypad")
    assert pad.target is form.editors["weight_kg"].input and not pad.ids.point.disabled
    assert pad.previous_text == "68", pad.previous_text
    tap(pad_key(pad, "previous"), "上次 68 on the keypad")
    assert form.editors["weight_kg"].input.text == "68" and form.draft.form["weight_kg"] == 68.0
    tap(pad_key(pad, "hide"), "收起 the keypad")
    assert not pad.shown and pad.height == 0
    assert form.emergency, form.summary
    banner = form.ids.banner
    assert banner.height > 0 and banner.opacity == 1
    assert "紧急" in form.ids.banner.children[-1].text
    result["banner_reasons"] = form.reasons
    assert "185/112" in form.reasons and "180" in form.reasons, form.reasons
    assert "控制不满意" in form.summary, form.summary
    # The draft reaches the store shortly after typing (a kill now loses nothing typed).
    until(lambda: session.store.draft(form.draft.resident_id, "hypertension") is not None, "the draft kept")
    tap(form.sign_button, "签名保存")
    assert form.signed and form.visit_id, form.status
    assert form.editors["sbp"].disabled and form.sign_button.disabled  # signed: read-only
    result["visit_id"] = form.visit_id
    result["taps_to_signed"] = taps["count"]
    result["tap_log"] = list(taps["log"])
    assert session.store.draft(form.draft.resident_id, "hypertension") is None

    # 4. Print the slip to the file printer and compare with printing's own layout of the same data.
    tap(form.print_button, "打印随访单")
    until(lambda: form.status == "随访单已打印", "the slip printed", 20)
    printed = open(args.printer_file, "rb").read()
    res = session.store.resident(form.draft.resident_id)
    today = china_today()
    birth = dt.date.fromisoformat(res["birth_date"])
    next_date = working_day_for(today, today + dt.timedelta(days=14))[0]  # off weekends and holidays
    signed = HypertensionVisit.from_dict(session.store.visit(form.visit_id)["form"])
    # The slip as the record says it, built here by hand: what was measured, the classification in words,
    # the next date, and advice to the patient for an uncontrolled emergency referred urgently.
    advice = advice_for_patient_zh(signed, controlled=False, emergency=True, referral="urgent",
                                   bmi=bmi(signed.weight_kg, signed.height_cm))
    expected = follow_up_slip(FollowUpSlip(
        patient=Patient(name=res["name"], sex=res["sex"], age=age_on(birth, today),
                        record_number=res["record_number"] or "", address=res["address"] or "",
                        phone=res["phone"] or ""),
        visit_date=today, classification="控制不满意", next_visit_date=next_date, advice="\n".join(advice),
        doctor=session.me["full_name"], team_phone=session.team.get("phone") or "",
        programme="高血压患者健康管理", institution=session.center.get("name") or "",
        measurements=(("血压", "185/112 mmHg"),)), printouts.PrinterConfig().settings())
    assert printed == expected, "the printed bytes differ from printing.follow_up_slip of the record's slip"
    for text in ("185/112 mmHg", "控制不满意", "星期" + "一二三四五六日"[next_date.weekday()], "您的情况需要紧急处理"):
        assert text.encode("gb18030") in printed, text
    result["slip_bytes"] = len(printed)

    # 5. Sync from the sync screen; the worker reports through Clock.
    tap(next(w for w in walk(form.ids.body) if isinstance(w, Btn) and w.text == "完成"), "完成")
    app.route("sync")
    sync = app.manager.get_screen("sync")
    tap(sync.ids.start, "立即同步")
    until(lambda: not sync.running and sync.progress_text == "同步完成", "the sync", 60)
    result["needs_attention"] = session.store.needs_attention()
    assert session.store.outbox_count() == 0 and not result["needs_attention"], result["needs_attention"]
    result["sign_in_taps"] = sign_in_taps

    # 6. A signed visit is corrected by an amendment with a reason, from the resident's history.
    from fieldapp.ui.widgets import Row
    app.route("resident", resident_id=form.draft.resident_id)
    resident = app.manager.get_screen("resident")
    rows = [w for w in walk(resident.ids.body) if isinstance(w, Row)
            and any("185/112" in getattr(c, "text", "") for c in w.children)]
    assert len(rows) == 1, [getattr(c, "text", "") for w in walk(resident.ids.body) for c in w.children]
    tap(rows[0], "更正 on the visit")
    amend = app.manager.get_screen("followup")
    assert amend.amending and amend.editors["sbp"].input.text == "185"
    focus(amend.editors["sbp"].input, "sbp box of the amendment")
    focus(amend.editors["weight_kg"].input, "weight box of the amendment")
    focus(amend.editors["sbp"].input, "back to the sbp box")  # the keypad follows the box tapped last
    assert amend.ids.pad.target is amend.editors["sbp"].input and not amend.editors["weight_kg"].input.focus
    tap(pad_key(amend.ids.pad, "clear"), "清空 on the keypad")
    type_on_pad(amend.ids.pad, "175")
    assert amend.editors["sbp"].input.text == "175"
    tap(amend.sign_button, "提交更正 without a reason")
    assert not amend.signed and amend.status == "请填写更正原因（至少2个字）。"  # the reason is required
    type_into(amend.reason, "血压录错，复测为175/112")
    tap(amend.sign_button, "提交更正")
    assert amend.signed, amend.status
    result["amendment_id"] = amend.visit_id
    app.route("sync")
    tap(sync.ids.start, "立即同步")
    until(lambda: not sync.running and sync.progress_text == "同步完成", "the second sync", 60)
    assert session.store.outbox_count() == 0 and not session.store.needs_attention()
    return finish(app, session, result, args.result)


if __name__ == "__main__":
    sys.exit(main())
