"""Drives the referral screen through its widgets under Kivy's offscreen window (run by test_referral_ui.py
in a subprocess, twice: --phase create, then --phase answer on the same store; --phase fix, offline, on a
store where the server refused a case; --phase draft, offline: a case half typed is kept until saved;
test_referral_offer.py runs --phase offer: the referral the rules
asked for, offered on the worklist and the resident screen, filled).
Exit 77: no window.

    python tests/fieldapp_ui/referral_driver.py --phase create|answer|offer|fix|draft --server URL --db FILE
        --user gp-a1 --password PW --resident ID --printer-file FILE --result FILE.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--phase", "--server", "--db", "--user", "--password", "--resident", "--printer-file", "--result"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()

    from offscreen import NO_WINDOW, exit_quickly, frames, open_window, until
    problem = open_window()
    if problem:
        print(problem, file=sys.stderr)
        return NO_WINDOW

    from fieldapp import printouts
    from fieldapp import referral as logic
    from fieldapp.session import TabletSession
    from fieldapp.ui.app import FieldApp
    from fieldapp.ui.referral import ChoiceRow
    from fieldapp.ui.widgets import Btn, Lbl

    session = TabletSession(args.db, server_url=args.server, secure=False)  # locking: test_lock_ui, test_devices
    if args.phase in ("create", "offer"):
        session.sign_in(args.server, args.user, args.password)
    app = FieldApp(session, start=("sync", {}))  # the first download brings the resident
    app._run_prepare()
    result: dict = {}

    def tap(widget, why):
        assert widget.get_root_window() is not None, f"{why}: the widget is not on screen"
        assert not widget.disabled, f"{why}: disabled"
        widget.trigger_action(duration=0)
        frames()

    def walk(widget):
        yield widget
        for child in widget.children:
            yield from walk(child)

    def texts(widget):
        return [w.text for w in walk(widget) if isinstance(w, Lbl)]

    def sync():
        app.route("sync")
        screen = app.manager.get_screen("sync")
        tap(screen.ids.start, "立即同步")
        until(lambda: not screen.running and screen.progress_text in ("同步完成",) or
              (not screen.running and screen.progress_text not in ("", "正在同步…")), "the sync", 90)
        assert screen.progress_text == "同步完成", screen.progress_text
        return screen

    frames()
    screen = app.manager.get_screen("referral")
    if args.phase == "create":
        sync()  # the first download: the resident, and the directory in the reference lists
        app.route("resident", resident_id=args.resident)
        resident = app.manager.get_screen("resident")
        tap(next(w for w in walk(resident.ids.body) if isinstance(w, Btn) and w.text == "新建转诊"), "新建转诊")
        assert app.manager.current == "referral"
        shown = "\n".join(texts(screen.ids.body))
        assert "高血压（管理中）" in shown, shown  # pre-filled from the health file, offline
        # Sending with nothing chosen and empty boxes: the rules' reasons, nothing saved.
        tap(screen.send_button, "发送转诊 (empty)")
        assert "须填写初步印象" in screen.status and "请选择专科医生" in screen.status, screen.status
        assert "转入医院" not in screen.status, screen.status  # filled from the addressee, not asked for
        assert session.store.outbox_count() == 0
        rows = [w for w in walk(screen.ids.body) if isinstance(w, ChoiceRow)]
        tap(next(r for r in rows if r.text.startswith("spec ")), "the specialist")
        tap(screen.urgency["urgent"], "紧急")
        screen.fields["initial_impression"].text = "高血压3级，控制不满意"
        screen.fields["present_illness"].text = "连续两次随访血压>170/100"
        screen.fields["doctor_phone"].text = screen.fields["doctor_phone"].text or "021-58880000"
        tap(screen.send_button, "发送转诊")
        case = screen.referral_id
        assert case and screen.status == "转诊已保存，等待同步上传", screen.status
        assert "状态：待上传" in texts(screen.ids.body)
        screen.message_field.text = "患者今晨血压182/108，已嘱休息"
        tap(screen.message_button, "发送留言")
        assert "（待发送）" in "\n".join(texts(screen.ids.body))
        sync()
        app.route("referral", referral_id=case)
        shown = texts(screen.ids.body)
        assert "状态：待接诊" in shown, shown  # the server's state machine's state, back on the tablet
        assert not any("（待发送）" in x for x in shown)
        result.update(referral_id=case, outbox=session.store.outbox_count())
    elif args.phase == "offer":
        sync()
        app.route("worklist")
        worklist = app.manager.get_screen("worklist")
        frames()
        row = next(r for r in worklist.ids.rv.data if r["payload"] and r["payload"][-1] == args.resident)
        app.route("resident", resident_id=args.resident)
        resident = app.manager.get_screen("resident")
        offered = [x for x in texts(resident.ids.body) if x.startswith("随访规则建议转诊")]
        tap(next(w for w in walk(resident.ids.body) if isinstance(w, Btn) and w.text.startswith("按建议新建转诊")),
            "按建议新建转诊")
        assert app.manager.current == "referral"
        result.update(tags=row["tags"], offered=offered, present_illness=screen.fields["present_illness"].text,
                      urgency=next(code for code, chip in screen.urgency.items() if chip.state == "down"),
                      suggested=[x for x in texts(screen.ids.body) if x.startswith("随访规则建议转诊")])
    elif args.phase == "fix":  # offline, on a store where the server refused a case (test_referral_ui.py)
        def on_resident_screen():
            app.route("resident", resident_id=args.resident)
            body = app.manager.get_screen("resident").ids.body
            return ([x for x in texts(body) if "服务器未接受的转诊" in x or "待上传" in x],
                    [w.text for w in walk(body) if isinstance(w, Btn) and w.text == "修改后重新上传"])

        result["resident_before"] = on_resident_screen()  # the refused case is not simply gone from his file
        if os.environ.get("REFERRAL_RESIDENT_SHOT"):
            app.root.export_to_png(os.environ["REFERRAL_RESIDENT_SHOT"])
        app.route("sync")
        attention = app.manager.get_screen("sync").ids.attention
        tap(next(w for w in walk(attention) if isinstance(w, Btn) and w.text == "修改后重新上传"), "修改后重新上传")
        assert app.manager.current == "referral"
        rows = [w for w in walk(screen.ids.body) if isinstance(w, ChoiceRow)]
        result.update(heading=screen.heading, reason=screen.status,
                      typed=[screen.fields[n].text for n in ("initial_impression", "present_illness")],
                      urgency=next(code for code, chip in screen.urgency.items() if chip.state == "down"),
                      chosen=[r.text for r in rows if r.state == "down"])
        shot = os.environ.get("REFERRAL_FIX_SHOT")  # a picture of the form, for whoever looks at it
        if shot:
            app.root.export_to_png(shot)
        result["marked"] = [r.text for r in rows if "不接受线上会诊" in r.text]
        tap(screen.send_button, "重新上传 (the same specialist)")
        result["refused_here"] = screen.status
        for row in rows:  # as when the refused addressee has left the directory: none is chosen
            row.state = "normal"
        tap(screen.send_button, "重新上传 (no addressee)")
        result["no_addressee"] = (screen.status, len(session.store.needs_attention()))
        tap(next(r for r in rows if r.text.startswith("心内科（科室）")), "the department's pool")
        screen.fields["present_illness"].text += "，今晨182/108"
        screen.before_lock()  # the tablet locks mid-correction; the case is opened again from the sync screen
        app.route("sync")
        tap(next(w for w in walk(attention) if isinstance(w, Btn) and w.text == "修改后重新上传"), "修改后重新上传")
        rows = [w for w in walk(screen.ids.body) if isinstance(w, ChoiceRow)]
        result["reopened"] = {"illness": screen.fields["present_illness"].text,
                              "chosen": [r.text.split("\n")[0] for r in rows if r.state == "down"]}
        tap(screen.send_button, "重新上传")
        result.update(sent=screen.status, case=screen.referral_id,
                      attention=len(session.store.needs_attention()))
        app.back()
        result["back_to"] = app.manager.current
        result["resident_after"] = on_resident_screen()
    elif args.phase == "draft":  # offline: a new case half typed, kept, opened again, started over, saved
        store = session.store
        drafted = ("新建转诊", "继续填写转诊（有未发送的草稿）")

        def new_case_button():
            app.route("resident", resident_id=args.resident)
            body = app.manager.get_screen("resident").ids.body
            return next(w for w in walk(body) if isinstance(w, Btn) and w.text in drafted)

        def open_new():
            button = new_case_button()
            text = button.text
            tap(button, text)
            assert app.manager.current == "referral"
            return text, [w for w in walk(screen.ids.body) if isinstance(w, ChoiceRow)]

        def kept():
            return store.referral_draft(args.resident)

        _, rows = open_new()
        tap(next(r for r in rows if r.text.startswith("spec ")), "the specialist")
        tap(screen.urgency["urgent"], "紧急")
        screen.fields["initial_impression"].text = "高血压3级"
        until(lambda: ((kept() or {}).get("texts") or {}).get("initial_impression") == "高血压3级",
              "the draft kept after typing", 5)
        result["kept_after_typing"] = kept()
        app.route("worklist")  # called away
        result["button"], rows = open_new()
        result["restored"] = {"impression": screen.fields["initial_impression"].text, "status": screen.status,
                              "urgency": next(c for c, ch in screen.urgency.items() if ch.state == "down"),
                              "to": next(r.text for r in rows if r.state == "down")}
        screen.fields["present_illness"].text = "连续两次随访血压>170/100"
        shot = os.environ.get("REFERRAL_DRAFT_SHOT")
        if shot:
            app.root.export_to_png(shot)
        screen.before_lock()  # what the auto-lock calls before the store closes: at once, no 0.4 s wait
        result["kept_at_lock"] = kept()
        _, rows = open_new()
        tap(screen.start_over, "放弃草稿，从健康档案重新填写")
        rows = [w for w in walk(screen.ids.body) if isinstance(w, ChoiceRow)]
        result["started_over"] = {"impression": screen.fields["initial_impression"].text, "draft": kept(),
                                  "to": [r.text for r in rows if r.state == "down"]}
        tap(next(r for r in rows if r.text.startswith("spec ")), "the specialist")
        screen.fields["initial_impression"].text = "高血压3级，控制不满意"
        screen.fields["present_illness"].text = "连续两次随访血压>170/100"
        screen.fields["doctor_phone"].text = screen.fields["doctor_phone"].text or "021-58880000"
        until(lambda: ((kept() or {}).get("texts") or {}).get("initial_impression") == "高血压3级，控制不满意",
              "the new draft kept", 5)
        screen.fields["treatment"].text += "；今晨加服氨氯地平"  # typed just before sending: a keep pending
        tap(screen.send_button, "发送转诊")
        case = screen.referral_id
        assert screen.status == "转诊已保存，等待同步上传", screen.status
        deadline = time.monotonic() + 0.8  # past the keep's 0.4 s: nothing typed before the save is kept
        until(lambda: time.monotonic() > deadline, "the keep's delay", 5)
        result["saved"] = {"case": case, "draft": kept(), "button": new_case_button().text}
        # Only looking (an addressee tapped, nothing written) leaves no draft behind.
        _, rows = open_new()
        tap(next(r for r in rows if r.text.startswith("spec ")), "the specialist")
        app.route("worklist")
        result["looked"] = {"draft": kept(), "button": new_case_button().text}
    else:
        sync()
        case = session.store.referrals(args.resident)[0]["id"]
        app.route("resident", resident_id=args.resident)
        resident = app.manager.get_screen("resident")
        assert any("已答复" in x for x in texts(resident.ids.body)), texts(resident.ids.body)
        app.route("referral", referral_id=case)
        shown = "\n".join(texts(screen.ids.body))
        assert "状态：已答复" in shown and "专科答复" in shown, shown
        result["shown"] = shown
        printouts.PrinterConfig(connection="file", target=args.printer_file, width_mm=80).save(session.store)
        screen.open(referral_id=case)
        tap(screen.print_buttons["referral"], "打印转诊单")
        until(lambda: screen.status == "已打印", "the slip printed", 20)
        printed = open(args.printer_file, "rb").read()
        expected = logic.referral_bytes(printouts.PrinterConfig.load(session.store), session.store.referral(case))
        assert printed == expected
        result["slip_bytes"] = len(printed)
    with open(args.result, "w") as f:
        json.dump(result, f, ensure_ascii=False)
    app.stop()
    session.close()
    exit_quickly()
    return 0


if __name__ == "__main__":
    sys.exit(main())
