"""Referrals (双向转诊): a resident's cases; a new case pre-filled from the health file as the server fills
it (gpcore.referral.prefill), addressed from the directory the last sync brought; a case's state, answer,
return form and thread (written offline too); its slips printed and previewed."""
from __future__ import annotations

from functools import partial

from kivy.clock import Clock
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton

from fieldapp import attention, printouts
from fieldapp import referral as logic
from fieldapp.store import InvalidRecord, StoreError
from gpcore import health_file
from gpcore import referral as rules
from gpcore.clock import china_minute

from . import theme
from .base import BaseScreen
from .paper import preview_image
from .printjob import submit_print
from .strings import t
from .widgets import Btn, Card, Chip, Chips, Field, Lbl, Row, Title

# What the team writes or trims on the upward form; the rest comes from the file and the directory.
EDITABLE = ("initial_impression", "present_illness", "past_history", "treatment")
TERMINAL_COLOURS = {"declined": theme.DANGER, "cancelled": theme.MUTED, "closed": theme.OK}


class ChoiceRow(ToggleButton):
    """A full-width choice whose text wraps (an addressee's name, title, hospital and department)."""


class LongField(TextInput):
    """A few lines of free text (the impression, the reason, the history)."""


def fill_referrals(card, app, resident_id: str) -> None:
    """The resident screen's referral card (laid out in resident.kv): the cases with their state, and
    新建转诊."""
    card.clear_widgets()
    card.add_widget(Title(text=t("resident.referrals")))
    offer = logic.waiting_offer(app.session.store, resident_id)
    if offer:  # the rules asked for one and no case answers it yet: offered filled from the file
        card.add_widget(Lbl(text=t("resident.offer", urgency=rules.URGENCIES[offer["urgency"]],
                                   date=offer["visit_date"].isoformat(), reason=offer.get("reason") or ""),
                            color=theme.DANGER))
        go = Btn(text=t("resident.offer_go"), kind="danger")
        go.bind(on_release=lambda *_: app.route("referral", resident_id=resident_id, new=True,
                                                condition=offer["condition"]))
        card.add_widget(go)
    store = app.session.store
    # A new case the server refused has no row here any more: said here, so it is not simply gone.
    refused = store.refused_referrals(resident_id)
    for item in refused:
        form = item["fields"].get("form") or {}
        card.add_widget(Lbl(text=t("referral.refused_here", date=form.get("referral_date") or "",
                                   urgency=rules.URGENCIES.get(item["fields"].get("urgency"), ""),
                                   reason=attention.reason_text(item.get("reason"), "referrals")),
                            color=theme.DANGER))
        if attention.fixable(item, app.session.me.get("id"), store):
            go = Btn(text=t("sync.fix"), kind="danger")
            go.bind(on_release=lambda *_a, c=item["change_id"]: app.route("referral", resident_id=resident_id,
                                                                          new=True, fix=c))
        else:  # another member's, or nothing to correct: discarded on the sync screen
            go = Btn(text=t("referral.to_sync"), kind="quiet")
            go.bind(on_release=lambda *_: app.route("sync"))
        card.add_widget(go)
    cases = store.referrals(resident_id)
    if not cases and not refused:
        card.add_widget(Lbl(text=t("resident.no_referrals"), muted=True))
    for case in cases:
        row = Row(orientation="vertical")
        to = (case.get("form") or {}).get("to_department") or case.get("department") or ""
        row.add_widget(Lbl(text=f"{case.get('sent_on') or ''}  {to}  {rules.URGENCIES.get(case['urgency'], '')}  "
                                f"【{logic.state_label(case)}】", color=theme.PRIMARY))
        row.bind(on_release=lambda *_a, c=case["id"]: app.route("referral", referral_id=c))
        card.add_widget(row)
    drafted = store.referral_draft(resident_id) is not None
    new = Btn(text=t("referral.draft" if drafted else "resident.refer"), kind="quiet")
    new.bind(on_release=lambda *_: app.route("referral", resident_id=resident_id, new=True))
    card.add_widget(new)


