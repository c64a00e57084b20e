"""Plain data the receipts are printed from, and the printer settings that shape the bytes.

Deliberately free of server or tablet imports: callers copy what they have into these dataclasses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence


class PaperWidth(enum.Enum):
    """Receipt paper width; each value knows its printable dots and half-width columns."""

    MM58 = (58, 384, 32)
    MM80 = (80, 576, 48)

    @property
    def millimetres(self) -> int:
        """Nominal paper width in mm."""
        return self.value[0]

    @property
    def dots(self) -> int:
        """Printable width in dots (8 dots per mm at 203 dpi)."""
        return self.value[1]

    @property
    def columns(self) -> int:
        """Half-width characters per line with the 12x24 font."""
        return self.value[2]

    @classmethod
    def from_mm(cls, mm: int) -> "PaperWidth":
        """The width for 58 or 80 (mm)."""
        for width in cls:
            if width.millimetres == int(mm):
                return width
        raise ValueError(f"unsupported paper width {mm} mm (58 or 80)")


class ChineseMode(enum.Enum):
    """How Chinese reaches the paper: as encoded text in the printer's font, or as a picture."""

    TEXT = "text"
    RASTER = "raster"


@dataclass(frozen=True)
class PrinterSettings:
    """What the layouts need to know about one printer.

    encoding: 'gb18030' or 'gbk' (the printer's built-in font); chinese_mode_switch sends FS & / FS . around
    the text, which many Chinese printers need and others ignore; qr_native uses the printer's own QR
    command (GS ( k) instead of sending the QR code as a picture; cutter adds a partial cut where paper is
    to be separated (portable printers have only a tear bar).
    """

    width: PaperWidth = PaperWidth.MM58
    mode: ChineseMode = ChineseMode.TEXT
    encoding: str = "gb18030"
    chinese_mode_switch: bool = True
    qr_native: bool = False
    cutter: bool = False
    font_path: str | None = None

    def __post_init__(self):
        if self.encoding.lower().replace("-", "") not in ("gb18030", "gbk"):
            raise ValueError("encoding must be gb18030 or gbk")


SEX_LABELS = {0: "未知", 1: "男", 2: "女", 9: "未说明"}  # GB/T 2261.1 codes


def sex_label(sex: int | str) -> str:
    """Display text for a sex given as a GB/T 2261.1 code (0, 1, 2, 9) or already as text."""
    if isinstance(sex, int) or (isinstance(sex, str) and sex.strip().isdigit()):
        return SEX_LABELS.get(int(sex), str(sex))
    return str(sex)


@dataclass(frozen=True)
class Patient:
    """Who the receipt is for. age may be an int (years) or text such as '3月'."""

    name: str
    sex: int | str = ""
    age: int | str = ""
    record_number: str = ""  # 健康档案号 or 门诊号, printed as given
    id_number: str = ""
    address: str = ""
    phone: str = ""

    @property
    def age_text(self) -> str:
        """Age as printed: '56岁' for an int."""
        return f"{self.age}岁" if isinstance(self.age, int) else str(self.age)


