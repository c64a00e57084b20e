"""ESC/POS bytes: Chinese mode switching, GB18030 vs GBK, raster mode and QR codes."""

import qrcode
import pytest
from escpos.printer import Dummy
from PIL import Image

from printing import Align, ChineseMode, Cut, Feed, Line, PaperWidth, PrinterSettings, QrCode, encode, preview
from printing.encoder import CHINESE_OFF, CHINESE_ON, RASTER_BAND_ROWS, raster_image

RARE_NAME = "李䶮"  # U+4DAE is in GB18030 (four bytes) but not in GBK


def test_text_mode_switches_chinese_mode_on_and_off_around_gb18030_text():
    data = encode([Line("血压：120/80mmHg，控制满意。")], PrinterSettings())
    assert data.startswith(b"\x1b@\x1b3\x1e" + CHINESE_ON)
    assert data.endswith(CHINESE_OFF)
    assert "血压：120/80mmHg，控制满意。\n".encode("gb18030") in data


def test_arrows_and_chinese_symbols_survive_where_python_escpos_magic_encoding_loses_them():
    text = "GLU 16.9 mmol/L ↑↑ 约～①次"
    ours = encode([Line(text)], PrinterSettings())
    assert text.encode("gb18030") in ours and b"?" not in ours
    assert preview(ours).lines == [text]
    # The reason this package encodes Chinese itself: python-escpos picks a code page from the first
    # characters of a line (here PC437) and turns the rest into '?', so an abnormal-result arrow would
    # silently vanish from a lab report; it also never sends FS &.
    theirs = Dummy()
    theirs.text("GLU 16.9 mmol/L ↑↑")
    assert theirs.output.endswith(b"GLU 16.9 mmol/L ??") and CHINESE_ON not in theirs.output


def test_mode_switch_can_be_turned_off_for_printers_that_are_always_chinese():
    data = encode([Line("中文")], PrinterSettings(chinese_mode_switch=False))
    assert CHINESE_ON not in data and CHINESE_OFF not in data and "中文".encode("gbk") in data


def test_gb18030_prints_a_rare_name_character_as_text():
    data = encode([Line(RARE_NAME)], PrinterSettings(encoding="gb18030"))
    assert RARE_NAME.encode("gb18030") == b"\xc0\xee\xfe\x9f" and RARE_NAME.encode("gb18030") in data
    assert preview(data).lines == [RARE_NAME]


def test_four_byte_gb18030_characters_are_sent_and_read_back():
    text = "姓名：王㐀"  # U+3400 is a four-byte GB18030 sequence
    data = encode([Line(text)], PrinterSettings(encoding="gb18030"))
    assert b"\x81\x39\xee\x39" in data
    assert preview(data).lines == [text]


def test_gbk_printer_gets_the_rare_name_line_as_a_picture():
    with pytest.raises(UnicodeEncodeError):
        RARE_NAME.encode("gbk")
    blocks = [Line("姓名：" + RARE_NAME), Line("性别：男")]
    gbk = encode(blocks, PrinterSettings(encoding="gbk"))
    gb18030 = encode(blocks, PrinterSettings(encoding="gb18030"))
    assert b"\x1dv0" in gbk and b"\x1dv0" not in gb18030
    gbk_pv, gb_pv = preview(gbk, encoding="gbk"), preview(gb18030)
    assert gbk_pv.lines == ["性别：男"] and gb_pv.lines == ["姓名：" + RARE_NAME, "性别：男"]
    # The picture line looks exactly like the text the GB18030 printer would print.
    assert gbk_pv.image.tobytes() == gb_pv.image.tobytes()


def test_raster_mode_sends_no_text_and_no_chinese_mode_switch():
    blocks = [Line("检验报告单", Align.CENTER, bold=True, double=True), Line("血钾 2.5 mmol/L ↓↓")]
    data = encode(blocks, PrinterSettings(mode=ChineseMode.RASTER))
    assert CHINESE_ON not in data
    assert "检验".encode("gb18030") not in data and b"mmol" not in data
    pv = preview(data)
    assert pv.lines == [] and len(pv.pictures) == 1
    left, top, width, height = pv.pictures[0]
    assert width <= 384 and height == 48 + 30  # a double-height line and a normal one


def test_raster_picture_is_cropped_and_banded_for_small_printer_buffers():
    img = Image.new("1", (576, 500), 0)
    img.paste(1, (0, 0, 100, 500))
    data = raster_image(img)
    bands = data.count(b"\x1dv0")
    assert bands == -(-500 // RASTER_BAND_ROWS)
    # 100 dots of ink need 13 bytes per row, not 72.
    assert data[4:6] == (13).to_bytes(2, "little")
    pv = preview(data, PaperWidth.MM80)
    assert pv.image.size == (576, 500)
    assert pv.image.getpixel((99, 250)) == 0 and pv.image.getpixel((100, 250)) == 255


def _matrix_from_picture(pv_image, left, top, module, count):
    return [[pv_image.getpixel((left + x * module + module // 2, top + y * module + module // 2)) == 0
             for x in range(count)] for y in range(count)]


@pytest.mark.parametrize("native", [False, True])
def test_qr_code_carries_the_report_id(native):
    data = encode([QrCode("LR-20240506-000123", module=4)], PrinterSettings(qr_native=native))
    if native:
        assert b"\x1d(k" in data and b"LR-20240506-000123" in data
    pv = preview(data)
    assert len(pv.pictures) == 1
    left, top, width, height = pv.pictures[0]
    qr = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data("LR-20240506-000123")
    qr.make(fit=True)
    expected = qr.get_matrix()
    n = len(expected)
    quiet = 0 if native else 2 * 4  # the picture carries two modules of quiet zone
    if native:
        left = (384 - n * 4) // 2  # centred by ESC a 1
    else:
        left = (384 - (n + 4) * 4) // 2 + quiet
    assert _matrix_from_picture(pv.image, left, top + quiet, 4, n) == expected


def test_feed_and_cut_move_the_paper():
    data = encode([Line("A"), Feed(2), Line("B"), Cut()], PrinterSettings(cutter=True))
    pv = preview(data)
    assert [p.top for p in pv.printed] == [0, 30 + 60]
    assert pv.cuts == [120]


def test_line_wider_than_paper_is_refused():
    with pytest.raises(ValueError):
        encode([Line("中" * 17)], PrinterSettings(width=PaperWidth.MM58))
    with pytest.raises(ValueError):
        encode([Line("中" * 9, double=True)], PrinterSettings(width=PaperWidth.MM58))


def test_settings_reject_unknown_encoding():
    with pytest.raises(ValueError):
        PrinterSettings(encoding="utf-8")
