"""GB 11643 ID numbers: the standard's own examples, normalisation, 15-digit conversion, birth and sex."""
import datetime as dt

import pytest
from hypothesis import given, strategies as st

from gpcore import idcard, record_number


@pytest.mark.parametrize("first17,check", [
    # standards.md section 7: "Examples: 34052419800101001 -> X; 37010119010203997 -> 3; 11010519491231002 -> X."
    ("34052419800101001", "X"), ("37010119010203997", "3"), ("11010519491231002", "X"),
])
def test_standard_examples(first17, check):
    assert idcard.check_char(first17) == check
    assert idcard.is_valid(first17 + check)


def test_lowercase_and_fullwidth_x():
    assert idcard.parse("34052419800101001x").number == "34052419800101001X"
    assert idcard.parse("34052419800101001Ｘ").number == "34052419800101001X"


def test_sex_and_birth_from_the_number():
    facts = idcard.parse("11010519491231002X")
    assert facts.birth_date == dt.date(1949, 12, 31) and facts.sex == 2  # 17th digit 2 is even: female
    assert idcard.parse("370101190102039973"[:18]).sex == 1


@pytest.mark.parametrize("bad,reason", [
    ("34052419800101001Y", "shape"), ("3405241980010100", "shape"), ("340524198001010011", "check_digit"),
    ("34052419800230001" + idcard.check_char("34052419800230001"), "birth_date"),
])
def test_bad_numbers(bad, reason):
    with pytest.raises(idcard.InvalidIdNumber) as exc:
        idcard.parse(bad)
    assert exc.value.reason == reason


def test_future_birth_is_refused():
    number = idcard.make("110105", dt.date(2030, 1, 1), 1)
    with pytest.raises(idcard.InvalidIdNumber):
        idcard.parse(number, today=dt.date(2026, 11, 22))


def test_fifteen_digit_conversion():
    # "Old 15-digit IDs (YYMMDD, no check) convert by inserting "19" and computing the check character."
    old = "110105491231002"
    assert idcard.convert_15(old) == "11010519491231002X"
    assert idcard.parse(old).number == "11010519491231002X"


@given(st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)), st.integers(0, 999))
def test_made_numbers_round_trip(birth, seq):
    facts = idcard.parse(idcard.make("310115", birth, seq), today=dt.date(2026, 1, 1))
    assert facts.birth_date == birth and facts.sex == (1 if seq % 2 else 2)


@given(st.text(max_size=20))
def test_parse_never_crashes(text):
    try:
        idcard.parse(text)
    except idcard.InvalidIdNumber:
        pass


def test_record_number_rule():
    # "17 digits = 6 county code + 3 township/street + 3 village/residents' committee + 5 serial"
    assert record_number.compose("310115", "005", "001", 7) == "31011500500100007"
    assert record_number.short_form("31011500500100007") == "00100007"
    assert record_number.committee_kind("101") == "village" and record_number.committee_kind("950") == "other"
    for bad in ("000", "100", "500"):
        with pytest.raises(ValueError):
            record_number.committee_kind(bad)
    with pytest.raises(ValueError):
        record_number.compose("310115", "005", "001", 100_000)
    assert not record_number.is_well_formed("31011500550000007")
