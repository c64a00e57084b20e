"""The hypertension / type 2 diabetes follow-up form: every box of the national form, the previous visit's
answers in one tap, the rules' feedback as the doctor types (emergency banner with every reason,
classification, next visit date, guidance), draft kept in the store, sign, print the slip, or amend a
signed visit with a reason. The rules and the saving are fieldapp.visit's."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty

from fieldapp import attention, printouts
from fieldapp.store import InvalidRecord, NotFound
from fieldapp.visit import VisitDraft, form_boxes

from .base import BaseScreen
from .boxes import editor_for
from .printjob import submit_print
from .strings import t
from .widgets import Btn, Card, Field, Lbl, Title


class FollowUpScreen(BaseScreen):
    """One visit being recorded (or a signed one being amended)."""

    heading = StringProperty("")
    emergency = BooleanProperty(False)
    reasons = StringProperty("")
    summary = StringProperty("")
    guidance = StringProperty("")
    status = StringProperty("")
    signed = BooleanProperty(False)
    amending = BooleanProperty(False)
    fixing = BooleanProperty(False)  # a visit the server refused, corrected to be sent again

    def __init__(self, **kw):
        super().__init__(**kw)
        self._keep_soon = Clock.create_trigger(self._keep, 0.4)
        self.editors = {}
        self.draft = None
        self.visit_id = None

    def open(self, resident_id: str, condition: str, amend_id: str | None = None, fix: str | None = None,
             **_):
        """Start (or resume) a visit for this resident and condition; amend_id: correct that signed visit;
        fix: the change id of a visit (or amendment) the server refused, opened as it was signed."""
        self.draft = VisitDraft(self.store, resident_id, condition, self.session.today(),
                                doctor=self.session.me.get("full_name", ""), amends_id=amend_id)
        self.amend_id = amend_id
        self.amending = amend_id is not None
        self.fix = fix
        self.fixing = fix is not None
        self.signed = False
        self.visit_id = None
        self._tried = False
        name = self.draft.resident["name"]
        refused = self.refused = None
        if self.fixing:
            me = self.session.me.get("id")
            refused = self.refused = next((i for i in self.store.needs_attention() if i["change_id"] == fix
                                           and attention.fixable(i, me, self.store)), None)
            # Not the draft (a draft of this resident is their next visit): the corrections kept earlier, else
            # the refused record's own form.
            fields = (refused or {}).get("fields") or {}
            kept = self.store.kept_fix(fix) if refused else None
            if kept is not None:
                self.draft.form = dict(kept["form"])
            else:
                self.draft.reopen(fields.get("form") or {}, fields.get("device_assessment"))
            self.draft.restored = False
            self.heading = t("followup.fix_title", name=name)
            self.status = (t("followup.fix_reason", reason=attention.reason_text(refused["reason"]))
                           if refused else t("followup.fix_gone"))
        elif self.amending:
            # As signed; the classification and next date the rules filled in then follow the corrections.
            signed = self.store.visit(amend_id)
            self.draft.reopen(signed.get("form") or {}, self.store.device_assessment(amend_id))
            self.heading = t("followup.amend_title", name=name)
            self.status = t("followup.signed_locked")
        else:
            self.heading = t("followup.title", condition=t("condition." + condition), name=name)
            self.status = t("followup.restored") if self.draft.restored else ""
        self._build(condition)
        if self.fixing:
            self._tried = True  # the boxes the rules find wrong are shown at once, not only once touched
            if self.amending:
                self.reason.text = ((kept or {}).get("reason") if kept else fields.get("reason")) or ""
                self.reason.bind(text=lambda *_: self._keep_soon())  # kept as the boxes are
            self.sign_button.text = t("followup.resend")
            self.sign_button.disabled = refused is None
        self.refresh()

    # --- the form ---------------------------------------------------------------------------------

    def _build(self, condition: str) -> None:
        body = self.ids.body
        body.clear_widgets()
        self.editors = {}
        self.ids.pad.detach()
        offer = self.draft.previous_offer()
        previous_form = (self.draft.previous_record or {}).get("form") or {}
        self.previous_button = None
        if offer and not (self.amending or self.fixing):
            date = (self.draft.previous_record or {}).get("visit_date") or ""
            self.previous_button = Btn(text=t("followup.previous", date=date), kind="quiet")
            self.previous_button.bind(on_release=lambda *_: self.use_previous())
            body.add_widget(self.previous_button)
        for section, boxes in form_boxes(condition):
            card = Card()
            card.add_widget(Title(text=t("section." + section)))
            for box in boxes:
                editor = editor_for(box, self.changed)
                editor.show(self.draft.form.get(box.name))
                if box.kind in ("int", "number"):  # the keypad offers the last visit's value
                    editor.input.previous = previous_form.get(box.name)
                self.editors[box.name] = editor
                card.add_widget(editor)
            body.add_widget(card)
        actions = Card()
        guidance = Lbl(text=self.guidance, muted=True)
        self.bind(guidance=guidance.setter("text"))
        actions.add_widget(guidance)
        if self.amending:
            actions.add_widget(Lbl(text=t("followup.amend_reason"), bold=True))
            self.reason = Field()
            actions.add_widget(self.reason)
            self.sign_button = Btn(text=t("followup.amend"), kind="primary")
        else:
            self.sign_button = Btn(text=t("followup.sign"), kind="primary")
        self.sign_button.bind(on_release=lambda *_: self.sign())
        actions.add_widget(self.sign_button)
        self.print_button = Btn(text=t("followup.print"), kind="quiet", disabled=True)
        self.print_button.bind(on_release=lambda *_: self.print_slip())
        actions.add_widget(self.print_button)
        done = Btn(text=t("followup.done"))
        done.bind(on_release=lambda *_: self.app.back())
        actions.add_widget(done)
        body.add_widget(actions)

    @property
    def number_pad(self):
        """The keypad the form's number boxes are typed on (widgets.NumberField finds it here)."""
        return self.ids.pad

    def show_box(self, field) -> None:
        """Scroll the box the keypad types into into view, once the keypad has taken its room."""
        Clock.schedule_once(lambda _dt: self.ids.scroll.scroll_to(field, padding=dp(24), animate=False), 0)

    def changed(self, name: str, value) -> None:
        """A box changed: the rules again, and the draft kept shortly after."""
        if self.signed:
            return
        self.draft.set(name, value)
        self.refresh()
        if self.fixing or not self.amending:
            self._keep_soon()

    def use_previous(self) -> None:
        """Fill the empty boxes with the previous visit's answers (one tap)."""
        filled = self.draft.apply_previous()
        for name in filled:
            self.editors[name].show(self.draft.form.get(name))
        self.status = t("followup.previous_done", n=len(filled))
        self.refresh()
        self._keep_soon()

    def refresh(self) -> None:
        """Show the rules' feedback on the form as it stands."""
        fb = self.draft.feedback()
        self.feedback = fb
        self.emergency = fb.emergency
        # No space after the bullet: Kivy wraps at spaces, and a reason is one long run of Chinese.
        self.reasons = "\n".join("•" + r for r in fb.emergency_reasons)
        # The panel above the form stays short (a 6-inch screen keeps room for the boxes); the reasons
        # for the referral and the whole guidance are above the sign button.
        parts = []
        if fb.classification_label:
            parts.append(f"{t('followup.classification')}：{fb.classification_label}")
        if fb.next_visit_date:
            parts.append(f"{t('followup.next_visit')}：{fb.next_visit_date}")
        if fb.problems:
            parts.append(t("followup.problems", n=len(fb.problems)))
        self.summary = "  ".join(parts)
        lines = [f"{t('followup.next_visit')}：{fb.next_visit_date}（{fb.next_visit_reason}）"] if fb.next_visit_date else []
        if fb.referral != "none":
            lines.append(f"{t('followup.referral')}：" + "；".join(fb.referral_reasons))
        self.guidance = "\n".join(lines + [f"{t('followup.guidance')}："] + fb.guidance)
        touched = set(self.draft.form)
        for name, editor in self.editors.items():
            editor.show_problems(fb.problems.get(name, []) if (name in touched or self._tried) else [])

    _tried = False

    def _keep(self, *_):
        if self.draft is None or self.signed:
            return
        if self.fixing:
            if self.refused is not None:
                self.store.keep_fix(self.fix, self.draft.form, self.reason.text if self.amending else None)
        elif not self.amending:
            self.draft.keep()

    def before_lock(self) -> None:
        """Keep the half-typed form at once (the store closes next); the draft is resumed after unlocking."""
        self._keep_soon.cancel()
        self._keep()
        self.draft = None

    def save_draft(self) -> None:
        """Keep the draft now."""
        self._keep()
        self.status = t("followup.draft_saved")

    # --- signing and printing -----------------------------------------------------------------------

    def sign(self) -> str | None:
        """Sign (visit + outbox in one transaction), or submit the amendment; returns the record's id."""
        self._tried = True
        try:
            if self.fixing:
                self.draft.resubmit(self.fix, self.reason.text if self.amending else None)
                self.visit_id = self.refused["entity_id"]  # sent again under its own id
            elif self.amending:
                self.visit_id = self.store.amend_visit(self.amend_id, self.draft.final_form(), self.reason.text)
            else:
                self._keep_soon.cancel()
                self.visit_id = self.draft.sign()
        except NotFound:  # the resident (or the amended visit) left this tablet meanwhile: a pull took it
            self.status = t("followup.gone")
            return None
        except InvalidRecord as err:
            self.refresh()
            if "reason" in err.errors:
                self.status = t("followup.amend_reason_needed")
                return None
            # The rules' own words in Chinese where they apply; the store's otherwise.
            problems = self.feedback.problems or err.errors
            self.status = "；".join(f"{self._label(k)}：{'，'.join(v)}" for k, v in problems.items())
            return None
        self.signed = True
        self.ids.pad.detach()
        for editor in self.editors.values():  # a signed record is read-only; a correction is an amendment
            editor.disabled = True
        if self.previous_button is not None:
            self.previous_button.disabled = True
        self.sign_button.disabled = True
        self.print_button.disabled = False
        self.status = t("followup.resent" if self.fixing else "followup.signed")
        return self.visit_id

    def _label(self, name: str) -> str:
        editor = self.editors.get(name.split(".")[0])
        return editor.box.label if editor else name

    def slip_bytes(self) -> bytes:
        """The slip's bytes for the configured printer."""
        config = printouts.PrinterConfig.load(self.store)
        slip = printouts.follow_up_slip_for(
            self.store, self.visit_id, team_phone=self.session.team.get("phone") or "",
            institution=self.session.center.get("name") or "")
        return printouts.slip_bytes(config, slip)

    def print_slip(self):
        """Queue the slip for the printer; its news (printed, or the printer's problem while it is retried)
        comes back on the main thread."""
        config = printouts.PrinterConfig.load(self.store)
        return submit_print(self.app, config, self.slip_bytes(), f"{t('followup.slip')} {self.draft.resident['name']}",
                            t("followup.printed"), lambda message: setattr(self, "status", message),
                            document_key=f"followup-slip:{self.visit_id}")
