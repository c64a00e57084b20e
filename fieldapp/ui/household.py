"""A household: address, contact, living conditions, and the members with their relation to the head;
from a member, their file or straight into a follow-up."""
from __future__ import annotations

from functools import partial

from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from gpcore import health_file

from . import theme
from .base import BaseScreen
from .strings import t
from .widgets import Btn, Card, Lbl, Title
from fieldapp.printouts import patient_of


class HouseholdScreen(BaseScreen):
    """Opened from the worklist (a row's resident is marked)."""

    heading = StringProperty("")

    def open(self, household_id: str, resident_id: str | None = None, **_):
        """Fill in the household."""
        hh = self.store.household(household_id)
        self.household_id = household_id
        self.heading = t("household.title") + " · " + (hh.get("address") or "")
        body = self.ids.body
        body.clear_widgets()
        info = Card()
        info.add_widget(Title(text=t("household.address")))
        info.add_widget(Lbl(text=hh.get("address") or ""))
        info.add_widget(Lbl(text=f"{t('household.phone')}：{hh.get('phone') or t('common.not_filled')}"))
        living = []
        for key, codes in health_file.LIVING_ENVIRONMENT.items():
            value = hh.get(key)
            living.append(f"{t('living.' + key)}：{codes.get(value, value) if value else t('common.not_filled')}")
        info.add_widget(Title(text=t("household.living")))
        info.add_widget(Lbl(text="；".join(living)))
        if hh.get("health_problems"):
            info.add_widget(Lbl(text=str(hh["health_problems"])))
        body.add_widget(info)
        members = sorted(hh["members"], key=lambda m: (m["id"] != hh.get("head_id"), m.get("relation_to_head") or ""))
        body.add_widget(Title(text=t("household.members", n=len(members)), size_hint_x=1))
        today = self.session.today()
        for m in members:
            body.add_widget(self._member(m, m["id"] == resident_id, today))

    def _member(self, m: dict, marked: bool, today) -> Card:
        card = Card(bg=list(theme.PRIMARY_LIGHT) if marked else list(theme.PANEL))
        patient = patient_of(m, today)
        relation = health_file.RELATIONSHIP.get(m.get("relation_to_head") or "", t("common.unknown"))
        conditions = [c for c in m.get("conditions") or [] if (c.get("status") or "managed") == "managed"]
        text = f"{m['name']}（{relation}）  {health_file.SEX.get(m.get('sex') or '', '')}  {patient.age_text}"
        card.add_widget(Lbl(text=text, bold=True))
        details = [m.get("phone") or "", "、".join(health_file.CHRONIC_CONDITION.get(c["condition"], c["condition"])
                                                  for c in conditions)]
        if m.get("status") and m["status"] != "active":
            details.append(health_file.RESIDENT_STATUS.get(m["status"], m["status"]))
        card.add_widget(Lbl(text="  ".join(d for d in details if d), muted=True))
        buttons = BoxLayout(size_hint_y=None, height=Btn().height, spacing=theme.touch() / 6)
        file_button = Btn(text=t("household.open_file"), kind="quiet")
        file_button.bind(on_release=lambda *_: self.app.route("resident", resident_id=m["id"]))
        buttons.add_widget(file_button)
        for c in conditions:
            b = Btn(text=t("household.visit", condition=t("condition." + c["condition"])), kind="primary")
            b.bind(on_release=partial(self._visit, m["id"], c["condition"]))
            buttons.add_widget(b)
        card.add_widget(buttons)
        card.member_id = m["id"]
        return card

    def _visit(self, resident_id, condition, *_):
        self.app.route("followup", resident_id=resident_id, condition=condition)
