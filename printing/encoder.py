"""Blocks to ESC/POS bytes, with Chinese sent either as GB18030/GBK text or as raster pictures.

python-escpos collects the bytes (its Dummy printer) and builds the native QR command; the Chinese path is
ours because python-escpos's magic encoder replaces Chinese-only punctuation with '?' and never switches
the printer into Chinese mode.
"""

from __future__ import annotations

from typing import Iterable

import qrcode

from PIL import Image

from printing.blocks import CELL_HEIGHT, LINE_PITCH, Align, Block, Cut, Feed, Line, QrCode, line_advance
from printing.columns import char_columns, clean_text
from printing.errors import FontMissing
from printing.glyphs import Cell, glyph_set, paint_cells
from printing.model import ChineseMode, PrinterSettings

ESC, FS, GS = b"\x1b", b"\x1c", b"\x1d"
INIT = ESC + b"@"
CHINESE_ON = FS + b"&"
CHINESE_OFF = FS + b"."
PARTIAL_CUT = GS + b"V" + bytes([66, 0])  # feed to the cutter, then cut leaving a tab
# Bluetooth and infrared printers have small input buffers; pictures are sent in bands of this many rows.
RASTER_BAND_ROWS = 240
REPLACEMENT = "□"  # printed for a character the printer's code page lacks when no font can draw it


def set_line_pitch(dots: int) -> bytes:
    """ESC 3 n: distance between text lines in dots."""
    return ESC + b"3" + bytes([dots])


def set_align(align: Align) -> bytes:
    """ESC a n: left, centre or right."""
    return ESC + b"a" + bytes([align.value])


def set_bold(on: bool) -> bytes:
    """ESC E n: emphasised (bold) printing."""
    return ESC + b"E" + bytes([1 if on else 0])


def set_size(double: bool) -> bytes:
    """GS ! for ASCII and FS ! for Chinese characters: double width and height, or normal."""
    return GS + b"!" + bytes([0x11 if double else 0]) + FS + b"!" + bytes([0x0C if double else 0])


def feed_lines(n: int) -> bytes:
    """ESC d n: print the buffer and feed n lines."""
    return ESC + b"d" + bytes([n])


