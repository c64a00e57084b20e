"""Receipt layouts: pure functions from plain data to ESC/POS bytes, for 58 mm and 80 mm paper.

Each layout has a `*_blocks` function (what goes on the paper, fitted to the paper's columns) and a
function returning the bytes for a given printer. The columns are counted with Chinese characters as two.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterable, Sequence

from printing.blocks import Align, Block, Cut, Feed, Line, QrCode
from printing.columns import labelled, pad, table_row, text_columns, wrap
from printing.encoder import encode
from printing.model import (AbnormalFlag, FollowUpSlip, LabReport, LabResult, PaperWidth, Patient,
                            PrinterSettings, ReferralSlip, ReturnSlip, sex_label)

_WEEKDAYS = "一二三四五六日"
TEAR_TEXT = " 沿此线撕开 "


def format_date(value: date | None) -> str:
    """'2024年5月6日' — the form patients read on slips."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def format_appointment(value: date | None) -> str:
    """'2024年8月6日 星期二': a next-visit date with its weekday so the patient can plan."""
    if value is None:
        return "待定"
    return f"{format_date(value)} 星期{_WEEKDAYS[value.weekday()]}"


def format_time(value: datetime | None) -> str:
    """'2024-05-06 08:30' as lab reports print times."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _rule(cols: int, char: str = "-") -> Line:
    return Line(char * cols)


def _title(text: str, cols: int) -> list[Line]:
    """A centred title, double size when it fits in half the columns."""
    if text_columns(text) * 2 <= cols:
        return [Line(text, Align.CENTER, bold=True, double=True)]
    return [Line(part, Align.CENTER, bold=True) for part in wrap(text, cols)]


def _centred(text: str, cols: int, bold: bool = False) -> list[Line]:
    return [Line(part, Align.CENTER, bold=bold) for part in wrap(text, cols)] if text else []


def _field_lines(fields: Sequence[tuple[str, str]], cols: int, per_line: int = 2) -> list[Line]:
    """'label：value' fields, several to a line where each fits its share, otherwise one wrapped field."""
    lines: list[Line] = []
    share = cols // per_line
    row: list[str] = []
    for label, value in fields:
        item = f"{label}：{value}"
        if per_line > 1 and text_columns(item) <= share - 1:
            row.append(item)
            if len(row) == per_line:
                lines.append(Line("".join(pad(x, share) for x in row[:-1]) + row[-1]))
                row = []
            continue
        if row:
            lines.append(Line("".join(pad(x, share) for x in row[:-1]) + row[-1]))
            row = []
        lines.extend(Line(text) for text in labelled(f"{label}：", value, cols))
    if row:
        lines.append(Line("".join(pad(x, share) for x in row[:-1]) + row[-1]))
    return lines


def _patient_fields(patient: Patient) -> list[tuple[str, str]]:
    fields = [("姓名", patient.name), ("性别", sex_label(patient.sex)), ("年龄", patient.age_text)]
    return [(k, v) for k, v in fields if v]


def _given(fields: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The fields that have a value: a label the sender gave nothing for is left off the paper."""
    return [(label, value) for label, value in fields if value and str(value).strip()]


def _end_of_receipt() -> list[Block]:
    # Three blank lines carry the last printed line past the tear bar.
    return [Feed(3), Cut()]


# ---------------------------------------------------------------------------------------------- lab


# Legend entries, printed only for the flags the report uses, so 58 mm paper keeps it on one line.
_LEGEND = [
    ({AbnormalFlag.HIGH}, "↑偏高"),
    ({AbnormalFlag.LOW}, "↓偏低"),
    ({AbnormalFlag.CRITICAL_HIGH, AbnormalFlag.CRITICAL_LOW}, "↑↑/↓↓危急值"),
    ({AbnormalFlag.ABNORMAL}, "*异常"),
    ({AbnormalFlag.CRITICAL_ABNORMAL}, "**危急值"),
]


def unit_text(unit: str) -> str:
    """A unit as printed: the micro sign becomes 'u' (umol/L), which every printer font has, in one column."""
    return unit.replace("\u00b5", "u").replace("\u03bc", "u")


def _result_columns(width: PaperWidth) -> tuple[list[int], list[int] | None]:
    """Column widths of the results table: one line per item on 80 mm, two on 58 mm."""
    if width is PaperWidth.MM80:
        return [14, 8, 4, 8, 10], None
    return [16, 10, 4], [10, 19]


