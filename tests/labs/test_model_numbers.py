"""The parsers hand on only numbers the result columns hold exactly; anything else stays text."""
from decimal import Decimal

import pytest

from server.labs.messages.parsed import NUMBER_PRECISION, NUMBER_SCALE, storable_number, storable_range
from server.labs.models import LabNumber


def test_limits_are_the_result_columns():
    assert (NUMBER_PRECISION, NUMBER_SCALE) == (LabNumber.precision, LabNumber.scale)


@pytest.mark.parametrize("text, fits", [
    ("4.1", True),
    ("0.250", True),  # written precision is not a problem, only digits the column would lose
    ("-99999999999999.999999", True),  # 14 digits before the point, 6 after: the most Numeric(20, 6) holds
    ("1.0000000", True),  # seven decimals, but the value is exactly 1
    ("0E+1000", True),
    ("100000000000000", False),  # 15 digits before the point
    ("1E+20", False),
    ("99999999999999999999", False),
    ("0.00000012", False),  # would be stored as 0.000000
    ("123.4567891", False),
    ("1E+999999", False),
    ("1E-999999", False),
])
def test_storable_number(text, fits):
    warnings = []
    kept = storable_number(Decimal(text), "OBX^1: OBX-5", warnings)
    assert (kept == Decimal(text)) is fits and (kept is None) is not fits
    assert len(warnings) == (0 if fits else 1)
    assert fits or warnings[0].startswith("OBX^1: OBX-5 does not fit the result column")


def test_a_range_keeps_both_bounds_or_neither():
    warnings = []
    assert storable_range(Decimal("0"), Decimal("5.5"), "OBX-7", warnings) == (Decimal("0"), Decimal("5.5"))
    assert storable_range(None, Decimal("5.5"), "OBX-7", warnings) == (None, Decimal("5.5"))
    assert warnings == []
    # Keeping only the low bound would turn 0-1e20 into ">= 0".
    assert storable_range(Decimal("0"), Decimal("1E+20"), "OBX-7", warnings) == (None, None)
    assert warnings == ["OBX-7 high does not fit the result column (more than 14 digits before the point or "
                        "6 after it): kept as text only"]
