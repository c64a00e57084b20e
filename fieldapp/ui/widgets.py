"""The small widget set every screen uses (rules in widgets.kv): buttons of at least 48 dp, wrapped
labels, number inputs that bring up the numeric keypad, choice chips, a trend chart drawn on the canvas."""
from __future__ import annotations

from kivy.graphics import Color, Line, Rectangle
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.stacklayout import StackLayout
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

from fieldapp import trends
from . import theme


class Btn(Button):
    """A button at least 48 dp high (gloved fingers)."""

    kind = StringProperty("normal")  # normal | primary | danger | quiet


class Chip(ToggleButton):
    """A choice in a row of choices; `value` is the code it stands for."""

    value = ObjectProperty(None)


class Lbl(Label):
    """A label that wraps to its width and grows to its text."""

    muted = BooleanProperty(False)


class Title(Lbl):
    """A section title."""


class Field(TextInput):
    """A one-line text box, 48 dp or more."""


class NumberField(Field):
    """A number box: the numeric keypad on a tablet, digits and one point only."""

    allow_decimal = BooleanProperty(True)

    def insert_text(self, substring, from_undo=False):
        allowed = "0123456789" + ("." if self.allow_decimal and "." not in self.text else "")
        return super().insert_text("".join(ch for ch in substring if ch in allowed), from_undo=from_undo)


class Card(BoxLayout):
    """A panel with padding (white unless `bg` says otherwise)."""

    bg = ListProperty(list(theme.PANEL))


class Banner(BoxLayout):
    """The red emergency banner."""


class Row(ButtonBehavior, BoxLayout):
    """A tappable list row."""

    payload = ObjectProperty(None)


class Chips(StackLayout):
    """Chips that wrap to the next line."""


class TrendChart(Widget):
    """Lines of one or more trends.Series over the same dates, target lines dashed; drawn offline."""

    series = ListProperty([])
    colours = ListProperty([])
    caption = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self.redraw, size=self.redraw, series=self.redraw)

    def redraw(self, *_):
        """Draw the axes, the target lines and the series."""
        self.canvas.clear()
        self.clear_widgets()
        pad = dp(36)
        x, y, w, h = self.x + pad, self.y + dp(8), max(self.width - pad - dp(12), 1), max(self.height - dp(16), 1)
        points = [p for s in self.series for p in s.points]
        with self.canvas:
            Color(*theme.PANEL)
            Rectangle(pos=self.pos, size=self.size)
            Color(*theme.RULE)
            Line(points=[x, y, x + w, y], width=1)
            Line(points=[x, y, x, y + h], width=1)
        if not points:
            return
        first = min(p[0] for p in points)
        last = max(p[0] for p in points)
        for i, s in enumerate(self.series):
            colour = self.colours[i] if i < len(self.colours) else theme.PRIMARY
            with self.canvas:
                if s.target is not None:
                    Color(*theme.TARGET)
                    ty = trends.value_y(s, s.target, y, h)
                    Line(points=[x, ty, x + w, ty], width=1, dash_length=6, dash_offset=4)
                Color(*colour)
                line = trends.place(s, x, y, w, h, first, last)
                if len(line) >= 4:
                    Line(points=line, width=dp(1.5))
                for j in range(0, len(line), 2):
                    Line(circle=(line[j], line[j + 1], dp(3)), width=dp(1.5))
            if s.points:
                last_value = s.points[-1][1]
                lx, ly = line[-2], line[-1]
                self.add_widget(Label(text=f"{last_value:g}", color=colour, font_size=sp(13),
                                      pos=(lx - dp(40), ly + dp(2)), size=(dp(40), dp(18))))
        for value, label_y in ((self.series[0].high, y + h - dp(9)), (self.series[0].low, y - dp(9))):
            self.add_widget(Label(text=f"{value:g}", color=theme.MUTED, font_size=sp(12),
                                  pos=(self.x, label_y), size=(pad - dp(4), dp(18))))
        self.add_widget(Label(text=f"{first.month}/{first.day}", color=theme.MUTED, font_size=sp(12),
                              pos=(x, self.y - dp(4)), size=(dp(48), dp(16))))
        self.add_widget(Label(text=f"{last.month}/{last.day}", color=theme.MUTED, font_size=sp(12),
                              pos=(x + w - dp(48), self.y - dp(4)), size=(dp(48), dp(16))))
