"""Print preview: read ESC/POS bytes back the way a receipt printer would and draw the paper as a PNG.

It understands the commands this package emits (and a few neighbours), and refuses anything else rather
than showing a preview that differs from the paper. Text is decoded with GB18030/GBK in Chinese mode and
drawn with the same glyph cells the raster mode uses, at the printer's dot width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageOps

from printing.blocks import CELL_HEIGHT, Align, line_advance
from printing.errors import PreviewError
from printing.glyphs import Cell, cells_width, glyph_set, paint_cells
from printing.model import PaperWidth

DEFAULT_PITCH = 34  # 1/6 inch at 203 dpi: what ESC @ and ESC 2 restore
_QR_EC = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
          50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}


@dataclass(frozen=True)
class PrintedLine:
    """A text line as the printer would print it."""

    text: str
    top: int
    align: Align
    bold: bool
    double: bool


@dataclass
class Preview:
    """What the paper will look like: the image, the decoded text, where pictures and cuts are."""

    image: Image.Image
    printed: list[PrintedLine] = field(default_factory=list)
    pictures: list[tuple[int, int, int, int]] = field(default_factory=list)  # (left, top, width, height)
    cuts: list[int] = field(default_factory=list)  # y of each cut
    chinese_mode_entered: bool = False

    @property
    def lines(self) -> list[str]:
        """The decoded text lines, in print order (lines sent as pictures are not text and not here)."""
        return [p.text for p in self.printed]

    @property
    def text(self) -> str:
        """All decoded lines joined by newlines."""
        return "\n".join(self.lines)

    def save(self, path: str | Path) -> Path:
        """Write the preview as a PNG and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.image.save(path, format="PNG")
        return path


class _Paper:
    def __init__(self, dots: int, encoding: str, font_path: str | None):
        self.dots = dots
        self.encoding = encoding
        self.font_path = font_path
        self.y = 0
        self.ops: list[tuple] = []
        self.result = Preview(image=Image.new("L", (dots, 1), 255))
        self.buffer: list[Cell] = []
        self.reset()

    def reset(self) -> None:
        self.align = Align.LEFT
        self.bold = False
        self.ank_size = (1, 1)
        self.kanji_size = (1, 1)
        self.chinese = False
        self.pitch = DEFAULT_PITCH
        self.qr = {"module": 3, "ec": qrcode.constants.ERROR_CORRECT_L, "data": b""}

    # --- text -------------------------------------------------------------------------------------
    def add_char(self, char: str, multibyte: bool) -> None:
        if multibyte:
            w = max(self.ank_size[0], self.kanji_size[0])
            h = max(self.ank_size[1], self.kanji_size[1])
        else:
            w, h = self.ank_size
        cell = Cell(char, self.bold, w, h)
        if cells_width(self.buffer) + cell.dots > self.dots:
            self.print_line()  # the printer wraps a line that runs past the paper's edge
        self.buffer.append(cell)

    def print_line(self) -> None:
        if self.buffer:
            height = max(c.height_mul for c in self.buffer)
        else:
            height = max(self.ank_size[1], self.kanji_size[1])
        text = "".join(c.char for c in self.buffer)
        self.ops.append(("text", self.y, CELL_HEIGHT * height, list(self.buffer), self.align))
        self.result.printed.append(PrintedLine(text, self.y, self.align, any(c.bold for c in self.buffer),
                                               any(c.height_mul > 1 for c in self.buffer)))
        self.y += line_advance(height, self.pitch)
        self.buffer = []

    def need_empty_buffer(self, what: str) -> None:
        if self.buffer:
            raise PreviewError(f"{what} in the middle of a text line")

    # --- pictures ---------------------------------------------------------------------------------
    def picture(self, img: Image.Image) -> None:
        x = {Align.LEFT: 0, Align.CENTER: (self.dots - img.width) // 2,
             Align.RIGHT: self.dots - img.width}[self.align]
        x = max(0, x)
        self.ops.append(("image", self.y, x, img))
        self.result.pictures.append((x, self.y, img.width, img.height))
        self.y += img.height

    def print_qr(self) -> None:
        qr = qrcode.QRCode(version=None, box_size=1, border=0, error_correction=self.qr["ec"])
        qr.add_data(self.qr["data"])
        qr.make(fit=True)
        matrix = qr.get_matrix()
        small = Image.new("1", (len(matrix), len(matrix)), 0)
        small.putdata([1 if dark else 0 for row in matrix for dark in row])
        size = len(matrix) * self.qr["module"]
        self.picture(small.resize((size, size), Image.Resampling.NEAREST))

    # --- output -----------------------------------------------------------------------------------
    def finish(self) -> Preview:
        if self.buffer:
            self.print_line()  # the printer prints what is left when the job ends
        canvas = Image.new("1", (self.dots, max(1, self.y)), 0)
        glyphs = None
        for op in self.ops:
            if op[0] == "text":
                _, top, height, cells, align = op
                if cells:
                    glyphs = glyphs or glyph_set(self.font_path)
                    paint_cells(canvas, top, height, cells, align, glyphs)
            else:
                _, top, x, img = op
                canvas.paste(1, (x, top), img)
        image = ImageOps.invert(canvas.convert("L"))
        draw = ImageDraw.Draw(image)
        for y in self.result.cuts:
            # The cut is shown as a grey dashed line; grey is never printed, so it cannot be mistaken for ink.
            for x in range(0, self.dots, 12):
                draw.line([(x, min(y, image.height - 1)), (x + 6, min(y, image.height - 1))], fill=160)
        self.result.image = image
        return self.result


