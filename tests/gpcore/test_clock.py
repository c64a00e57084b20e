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


@pytest.mark.parametrize("value, wall, minute", [
    ("2026-11-24T23:20:28+00:00", T(2026, 11, 25, 7, 20, 28), "2026-11-25 07:20"),  # the sync's UTC: next day
    ("2026-11-24T23:20:28Z", T(2026, 11, 25, 7, 20, 28), "2026-11-25 07:20"),
    ("2026-11-25T07:20:28+08:00", T(2026, 11, 25, 7, 20, 28), "2026-11-25 07:20"),  # a tablet's own clock
    ("2026-11-25T07:20:28", T(2026, 11, 25, 7, 20, 28), "2026-11-25 07:20"),  # naive: already China's
    (T(2026, 12, 31, 16, 5, tzinfo=UTC), T(2027, 1, 1, 0, 5), "2027-01-01 00:05"),
    (None, None, ""),
    ("", None, ""),
])
def test_a_moment_is_shown_on_chinas_wall_clock(value, wall, minute):
    assert clock.china_wall_time(value) == wall
    assert clock.china_minute(value) == minute
