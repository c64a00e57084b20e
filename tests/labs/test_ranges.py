"""server.labs.ranges: the band of a range text that fits a patient, by sex and age (issue 17).

Range texts as hospital LIS and analysers send them (English and Chinese); the patient's sex ("M", "F",
None unknown), birth date and the specimen date choose the band; no band, or an unknown patient where every
band names someone: no bounds, never another band's.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from server.labs.ranges import bands, bounds_for, is_banded, parse_reference_range

DAY = dt.date(2025, 3, 2)  # the specimen date


def born(years: int = 0, months: int = 0, days: int = 0) -> dt.date:
    """A birth date making the patient that old on DAY."""
    total = DAY.year * 12 + DAY.month - 1 - years * 12 - months
    return dt.date(total // 12, total % 12 + 1, DAY.day) - dt.timedelta(days=days)


RBC = ("Newborn: 4.1-6.1 x10^12/L; 1-11 mo: 3.8-5.4 x10^12/L; 1-11 y: 4.0-5.2 x10^12/L; "
       "12-14 y Male: 4.4-5.2 x10^12/L; 12-14 y Female: 4.1-5.1 x10^12/L; 15-17 y Male: 4.5-5.3 x10^12/L; "
       "15-17 y Female: 4.1-5.1 x10^12/L; 18-64 y Male: 4.6-5.4 x10^12/L; 18-64 y Female: 4.2-5.0 "
       "x10^12/L; >=65 y: 4.0-5.2 x10^12/L")
HGB_CN = "新生儿 170-200；1月-<1岁 110-140；1-14岁 120-140；成人 男 130-175 女 115-150；老年 男 120-160 女 110-150"
WBC_CN = "男性：4.0～10.0；女性：3.5～9.5（成人）"

CASES = [
    # (text, sex, birth, low, high)
    (RBC, "M", born(29), "4.6", "5.4"),  # the 29-year-old man: not 12-14 y Male's 4.4-5.2
    (RBC, "F", born(29), "4.2", "5.0"),
    (RBC, "M", born(13), "4.4", "5.2"),
    (RBC, "F", born(16), "4.1", "5.1"),
    (RBC, "M", born(5), "4.0", "5.2"),  # 1-11 y names no sex
    (RBC, "F", born(0, 6), "3.8", "5.4"),  # months for children
    (RBC, "M", born(0, 0, 10), "4.1", "6.1"),  # a newborn of 10 days
    (RBC, "F", born(80), "4.0", "5.2"),
    (RBC, None, born(29), None, None),  # sex unknown: the 18-64 y bands both name one
    (RBC, "M", None, None, None),  # age unknown: every band names ages
    (RBC, "M", born(17, 11), "4.5", "5.3"),  # the day before 18
    (HGB_CN, "M", born(40), "130", "175"),
    (HGB_CN, "F", born(40), "115", "150"),
    (HGB_CN, "M", born(70), "120", "160"),  # 老年 (60 and over) over 成人
    (HGB_CN, "F", born(7), "120", "140"),
    (HGB_CN, "M", born(0, 3), "110", "140"),
    (HGB_CN, "F", born(1), "120", "140"),  # 1岁: the "<1岁" band ends before
    (HGB_CN, "M", born(0, 0, 5), "170", "200"),
    (HGB_CN, "M", born(16), None, None),  # 15-17: no band (儿童 is not written; 成人 from 18)
    ("男 130-175 \\T\\ 女 115-150".replace("\\T\\", "&"), "F", born(30), "115", "150"),  # HL7 \T\ unescaped
    ("男 130-175 女 115-150", "M", born(30), "130", "175"),
    ("男 130-175 女 115-150", None, born(30), None, None),
    ("M:130-175;F:115-150", "F", None, "115", "150"),  # sex only: no age needed
    ("Male: 4.6-5.4", "M", born(30), "4.6", "5.4"),
    ("Male: 4.6-5.4", "F", born(30), None, None),  # never the man's band for a woman
    (WBC_CN, "F", born(30), "3.5", "9.5"),
    ("成人：3.5～5.5；儿童：4.0～5.5", "M", born(30), "3.5", "5.5"),
    ("成人：3.5～5.5；儿童：4.0～5.5", "M", born(10), "4.0", "5.5"),
    ("成人：3.5～5.5", "M", born(10), None, None),  # a child, and only an adult band
    ("≥18岁：0-40；<18岁：0-30", "F", born(17), "0", "30"),
    ("18岁以上 0-40", "F", born(18), "0", "40"),
    ("14岁以下 5.0-12.0；14岁以上 4.0-10.0", "M", born(10), "5.0", "12.0"),
    ("6个月-1岁 100-140；1-3岁 110-140", "F", born(0, 8), "100", "140"),
    ("28天-<6月龄 97-183", "M", born(0, 2), "97", "183"),
    ("0-28 d: 9.4-34.0; >=1 mo: 4.0-10.0", "M", born(0, 0, 20), "9.4", "34.0"),
    ("新生儿 6.0-7.0", "M", born(30), None, None),
    # Texts without bands: as before, the bounds at the start, whoever the patient is.
    ("3.5-5.5", None, None, "3.5", "5.5"),
    ("３．５～５．５", "M", born(30), "3.5", "5.5"),
    ("<5.2 理想水平; 5.2-6.2 边缘升高; >=6.2 升高", None, None, None, "5.2"),
    ("<1:200", "M", born(30), None, None),
    ("阴性", "F", born(30), None, None),
    ("80-100 fL", "M", born(30), "80", "100"),  # "fL": no F (female), no days
    ("0-5 mg/dL", "M", born(30), "0", "5"),
]


@pytest.mark.parametrize("text, sex, birth, low, high", CASES)
def test_bounds_for_the_patient(text, sex, birth, low, high):
    assert bounds_for(text, sex, birth, DAY) == (Decimal(low) if low else None, Decimal(high) if high else None)


def test_bands_read_age_and_sex():
    assert is_banded(RBC) and is_banded("男 130-175 女 115-150") and not is_banded("3.5-5.5 mmol/L")
    assert [(b.sex, b.age_low, b.age_high) for b in bands(RBC)][7] == ("M", (18, "y", True), (64, "y", True))
    assert [(b.age_low, b.age_high) for b in bands("28天-<6月龄 97-183")] == [((28, "d", True), (6, "m", False))]


def test_parse_reference_range_keeps_by_sex_only_for_one_band_a_sex():
    assert parse_reference_range("男 130-175 & 女 115-150", "U").by_sex == {"M": "130-175", "F": "115-150"}
    assert parse_reference_range(RBC, "M").by_sex == {}  # bands by age too: the text speaks for itself
    # Without the patient's age the parser gives no bounds for RBC: intake chooses for the resident.
    assert (parse_reference_range(RBC, "M").low, parse_reference_range(RBC, "M").high) == (None, None)
