"""Rule settings where editions or sources disagree; defaults follow the 3rd edition (2017) specification."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Bump whenever a rule or a default changes; the server stores it with every assessed record so an old
# classification can be explained by the rules that produced it.
RULES_VERSION = "gpcore.followup/1.1 (国家基本公共卫生服务规范 第三版 2017)"

EDITION_2017 = "2017"
EDITION_2011 = "2011"


def _default_liquor_divisors() -> dict[str, float]:
    # One documented rule (standards.md s.1): liang of a drink / divisor = liang of liquor:
    # beer /10, wine /4, rice wine /5.  It agrees with the other common rule ("1 liang liquor = 1 bottle
    # of beer = 4 liang wine") for a 500 mL (10 liang) bottle of beer.
    return {"liquor": 1.0, "beer": 10.0, "wine": 4.0, "rice_wine": 5.0}


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds and intervals the follow-up rules use; change them here, never in the rules."""

    edition: str = EDITION_2017  # "2011": < 140/90 for everyone, no relaxed target for the elderly
    relaxed_target_age: int = 65  # 3rd edition; the primary-care guideline uses 80
    standard_bp_target: tuple[int, int] = (140, 90)  # controlled means strictly below both
    relaxed_bp_target: tuple[int, int] = (150, 90)
    fpg_target_mmol: float = 7.0  # controlled means FPG strictly below
    severe_bp: tuple[int, int] = (180, 110)  # emergency at or above either
    glucose_high_mmol: float = 16.7  # emergency at or above
    glucose_low_mmol: float = 3.9  # emergency at or below
    tachycardia_bpm: int = 100  # emergency strictly above (verify)
    fever_c: float = 39.0  # emergency strictly above (verify)
    # "Raised" in pregnancy or lactation: the hypertension threshold for BP, and the upper limit of a
    # normal fasting glucose (6.1 mmol/L) for glucose, since the text says "above normal" (verify).
    pregnancy_raised_bp: tuple[int, int] = (140, 90)
    pregnancy_raised_fpg_mmol: float = 6.1
    short_interval_days: int = 14  # "within 2 weeks"
    routine_interval_days: int = 90  # quarterly
    # A controlled patient is not called back sooner than this just to reach the yearly count.
    min_routine_interval_days: int = 28
    face_to_face_visits_per_year: int = 4
    # Booked dates move off weekends and official holidays to the nearest earlier working day (schedule.py).
    working_days_only: bool = True
    liquor_divisors: dict[str, float] = field(default_factory=_default_liquor_divisors)

    def __post_init__(self) -> None:
        if self.edition not in (EDITION_2017, EDITION_2011):
            raise ValueError(f"edition must be {EDITION_2017!r} or {EDITION_2011!r}, not {self.edition!r}")
        if not self.short_interval_days < self.min_routine_interval_days <= self.routine_interval_days:
            raise ValueError("need short_interval_days < min_routine_interval_days <= routine_interval_days")

    def bp_target(self, patient_age: int) -> tuple[int, int]:
        """The SBP/DBP a patient of this age must stay strictly below to count as controlled."""
        if self.edition == EDITION_2017 and patient_age >= self.relaxed_target_age:
            return self.relaxed_bp_target
        return self.standard_bp_target

    def to_dict(self) -> dict:
        """The settings as JSON-ready data, stored beside RULES_VERSION."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data
