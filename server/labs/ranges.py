"""Reference ranges read from the lab's text, and the bounds that apply to one patient.

Plain Python (no HL7, FHIR, HTTP or database): the HL7 v2 and FHIR parsers read a range with it, and intake
chooses the bounds for the resident a message is filed under (issue 17).

A range text may hold bands by sex and by age, in either language:
  "3.5-5.5"                                   one band for everyone
  "男 130-175 女 115-150", "M:130-175;F:115-150", "男 130-175 & 女 115-150" (HL7 \\T\\ unescaped)
  "Newborn: 4.1-6.1; 1-11 mo: 3.8-5.4; 12-14 y Male: 4.4-5.2; 18-64 y Male: 4.6-5.4; ..."
  "成人 男 4.3-5.8 女 3.8-5.1；儿童 4.0-5.5", "新生儿 6.0-7.0；1月-1岁 ...；≥18岁 ..."
Rules:
- The text is split at ; ； , ， 、 | & and line breaks. Within a part, qualifiers (a sex, an age band) apply to
  the values after them until another of the same kind replaces it ("成人 男 4.3-5.8 女 3.8-5.1": both adult).
- Ages are whole units on the specimen date: years ("18-64 y", "岁", "周岁"), months ("mo", "月", "个月",
  "月龄": children), weeks, days; each end may have its own unit ("6个月-1岁"), "<" before the upper end
  makes it exclusive ("28天-<6月龄"); "≥18岁", "18岁以上" and "14岁以下" (以上/以下 include the number, as in
  Chinese legal usage), "不满14岁". Words: 新生儿 / newborn (0-28 days), 婴儿 / infant (under 1 year),
  儿童 / child (under 18: WS/T 779-2021 gives children's ranges to 18), 成人 / adult (18 and over),
  老年 / elderly (60 and over).
- A text without any sex or age qualifier is read as before: the bounds at its start ("<5.2 理想水平; ..."
  is high 5.2). A text with bands gives the bounds of the band that fits the patient: when several fit, the
  one whose ages start latest, then end earliest, then the one naming the sex ("老年" over "成人" for a
  70-year-old, "1-11 y" over "Male" for a boy of 5); when none fits, or the patient's sex or age is unknown
  and every band names one, or two equally fitting bands disagree: no bounds (the text is kept and printed
  whole). Never another band's.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from gpcore.health_file import age_in_months, age_on

# A number not followed by ":n" or "/n": "<1:200" is a titre and "1/40" a dilution, not bounds.
_NUM = r"[-+]?\d+(?:\.\d+)?(?![\d.]|\s*[:/]\s*\d)"
_BETWEEN = re.compile(rf"\s*({_NUM})\s*(?:-|~|–|—|to|至|\.\.)\s*({_NUM})")
_ONE_SIDED = re.compile(rf"\s*(<=|>=|=<|=>|≤|≥|<|>)\s*({_NUM})")
_SEX_MARK = re.compile(r"(?<![A-Za-z])(Male|Female|male|female|MALE|FEMALE|M|F)(?![A-Za-z])\s*[:=]?\s*"
                       r"|(男性|女性|男|女)\s*[:=]?\s*")

# Age units, longest first; English letters must not run on into a word ("dL" is no day).
_UNIT = (r"(周岁|岁|years?|yrs?|y(?![A-Za-z])|个月|月龄|月|months?|mos?(?![A-Za-z])|周|weeks?|wks?|w(?![A-Za-z])"
         r"|天|日龄|日|days?|d(?![A-Za-z]))")
_AGE_NUM = r"(\d+(?:\.\d+)?)"
_AGE_BETWEEN = re.compile(rf"{_AGE_NUM}\s*{_UNIT}?\s*(?:-|~|–|—|至|到|to)\s*(<|<=|≤)?\s*{_AGE_NUM}\s*{_UNIT}")
_AGE_BEFORE = re.compile(rf"(不满|未满|<=|>=|=<|=>|≤|≥|<|>)\s*{_AGE_NUM}\s*{_UNIT}")
_AGE_AFTER = re.compile(rf"{_AGE_NUM}\s*{_UNIT}\s*(及以上|以上|及以下|以下|\+|or older|and older|and over)")
_AGE_WORDS = [  # (pattern, (low, high)) with ends as (number, unit, inclusive)
    (re.compile(r"新生儿|(?<![A-Za-z])(newborns?|neonates?|Newborns?|Neonates?)(?![A-Za-z])"),
     ((0, "d", True), (28, "d", True))),
    (re.compile(r"婴儿|(?<![A-Za-z])[Ii]nfants?(?![A-Za-z])"), (None, (1, "y", False))),
    (re.compile(r"儿童|小儿|(?<![A-Za-z])([Cc]hild(ren)?|[Pp]a?ediatrics?)(?![A-Za-z])"), (None, (18, "y", False))),
    (re.compile(r"老年人?|(?<![A-Za-z])[Ee]lderly(?![A-Za-z])"), ((60, "y", True), None)),
    (re.compile(r"成年人|成人|成年|(?<![A-Za-z])[Aa]dults?(?![A-Za-z])"), ((18, "y", True), None)),
]
_SPLIT = re.compile(r"[;；|&\n\r，、]|,(?!\d{3}(?!\d))")
# For ranking bands only (which starts later, ends earlier): a unit's length in days.
_DAYS = {"y": 365.25, "m": 30.44, "w": 7, "d": 1}

AgeEnd = tuple  # (number: int, unit: "y" | "m" | "w" | "d", inclusive: bool)


@dataclass
class ReferenceRange:
    """A reference range read from text: the bounds that apply to this patient, and each sex's text."""

    text: str
    low: Decimal | None = None
    high: Decimal | None = None
    by_sex: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Band:
    """One band of a range text: whom it is for (sex, ages) and its bounds."""

    sex: str | None  # "M", "F", or None for both
    age_low: AgeEnd | None
    age_high: AgeEnd | None
    low: Decimal | None
    high: Decimal | None

    @property
    def qualified(self) -> bool:
        """True when the band names a sex or ages."""
        return self.sex is not None or self.age_low is not None or self.age_high is not None