def _result_lines(result: LabResult, width: PaperWidth) -> list[Line]:
    flag = result.abnormal_flag
    bold = flag is not AbnormalFlag.NORMAL
    name = f"{result.item}({result.code})" if result.code else result.item
    first, second = _result_columns(width)
    if second is None:
        cells = [name, result.result, flag.mark, unit_text(result.unit), result.reference_range]
        rows = table_row(cells, first,
                         ["left", "right", "left", "left", "left"])
        return [Line(r, bold=bold) for r in rows]
    rows = table_row([name, result.result, flag.mark], first, ["left", "right", "left"])
    detail = table_row([unit_text(result.unit), result.reference_range], second)
    return [Line(r, bold=bold) for r in rows] + [Line("  " + d) for d in detail if d.strip()]


# Under the result it explains, indented past the item column's start so it reads as that row's.
_COMMENT_INDENT = "  "
_COMMENT_LABEL = "注："


def _comment_lines(comments: Sequence[str], cols: int) -> list[Line]:
    """A result's remarks, each wrapped under its own label (hanging indent), one after another."""
    lines: list[Line] = []
    for comment in comments:
        if comment.strip():
            lines += [Line(_COMMENT_INDENT + t)
                      for t in labelled(_COMMENT_LABEL, comment.strip(), cols - len(_COMMENT_INDENT))]
    return lines


def lab_report_blocks(report: LabReport, width: PaperWidth) -> list[Block]:
    """The blocks of a lab report (检验报告单) for one paper width."""
    cols = width.columns
    blocks: list[Block] = []
    blocks += _centred(report.institution, cols, bold=True)
    blocks += _title("检验报告单", cols)
    blocks += _centred(report.department, cols)
    blocks.append(_rule(cols))
    per_line = 3 if width is PaperWidth.MM80 else 2
    blocks += _field_lines(_patient_fields(report.patient), cols, per_line)
    blocks += _field_lines(_given([("档案/门诊号", report.patient.record_number), ("标本", report.specimen_type)]),
                           cols, 2 if width is PaperWidth.MM80 else 1)
    blocks.append(_rule(cols))
    first, second = _result_columns(width)
    if second is None:
        blocks.append(Line(table_row(["项目", "结果", "标志", "单位", "参考范围"], first,
                                     ["left", "right", "left", "left", "left"])[0], bold=True))
    else:
        blocks.append(Line(table_row(["项目", "结果", "标志"], first, ["left", "right", "left"])[0], bold=True))
        blocks.append(Line("  " + table_row(["单位", "参考范围"], second)[0], bold=True))
    blocks.append(_rule(cols))
    for result in report.results:
        blocks += _result_lines(result, width)
        blocks += _comment_lines(result.comments, cols)
    blocks.append(_rule(cols))
    present = {r.abnormal_flag for r in report.results}
    legend = [text for flags, text in _LEGEND if present & flags]
    if legend:
        blocks += [Line(t) for t in wrap(" ".join(legend), cols)]
    critical = [r for r in report.results if r.abnormal_flag.critical]
    if critical:
        blocks.append(_rule(cols, "*"))
        blocks.append(Line("危急值", Align.CENTER, bold=True, double=True))
        for r in critical:
            text = f"{r.item} {r.result}{(' ' + unit_text(r.unit)) if r.unit else ''} {r.abnormal_flag.mark}"
            blocks += [Line(t, bold=True) for t in wrap(text, cols)]
        blocks += [Line(t) for t in labelled("电话通知：", report.critical_call_note or "未记录", cols)]
        blocks.append(_rule(cols, "*"))
    remarks = [c.strip() for c in report.comments if c.strip()]
    if remarks:
        blocks += [Line(t) for t in labelled("备注：", "\n".join(remarks), cols)]
        blocks.append(_rule(cols))
    blocks += _field_lines([("接收时间", format_time(report.received_at)),
                            ("报告时间", format_time(report.reported_at))], cols, 2 if cols >= 48 else 1)
    blocks += _field_lines(_given([("检验者", report.tester), ("审核者", report.reviewer)]), cols, 2)
    blocks.append(Feed(1))
    blocks.append(QrCode(report.report_id, module=4 if width is PaperWidth.MM58 else 5))
    number = f"报告编号：{report.report_number or report.report_id}"
    if text_columns(number) <= cols:
        # A number broken over two lines cannot be read out over the phone; the QR code carries the id.
        blocks.append(Line(number, Align.CENTER))
    blocks += _centred("本报告仅对所检标本负责", cols)
    return blocks + _end_of_receipt()


