"""Code-list checks and identity cross-checks of the personal basic information."""
import datetime as dt

from gpcore import health_file as hf
from gpcore import idcard, pinyin


def test_codes():
    assert hf.check_codes({"sex": "1", "blood_abo": "4", "payment_methods": ["commercial"]}) == {}
    errors = hf.check_codes({"sex": "3", "drug_allergies": ["none", "penicillin"], "ethnicity": "99"})
    assert set(errors) == {"sex", "drug_allergies", "ethnicity_name"}


def test_identity_cross_check():
    number = idcard.make("310115", dt.date(1970, 2, 3), 12)  # even: female
    assert hf.check_identity({"id_number": number, "sex": "2", "birth_date": dt.date(1970, 2, 3)}) == {}
    errors = hf.check_identity({"id_number": number, "sex": "1", "birth_date": dt.date(1970, 2, 4)})
    assert set(errors) == {"sex", "birth_date"}


def test_age():
    assert hf.age_on(dt.date(1961, 11, 23), dt.date(2026, 11, 22)) == 64
    assert hf.age_on(dt.date(1961, 11, 22), dt.date(2026, 11, 22)) == 65


def test_pinyin():
    assert pinyin.initials("张三") == "zs" and pinyin.full("李四") == "lisi"
    assert pinyin.initials("王Amy") == "wamy"