def value_bounds(text: str, pos: int = 0) -> tuple[tuple[Decimal | None, Decimal | None], int]:
    """The bounds written at `pos` ("3.5-5.5", "<5", ">=60") and where they end; ((None, None), pos) if none."""
    m = _BETWEEN.match(text, pos)
    if m:
        return (Decimal(m.group(1)), Decimal(m.group(2))), m.end()
    m = _ONE_SIDED.match(text, pos)
    if m:
        op, num = m.group(1), Decimal(m.group(2))
        return ((None, num) if op in ("<", "<=", "=<", "≤") else (num, None)), m.end()
    return (None, None), pos


def _unit(word: str) -> str:
    if word in ("周岁", "岁") or word[0] == "y":
        return "y"
    if word[0] in "个月m":
        return "m"
    if word[0] in "周w":
        return "w"
    return "d"


def _end(number: str, unit: str, inclusive: bool) -> AgeEnd:
    value = Decimal(number)
    # A fractional age ("0.5 y") is counted in the next smaller unit (6 months).
    while value != value.to_integral_value() and unit in ("y", "m", "w"):
        value, unit = (value * 12, "m") if unit == "y" else (value * Decimal("30.44"), "d") if unit == "m" else (
            value * 7, "d")
    return int(value.to_integral_value()), unit, inclusive


def _age_at(text: str, pos: int) -> tuple[tuple[AgeEnd | None, AgeEnd | None], int] | None:
    """An age band written at `pos` and where it ends, or None."""
    m = _AGE_BETWEEN.match(text, pos)
    if m:
        low_n, low_u, exclusive, high_n, high_u = m.groups()
        return (_end(low_n, _unit(low_u or high_u), True), _end(high_n, _unit(high_u), not exclusive)), m.end()
    m = _AGE_BEFORE.match(text, pos)
    if m:
        op, number, unit = m.groups()
        if op in ("不满", "未满", "<", "<=", "=<", "≤"):
            return (None, _end(number, _unit(unit), op in ("<=", "=<", "≤"))), m.end()
        return (_end(number, _unit(unit), op != ">"), None), m.end()
    m = _AGE_AFTER.match(text, pos)
    if m:
        number, unit, word = m.groups()
        end = _end(number, _unit(unit), True)
        return ((None, end) if "以下" in word else (end, None)), m.end()
    for pattern, ages in _AGE_WORDS:
        m = pattern.match(text, pos)
        if m:
            return ages, m.end()
    return None


def bands(text: str) -> tuple[Band, ...]:
    """Every band written in a range text, in order (rules in the module docstring)."""
    return _bands(text or "")


@functools.lru_cache(maxsize=4096)  # a feed sends the same few hundred range texts over and over
def _bands(text: str) -> tuple[Band, ...]:
    text = unicodedata.normalize("NFKC", text or "")  # full-width digits and punctuation: ３．５～５．５, ：
    out: list[Band] = []
    for part in _SPLIT.split(text):
        sex: str | None = None
        ages: tuple[AgeEnd | None, AgeEnd | None] = (None, None)
        pos = 0
        while pos < len(part):
            if part[pos].isspace():
                pos += 1
                continue
            age = _age_at(part, pos)  # before the values: "12-14 y" is an age band, not bounds
            if age is not None:
                ages, pos = age
                continue
            mark = _SEX_MARK.match(part, pos)
            if mark:
                sex = "M" if (mark.group(1) or mark.group(2))[0] in "Mm男" else "F"
                pos = mark.end()
                continue
            (low, high), end = value_bounds(part, pos)
            if end > pos:
                out.append(Band(sex, ages[0], ages[1], low, high))
                pos = end
                continue
            # Nothing here: step over a whole number or word, never into the middle of one.
            word = re.match(r"[\d.]+|[A-Za-z]+|.", part[pos:], re.S)
            pos += len(word.group(0))
    return tuple(out)


