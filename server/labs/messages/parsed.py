"""Plain dataclasses for lab results, shared by the HL7 v2 and FHIR parsers.

Nothing here knows HL7 or FHIR syntax: a storing service can take a LabMessage from either feed.
Numbers are Decimal so that "0.250" keeps its written precision and compares exactly with ranges.
Statuses use the HL7 v2 one-letter codes (OBR-25 / OBX-11) for both feeds; fhir.py maps FHIR codes onto them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from gpcore import idcard

# HL7 table 0085 (OBX-11) and 0123 (OBR-25) codes we give a name to; unknown codes are kept as sent.
RESULT_STATUS = {
    "C": "corrected",
    "D": "deleted",
    "F": "final",
    "I": "in process",
    "N": "not asked",
    "O": "order detail",
    "P": "preliminary",
    "R": "not verified",
    "S": "partial",
    "U": "final (status change only)",
    "W": "wrong (replaced)",
    "X": "cannot be obtained",
    "A": "some results available",
    "Y": "no order on record",
    "Z": "no record of patient",
}

# Abnormal flags (HL7 table 0078) that mean "phone it through now" (domain reference, section 6).
CRITICAL_FLAGS = frozenset({"HH", "LL", "AA"})
# Flags that say "nothing abnormal"; any other flag marks the row abnormal.
NORMAL_FLAGS = frozenset({"N", ""})

# The result columns are models.LabNumber, Numeric(20, 6) (tests/labs check the two agree; this module does
# not import the ORM). A number the column cannot hold exactly must not reach it: PostgreSQL refuses it, so
# the message fails on every resend, and scale 6 would round 0.00000012 to 0.
NUMBER_PRECISION, NUMBER_SCALE = 20, 6
_NUMBER_STEP = Decimal(1).scaleb(-NUMBER_SCALE)


def storable_number(number: Decimal | None, what: str, warnings: list[str]) -> Decimal | None:
    """The number when the result columns hold it exactly, else None and a warning; the row keeps its text."""
    if number is None:
        return None
    fits = number.is_finite() and (
        number.is_zero() or number.adjusted() < NUMBER_PRECISION - NUMBER_SCALE) and (
        number == number.quantize(_NUMBER_STEP))  # compared exactly: no silent rounding
    if fits:
        return number
    # The number itself is left out: it can be thousands of digits, and the row keeps its text.
    warnings.append(f"{what} does not fit the result column (more than {NUMBER_PRECISION - NUMBER_SCALE} "
                    f"digits before the point or {NUMBER_SCALE} after it): kept as text only")
    return None


def storable_range(low: Decimal | None, high: Decimal | None, what: str,
                   warnings: list[str]) -> tuple[Decimal | None, Decimal | None]:
    """Both bounds when the result columns hold them, else neither: a range that lost one bound would read
    as one-sided (0-1e20 as ">= 0"). The range text is kept as sent either way."""
    kept = (storable_number(low, f"{what} low", warnings), storable_number(high, f"{what} high", warnings))
    return kept if kept == (low, high) else (None, None)


class PatientIdentifier(NamedTuple):
    """One patient identifier: value, HL7 type code (table 0203), assigning authority, where it was found."""

    value: str
    type_code: str
    authority: str
    source: str  # e.g. "PID-3", "PID-19", "Patient.identifier"


@dataclass
class LabPatient:
    """The patient a lab message is about, as the sending lab knows them."""

    identifiers: list[PatientIdentifier] = field(default_factory=list)
    name: str = ""  # the ideographic (Chinese) name when the sender gave one, else the first name
    name_alphabetic: str = ""  # the alphabetic/pinyin form when present
    birth_date: dt.date | None = None
    sex: str = "U"  # M, F, O or U (unknown/not sent)

    @property
    def citizen_id(self) -> str | None:
        """The first identifier that is a valid 18-character citizen ID (gpcore.idcard: GB 11643 check
        character and a real birth date), normalised; 15-digit numbers are not taken (they carry no check
        character, so a hospital number of 15 digits could pass for one)."""
        for ident in self.identifiers:
            try:
                return idcard.parse(ident.value, accept_15=False).number
            except idcard.InvalidIdNumber:
                continue
        return None


@dataclass
class LabResult:
    """One test result row of a report (one OBX / one Observation)."""

    set_id: str
    code: str
    name: str
    coding_system: str
    value_type: str  # HL7 v2 data type: NM, SN, ST, TX, FT, CE, CWE, CNE (FHIR values are mapped onto these)
    value_text: str  # the value as a person should read it, e.g. "4.06", "<0.5", "1:128", "阴性"
    value_num: Decimal | None  # the number when there is exactly one (NM, or SN without a ratio/range)
    comparator: str  # "<", ">", "<=", ">=", "<>" or "" (from SN, a quantity comparator, or a "<0.5" NM)
    unit: str
    range_text: str  # the reference range exactly as sent (after unescaping)
    range_low: Decimal | None  # bounds for this patient (the patient's sex picks a sex-specific range)
    range_high: Decimal | None
    flags: list[str] = field(default_factory=list)  # abnormal flags as sent, arrows mapped to H/L/HH/LL
    critical: bool = False  # a critical flag (HH, LL, AA) is present
    abnormal: bool = False  # any flag other than N is present
    status: str = ""  # HL7 OBX-11 code: F final, P preliminary, C corrected, I in process, X cannot obtain...
    observed_at: dt.datetime | None = None
    value_code: str = ""  # the code of a coded (CE/CWE) value; its text is in value_text
    # {"M": "130-175", "F": "115-150"} when the range is sex-specific (text normalised to half-width).
    range_by_sex: dict[str, str] = field(default_factory=dict)
    observer: str = ""  # OBX-16 responsible observer / Observation.performer
    # The lab's remarks on this result (HL7 NTE after its OBX, FHIR Observation.note), one string each, in
    # message order: "标本溶血，结果仅供参考" changes how a high potassium must be read.
    comments: list[str] = field(default_factory=list)

    @property
    def is_correction(self) -> bool:
        """True when this row replaces an earlier result for the same order and code."""
        return self.status == "C"


@dataclass
class ExcludedObservation:
    """An OBX/Observation that is not a lab result (instrument mode, remark, histogram, demographics)."""

    set_id: str
    value_type: str
    code: str
    name: str
    value_text: str
    reason: str


@dataclass
class LabReport:
    """One ordered panel (one OBR group / one DiagnosticReport) and its results."""

    placer_no: str = ""
    filler_no: str = ""
    panel_code: str = ""
    panel_name: str = ""
    panel_coding_system: str = ""
    specimen_type: str = ""
    collected_at: dt.datetime | None = None
    specimen_received_at: dt.datetime | None = None
    reported_at: dt.datetime | None = None
    status: str = ""  # HL7 OBR-25 code
    tester: str = ""  # who ran the test (OBR-34 technician, else the first OBX-16 observer)
    reviewer: str = ""  # who signed it off (OBR-32 principal result interpreter)
    results: list[LabResult] = field(default_factory=list)
    excluded: list[ExcludedObservation] = field(default_factory=list)
    # The lab's remarks on the whole report (HL7 NTE after OBR or ORC, FHIR DiagnosticReport.conclusion).
    comments: list[str] = field(default_factory=list)


@dataclass
class LabMessage:
    """One inbound lab message (an HL7 v2 ORU^R01 or a FHIR Bundle) reduced to what a GP team needs."""

    sending_app: str
    sending_facility: str
    control_id: str
    version: str
    encoding: str  # Python codec name used to decode the bytes
    encoding_reason: str  # why that codec: facility setting, MSH-18, or detection
    patient: LabPatient
    reports: list[LabReport] = field(default_factory=list)
    receiving_app: str = ""
    receiving_facility: str = ""
    message_type: str = ""  # e.g. "ORU^R01", or "Bundle" for FHIR
    sent_at: dt.datetime | None = None
    processing_id: str = ""
    charset_declared: str = ""  # MSH-18 as sent ("" when absent)
    warnings: list[str] = field(default_factory=list)  # things tolerated while parsing, for the interface log

    @property
    def results(self) -> list[LabResult]:
        """All result rows of all reports, in message order."""
        return [r for rep in self.reports for r in rep.results]