def lab_report(report: LabReport, settings: PrinterSettings) -> bytes:
    """ESC/POS bytes of a lab report for the given printer."""
    return encode(lab_report_blocks(report, settings.width), settings)


# ---------------------------------------------------------------------------------------- follow-up


def follow_up_slip_blocks(slip: FollowUpSlip, width: PaperWidth) -> list[Block]:
    """The blocks of a visit/appointment slip (随访/预约单) for one paper width."""
    cols = width.columns
    blocks: list[Block] = []
    blocks += _centred(slip.institution, cols, bold=True)
    blocks += _title("随访/预约单", cols)
    blocks += _centred(slip.programme, cols)
    blocks.append(_rule(cols))
    per_line = 3 if width is PaperWidth.MM80 else 2
    blocks += _field_lines(_patient_fields(slip.patient), cols, per_line)
    if slip.patient.record_number:
        blocks += _field_lines([("档案号", slip.patient.record_number)], cols, 1)
    blocks += _field_lines([("随访日期", format_date(slip.visit_date))], cols, 1)
    blocks += _field_lines(_given(slip.measurements), cols, 2 if width is PaperWidth.MM80 else 1)
    blocks += [Line(t, bold=True) for t in labelled("本次评价：", slip.classification, cols)]
    blocks.append(_rule(cols))
    blocks.append(Line("下次随访时间", Align.CENTER, bold=True))
    appointment = format_appointment(slip.next_visit_date)
    if text_columns(appointment) * 2 <= cols:
        blocks.append(Line(appointment, Align.CENTER, bold=True, double=True))
    else:
        blocks += [Line(t, Align.CENTER, bold=True) for t in wrap(appointment, cols)]
    blocks.append(_rule(cols))
    blocks += [Line(t) for t in labelled("医嘱：", slip.advice, cols)]
    blocks.append(Feed(1))
    blocks += _field_lines(_given([("医生", slip.doctor), ("团队电话", slip.team_phone)]), cols,
                           2 if width is PaperWidth.MM80 else 1)
    blocks += _centred("请按时随访，身体不适请及时就诊。", cols)
    return blocks + _end_of_receipt()


def follow_up_slip(slip: FollowUpSlip, settings: PrinterSettings) -> bytes:
    """ESC/POS bytes of a visit/appointment slip for the given printer."""
    return encode(follow_up_slip_blocks(slip, settings.width), settings)


# ----------------------------------------------------------------------------------------- referral


def tear_line(cols: int) -> Line:
    """A dashed line with '沿此线撕开' in the middle, where stub and form are separated."""
    dashes = cols - text_columns(TEAR_TEXT)
    left = dashes // 2
    return Line("-" * left + TEAR_TEXT + "-" * (dashes - left))


def _paragraph(label: str, value: str, cols: int) -> list[Line]:
    """A labelled free-text section: the label on its own line when the text is long."""
    if text_columns(label) + text_columns(value) <= cols:
        return [Line(label + value)]
    return [Line(label, bold=True)] + [Line("  " + t) for t in wrap(value or "无", cols - 2)]


