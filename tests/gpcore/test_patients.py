"""One "same patient" function (gpcore.patients.same_patient) at each named strictness level. These are the
cases the lab wing's callers pin (matching, intake's reused order numbers, the queue's offer), side by side:
a name alone never ties two people."""
import datetime as dt

import pytest

from gpcore import idcard
from gpcore.patients import Identity, Strictness, same_patient

BY_ID, STRICT, CANDIDATE, RELATED = (Strictness.BY_ID_NUMBER, Strictness.STRICT, Strictness.CANDIDATE,
                                     Strictness.RELATED)
BORN = dt.date(1949, 12, 31)
HER_ID = idcard.make("110105", BORN, 2)  # female (even)
OTHER_ID = idcard.make("110105", dt.date(1980, 1, 1), 1)

# 张三 as her health file knows her.
FILE = Identity(name="张三", birth_date=BORN, sex="2", id_number=HER_ID)


def sent(**kw) -> Identity:
    return Identity(**kw)


# (what the other side says, {level: same?}) against FILE
CASES = [
    ("her ID number, name, birth date and sex",
     sent(name="张三", birth_date=BORN, sex="2", id_number=HER_ID),
     {BY_ID: True, STRICT: True, CANDIDATE: True, RELATED: True}),
    ("her ID number and nothing else",
     sent(id_number=HER_ID), {BY_ID: True, STRICT: True, CANDIDATE: False, RELATED: True}),
    ("her ID number under another name: a mistyped ID",
     sent(name="张山", id_number=HER_ID, birth_date=BORN, sex="2"),
     {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: True}),
    ("her ID number with another birth date",
     sent(name="张三", id_number=HER_ID, birth_date=dt.date(1950, 1, 1)),
     {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("her ID number with the sex typed wrong (filing by ID does not read sex)",
     sent(name="张三", id_number=HER_ID, birth_date=BORN, sex="1"),
     {BY_ID: True, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("her ID number with her name in pinyin",
     sent(name="ZHANG SAN", name_alphabetic="ZHANG^SAN", id_number=HER_ID),
     {BY_ID: True, STRICT: True, CANDIDATE: False, RELATED: True}),
    ("her ID number with a mis-decoded name",
     sent(name="ÕÅÈý", id_number=HER_ID), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: True}),
    ("no ID number: name, birth date and sex (missing ID numbers: only a suggestion)",
     sent(name="张 三", birth_date=BORN, sex="2"), {BY_ID: False, STRICT: True, CANDIDATE: True, RELATED: True}),
    ("no ID number: pinyin, birth date and sex (章三 reads the same: no suggestion)",
     sent(name="Zhang San", name_alphabetic="ZHANG^SAN", birth_date=BORN, sex="2"),
     {BY_ID: False, STRICT: True, CANDIDATE: False, RELATED: True}),
    ("same name and birth date, different sex: another person",
     sent(name="张三", birth_date=BORN, sex="1"), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("same name and birth date, no sex sent: not enough",
     sent(name="张三", birth_date=BORN), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("same name and sex, no birth date sent: not enough",
     sent(name="张三", sex="2"), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("sex sent as unknown ('0', '9') is not a sex",
     sent(name="张三", birth_date=BORN, sex="9"), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("a name alone", sent(name="张三"), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("a birth date alone", sent(birth_date=BORN), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("name, birth date and sex agree, but another ID number",
     sent(name="张三", birth_date=BORN, sex="2", id_number=OTHER_ID),
     {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
    ("nothing at all", sent(), {BY_ID: False, STRICT: False, CANDIDATE: False, RELATED: False}),
]


@pytest.mark.parametrize("level", list(Strictness))
@pytest.mark.parametrize("what, other, expected", CASES, ids=[c[0] for c in CASES])
def test_levels(what, other, expected, level):
    assert bool(same_patient(other, FILE, level)) is expected[level]
    assert bool(same_patient(FILE, other, level)) is expected[level]  # the order of the two never matters


def test_the_verdict_says_what_ties_and_what_contradicts():
    verdict = same_patient(sent(name="张三", birth_date=BORN, sex="2", id_number=OTHER_ID), FILE, CANDIDATE)
    # The namesake is found, and the caller can say why it is not suggested (matching's id_conflict).
    assert (verdict.same, verdict.ties, verdict.conflicts) == (False, ("name_birth_sex",), ("id_number",))
    verdict = same_patient(sent(name="张山", id_number=HER_ID), FILE, STRICT)
    assert (verdict.same, verdict.ties, verdict.conflicts) == (False, ("id_number",), ("name",))
    both = same_patient(sent(name="张三", birth_date=BORN, sex="2", id_number=HER_ID), FILE, RELATED)
    assert both.ties == ("id_number", "name_birth_sex") and both.conflicts == ()


@pytest.mark.parametrize("mine, theirs, ties", [
    (frozenset({(1, "HOSP", "H-77")}), frozenset({(1, "HOSP", "H-77")}), ("hospital_patient_id",)),
    (frozenset({(1, "HOSP", "H-77")}), frozenset({(2, "HOSP", "H-77")}), ()),  # another hospital's number
    (frozenset({(1, "HOSP", "H-77")}), frozenset({(1, "HOSP", "H-78")}), ()),
])
def test_hospital_numbers_tie_only_when_offering(mine, theirs, ties):
    a = sent(name="赵陆", birth_date=BORN, hospital_numbers=mine)
    b = sent(name="ZHAO LIU", birth_date=BORN, hospital_numbers=theirs)
    assert same_patient(a, b, RELATED).ties == ties
    assert not same_patient(a, b, STRICT)  # a hospital's number never joins results by itself
    other_birth = sent(name="赵陆", birth_date=dt.date(1962, 5, 2), hospital_numbers=theirs)
    assert not same_patient(a, other_birth, RELATED)  # a contradiction outweighs any tie
