"""Colours and sizes in one place. Touch targets are at least TOUCH dp; text sizes are multiplied by the
app's text_scale (the large-text setting)."""
from kivy.metrics import dp

TOUCH = 48  # dp: the smallest thing a finger (with a glove) taps
ROW = 64
BG = (0.95, 0.96, 0.97, 1)
PANEL = (1, 1, 1, 1)
TEXT = (0.11, 0.13, 0.16, 1)
MUTED = (0.38, 0.42, 0.47, 1)
RULE = (0.80, 0.83, 0.86, 1)
PRIMARY = (0.05, 0.42, 0.66, 1)
PRIMARY_LIGHT = (0.85, 0.92, 0.97, 1)
DANGER = (0.78, 0.13, 0.13, 1)
DANGER_LIGHT = (0.99, 0.90, 0.90, 1)
WARN = (0.80, 0.47, 0.0, 1)
OK = (0.12, 0.55, 0.26, 1)
TARGET = (0.55, 0.58, 0.62, 1)
SBP_COLOUR = (0.78, 0.13, 0.13, 1)
DBP_COLOUR = (0.05, 0.42, 0.66, 1)
FPG_COLOUR = (0.45, 0.25, 0.65, 1)
LARGE_TEXT = 1.25  # the large-text setting's factor


def touch() -> float:
    """The minimum touch target in pixels."""
    return dp(TOUCH)
