"""The few things a receipt is made of, between a layout and the ESC/POS encoder.

Geometry follows the common 203 dpi receipt printer: a 12x24 dot ASCII font, a 24x24 dot Chinese font, and
a 30-dot line pitch which the encoder sets explicitly (ESC 3) so that preview and paper agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

CELL_WIDTH = 12  # dots per half-width column
CELL_HEIGHT = 24  # dots per character row
LINE_PITCH = 30  # dots from one text line to the next


class Align(enum.Enum):
    """Horizontal position of a line; the value is ESC a's argument."""

    LEFT = 0
    CENTER = 1
    RIGHT = 2


@dataclass(frozen=True)
class Line:
    """One printed line; the layout has already fitted it to the paper's columns."""

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double: bool = False  # double width and height: half the columns, two rows high


@dataclass(frozen=True)
class Feed:
    """Blank paper of `lines` line pitches."""

    lines: int = 1


@dataclass(frozen=True)
class QrCode:
    """A centred QR code; module is the dot size of one QR module."""

    data: str
    module: int = 4


@dataclass(frozen=True)
class Cut:
    """A partial cut where the printer has a cutter (ignored by printers with only a tear bar)."""


Block = Line | Feed | QrCode | Cut


def line_advance(height_multiplier: int, pitch: int = LINE_PITCH) -> int:
    """Dots the paper moves for one line: the pitch, or the character height when that is taller."""
    return max(pitch, CELL_HEIGHT * height_multiplier)
