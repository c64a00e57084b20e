"""Drawing text on the printer's dot grid with a CJK font, for raster printing and for the preview.

Both use the same code so the preview of text-mode bytes and the raster-mode picture are the same image:
each character sits in its own 12- or 24-dot cell, exactly where the printer's own font would put it.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageChops, ImageDraw, ImageFont

from printing.blocks import CELL_HEIGHT, CELL_WIDTH, Align
from printing.columns import char_columns
from printing.errors import FontMissing

FONT_ENV = "GP_PRINT_FONT"
_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/system/fonts",  # Android, where the tablet app runs
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
# File names of fonts with simplified Chinese, best first.
_FONT_NAMES = (
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansSC-Regular.otf",
    "SourceHanSansSC-Regular.otf",
    "DroidSansFallbackFull.ttf",
    "DroidSansFallback.ttf",
    "msyh.ttc",
    "simsun.ttc",
)


def find_cjk_font(explicit: str | None = None) -> str:
    """Path of a font with Chinese glyphs: the given one, $GP_PRINT_FONT, or one found in the font folders."""
    for candidate in (explicit, os.environ.get(FONT_ENV)):
        if candidate:
            if Path(candidate).is_file():
                return str(candidate)
            raise FontMissing(f"font file not found: {candidate}")
    return _search_fonts()


@functools.lru_cache(maxsize=1)
def _search_fonts() -> str:
    found: dict[str, str] = {}
    for folder in _FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if name in _FONT_NAMES and name not in found:
                    found[name] = os.path.join(dirpath, name)
    for name in _FONT_NAMES:
        if name in found:
            return found[name]
    raise FontMissing("no Chinese font found; install fonts-wqy-microhei or set " + FONT_ENV)


def _best_face(path: str, size: int) -> ImageFont.FreeTypeFont:
    """Open the face of a font collection that suits a receipt: monospaced, simplified Chinese."""
    best, best_score = None, -1
    for index in range(16):
        try:
            face = ImageFont.truetype(path, size, index=index)
        except OSError:
            break
        family = face.getname()[0] or ""
        score = 2 * ("Mono" in family) + (" SC" in family or "Micro Hei" in family or "Zen Hei" in family)
        if score > best_score:
            best, best_score = face, score
        if not path.lower().endswith((".ttc", ".otc")):
            break
    if best is None:
        raise FontMissing(f"cannot open font {path}")
    return best


class GlyphSet:
    """Character cells rendered once per font and reused; a cell is a mode '1' image where 1 is ink."""

    def __init__(self, font_path: str):
        self.font_path = font_path
        # 22 px leaves room in the 24-dot cell for descenders, like the printers' own 24x24 fonts.
        self._font = _best_face(font_path, 22)
        top = self._font.getbbox("国")[1]
        self._y_offset = -top
        self._cache: dict[tuple[str, bool, int, int], Image.Image] = {}

    def _render(self, char: str) -> Image.Image:
        width = CELL_WIDTH * char_columns(char)
        advance = max(1, math.ceil(self._font.getlength(char)))
        tmp = Image.new("L", (max(width, advance), CELL_HEIGHT), 0)
        x = max(0, (width - advance) // 2)
        ImageDraw.Draw(tmp).text((x, self._y_offset), char, font=self._font, fill=255)
        if tmp.width > width:
            # The printer's ASCII font is 12 dots wide; a wider glyph is narrowed to its cell.
            tmp = tmp.resize((width, CELL_HEIGHT), Image.Resampling.LANCZOS)
        return tmp.point(lambda v: 255 if v >= 110 else 0).convert("1")

    def cell(self, char: str, bold: bool = False, width_mul: int = 1, height_mul: int = 1) -> Image.Image:
        """The cell image of one character with the printer's emphasis and size applied."""
        key = (char, bold, width_mul, height_mul)
        img = self._cache.get(key)
        if img is None:
            if bold or width_mul != 1 or height_mul != 1:
                img = self.cell(char)
                if bold:
                    # Printers embolden by printing each dot twice, one dot to the right.
                    img = ImageChops.logical_or(img, ImageChops.offset(img, 1, 0))
                if width_mul != 1 or height_mul != 1:
                    # Printers enlarge by repeating dots, which NEAREST reproduces.
                    size = (img.width * width_mul, img.height * height_mul)
                    img = img.resize(size, Image.Resampling.NEAREST)
            else:
                img = self._render(char)
            self._cache[key] = img
        return img


@functools.lru_cache(maxsize=4)
def glyph_set(font_path: str | None = None) -> GlyphSet:
    """The shared glyph cache for a font (found automatically when font_path is None)."""
    return GlyphSet(find_cjk_font(font_path))


@dataclass(frozen=True)
class Cell:
    """A character with the print mode it was sent in."""

    char: str
    bold: bool = False
    width_mul: int = 1
    height_mul: int = 1

    @property
    def dots(self) -> int:
        """Width on paper in dots."""
        return CELL_WIDTH * char_columns(self.char) * self.width_mul


def cells_width(cells: Sequence[Cell]) -> int:
    """Width of a run of cells in dots."""
    return sum(c.dots for c in cells)


def paint_cells(canvas: Image.Image, top: int, height: int, cells: Sequence[Cell], align: Align,
                glyphs: GlyphSet) -> None:
    """Draw one line of cells on a mode '1' canvas, characters standing on the line's bottom edge.

    `height` is the tallest character's height in dots, so mixed sizes share a baseline as on paper.
    """
    width = cells_width(cells)
    x = {Align.LEFT: 0, Align.CENTER: (canvas.width - width) // 2, Align.RIGHT: canvas.width - width}[align]
    x = max(0, x)
    for cell in cells:
        if cell.char != " ":
            img = glyphs.cell(cell.char, cell.bold, cell.width_mul, cell.height_mul)
            canvas.paste(1, (x, top + height - img.height), img)
        x += cell.dots
