"""Layouts: every required field reaches the paper, in both widths, read back through the preview."""

import dataclasses
from datetime import date

import pytest

from printing import (ChineseMode, PaperWidth, PrinterSettings, follow_up_slip, follow_up_slip_blocks,
                      lab_report, lab_report_blocks, preview, referral_slip, referral_slip_blocks,
                      text_columns)
from printing.blocks import Line, QrCode
from printing.layouts import tear_line
from printing.samples import (sample_follow_up_slip, sample_lab_report, sample_lab_report_with_comments,
                              sample_referral_slip)

WIDTHS = list(PaperWidth)


def _text(data, width):
    return preview(data, width).text


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("blocks_of, document", [
    (lab_report_blocks, sample_lab_report()),
    (lab_report_blocks, sample_lab_report_with_comments()),
    (follow_up_slip_blocks, sample_follow_up_slip()),
    (referral_slip_blocks, sample_referral_slip()),
])
def test_no_line_is_wider_than_the_paper(width, blocks_of, document):
    for block in blocks_of(document, width):
        if isinstance(block, Line):
            assert text_columns(block.text) * (2 if block.double else 1) <= width.columns, block


@pytest.mark.parametrize("width", WIDTHS)
def test_lab_report_prints_every_required_field(width):
    report = sample_lab_report()
    text = _text(lab_report(report, PrinterSettings(width=width)), width)
    flat = text.replace("\n", "").replace(" ", "")
    for required in ["检验报告单", "姓名：张秀英", "性别：女", "年龄：67岁", "34010200100100023", "静脉血（空腹）",
                     "接收时间：2024-05-0608:30", "报告时间：2024-05-0610:15", "检验者：李明", "审核者：王晓红",
                     "报告编号：LR-20240506-000123"]:
        assert required in flat, required
    for r in report.results:
        assert r.result in text
        assert r.reference_range.replace(" ", "") in flat
    assert "umol/L" in text  # the micro sign printed in a form every printer font has


@pytest.mark.parametrize("width", WIDTHS)
def test_lab_report_marks_high_low_and_critical(width):
    pv = preview(lab_report(sample_lab_report(), PrinterSettings(width=width)), width)

    def row(item):
        return next(p for p in pv.printed if p.text.startswith(item))

    assert "↑↑" in row("空腹血糖").text and row("空腹血糖").bold
    assert "↓" in row("高密度脂蛋白").text and row("高密度脂蛋白").bold
    assert " ↑" in row("甘油三酯").text and "↑↑" not in row("甘油三酯").text and row("甘油三酯").bold
    assert not row("总胆固醇").bold and "↑" not in row("总胆固醇").text
    critical_title = [p for p in pv.printed if p.text == "危急值"]
    assert critical_title and critical_title[0].double and critical_title[0].bold
    assert "电话通知：10:20" in pv.text


def test_lab_report_without_critical_values_has_no_critical_section():
    report = sample_lab_report()
    calm = dataclasses.replace(report, results=[r for r in report.results if r.flag not in ("HH", "LL")])
    text = _text(lab_report(calm, PrinterSettings()), PaperWidth.MM58)
    assert "危急值" not in text and "↑偏高" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_lab_report_result_column_is_aligned(width, split_at_column):
    # On 80 mm the result column is columns 15-22 of each item row, right-aligned; on 58 mm 17-26.
    start, size = (15, 8) if width is PaperWidth.MM80 else (17, 10)
    report = sample_lab_report()
    pv = preview(lab_report(report, PrinterSettings(width=width)), width)
    found = 0
    for r in report.results:
        row = next(p.text for p in pv.printed if p.text.startswith(r.item[:5]))
        _, rest = split_at_column(row, start)
        cell, _ = split_at_column(rest.ljust(size), size)
        assert cell == " " * (size - text_columns(r.result)) + r.result
        found += 1
    assert found == len(report.results)