class ReferralScreen(BaseScreen):
    """Opened from a resident's file: a case (referral_id), a new case (resident_id, new=True), or the
    resident's cases (resident_id)."""

    heading = StringProperty("")
    status = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self._keep_soon = Clock.create_trigger(self._keep, 0.4)
        self.writing = False  # a new case's form (or a refused one's) is open: what is typed is kept

    def open(self, resident_id: str | None = None, referral_id: str | None = None, new: bool = False,
             condition: str | None = None, fix: str | None = None, **_):
        """Fill the screen for a case, a new case (the rules' referral of `condition`, if offered; or, with
        `fix`, the change id of a case the server refused, that case as it was written) or the list."""
        self.status = ""
        self.referral_id = referral_id
        self.fix = None
        self._stop_writing()
        self.ids.body.clear_widgets()
        if referral_id:
            self._case(referral_id)
        elif new:
            self._new(resident_id, condition, fix)
        else:
            self._list(resident_id)

    # --- the resident's cases -------------------------------------------------------------------

    def _list(self, resident_id: str) -> None:
        res = self.store.resident(resident_id)
        self.heading = t("referral.list_title", name=res["name"])
        card = Card()
        fill_referrals(card, self.app, resident_id)
        self.ids.body.add_widget(card)

    # --- a new case -----------------------------------------------------------------------------

    def _new(self, resident_id: str, condition: str | None = None, fix: str | None = None) -> None:
        self.resident_id, self.condition = resident_id, condition
        res = self.store.resident(resident_id)
        self.heading = t("referral.new_title", name=res["name"])
        session = self.session
        self.form, suggested = logic.prefill(self.store, resident_id, session.today(), me=session.me,
                                             center=session.center, team=session.team, condition=condition)
        refused = None
        if fix:
            refused = next((i for i in self.store.needs_attention() if i["change_id"] == fix), None)
            if refused is None or not attention.fixable(refused, session.me.get("id"), self.store):
                self.status = t("referral.fix_gone")  # fixed or discarded meanwhile: the list says which
                self._list(resident_id)
                return
            # The case as it was written (its addressee's names are filled again from the one chosen now).
            self.fix, self.fix_case, suggested = fix, refused["entity_id"], None
            fields = refused["fields"]
            self.form = {k: v for k, v in fields["form"].items()
                         if k not in ("receiving_doctor", "to_institution", "to_department")}
            # Sent again today: its 转出日期 is today's, as a new case's is (the slip prints it).
            self.form["referral_date"] = session.today().isoformat()
            self.heading = t("referral.fix_title", name=res["name"])
            reason = attention.reason_text(refused.get("reason"), "referrals")
            self.status = t("referral.fix_reason", reason=reason)
        body = self.ids.body
        who = Card()
        who.add_widget(Title(text=t("referral.from_file")))
        who.add_widget(Lbl(text=t("referral.identity", name=self.form.get("patient_name", ""),
                                  sex=health_file.SEX.get(self.form.get("patient_sex") or "", ""),
                                  age=self.form.get("patient_age", ""),
                                  record=self.form.get("record_number", ""))))
        for name in ("conditions", "allergies", "medications", "recent_followups"):
            if self.form.get(name):
                joiner = "\n" if name == "recent_followups" else "；"  # one visit a line
                who.add_widget(Lbl(text=f"{rules.UPWARD_FORM[name][1]}：{joiner.join(self.form[name])}", muted=True))
        if suggested:
            who.add_widget(Lbl(text=t("referral.suggested", date=suggested["visit_date"],
                                      reason=suggested.get("reason") or ""), color=theme.DANGER))
        body.add_widget(who)
        to = Card()
        to.add_widget(Title(text=t("referral.to")))
        self.addressees = {}
        choices = logic.addressees(self.store)
        if not choices:
            to.add_widget(Lbl(text=t("referral.no_directory"), color=theme.WARN))
        was = logic.addressee_key(self.store, refused["fields"]) if refused else None
        for choice in choices:
            detail = choice["detail"] + ("" if choice["takes_econsult"] else t("referral.no_econsult"))
            row = ChoiceRow(text=f"{choice['label']}\n{detail}", group=f"to-{id(self)}",
                            state="down" if choice["key"] == was else "normal")
            self.addressees[choice["key"]] = (row, choice)
            to.add_widget(row)
        body.add_widget(to)
        how = Card()
        was_urgency = (refused["fields"] if refused else suggested or {}).get("urgency")
        self.urgency = self._chips(how, t("referral.urgency"), rules.URGENCIES, was_urgency or "routine")
        self.kind = self._chips(how, t("referral.kind"), rules.KINDS,
                                (refused["fields"].get("kind") if refused else None) or "econsult")
        body.add_widget(how)
        text = Card()
        self.fields = {}
        for name in EDITABLE + ("doctor_phone",):  # the phone: filled from the account, team or center if known
            text.add_widget(Lbl(text=rules.UPWARD_FORM[name][1], muted=True))
            box = (Field if name == "doctor_phone" else LongField)(text=str(self.form.get(name) or ""))
            self.fields[name] = box
            text.add_widget(box)
        self.send_button = Btn(text=t("referral.resend" if self.fix else "referral.send"), kind="primary")
        self.send_button.bind(on_release=lambda *_: self.send())
        text.add_widget(self.send_button)
        self._untouched = self.typed()  # as built from the file: no draft is kept of that
        kept = self.store.kept_fix(self.fix) if self.fix else self.store.referral_draft(resident_id)
        if kept:
            self._restore(kept.get("form") if self.fix else kept)
            if not self.fix:  # the fix's status keeps the server's reason
                self.status = t("referral.restored", when=china_minute(kept.get("kept_at"))[5:])
                self.start_over = Btn(text=t("referral.start_over"), kind="quiet")
                self.start_over.bind(on_release=lambda *_: self.discard_draft())
                text.add_widget(self.start_over)
        body.add_widget(text)
        for box in self.fields.values():
            box.bind(text=lambda *_: self._keep_soon())
        rows = [row for row, _choice in self.addressees.values()]
        for toggle in (*self.urgency.values(), *self.kind.values(), *rows):
            toggle.bind(state=lambda *_: self._keep_soon())
        self.writing = True

    # --- what is typed, kept ----------------------------------------------------------------------

    def typed(self) -> dict:
        """The form as written so far: the boxes' text, urgency, kind and the addressee's key."""
        return {"texts": {name: box.text for name, box in self.fields.items()},
                "urgency": self._chosen(self.urgency), "kind": self._chosen(self.kind),
                "to": next((key for key, (row, _c) in self.addressees.items() if row.state == "down"), None)}

    def _restore(self, kept: dict | None) -> None:
        kept = kept or {}
        for name, text in (kept.get("texts") or {}).items():
            if name in self.fields:
                self.fields[name].text = text
        for chips, code in ((self.urgency, kept.get("urgency")), (self.kind, kept.get("kind"))):
            if code in chips:
                for other, chip in chips.items():
                    chip.state = "down" if other == code else "normal"
        # An addressee gone from the directory since (or none chosen yet): none chosen, not the refused one.
        if kept.get("to") in self.addressees or self.fix:
            for key, (row, _c) in self.addressees.items():
                row.state = "down" if key == kept.get("to") else "normal"

    def _keep(self, *_) -> None:
        if not self.writing or self.session.store is None:  # locked meanwhile: before_lock kept it
            return
        typed = self.typed()
        if self.fix:
            self.store.keep_fix(self.fix, typed)
        elif typed["texts"] == self._untouched["texts"]:
            # Nothing written (a choice tapped is quickly made again, or written and taken back): no draft.
            self.store.discard_referral_draft(self.resident_id)
        else:
            self.store.keep_referral_draft(self.resident_id, typed)

    def _stop_writing(self) -> None:
        self._keep_soon.cancel()
        self.writing = False

    def before_lock(self) -> None:
        """Keep the form being written at once (the store closes next); it is there again when the new case
        (or the refused one, from the sync screen) is opened after unlocking."""
        self._keep_soon.cancel()
        self._keep()
        self.writing = False

    def leaving(self) -> None:
        """Another screen opens: keep at once what was typed in the last 0.4 s (the resident screen's button
        then says a draft waits), and keep nothing more until this form is opened again."""
        self.before_lock()

    def discard_draft(self) -> None:
        """Throw the kept draft away and start the form again from the health file."""
        self._stop_writing()
        self.store.discard_referral_draft(self.resident_id)
        self.open(resident_id=self.resident_id, new=True, condition=self.condition)

    def _chips(self, card: Card, title: str, options: dict, chosen: str) -> dict:
        card.add_widget(Lbl(text=title, muted=True))
        chips, out = Chips(), {}
        for code, label in options.items():
            chip = Chip(text=label, value=code, group=f"{title}-{id(self)}", state="down" if code == chosen else "normal",
                        allow_no_selection=False)
            out[code] = chip
            chips.add_widget(chip)
        card.add_widget(chips)
        return out

    @staticmethod
    def _chosen(chips: dict) -> str | None:
        return next((code for code, chip in chips.items() if chip.state == "down"), None)

    def send(self) -> str | None:
        """Save the case on the tablet (checked by gpcore's rules first); the sync takes it up."""
        to = next((choice for row, choice in self.addressees.values() if row.state == "down"), None)
        form = {**self.form, **{name: box.text.strip() for name, box in self.fields.items()}}
        form = {k: v for k, v in form.items() if v not in ("", None)}
        address = {}
        if to is not None:
            address = ({"specialist_id": to["specialist_id"]} if "specialist_id" in to
                       else {"hospital_id": to["hospital_id"], "department": to["department"]})
        if self.fix and to is None:  # else it would go up to the addressee the server refused, unseen
            self.status = t("referral.choose_addressee")
            return None
        try:
            if self.fix:
                self.store.fix_rejected(self.fix, {"urgency": self._chosen(self.urgency),
                                                   "kind": self._chosen(self.kind), "form": form, **address})
                case = self.fix_case  # sent again under its own id
            else:
                case = self.store.create_referral(self.resident_id, urgency=self._chosen(self.urgency),
                                                  kind=self._chosen(self.kind), form=form, **address)
        except InvalidRecord as err:
            # gpcore's sentences name their box already (须填写初步印象。)
            self.status = t("referral.problems", fields="".join("".join(v) for v in err.errors.values()))
            return None
        except StoreError:  # fixed or discarded meanwhile; or the resident left the tablet (a pull took them)
            self.status = t("referral.fix_gone" if self.fix else "referral.gone")
            return None
        fixed = self.fix
        self._stop_writing()  # saved: the draft (or the kept fix) is spent, nothing may keep it again
        if fixed and self.app.history[-1:] and self.app.history[-1][0] == self.name:
            self.app.history.pop()  # going back from the case leads to the sync screen, not this spent form
        self.app.route("referral", referral_id=case)
        self.status = t("referral.resent" if fixed else "referral.saved")
        return case

    # --- a case ---------------------------------------------------------------------------------

    def _case(self, referral_id: str) -> None:
        case = self.store.referral(referral_id)
        self.case = case
        form = case.get("form") or {}
        self.heading = t("referral.case_title", name=form.get("patient_name") or case.get("resident_name") or "")
        body = self.ids.body
        head = Card()
        colour = TERMINAL_COLOURS.get(case.get("state"), theme.DANGER if case.get("needs_attention") else theme.PRIMARY)
        head.add_widget(Title(text=t("referral.state", state=logic.state_label(case)), color=colour))
        self.state_text = logic.state_label(case)
        head.add_widget(Lbl(text=t("referral.urgency_kind", urgency=rules.URGENCIES.get(case["urgency"], ""),
                                   kind=rules.KINDS.get(case["kind"], ""))))
        to = " ".join(filter(None, (form.get("to_institution"), form.get("to_department") or case.get("department"),
                                    form.get("receiving_doctor"))))
        head.add_widget(Lbl(text=t("referral.addressed", to=to)))
        head.add_widget(Lbl(text=t("referral.sent_due", sent=case.get("sent_on") or "",
                                   due=case.get("response_due") or "—"), muted=True))
        if case.get("follow_up_due"):
            head.add_widget(Lbl(text=t("referral.follow_up_due", date=case["follow_up_due"]), color=theme.WARN))
        if case.get("pending"):
            head.add_widget(Lbl(text=t("referral.pending"), color=theme.WARN))
        if case.get("needs_attention"):
            head.add_widget(Lbl(text=t("referral.refused"), color=theme.DANGER))
        body.add_widget(head)
        body.add_widget(self._upward(form))
        if case.get("answer"):
            body.add_widget(self._answer(case["answer"]))
        if case.get("return_form"):
            body.add_widget(self._return(case["return_form"]))
        actions = self.store.team_actions(referral_id)
        if actions:
            body.add_widget(self._actions(actions))
        body.add_widget(self._thread(case))
        body.add_widget(self._printing(case))

    def _upward(self, form: dict) -> Card:
        card = Card()
        card.add_widget(Title(text=t("referral.form")))
        lines = [f"{rules.UPWARD_FORM[name][1]}：{form[name]}" for name in EDITABLE if form.get(name)]
        card.add_widget(Lbl(text="\n".join(lines)))
        return card

    def _answer(self, answer: dict) -> Card:
        card = Card(bg=list(theme.PRIMARY_LIGHT))
        card.add_widget(Title(text=t("referral.answer")))
        card.add_widget(Lbl(text=f"{rules.OUTCOMES.get(answer.get('outcome'), '')}：{answer.get('advice') or ''}"))
        if answer.get("clinic_date"):
            card.add_widget(Lbl(text=t("referral.clinic", date=answer["clinic_date"],
                                       session=rules.SESSIONS.get(answer.get("clinic_session"), "")), bold=True))
        if answer.get("admit_date"):
            card.add_widget(Lbl(text=t("referral.admit", date=answer["admit_date"]), bold=True))
        card.add_widget(Lbl(text=t("referral.plan", plan=answer.get("plan") or "")))
        self.answer_text = card
        return card

    def _return(self, back: dict) -> Card:
        card = Card()
        card.add_widget(Title(text=t("referral.return")))
        card.add_widget(Lbl(text="\n".join(f"{label}：{back[name]}" for name, (_c, label, _r) in rules.RETURN_FORM.items()
                                           if back.get(name))))
        return card

    def _actions(self, actions: list[str]) -> Card:
        card = Card()
        card.add_widget(Title(text=t("referral.actions")))
        self.action_field = Field(hint_text=t("referral.action_hint"))
        if set(actions) & {"cancel", "give_info"}:  # closing needs no words: the visit closes the loop
            card.add_widget(self.action_field)
        self.action_buttons = {}
        for action in actions:
            button = Btn(text=t(f"referral.do_{action}"), kind="danger" if action == "cancel" else "quiet")
            button.bind(on_release=partial(lambda a, *_: self.act(a), action))
            self.action_buttons[action] = button
            card.add_widget(button)
        return card

    def act(self, action: str) -> str | None:
        """Queue the team's action (the server's state machine decides when it goes up)."""
        text = self.action_field.text.strip()
        details = {"cancel": {"reason": text}, "give_info": {"info": text}}.get(action)
        if action == "close":
            details = {"followup_id": self.store.closing_visit(self.referral_id) or ""}
        try:
            change = self.store.act_on_referral(self.referral_id, action, details)
        except InvalidRecord as err:
            self.status = "；".join("，".join(v) for v in err.errors.values())
            return None
        self.open(referral_id=self.referral_id)
        self.status = t("referral.action_saved")
        return change

    def _thread(self, case: dict) -> Card:
        card = Card()
        card.add_widget(Title(text=t("referral.thread")))
        messages = case["messages"]
        if not messages:
            card.add_widget(Lbl(text=t("referral.no_messages"), muted=True))
        for m in messages:
            what = rules.ENTRY_LABELS.get(m.get("kind"), "") if m.get("kind") not in ("message", "create") else ""
            note = (t("referral.message_pending") if m.get("pending") else
                    t("referral.message_refused") if m.get("needs_attention") else "")
            head = f"{china_minute(m.get('at'))}  {m.get('author_name') or ''}{note}"  # the server keeps UTC
            card.add_widget(Lbl(text=head, muted=True))
            text = "：".join(filter(None, (what, m.get("text") or ("" if what else "发出转诊"))))
            card.add_widget(Lbl(text=text, color=theme.DANGER if m.get("needs_attention") else theme.TEXT))
        self.message_field = None
        if case.get("state") not in rules.TERMINAL:
            self.message_field = Field(hint_text=t("referral.message_hint"))
            self.message_button = Btn(text=t("referral.message_send"), kind="quiet")
            self.message_button.bind(on_release=lambda *_: self.write_message())
            card.add_widget(self.message_field)
            card.add_widget(self.message_button)
        return card

    def write_message(self) -> str | None:
        """Save a thread message on the tablet; the sync sends it."""
        try:
            message = self.store.post_referral_message(self.referral_id, self.message_field.text,
                                                       author_name=self.session.me.get("full_name") or "")
        except InvalidRecord as err:
            self.status = "；".join("，".join(v) for v in err.errors.values())
            return None
        self.open(referral_id=self.referral_id)
        self.status = t("referral.message_saved")
        return message

    def _printing(self, case: dict) -> Card:
        card = Card()
        buttons = BoxLayout(size_hint_y=None, height=Btn().height, spacing=theme.touch() / 6)
        parts = [("referral", t("referral.print"))] + ([("return", t("referral.print_return"))]
                                                        if case.get("return_form") else [])
        self.print_buttons = {}
        for part, label in parts:
            show = Btn(text=f"{t('referral.preview')}·{label[2:]}", kind="quiet")
            show.bind(on_release=partial(lambda p, *_: self.show_preview(p), part))
            go = Btn(text=label, kind="primary")
            go.bind(on_release=partial(lambda p, *_: self.print_slip(p), part))
            self.print_buttons[part] = go
            buttons.add_widget(show)
            buttons.add_widget(go)
        card.add_widget(buttons)
        self.preview_card = Card()
        card.add_widget(self.preview_card)
        return card

    def slip_bytes(self, part: str = "referral") -> bytes:
        """The slip's bytes for the configured printer."""
        return logic.referral_bytes(printouts.PrinterConfig.load(self.store), self.case, part)

    def show_preview(self, part: str = "referral") -> None:
        """Render the bytes as the paper will look and show the picture."""
        self.preview_card.clear_widgets()
        self.preview_card.add_widget(preview_image(self.store, self.slip_bytes(part)))

    def print_slip(self, part: str = "referral"):
        """Queue the slip for the printer (kept in the store until printed); its news comes back on the main
        thread."""
        return submit_print(self.app, printouts.PrinterConfig.load(self.store), self.slip_bytes(part),
                            f"{t('referral.title')} {self.case['id'][:8]}", t("referral.printed"),
                            lambda message: setattr(self, "status", message),
                            document_key=f"referral:{self.case['id']}:{part}")