def is_banded(text: str) -> bool:
    """True when the range text names a sex or an age for any of its bounds."""
    return any(b.qualified for b in bands(text))


def age_in(unit: str, birth: dt.date, day: dt.date) -> int:
    """A person's age on a day in whole years, months, weeks or days."""
    if unit == "y":
        return age_on(birth, day)  # gpcore.health_file's rule
    if unit == "m":
        return age_in_months(birth, day)
    days = (day - birth).days
    return days // 7 if unit == "w" else days


def _fits(band: Band, sex: str | None, birth: dt.date | None, day: dt.date | None) -> bool:
    if band.sex is not None and band.sex != sex:
        return False
    for end, is_low in ((band.age_low, True), (band.age_high, False)):
        if end is None:
            continue
        if birth is None or day is None:
            return False
        number, unit, inclusive = end
        age = age_in(unit, birth, day)
        if is_low and not (age >= number if inclusive else age > number):
            return False
        if not is_low and not (age <= number if inclusive else age < number):
            return False
    return True


def _rank(band: Band) -> tuple:
    start = band.age_low[0] * _DAYS[band.age_low[1]] if band.age_low else 0
    end = band.age_high[0] * _DAYS[band.age_high[1]] if band.age_high else float("inf")
    return -start, end, band.sex is None


def bounds_for(text: str, sex: str | None, birth: dt.date | None,
               day: dt.date | None) -> tuple[Decimal | None, Decimal | None]:
    """The bounds of the band that fits a patient (sex "M"/"F", else unknown; age from birth on `day`);
    (None, None) when none fits or the choice is not certain. A text without bands: its bounds as written."""
    found = bands(text)
    if not any(b.qualified for b in found):
        return value_bounds(unicodedata.normalize("NFKC", text or "").strip().strip("()[]"))[0]
    fitting = sorted((b for b in found if _fits(b, sex if sex in ("M", "F") else None, birth, day)), key=_rank)
    if not fitting:
        return None, None
    best = [b for b in fitting if _rank(b) == _rank(fitting[0])]
    if len({(b.low, b.high) for b in best}) > 1:
        return None, None  # two bands for this patient that disagree: no guess
    return best[0].low, best[0].high


def parse_reference_range(text: str, sex: str = "U", birth: dt.date | None = None,
                          day: dt.date | None = None) -> ReferenceRange:
    """Read '3.5-5.5', '<5', '>=60', '<9 mcg/dL: acceptable', 'M:130-175;F:115-150', '男 130-175 女 115-150',
    '18-64 y Male: 4.6-5.4; ...': the bounds for this patient (bounds_for), and each sex's text when the
    range has one band per sex."""
    original = text
    # NFKC folds full-width digits and punctuation (３．５～５．５, ：) that Chinese systems send.
    text = unicodedata.normalize("NFKC", text).strip().strip("()[]")
    low, high = bounds_for(text, sex, birth, day)
    marks = list(_SEX_MARK.finditer(text))
    sexes = {("M" if (m.group(1) or m.group(2))[0] in "Mm男" else "F") for m in marks}
    by_sex: dict[str, str] = {}
    if sexes == {"M", "F"} and not any(b.age_low or b.age_high for b in bands(text)):
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            part = text[m.end():end].strip().strip(";,/|&").strip()
            key = "M" if (m.group(1) or m.group(2))[0] in "Mm男" else "F"
            by_sex.setdefault(key, part)
    return ReferenceRange(original, low, high, by_sex)


# Residents' sex as stored (GB/T 2261.1) -> the letters range texts use.
RESIDENT_SEX = {"1": "M", "2": "F"}


def resident_bounds(text: str, as_read: tuple[Decimal | None, Decimal | None], sex_code: str | None,
                    birth: dt.date | None, day: dt.date) -> tuple[Decimal | None, Decimal | None]:
    """The bounds to store for a result filed under a resident (sex as stored, '1'/'2'; birth date), or under
    nobody yet (None, None): a text with bands gives the band that fits them on `day`, the specimen's date,
    none for nobody; a text without bands keeps the bounds the parser read (`as_read`: FHIR's may be
    structured, not in the text)."""
    if not is_banded(text):
        return as_read
    return bounds_for(text, RESIDENT_SEX.get(sex_code or ""), birth, day)
