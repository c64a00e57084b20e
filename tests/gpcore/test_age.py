"""A resident's age on a date (gpcore.health_file.age_on, age_in_months): the one rule every caller uses.
What the age changes (the relaxed BP target from the 65th birthday) is tested in tests/gpcore_followup."""
import datetime as dt

import pytest

from gpcore import followup
from gpcore.health_file import age_in_months, age_on

D = dt.date


@pytest.mark.parametrize("born, day, years", [
    (D(1961, 11, 22), D(2026, 11, 21), 64),  # the day before the 65th birthday
    (D(1961, 11, 22), D(2026, 11, 22), 65),  # on the birthday: 65 that day
    (D(1961, 11, 22), D(2026, 11, 23), 65),
    (D(1960, 2, 29), D(2025, 2, 28), 64),  # 29 February births in a year without one: not yet on 28 Feb
    (D(1960, 2, 29), D(2025, 3, 1), 65),  # ... but on 1 March
    (D(1960, 2, 29), D(2024, 2, 28), 63),
    (D(1960, 2, 29), D(2024, 2, 29), 64),  # a leap year: on the day itself
    (D(1959, 12, 31), D(2024, 12, 30), 64),  # the last day of the year
    (D(1959, 12, 31), D(2024, 12, 31), 65),
    (D(1960, 1, 1), D(2024, 12, 31), 64),
    (D(2026, 5, 1), D(2026, 5, 1), 0),  # born today
    (D(2026, 5, 2), D(2026, 5, 1), -1),  # a day before the birth: negative, never silently 0
])
def test_age_on(born, day, years):
    assert age_on(born, day) == years
    assert followup.age_on is age_on  # the follow-up forms use the same function, not a copy


@pytest.mark.parametrize("born, day, months", [
    (D(2026, 1, 15), D(2026, 2, 14), 0),
    (D(2026, 1, 15), D(2026, 2, 15), 1),
    (D(2026, 1, 31), D(2026, 2, 28), 0),  # February has no 31st: the month completes on 1 March
    (D(2026, 1, 31), D(2026, 3, 1), 1),
    (D(2026, 1, 31), D(2026, 3, 31), 2),
    (D(2024, 2, 29), D(2025, 2, 28), 11),  # as age_on: a year old on 1 March
    (D(2024, 2, 29), D(2025, 3, 1), 12),
    (D(2020, 6, 10), D(2026, 6, 9), 71),
    (D(2020, 6, 10), D(2026, 6, 10), 72),
])
def test_age_in_months(born, day, months):
    assert age_in_months(born, day) == months
    assert age_on(born, day) == months // 12