class AbnormalFlag(enum.Enum):
    """Result flag of a lab item; HH, LL and AA are critical values (危急值)."""

    NORMAL = ""
    HIGH = "H"
    LOW = "L"
    CRITICAL_HIGH = "HH"
    CRITICAL_LOW = "LL"
    # HL7 table 0078 "very abnormal": the critical value of a result without a direction (e.g. a positive
    # blood culture); senders and the server's parsers treat it as critical like HH and LL.
    CRITICAL_ABNORMAL = "AA"
    ABNORMAL = "A"  # qualitative result outside normal (e.g. positive where negative expected)

    @classmethod
    def parse(cls, flag: "AbnormalFlag | str | None") -> "AbnormalFlag":
        """Flag from its HL7 code; repeated flags such as 'L~A' keep the most severe."""
        if isinstance(flag, AbnormalFlag):
            return flag
        codes = [c.strip().upper() for c in str(flag or "").replace("^", "~").split("~") if c.strip()]
        order = [cls.CRITICAL_HIGH, cls.CRITICAL_LOW, cls.CRITICAL_ABNORMAL, cls.HIGH, cls.LOW, cls.ABNORMAL]
        for candidate in order:
            if candidate.value in codes:
                return candidate
        if codes and codes != ["N"]:
            raise ValueError(f"unknown abnormal flag {flag!r}")
        return cls.NORMAL

    @property
    def critical(self) -> bool:
        """True for HH/LL/AA."""
        return self in (AbnormalFlag.CRITICAL_HIGH, AbnormalFlag.CRITICAL_LOW, AbnormalFlag.CRITICAL_ABNORMAL)

    @property
    def mark(self) -> str:
        """What the report prints in the flag column."""
        return {"": "", "H": "↑", "L": "↓", "HH": "↑↑", "LL": "↓↓", "AA": "**", "A": "*"}[self.value]


@dataclass(frozen=True)
class LabResult:
    """One item of a lab report; result is text so qualitative results ('阴性', '+', '2+') fit too."""

    item: str
    result: str
    unit: str = ""
    reference_range: str = ""
    flag: AbnormalFlag | str = AbnormalFlag.NORMAL
    code: str = ""  # e.g. 'GLU', printed next to the name when given
    # The lab's remarks on this value, e.g. '标本溶血，结果仅供参考', printed under its line.
    comments: Sequence[str] = ()

    @property
    def abnormal_flag(self) -> AbnormalFlag:
        """The flag as an AbnormalFlag."""
        return AbnormalFlag.parse(self.flag)


@dataclass(frozen=True)
class LabReport:
    """A lab report (检验报告单) with the fields required by the 2006 clinical laboratory rules."""

    report_id: str  # what the QR code carries (the record's id)
    patient: Patient
    specimen_type: str
    received_at: datetime
    reported_at: datetime
    tester: str
    reviewer: str
    results: Sequence[LabResult]
    institution: str = ""
    department: str = ""
    # How a critical value was phoned through, e.g. '已电话通知患者本人 10:20 王护士'.
    critical_call_note: str = ""
    # The lab's remarks on the whole report, printed as 备注 before the times and signatures.
    comments: Sequence[str] = ()
    # The number printed under the QR code (the lab's own report number) when report_id, which the QR code
    # carries, is a long record id; printed only when it fits one line.
    report_number: str = ""


@dataclass(frozen=True)
class FollowUpSlip:
    """A visit/appointment slip (随访/预约单) given to the patient after a follow-up visit."""

    patient: Patient
    visit_date: date
    classification: str  # e.g. '控制满意'
    next_visit_date: date | None
    advice: str  # written to the patient ("请戒烟"); one sentence a line when it holds line breaks
    doctor: str
    team_phone: str
    programme: str = ""  # e.g. '高血压患者健康管理'
    institution: str = ""
    # What was measured at this visit, as (label, value with unit): ('血压', '146/84 mmHg').
    measurements: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class ReferralSlip:
    """An upward referral (双向转诊 转出单) with the stub (存根) the team keeps."""

    referral_number: str
    patient: Patient
    referral_date: date
    destination_institution: str
    destination_department: str
    receiving_doctor: str
    referring_doctor: str
    initial_impression: str
    present_illness: str  # 主要现病史（转出原因）
    past_history: str
    treatment_so_far: str
    doctor_phone: str
    referring_institution: str


@dataclass(frozen=True)
class ReturnSlip:
    """A return form (双向转诊 回转单) from the hospital back to the community team, with the stub (存根) the
    hospital keeps."""

    referral_number: str
    patient: Patient
    return_date: date
    to_institution: str  # the community institution the patient returns to
    diagnosis: str
    inpatient_record_number: str
    main_results: str  # 主要检查结果
    treatment: str  # 治疗经过
    plan: str  # 下一步治疗方案及康复建议
    doctor: str
    doctor_phone: str
    institution: str  # the hospital
