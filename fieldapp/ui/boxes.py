"""Editors for the boxes of the follow-up forms (one per fieldapp.visit.Box kind): each shows a value,
reports changes through `on_change(name, value)`, and is at least 48 dp high."""
from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from .strings import t
from .widgets import Chip, Chips, Field, Lbl, NumberField

_SEP = "  "


class BoxEditor(BoxLayout):
    """A labelled editor for one box."""

    def __init__(self, box, on_change, **kw):
        super().__init__(orientation="vertical", size_hint_y=None, spacing=dp(4), **kw)
        self.bind(minimum_height=self.setter("height"))
        self.box, self.on_change = box, on_change
        self._quiet = False
        label = box.label + (f"（{box.unit}）" if box.unit else "") + (" *" if box.required else "")
        self.title = Lbl(text=label, bold=True)
        self.add_widget(self.title)
        self.problem = Lbl(text="", color=(0.78, 0.13, 0.13, 1), height=0)
        self.build()
        self.add_widget(self.problem)

    def build(self) -> None:
        """Make the input widgets (override)."""

    def show(self, value) -> None:
        """Show a value without reporting it as a change."""
        self._quiet = True
        try:
            self._show(value)
        finally:
            self._quiet = False

    def _show(self, value) -> None:
        raise NotImplementedError

    def changed(self, value) -> None:
        """Report the doctor's change."""
        if not self._quiet:
            self.on_change(self.box.name, value)

    def show_problems(self, messages: list[str]) -> None:
        """The rules' words about this box (empty hides them)."""
        self.problem.text = "；".join(messages)
        self.problem.height = (self.problem.texture_size[1] + dp(4)) if messages else 0
        if messages:
            self.problem.texture_update()
            self.problem.height = self.problem.texture_size[1] + dp(4)


class TextEditor(BoxEditor):
    """Text, date and number boxes."""

    def build(self):
        if self.box.kind in ("int", "number"):
            self.input = NumberField(allow_decimal=self.box.kind == "number")
        else:
            self.input = Field(hint_text="YYYY-MM-DD" if self.box.kind == "date" else "")
        self.input.bind(text=lambda _w, text: self.changed(self.parse(text)))
        self.add_widget(self.input)

    def parse(self, text: str):
        """The typed text as the form's value (None when empty or not yet a number)."""
        text = text.strip()
        if not text:
            return None
        if self.box.kind == "int":
            try:
                return int(float(text))
            except ValueError:
                return None
        if self.box.kind == "number":
            try:
                return float(text)
            except ValueError:
                return None
        return text

    def _show(self, value):
        self.input.text = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))


class ChoiceEditor(BoxEditor):
    """One code of a list (chips); multi=True for a list of codes; a single 是 chip for yes/no boxes."""

    def build(self):
        self.multi = self.box.kind == "multi"
        options = self.box.options if self.box.kind != "bool" else ((True, t("followup.yes")),)
        self.chips = Chips()
        group = None if self.multi or self.box.kind == "bool" else f"{self.box.name}-{id(self)}"
        self.by_value = {}
        for code, label in options:
            chip = Chip(text=label, value=code, group=group)
            chip.bind(on_release=self._press)
            self.chips.add_widget(chip)
            self.by_value[code] = chip
        self.add_widget(self.chips)

    def _press(self, chip):
        if self.box.kind == "bool":
            self.changed(True if chip.state == "down" else None)
        elif self.multi:
            # "None" (code 1 of the symptom lists) cannot be ticked with a symptom: ticking one clears the other.
            if chip.state == "down" and self.box.name == "symptoms":
                for code, other in self.by_value.items():
                    if other is not chip and (code == 1 or chip.value == 1):
                        other.state = "normal"
            self.changed([c.value for c in self.chips.children[::-1] if c.state == "down"] or None)
        else:
            self.changed(chip.value if chip.state == "down" else None)

    def _show(self, value):
        values = set(value or []) if self.multi else {value}
        for code, chip in self.by_value.items():
            chip.state = "down" if code in values else "normal"


class MedicationsEditor(BoxEditor):
    """Up to three drugs: name, times per day, mg per time."""

    def build(self):
        self.rows = []
        for _ in range(3):
            row = BoxLayout(size_hint_y=None, height=dp(56), spacing=dp(6))
            name = Field(hint_text=t("followup.med_name"), size_hint_x=0.5)
            times = NumberField(hint_text=t("followup.med_times"), allow_decimal=False, size_hint_x=0.25)
            mg = NumberField(hint_text=t("followup.med_mg"), size_hint_x=0.25)
            for w in (name, times, mg):
                w.bind(text=lambda *_: self.changed(self.value()))
                row.add_widget(w)
            self.rows.append((name, times, mg))
            self.add_widget(row)

    def value(self):
        """The drugs typed so far (a row needs a name)."""
        out = []
        for name, times, mg in self.rows:
            if name.text.strip():
                entry = {"name": name.text.strip()}
                if times.text.strip():
                    entry["times_per_day"] = int(float(times.text))
                if mg.text.strip():
                    try:
                        entry["mg_per_time"] = float(mg.text)
                    except ValueError:
                        pass
                out.append(entry)
        return out or None

    def _show(self, value):
        value = list(value or [])
        for i, (name, times, mg) in enumerate(self.rows):
            entry = value[i] if i < len(value) else {}
            name.text = entry.get("name", "")
            times.text = str(entry["times_per_day"]) if entry.get("times_per_day") is not None else ""
            mg.text = f"{entry['mg_per_time']:g}" if entry.get("mg_per_time") is not None else ""


def editor_for(box, on_change) -> BoxEditor:
    """The editor of a box kind."""
    if box.kind in ("choice", "multi", "bool"):
        return ChoiceEditor(box, on_change)
    if box.kind == "medications":
        return MedicationsEditor(box, on_change)
    return TextEditor(box, on_change)
