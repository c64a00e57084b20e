"""From store records to printing's receipt models, and the printer as the tablet keeps its settings.

Plain Python (no Kivy). The printer settings live in the store's sync_state under "printer" (this tablet
only, never synced).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from gpcore.clock import china_wall_time
from gpcore.followup import age_on
from printing import (ChineseMode, FollowUpSlip, LabReport, LabResult, PaperWidth, Patient, PrinterSettings,
                      follow_up_slip, lab_report, open_transport)
from printing.errors import PrinterSettingError
from printing.visit_slip import follow_up_slip_for_record

CONNECTIONS = ("bluetooth", "serial", "tcp", "usb", "file")


def _date(value) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _datetime(value) -> dt.datetime | None:
    return china_wall_time(value)  # printed as China's wall clocks show it (the tablet keeps UTC)


def patient_of(resident: dict, today: dt.date) -> Patient:
    """The receipt's patient block from a resident's file."""
    birth = _date(resident.get("birth_date"))
    age = "" if birth is None else age_on(birth, today)
    return Patient(name=resident["name"], sex=resident.get("sex") or "", age=age,
                   record_number=resident.get("record_number") or "", address=resident.get("address") or "",
                   phone=resident.get("phone") or "")


def follow_up_slip_for(store, visit_id: str, *, team_phone: str = "", institution: str = "") -> FollowUpSlip:
    """The visit/appointment slip of a signed visit: printing.visit_slip's builder (the server's too) over
    the store's row, whose decisions are the shared rules' (the tablet's own until the server's arrive)."""
    visit = store.visit(visit_id)
    resident = store.resident(visit["resident_id"])
    return follow_up_slip_for_record(visit, patient_of(resident, _date(visit["visit_date"])),
                                     team_phone=team_phone, institution=institution)


def lab_report_for(store, report_id: str, today: dt.date) -> LabReport:
    """A lab report as printing's model, from the store's report and its current rows."""
    rep = store.lab_report(report_id)
    resident = store.resident(rep["resident_id"])
    results = [LabResult(item=r.get("name") or r.get("code") or "",
                         result=str(r.get("value_text") if r.get("value_text") is not None else
                                    (r.get("value_num") if r.get("value_num") is not None else "")),
                         unit=r.get("unit") or "", reference_range=r.get("range_text") or "",
                         flag=_flag(r.get("flags")), code=r.get("code") or "",
                         comments=tuple(r.get("comments") or ())) for r in rep["results"]]
    reported = _datetime(rep.get("reported_at")) or _datetime(rep.get("changed_at")) or dt.datetime.now()
    return LabReport(report_id=rep.get("filler_no") or str(rep["id"]), patient=patient_of(resident, today),
                     specimen_type=rep.get("specimen_type") or "", received_at=_datetime(rep.get("collected_at"))
                     or reported, reported_at=reported, tester="", reviewer="", results=results,
                     institution=rep.get("hospital_name") or "", department=rep.get("panel_name") or "",
                     critical_call_note=rep.get("critical_call_note") or "",
                     comments=tuple(rep.get("comments") or ()))


def _flag(flags) -> str:
    """The most severe HL7 flag of a row's list, as printing's AbnormalFlag code."""
    if not flags:
        return ""
    flags = flags if isinstance(flags, list) else [flags]
    for code in ("HH", "LL", "AA", "H", "L", "A"):
        if code in flags:
            return code
    return ""


@dataclass
class PrinterConfig:
    """The tablet's printer: connection, device/address, paper width (58/80 mm), Chinese as text or raster."""

    connection: str = "bluetooth"
    target: str = "/dev/rfcomm0"
    width_mm: int = 58
    mode: str = "text"
    baudrate: int = 9600

    def setting(self) -> str:
        """printing.open_transport's setting string for this connection."""
        target = (self.target or "").strip()
        if not target:
            raise PrinterSettingError("no device", "请填写打印机的地址或设备。")
        if self.connection in ("bluetooth", "serial"):
            return f"serial:{target}?baudrate={int(self.baudrate)}"
        if self.connection in ("tcp", "usb", "file"):
            return f"{self.connection}:{target}"
        raise PrinterSettingError(f"unknown connection {self.connection!r}")

    def settings(self) -> PrinterSettings:
        """printing's PrinterSettings (paper width, text or raster)."""
        return PrinterSettings(width=PaperWidth.from_mm(self.width_mm), mode=ChineseMode(self.mode))

    @classmethod
    def load(cls, store) -> "PrinterConfig":
        """The printer kept in the store (defaults when none)."""
        saved = store.state("printer") or {}
        return cls(**{k: v for k, v in saved.items() if k in cls.__dataclass_fields__})

    def save(self, store) -> None:
        """Keep this printer in the store."""
        with store.transaction():
            store.set_state("printer", asdict(self))


def send(config: PrinterConfig, data: bytes) -> None:
    """Send bytes to the configured printer; raises printing's typed errors (str() is the Chinese text)."""
    open_transport(config.setting()).send(data)


def slip_bytes(config: PrinterConfig, slip: FollowUpSlip) -> bytes:
    """The follow-up slip's bytes for this printer."""
    return follow_up_slip(slip, config.settings())


def lab_bytes(config: PrinterConfig, report: LabReport) -> bytes:
    """The lab report's bytes for this printer."""
    return lab_report(report, config.settings())


def test_page_bytes(config: PrinterConfig) -> bytes:
    """A short test slip: the sample follow-up slip in this printer's width and mode."""
    from printing.samples import sample_follow_up_slip
    return follow_up_slip(sample_follow_up_slip(), config.settings())
