"""The small widget set every screen uses (rules in widgets.kv): buttons of at least 48 dp, wrapped
labels, number inputs that bring up the numeric keypad, choice chips, a trend chart drawn on the canvas."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Line, Point, Rectangle
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
from kivy.utils import platform

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

    def __init__(self, **kw):
        # widgets.kv's colour rule (text or muted) is bound, so it would win over a colour given here.
        colour = kw.get("color")
        super().__init__(**kw)
        if colour is not None:
            self.color = colour


class Title(Lbl):
    """A section title."""


class Field(TextInput):
    """A one-line text box, 48 dp or more."""

    def on_focus(self, _instance, focused):
        # A text box types on the system keyboard: the screen's number keypad steps aside.
        pad = self.find_pad() if focused else None
        if pad is not None:
            pad.detach()

    def find_pad(self):
        """The NumberPad of the screen this box is on (None where there is none)."""
        widget, seen = self.parent, set()
        # Up to the window, whose parent is itself.
        while widget is not None and id(widget) not in seen:
            pad = getattr(widget, "number_pad", None)
            if pad is not None:
                return pad
            seen.add(id(widget))
            widget = widget.parent
        return None


class NumberField(Field):
    """A number box, typed on the screen's NumberPad (big keys, usable with gloves) rather than the system
    keyboard: digits and, where the box allows it, one point. `previous` is the last visit's value, which
    the pad offers in one tap."""

    allow_decimal = BooleanProperty(True)
    previous = ObjectProperty(None, allownone=True)

    def insert_text(self, substring, from_undo=False):
        allowed = "0123456789" + ("." if self.allow_decimal and "." not in self.text else "")
        return super().insert_text("".join(ch for ch in substring if ch in allowed), from_undo=from_undo)

    def on_focus(self, _instance, focused):
        pad = self.find_pad() if focused else None
        if pad is not None:
            pad.attach(self)
        elif focused:
            self.show_keyboard()  # no keypad on this screen: the system keyboard


class NumberPad(BoxLayout):
    """The on-screen keypad for number boxes: 0-9, the point (where the box allows it), backspace, clear,
    the previous visit's value, the next number box, and hide. Keys are at least 48 dp (gloved fingers).
    It writes to the box it is attached to, whatever holds the focus (a key tap takes no focus)."""

    __events__ = ("on_attach",)
    target = ObjectProperty(None, allownone=True)
    previous_text = StringProperty("")
    shown = BooleanProperty(False)

    def attach(self, field) -> None:
        """Type into `field` from now on (shows the pad)."""
        if self.target is not None and self.target is not field:
            # Number boxes take no system keyboard, so Kivy does not move the focus between them: the pad
            # does, or the box left would keep it and a tap back on it would not reach the pad.
            self.target.focus = False
        self.target = field
        if platform not in ("android", "ios"):
            field.show_keyboard()  # a desktop's hardware keyboard types into the box too
        prev = field.previous
        self.previous_text = "" if prev is None or prev == "" else (
            f"{prev:g}" if isinstance(prev, float) else str(prev))
        self.shown = True
        for name in ("point",):
            self.ids[name].disabled = not field.allow_decimal
        self.dispatch("on_attach", field)

    def on_attach(self, field):
        """A box took the pad (the screen scrolls it into view)."""

    def detach(self) -> None:
        """Hide the pad."""
        if self.target is not None:
            self.target.focus = False
        self.target = None
        self.shown = False

    def press(self, key: str) -> None:
        """One key: a digit or '.', 'back', 'clear', 'previous', 'next', 'hide'."""
        field = self.target
        if key == "hide" or field is None:
            self.detach()
            return
        if key == "back":
            field.do_backspace()
        elif key == "clear":
            field.text = ""
        elif key == "previous":
            field.text = self.previous_text
        elif key == "next":
            following = self.next_field(field)
            if following is None:
                self.detach()
            else:
                following.focus = True
                self.attach(following)
        else:
            field.cursor = (len(field.text), 0)
            field.insert_text(key)

    def next_field(self, field):
        """The next enabled number box on the same screen, in reading order (None after the last)."""
        root = field
        while root.parent is not None and root.parent is not root and getattr(root, "number_pad", None) is None:
            root = root.parent
        boxes = [w for w in root.walk(restrict=True) if isinstance(w, NumberField) and not w.disabled]
        at = boxes.index(field) if field in boxes else -1
        return boxes[at + 1] if 0 <= at < len(boxes) - 1 else None



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


def _text_texture(text: str, colour, size: float):
    """A small text's texture, made once per (text, colour, size) and kept: a chart's axis labels repeat
    on every resident ("220", "60", dates), and a Label widget each was a texture rendered on every open."""
    key = (text, tuple(colour), round(size, 1))
    texture = _TEXTURES.get(key)
    if texture is None:
        label = CoreLabel(text=text, font_size=size, color=colour)
        label.refresh()
        texture = _TEXTURES[key] = label.texture
        if len(_TEXTURES) > 500:  # dates and values vary; the cache stays small
            _TEXTURES.pop(next(iter(_TEXTURES)))
    return texture


_TEXTURES: dict = {}


class TrendChart(Widget):
    """Lines of one or more trends.Series over the same dates, target lines dashed; drawn offline as a few
    canvas instructions (texts as cached textures, no child widgets), once per frame however often the
    layout moves it."""

    series = ListProperty([])
    colours = ListProperty([])
    caption = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self._redraw_soon = Clock.create_trigger(self.redraw, -1)
        self.bind(pos=self._redraw_soon, size=self._redraw_soon, series=self._redraw_soon)

    def _text(self, text: str, colour, size: float, x: float, y: float, align: str = "left") -> None:
        texture = _text_texture(text, colour, size)
        w, h = texture.size
        left = {"left": x, "right": x - w, "center": x - w / 2}[align]
        Color(1, 1, 1, 1)
        Rectangle(texture=texture, pos=(left, y), size=(w, h))

    def redraw(self, *_):
        """Draw the axes, the target lines, the series and their texts."""
        self.canvas.clear()
        pad = dp(36)
        x, y, w, h = self.x + pad, self.y + dp(8), max(self.width - pad - dp(12), 1), max(self.height - dp(16), 1)
        points = [p for s in self.series for p in s.points]
        with self.canvas:
            Color(*theme.PANEL)
            Rectangle(pos=self.pos, size=self.size)
            Color(*theme.RULE)
            Line(points=[x, y, x + w, y, x, y, x, y + h], width=1)
            if not points:
                return
            first = min(p[0] for p in points)
            last = max(p[0] for p in points)
            for i, s in enumerate(self.series):
                colour = self.colours[i] if i < len(self.colours) else theme.PRIMARY
                if s.target is not None:
                    Color(*theme.TARGET)
                    ty = trends.value_y(s, s.target, y, h)
                    Line(points=[x, ty, x + w, ty], width=1, dash_length=6, dash_offset=4)
                Color(*colour)
                line = trends.place(s, x, y, w, h, first, last)
                if len(line) >= 4:
                    Line(points=line, width=dp(1.5))
                # The visits as dots: one Point instruction for them all.
                Point(points=line, pointsize=dp(3))
                if s.points:
                    self._text(f"{s.points[-1][1]:g}", colour, sp(13), line[-2] - dp(4), line[-1] + dp(2), "right")
            top, bottom = self.series[0].high, self.series[0].low
            self._text(f"{top:g}", theme.MUTED, sp(12), x - dp(4), y + h - dp(9), "right")
            self._text(f"{bottom:g}", theme.MUTED, sp(12), x - dp(4), y - dp(9), "right")
            self._text(f"{first.month}/{first.day}", theme.MUTED, sp(12), x, self.y - dp(4))
            self._text(f"{last.month}/{last.day}", theme.MUTED, sp(12), x + w, self.y - dp(4), "right")