def raster_image(img: Image.Image) -> bytes:
    """GS v 0 commands for a mode '1' image whose 1-bits are ink, in bands the printer's buffer can take."""
    bbox = img.getbbox()
    # Trailing blank columns are not sent: a shorter row is less to push through Bluetooth or infrared.
    right = bbox[2] if bbox else 1
    width = -(-right // 8) * 8
    if width != img.width:
        img = img.crop((0, 0, width, img.height))
    out = []
    for top in range(0, img.height, RASTER_BAND_ROWS):
        band = img.crop((0, top, width, min(img.height, top + RASTER_BAND_ROWS)))
        out.append(GS + b"v0\x00" + (width // 8).to_bytes(2, "little") + band.height.to_bytes(2, "little")
                   + band.tobytes())
    return b"".join(out)


def qr_picture(data: str, module: int, dot_width: int) -> Image.Image:
    """A QR code as a mode '1' image (1 = ink), shifted right so it prints centred on the paper."""
    # Two modules of quiet zone keep the code apart from the text above and below, so phones can scan it.
    qr = qrcode.QRCode(version=None, box_size=1, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    size = len(matrix) * module
    left = max(0, (dot_width - size) // 2)
    img = Image.new("1", (left + size, size), 0)
    small = Image.new("1", (len(matrix), len(matrix)), 0)
    small.putdata([1 if dark else 0 for row in matrix for dark in row])
    img.paste(small.resize((size, size), Image.Resampling.NEAREST), (left, 0))
    return img


def native_qr(data: str, module: int) -> bytes:
    """GS ( k commands that make the printer draw the QR code itself (model 2, error level M)."""
    from escpos.printer import Dummy  # deferred: see _Encoder
    printer = Dummy()
    printer.qr(data, ec=1, size=module, native=True)  # ec 1 = QR_ECLEVEL_M in python-escpos
    return printer.output


def _cells(line: Line) -> list[Cell]:
    mul = 2 if line.double else 1
    return [Cell(c, line.bold, mul, mul) for c in line.text]


def _line_height(line: Line) -> int:
    return CELL_HEIGHT * (2 if line.double else 1)


class _RasterLines:
    """Accumulates lines drawn as pictures, to be sent as one GS v 0 picture when something else comes."""

    def __init__(self, settings: PrinterSettings):
        self.settings = settings
        self.lines: list[Line] = []

    def add(self, line: Line) -> None:
        self.lines.append(line)

    def take_picture(self) -> Image.Image | None:
        """The pending lines drawn on one canvas (1 = ink), or None when there are none."""
        if not self.lines:
            return None
        glyphs = glyph_set(self.settings.font_path)
        heights = [line_advance(2 if ln.double else 1) for ln in self.lines]
        canvas = Image.new("1", (self.settings.width.dots, sum(heights)), 0)
        top = 0
        for line, advance in zip(self.lines, heights):
            paint_cells(canvas, top, _line_height(line), _cells(line), line.align, glyphs)
            top += advance
        self.lines = []
        return canvas


def _fits(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _check_width(line: Line, settings: PrinterSettings) -> None:
    cols = sum(char_columns(c) for c in line.text) * (2 if line.double else 1)
    if cols > settings.width.columns:
        raise ValueError(f"line wider than {settings.width.columns} columns: {line.text!r}")


class _Encoder:
    """Keeps the printer's mode (alignment, bold, size) so each command is sent only when it changes."""

    def __init__(self, settings: PrinterSettings):
        self.settings = settings
        # python-escpos (and its capability database) is imported when the first receipt is encoded, not
        # when printing is: the tablet imports printing at start for the font, and escpos is ~60 ms of it.
        from escpos.printer import Dummy
        self.printer = Dummy()  # python-escpos's byte collector
        self.text_mode = settings.mode is ChineseMode.TEXT
        self.encoding = settings.encoding.lower().replace("-", "")
        self.raster = _RasterLines(settings)
        self.align, self.bold, self.double = Align.LEFT, False, False

    def out(self, data: bytes) -> None:
        self.printer._raw(data)

    def set_mode(self, align: Align | None = None, bold: bool | None = None,
                 double: bool | None = None) -> None:
        if align is not None and align is not self.align:
            self.out(set_align(align))
            self.align = align
        if bold is not None and bold != self.bold:
            self.out(set_bold(bold))
            self.bold = bold
        if double is not None and double != self.double:
            self.out(set_size(double))
            self.double = double

    def flush_raster(self) -> None:
        picture = self.raster.take_picture()
        if picture is not None:
            # Pictures are placed from the left edge; the centring is already drawn into them.
            self.set_mode(align=Align.LEFT)
            self.out(raster_image(picture))

    def line(self, line: Line) -> None:
        line = Line(clean_text(line.text).replace("\n", " "), line.align, line.bold, line.double)
        _check_width(line, self.settings)
        if not self.text_mode:
            self.raster.add(line)
            return
        if not _fits(line.text, self.encoding):
            try:
                glyph_set(self.settings.font_path)
            except FontMissing:
                line = Line("".join(c if _fits(c, self.encoding) else REPLACEMENT for c in line.text),
                            line.align, line.bold, line.double)
            else:
                # The printer's font lacks a character (e.g. a rare name character under GBK): this one
                # line goes as a picture so the name still prints correctly.
                self.raster.add(line)
                self.flush_raster()
                return
        self.set_mode(line.align, line.bold, line.double)
        self.out(line.text.encode(self.encoding) + b"\n")

    def other(self, block: Block) -> None:
        self.flush_raster()
        if isinstance(block, Feed):
            if block.lines > 0:
                self.out(feed_lines(block.lines))
        elif isinstance(block, QrCode):
            if self.settings.qr_native and self.text_mode:
                self.set_mode(align=Align.CENTER)
                self.out(native_qr(block.data, block.module))
            else:
                self.set_mode(align=Align.LEFT)
                self.out(raster_image(qr_picture(block.data, block.module, self.settings.width.dots)))
        elif isinstance(block, Cut):
            if self.settings.cutter:
                self.out(PARTIAL_CUT)
        else:
            raise TypeError(f"not a receipt block: {block!r}")

    def run(self, blocks: Iterable[Block]) -> bytes:
        chinese_switch = self.text_mode and self.settings.chinese_mode_switch
        self.out(INIT + set_line_pitch(LINE_PITCH))
        if chinese_switch:
            self.out(CHINESE_ON)
        for block in blocks:
            if isinstance(block, Line):
                self.line(block)
            else:
                self.other(block)
        self.flush_raster()
        self.set_mode(Align.LEFT, False, False)
        if chinese_switch:
            self.out(CHINESE_OFF)
        return self.printer.output


def encode(blocks: Iterable[Block], settings: PrinterSettings) -> bytes:
    """ESC/POS bytes for a receipt, in the printer's Chinese mode (text or raster)."""
    return _Encoder(settings).run(blocks)
