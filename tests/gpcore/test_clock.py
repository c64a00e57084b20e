"""Today in China (gpcore.clock): the doctor's calendar day, whatever zone the machine's clock is in."""
import datetime as dt

import pytest

from gpcore import clock

UTC = dt.timezone.utc
D, T = dt.date, dt.datetime


@pytest.mark.parametrize("moment, day", [
    (T(2026, 12, 5, 23, 30, tzinfo=UTC), D(2026, 12, 6)),  # 23:30 UTC is 07:30 the next day in China
    (T(2026, 12, 5, 15, 59, 59, tzinfo=UTC), D(2026, 12, 5)),  # 23:59:59 in China
    (T(2026, 12, 5, 16, 0, tzinfo=UTC), D(2026, 12, 6)),  # midnight in China
    (T(2026, 12, 31, 16, 0, tzinfo=UTC), D(2027, 1, 1)),  # a new year in China first
    (T(2026, 7, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), D(2026, 7, 1)),  # 14:00 in China
    (T(2026, 7, 1, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=14))), D(2026, 7, 1)),  # a tablet set to +14
    (T(2026, 7, 1, 23, 30), D(2026, 7, 1)),  # naive: a wall-clock time read in China, not shifted
    (T(2024, 2, 28, 17, 0, tzinfo=UTC), D(2024, 2, 29)),
])
def test_china_today_and_date(moment, day):
    assert clock.china_today(moment) == day
    assert clock.china_date(moment) == day


def test_to_china_keeps_the_moment_and_reads_naive_times_as_chinas():
    utc = T(2026, 12, 5, 23, 30, tzinfo=UTC)
    assert clock.to_china(utc) == utc and clock.to_china(utc).isoformat() == "2026-12-06T07:30:00+08:00"
    assert clock.to_china(T(2026, 12, 6, 7, 30)) == utc
    # No daylight saving: the same offset in summer and winter.
    assert clock.to_china(T(2026, 7, 1, tzinfo=UTC)).utcoffset() == dt.timedelta(hours=8)


def test_china_today_without_a_moment_reads_the_system_clock():
    before = clock.china_date(T.now(UTC))
    today = clock.china_today()
    assert today in (before, before + dt.timedelta(days=1))
