"""Indicator tables as files a center opens in Excel: XLSX (openpyxl) and CSV in UTF-8 with a BOM."""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from ..limits import CONTROL_CHARACTERS

LEVELS = {"team": "团队", "center": "中心", "district": "全区"}
CONDITIONS = {"hypertension": "高血压", "t2dm": "2型糖尿病"}
# (key, Chinese header); rates are fractions (0.8123), shown as percentages in the XLSX.
COLUMNS = (
    ("level", "层级"), ("name", "名称"), ("condition", "病种"),
    ("under_management", "管理人数"), ("managed_to_spec", "规范管理人数"), ("spec_rate", "规范管理率"),
    ("bp_measured", "测量血压人数"), ("bp_controlled", "血压控制人数"), ("bp_control_rate", "血压控制率"),
    ("fpg_measured", "测量空腹血糖人数"), ("fpg_controlled", "血糖控制人数"),
    ("glucose_control_rate", "血糖控制率"), ("emergency_visits", "危急情况人次"),
    ("emergency_patients", "危急情况人数"), ("visits", "随访人次"), ("complete_visits", "完整随访人次"),
    ("completeness_rate", "随访完整率"),
)
RATE_KEYS = {"spec_rate", "bp_control_rate", "glucose_control_rate", "completeness_rate"}


def title(report: dict) -> str:
    """'2025年' or '2025年第2季度'."""
    return f"{report['year']}年" + (f"第{report['quarter']}季度" if report.get("quarter") else "")


def _cells(row: dict) -> list:
    values = []
    for key, _ in COLUMNS:
        value = row.get(key)
        if key == "level":
            value = LEVELS[value]
        elif key == "condition":
            value = CONDITIONS.get(value, value)
        values.append(value)
    return values


# A cell whose text starts with one of these is a formula to Excel and LibreOffice (CSV injection, OWASP);
# a leading tab or CR, the other two such starts, goes with the control characters.
FORMULA_START = ("=", "+", "-", "@")


def _text(value):
    """Text as a cell may hold it: control characters dropped (openpyxl refuses them; a name holding one
    made the export fail every time)."""
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


def csv_cell(value):
    """A CSV cell that no spreadsheet runs as a formula: text starting like one gets a leading apostrophe."""
    value = _text(value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(report: dict) -> bytes:
    """The indicator rows as CSV, UTF-8 with a BOM so Excel shows the Chinese headers correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for _, header in COLUMNS])
    for row in report["rows"]:
        writer.writerow([csv_cell(v) for v in _cells(row)])
    return out.getvalue().encode("utf-8-sig")


def xlsx_row(sheet, values) -> None:
    """Append a row; text stays text (openpyxl would store '=...' as a formula)."""
    sheet.append([_text(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def to_xlsx(report: dict) -> bytes:
    """The indicator rows as one XLSX sheet with a title line and percentage-formatted rates."""
    book = Workbook()
    sheet = book.active
    sheet.title = f"慢病随访指标{report['year']}"[:31]
    sheet.append([f"慢性病患者健康管理指标 {title(report)}（{report['period_start']} 至 {report['period_end']}）"])
    sheet.append([header for _, header in COLUMNS])
    for row in report["rows"]:
        xlsx_row(sheet, _cells(row))
    return finished(book, [(key, header) for key, header in COLUMNS], RATE_KEYS, 10)


def finished(book, columns: list[tuple[str, str]], rate_keys, min_width: int) -> bytes:
    """The workbook's bytes, its active sheet (a title line, a header line, rows) with columns wide enough
    for their headers, rates shown as percentages and the two top lines frozen."""
    sheet = book.active
    for index, (key, header) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(min_width, len(header) * 2 + 2)
        if key in rate_keys:
            for cell in sheet[letter][2:]:
                cell.number_format = "0.0%"
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
