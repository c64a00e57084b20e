"""The preview interpreter: decoded text, image size, styles, and refusal of bytes it does not know."""

import pytest

from printing import Align, Line, PaperWidth, PreviewError, PrinterSettings, encode, lab_report, preview
from printing.samples import sample_lab_report


@pytest.mark.parametrize("width", list(PaperWidth))
def test_preview_is_as_wide_as_the_printer_and_as_long_as_the_paper_used(width):
    pv = preview(lab_report(sample_lab_report(), PrinterSettings(width=width)), width)
    assert pv.image.width == width.dots
    assert pv.image.mode == "L"
    last = pv.printed[-1]
    assert pv.image.height == last.top + 30 + 3 * 30  # last line, then three lines fed for the tear bar


def test_preview_keeps_styles_of_each_line():
    data = encode([Line("标题", Align.CENTER, bold=True, double=True), Line("正文"), Line("右", Align.RIGHT)],
                  PrinterSettings())
    pv = preview(data)
    assert [(p.text, p.align, p.bold, p.double) for p in pv.printed] == [
        ("标题", Align.CENTER, True, True), ("正文", Align.LEFT, False, False), ("右", Align.RIGHT, False, False)]
    assert [p.top for p in pv.printed] == [0, 48, 78]
    # A double-size centred title: 4 columns x 2 = 96 dots wide, centred on 384.
    ink = [x for x in range(384) if any(pv.image.getpixel((x, y)) < 128 for y in range(48))]
    assert 144 <= ink[0] and ink[-1] < 240


def test_preview_draws_ink_where_text_is():
    pv = preview(encode([Line("中")], PrinterSettings()))
    cell = [pv.image.getpixel((x, y)) for x in range(24) for y in range(24)]
    rest = [pv.image.getpixel((x, y)) for x in range(24, 384) for y in range(24)]
    assert min(cell) == 0 and min(rest) == 255


def test_printer_wraps_text_that_runs_past_the_edge():
    # Bytes from elsewhere (not our encoder, which refuses over-long lines): the printer wraps them.
    data = b"\x1b@\x1c&" + ("一" * 20).encode("gb18030") + b"\n"
    assert preview(data).lines == ["一" * 16, "一" * 4]


def test_outside_chinese_mode_high_bytes_are_single_byte_code_page_characters():
    data = b"\x1b@" + "中".encode("gb18030") + b"\n"
    assert preview(data).lines == ["╓╨"]  # what a printer left in PC437 prints: why FS & matters


@pytest.mark.parametrize("data", [b"\x1b@\x1bZ", b"\x07", b"\x1dv0\x00\x02\x00\x05\x00\x00", b"\x1b"])
def test_unknown_or_truncated_commands_are_refused(data):
    with pytest.raises(PreviewError):
        preview(data)


def test_preview_saves_png(tmp_path):
    path = preview(encode([Line("测试")], PrinterSettings())).save(tmp_path / "p.png")
    assert path.read_bytes().startswith(b"\x89PNG")
