"""Derived measures: BMI, liquor equivalents (a resident's age is gpcore.health_file.age_on)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from .settings import RuleSettings

_ONE_DECIMAL = Decimal("0.1")


def round_half_up(value: float) -> float:
    """Round to one decimal the way the form is filled by hand (24.25 -> 24.3, not banker's 24.2)."""
    # repr() gives the shortest decimal that names the float, so 24.25 is rounded as written.
    return float(Decimal(repr(value)).quantize(_ONE_DECIMAL, ROUND_HALF_UP))


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body-mass index, weight / height^2 in kg/m2, rounded half up to one decimal."""
    # Decimal arithmetic on the numbers as written: in floats 62.08 / 1.6^2 is 24.2499..., not 24.25.
    height = Decimal(repr(height_cm))
    exact = Decimal(repr(weight_kg)) * 10000 / (height * height)
    return float(exact.quantize(_ONE_DECIMAL, ROUND_HALF_UP))


def liquor_equivalent_liang(
    drinks_liang: Mapping[str, float], settings: RuleSettings = RuleSettings()
) -> float:
    """Liang of liquor equivalent to a day's drinks given in liang per kind, by settings.liquor_divisors."""
    unknown = set(drinks_liang) - set(settings.liquor_divisors)
    if unknown:
        raise ValueError(f"no liquor-equivalent rule for {sorted(unknown)}")
    total = sum(amount / settings.liquor_divisors[kind] for kind, amount in drinks_liang.items())
    return round_half_up(total)
