"""Issue 17: a reference range is printed whole, wrapped in its column at a separator, never inside a number."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from printing import PaperWidth, PrinterSettings, char_columns, lab_report, preview
from printing.columns import wrap
from printing.model import LabResult
from printing.samples import sample_lab_report

# tests/server_labs/test_reference_ranges.py's red cell count range (302 characters, bands by age and sex).
LONG_RANGE = ("Newborn: 4.1-6.1 x10^12/L; 1-11 mo: 3.8-5.4 x10^12/L; 1-11 y: 4.0-5.2 x10^12/L; "
              "12-14 y Male: 4.4-5.2 x10^12/L; 12-14 y Female: 4.1-5.1 x10^12/L; 15-17 y Male: 4.5-5.3 x10^12/L; "
              "15-17 y Female: 4.1-5.1 x10^12/L; 18-64 y Male: 4.6-5.4 x10^12/L; 18-64 y Female: 4.2-5.0 "
              "x10^12/L; >=65 y: 4.0-5.2 x10^12/L")


def test_a_range_wider_than_its_column_breaks_after_the_dash():
    assert wrap("110.0-160.0", 10) == ["110.0-", "160.0"]  # was ["110.0-160.", "0"]
    assert wrap("3.5-5.5", 10) == ["3.5-5.5"]
    assert wrap("12345678901234", 10) == ["1234567890", "1234"]  # one number wider than a line: no choice


def _from_column(line: str, column: int) -> str:
    """What a printed line holds from a display column on (a Chinese character takes two)."""
    at = 0
    for i, char in enumerate(line):
        if at >= column:
            return line[i:]
        at += char_columns(char)
    return ""


# Where the range column starts: 80 mm prints one row [14, 8, 4, 8, 10] (gaps of 1); 58 mm prints the unit
# and the range on the lines under the item, indented by 2, [10, 19].
RANGE_COLUMN = {PaperWidth.MM80: 14 + 8 + 4 + 8 + 4, PaperWidth.MM58: 2 + 10 + 1}


@pytest.mark.parametrize("width", list(PaperWidth))
def test_a_long_range_prints_whole_and_no_number_is_cut(width):
    report = replace(sample_lab_report(1), results=[
        LabResult("红细胞计数", "4.3", "10^12/L", LONG_RANGE, "L", code="RBC"),
        LabResult("血红蛋白", "98", "g/L", "110.0-160.0", "L", code="HGB")])
    lines = preview(lab_report(report, PrinterSettings(width=width)), width).text.splitlines()
    first = next(i for i, line in enumerate(lines) if "红细胞计数" in line)
    block = lines[first + (width is PaperWidth.MM58):]
    block = block[:next(i for i, line in enumerate(block) if "血红蛋白" in line)]
    column = [_from_column(line, RANGE_COLUMN[width]).strip() for line in block]
    assert " ".join(column).replace("- ", "-") == LONG_RANGE  # whole, every band in order
    for line, following in zip(column, column[1:]):  # never a number cut across two lines
        assert not (re.search(r"[\d.]$", line) and re.match(r"[\d.]", following)), (line, following)
    hgb = next(i for i, line in enumerate(lines) if "血红蛋白" in line)
    printed = " ".join(_from_column(line, RANGE_COLUMN[width]).strip()
                       for line in lines[hgb + (width is PaperWidth.MM58):hgb + 3])
    assert "160." not in printed.split() and "110.0-160.0" in printed.replace("- ", "-")