def _two_way_slip(width: PaperWidth, number: str, patient: Patient, stub_fields: list[tuple[str, str]],
                  sentence: str, signer: tuple[str, str], day: date, direction: str, addressee: str, intro: str,
                  sections: list[tuple[str, str]], phone: str, institution: str) -> list[Block]:
    """A two-way referral form (双向转诊单): the stub (存根) the sender keeps, tear line and cut, then the form
    the patient carries; `signer` is (the signature's label, the doctor)."""
    cols = width.columns
    blocks: list[Block] = []
    blocks += _title("存  根", cols)
    blocks += _centred(f"转诊单号：{number}", cols)
    blocks.append(_rule(cols))
    blocks += _field_lines(_patient_fields(patient), cols, 3 if width is PaperWidth.MM80 else 2)
    blocks += _field_lines(stub_fields, cols, 1)
    blocks += [Line(t) for t in wrap(sentence, cols)]
    blocks += _field_lines([signer], cols, 1)
    blocks.append(Line(format_date(day), Align.RIGHT))
    blocks.append(Feed(2))
    blocks.append(tear_line(cols))
    blocks.append(Cut())
    blocks.append(Feed(1))
    blocks += _title("双向转诊单", cols)
    blocks += _centred(direction, cols, bold=True)
    blocks += _centred(f"转诊单号：{number}", cols)
    blocks.append(_rule(cols))
    blocks += [Line(t) for t in wrap(addressee, cols)]
    blocks += [Line(t) for t in wrap("    " + intro, cols)]
    blocks.append(_rule(cols))
    for label, value in sections:
        blocks += _paragraph(label, value, cols)
    blocks.append(_rule(cols))
    blocks += _field_lines([signer, ("联系电话", phone)], cols, 1)
    blocks += [Line(t, Align.RIGHT) for t in wrap(institution, cols)]
    blocks.append(Line(format_date(day), Align.RIGHT))
    return blocks + _end_of_receipt()


def referral_slip_blocks(slip: ReferralSlip, width: PaperWidth) -> list[Block]:
    """The blocks of an upward referral: stub (存根), tear line and cut, then the form (转出单)."""
    p = slip.patient
    return _two_way_slip(
        width, slip.referral_number, p, [("档案编号", p.record_number), ("家庭住址", p.address), ("联系电话", p.phone)],
        f"于{format_date(slip.referral_date)}因病情需要，转入{slip.destination_institution}"
        f"{slip.destination_department}，接诊医生：{slip.receiving_doctor}。",
        ("转诊医生（签字）", slip.referring_doctor), slip.referral_date, "（转出）",
        f"{slip.destination_institution}{slip.destination_department}：",
        f"现有患者{p.name}，性别{sex_label(p.sex)}，年龄{p.age_text}，因病情需要，需转入贵单位，请予以接诊。",
        [("初步印象：", slip.initial_impression), ("主要现病史（转出原因）：", slip.present_illness),
         ("主要既往史：", slip.past_history), ("治疗经过：", slip.treatment_so_far)],
        slip.doctor_phone, slip.referring_institution)


def referral_slip(slip: ReferralSlip, settings: PrinterSettings) -> bytes:
    """ESC/POS bytes of an upward referral slip with its stub for the given printer."""
    return encode(referral_slip_blocks(slip, settings.width), settings)


def return_slip_blocks(slip: ReturnSlip, width: PaperWidth) -> list[Block]:
    """The blocks of a return form: the hospital's stub (存根), tear line and cut, then the form (回转单) the
    patient carries back to the community team."""
    p = slip.patient
    inpatient = slip.inpatient_record_number or "无"
    return _two_way_slip(
        width, slip.referral_number, p, [("档案编号", p.record_number), ("住院病案号", inpatient)],
        f"于{format_date(slip.return_date)}转回{slip.to_institution}。", ("回转医生（签字）", slip.doctor),
        slip.return_date, "（回转）", f"{slip.to_institution}：",
        f"现有你单位转来的患者{p.name}，性别{sex_label(p.sex)}，年龄{p.age_text}，经诊治，现转回贵单位，"
        "请予以接诊并按下列方案随访。",
        [("诊断结果：", slip.diagnosis), ("住院病案号：", inpatient), ("主要检查结果：", slip.main_results),
         ("治疗经过：", slip.treatment), ("下一步治疗方案及康复建议：", slip.plan)],
        slip.doctor_phone, slip.institution)


def return_slip(slip: ReturnSlip, settings: PrinterSettings) -> bytes:
    """ESC/POS bytes of a return form with its stub for the given printer."""
    return encode(return_slip_blocks(slip, settings.width), settings)


def all_text(blocks: Iterable[Block]) -> list[str]:
    """The text lines of a block list, for checks and tests."""
    return [b.text for b in blocks if isinstance(b, Line)]


__all__ = [
    "lab_report", "lab_report_blocks", "follow_up_slip", "follow_up_slip_blocks", "referral_slip",
    "referral_slip_blocks", "return_slip", "return_slip_blocks", "format_date", "format_appointment", "format_time", "tear_line", "all_text",
]