@pytest.mark.parametrize("mode", list(ChineseMode))
@pytest.mark.parametrize("width", WIDTHS)
def test_lab_report_prints_each_result_note_under_its_row_and_report_notes_as_remarks(width, mode):
    report = sample_lab_report_with_comments()
    text_pv = preview(lab_report(report, PrinterSettings(width=width)), width)
    lines = text_pv.lines
    potassium = next(i for i, line in enumerate(lines) if line.startswith("血钾(K)"))
    following = next(i for i, line in enumerate(lines) if line.startswith("尿蛋白(PRO)"))
    notes = [line for line in lines[potassium + 1:following] if "注：" in line or line.startswith("      ")]
    # Indented under the row, wrapped with a hanging indent, complete and in order.
    assert notes[0].startswith("  注：标本溶血") and all(line.startswith("      ") for line in notes[1:])
    assert "".join(line.strip() for line in notes).removeprefix("注：") == report.results[6].comments[0]
    glucose = lines[next(i for i, line in enumerate(lines) if line.startswith("空腹血糖(GLU)")):potassium]
    assert "  注：已复查" in glucose and any(line.startswith("  注：危急值已电话通知") for line in glucose)
    remarks = next(i for i, line in enumerate(lines) if line.startswith("备注："))
    assert lines[remarks] == "备注：标本轻度脂血" and lines[remarks + 1].startswith("      本报告血糖结果")
    assert remarks < next(i for i, line in enumerate(lines) if line.startswith("接收时间"))
    assert all(text_columns(line) <= width.columns for line in lines)
    if mode is ChineseMode.RASTER:  # the same picture as text mode: nothing cut or shifted
        raster_pv = preview(lab_report(report, PrinterSettings(width=width, mode=mode)), width)
        assert raster_pv.image.tobytes() == text_pv.image.tobytes()


def test_lab_report_with_blank_notes_prints_as_one_without_notes():
    report = sample_lab_report()
    blank = dataclasses.replace(report, comments=("", "  "),
                                results=[dataclasses.replace(r, comments=(" ",)) for r in report.results])
    assert lab_report(blank, PrinterSettings()) == lab_report(report, PrinterSettings())


@pytest.mark.parametrize("width", WIDTHS)
def test_follow_up_slip_fields(width):
    slip = sample_follow_up_slip()
    text = _text(follow_up_slip(slip, PrinterSettings(width=width)), width)
    flat = text.replace("\n", "").replace(" ", "")
    for required in ["随访/预约单", "张秀英", "随访日期：2024年5月6日", "本次评价：控制不满意", "2024年5月20日星期一",
                     "医生：陈建国", "团队电话：0551-63801234", "2型糖尿病患者健康管理",
                     "血压：138/86mmHg", "空腹血糖：16.9mmol/L"]:
        assert required in flat, required
    assert slip.advice.replace(" ", "").replace("\n", "") in flat  # wrapped, but complete and in order
    starts = [line.replace(" ", "").removeprefix("医嘱：") for line in text.splitlines()]
    for sentence in slip.advice.split("\n"):  # each sentence to the patient starts its own line
        assert any(start.startswith(sentence[:8]) for start in starts), sentence


def test_follow_up_slip_without_next_date_says_to_be_arranged():
    slip = dataclasses.replace(sample_follow_up_slip(), next_visit_date=None)
    assert "待定" in _text(follow_up_slip(slip, PrinterSettings()), PaperWidth.MM58)