def preview(data: bytes, width: PaperWidth | int = PaperWidth.MM58, encoding: str = "gb18030",
            font_path: str | None = None) -> Preview:
    """Interpret this package's ESC/POS bytes and return the paper as an image plus its decoded text."""
    dots = width.dots if isinstance(width, PaperWidth) else int(width)
    encoding = encoding.lower().replace("-", "")
    paper = _Paper(dots, encoding, font_path)
    n = len(data)
    i = 0

    def arg(k: int) -> bytes:
        if i + k > n:
            raise PreviewError(f"command cut short at byte {i}")
        return data[i:i + k]

    while i < n:
        b = data[i]
        i += 1
        if b == 0x0A:
            paper.print_line()
        elif b == 0x0D:
            pass  # CR is ignored when LF ends lines, as on these printers
        elif b == 0x1B:  # ESC
            cmd = arg(1)[0]
            i += 1
            if cmd == 0x40:  # ESC @
                paper.buffer = []
                paper.reset()
            elif cmd == 0x33:  # ESC 3 n
                paper.pitch = arg(1)[0]
                i += 1
            elif cmd == 0x32:  # ESC 2
                paper.pitch = DEFAULT_PITCH
            elif cmd == 0x61:  # ESC a n
                v = arg(1)[0]
                i += 1
                paper.align = {0: Align.LEFT, 48: Align.LEFT, 1: Align.CENTER, 49: Align.CENTER,
                               2: Align.RIGHT, 50: Align.RIGHT}[v]
            elif cmd == 0x45:  # ESC E n
                paper.bold = bool(arg(1)[0] & 1)
                i += 1
            elif cmd == 0x64:  # ESC d n
                lines = arg(1)[0]
                i += 1
                if paper.buffer:
                    paper.print_line()
                    lines = max(0, lines - 1)
                paper.y += lines * paper.pitch
            elif cmd == 0x4A:  # ESC J n: feed n dots
                if paper.buffer:
                    paper.print_line()
                paper.y += arg(1)[0]
                i += 1
            else:
                raise PreviewError(f"unsupported command ESC 0x{cmd:02x} at byte {i - 2}")
        elif b == 0x1C:  # FS
            cmd = arg(1)[0]
            i += 1
            if cmd == 0x26:  # FS &
                paper.chinese = True
                paper.result.chinese_mode_entered = True
            elif cmd == 0x2E:  # FS .
                paper.chinese = False
            elif cmd == 0x21:  # FS ! n
                v = arg(1)[0]
                i += 1
                paper.kanji_size = (2 if v & 0x04 else 1, 2 if v & 0x08 else 1)
            else:
                raise PreviewError(f"unsupported command FS 0x{cmd:02x} at byte {i - 2}")
        elif b == 0x1D:  # GS
            cmd = arg(1)[0]
            i += 1
            if cmd == 0x21:  # GS ! n
                v = arg(1)[0]
                i += 1
                paper.ank_size = ((v >> 4) + 1, (v & 0x0F) + 1)
                paper.kanji_size = paper.ank_size
            elif cmd == 0x76:  # GS v 0 m xL xH yL yH d1...dk
                head = arg(6)
                if head[0] != 0x30:
                    raise PreviewError("unsupported GS v variant")
                width_bytes = int.from_bytes(head[2:4], "little")
                height = int.from_bytes(head[4:6], "little")
                i += 6
                body = arg(width_bytes * height)
                i += width_bytes * height
                paper.need_empty_buffer("picture")
                if width_bytes and height:
                    paper.picture(Image.frombytes("1", (width_bytes * 8, height), body))
            elif cmd == 0x28:  # GS ( k pL pH cn fn [m] data
                if arg(1) != b"k":
                    raise PreviewError(f"unsupported command GS ( {data[i]:#x}")
                i += 1
                length = int.from_bytes(arg(2), "little")
                i += 2
                payload = arg(length)
                i += length
                cn, fn = payload[0], payload[1]
                if cn != 0x31:
                    raise PreviewError("only QR codes are supported in GS ( k")
                if fn == 0x43:
                    paper.qr["module"] = payload[2]
                elif fn == 0x45:
                    paper.qr["ec"] = _QR_EC[payload[2]]
                elif fn == 0x50:
                    paper.qr["data"] = payload[3:]
                elif fn == 0x51:
                    paper.need_empty_buffer("QR code")
                    paper.print_qr()
                elif fn != 0x41:  # 0x41 selects the model; only model 2 exists in practice
                    raise PreviewError(f"unsupported QR function {fn:#x}")
            elif cmd == 0x56:  # GS V m [n]
                m = arg(1)[0]
                i += 1
                if m in (65, 66):
                    i += 1
                if paper.buffer:
                    paper.print_line()
                paper.result.cuts.append(paper.y)
            else:
                raise PreviewError(f"unsupported command GS 0x{cmd:02x} at byte {i - 2}")
        elif b < 0x20 or b == 0x7F:
            raise PreviewError(f"unsupported control byte 0x{b:02x} at byte {i - 1}")
        elif b < 0x80:
            paper.add_char(chr(b), False)
        elif paper.chinese and 0x81 <= b <= 0xFE:
            second = arg(1)[0]
            size = 4 if 0x30 <= second <= 0x39 else 2
            seq = data[i - 1:i - 1 + size]
            if len(seq) < size:
                raise PreviewError("Chinese character cut short at the end of the data")
            i += size - 1
            paper.add_char(seq.decode(encoding, errors="replace"), True)
        else:
            # Outside Chinese mode the printer uses its single-byte code page (PC437 after ESC @).
            paper.add_char(bytes([b]).decode("cp437"), False)
    return paper.finish()