@pytest.mark.parametrize("width", WIDTHS)
def test_referral_slip_has_stub_tear_line_and_form(width):
    slip = sample_referral_slip()
    pv = preview(referral_slip(slip, PrinterSettings(width=width, cutter=True)), width)
    lines = pv.lines
    tear = lines.index(tear_line(width.columns).text)
    stub = "".join(lines[:tear]).replace(" ", "")
    form = "".join(lines[tear + 1:]).replace(" ", "")
    for required in ["存根", "张秀英", "性别：女", "年龄：67岁", "34010200100100023", "合肥市包河区滨湖街道紫云路88号3栋502室",
                     "13955123456", "于2024年5月6日因病情需要，转入安徽省立医院内分泌科", "接诊医生：刘主任",
                     "转诊医生（签字）：陈建国"]:
        assert required in stub, required
    for required in ["双向转诊单", "（转出）", "现有患者张秀英", "初步印象：", "2型糖尿病，血糖控制不满意",
                     "主要现病史（转出原因）：", "主要既往史：", "青霉素过敏", "治疗经过：", "饮食运动指导",
                     "联系电话：13805510001", "滨湖社区卫生服务中心", "2024年5月6日"]:
        assert required in form, required
    tear_top = pv.printed[tear].top
    assert len(pv.cuts) == 2 and tear_top < pv.cuts[0] < pv.printed[tear + 1].top


def test_printer_without_cutter_gets_no_cut_commands():
    data = referral_slip(sample_referral_slip(), PrinterSettings(cutter=False))
    assert b"\x1dV" not in data and preview(data).cuts == []


def test_raster_mode_layout_prints_the_same_picture_as_text_mode():
    for width in WIDTHS:
        slip = sample_follow_up_slip()
        text_pv = preview(follow_up_slip(slip, PrinterSettings(width=width)), width)
        raster = PrinterSettings(width=width, mode=ChineseMode.RASTER)
        raster_pv = preview(follow_up_slip(slip, raster), width)
        assert raster_pv.lines == [] and text_pv.lines
        assert raster_pv.image.size == text_pv.image.size
        assert raster_pv.image.tobytes() == text_pv.image.tobytes()


def test_weekday_of_appointment():
    from printing.layouts import format_appointment

    assert format_appointment(date(2024, 5, 20)) == "2024年5月20日 星期一"


# --- issue 14: what a report from a real message printed wrongly ----------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_labels_the_sender_gave_nothing_for_are_left_out(width):
    # A message with no OBR-15/SPM, no OBR-34 and no OBR-32 printed "标本：", "检验者：", "审核者：" with nothing.
    report = dataclasses.replace(sample_lab_report(), specimen_type="", tester="", reviewer="")
    text = _text(lab_report(report, PrinterSettings(width=width)), width)
    for label in ("标本：", "检验者：", "审核者："):
        assert label not in text.replace(" ", ""), label
    assert "档案/门诊号：34010200100100023" in text.replace(" ", "")
    only_reviewer = dataclasses.replace(report, reviewer="王晓红")
    text = _text(lab_report(only_reviewer, PrinterSettings(width=width)), width)
    assert "审核者：王晓红" in text and "检验者" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_a_record_id_too_long_for_one_line_is_in_the_qr_code_only(width):
    # A stored report's id is a 36-character UUID: "报告编号：" + it is 46 columns and broke over two lines
    # on 58 mm. The QR code carries it; the printed number is the lab's own (report_number), when it fits.
    record_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    report = dataclasses.replace(sample_lab_report(), report_id=record_id)
    blocks = lab_report_blocks(report, width)
    (qr,) = [b for b in blocks if isinstance(b, QrCode)]
    assert qr.data == record_id
    numbers = [b.text for b in blocks if isinstance(b, Line) and "报告编号" in b.text]
    if width is PaperWidth.MM58:
        assert numbers == []
    else:
        assert [n.strip() for n in numbers] == [f"报告编号：{record_id}"]
    with_number = dataclasses.replace(report, report_number="CHEM-0042")
    blocks = lab_report_blocks(with_number, width)
    assert [b.text.strip() for b in blocks if isinstance(b, Line) and "报告编号" in b.text] == ["报告编号：CHEM-0042"]
    assert [b.data for b in blocks if isinstance(b, QrCode)] == [record_id]
