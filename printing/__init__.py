"""Receipt printing for outreach teams: Chinese layouts, ESC/POS encoding, transports, queue, preview.

    from printing import PrinterSettings, PaperWidth, lab_report, open_transport, preview
    data = lab_report(report, PrinterSettings(width=PaperWidth.MM58))
    preview(data, PaperWidth.MM58).save("/tmp/lab.png")
    open_transport("serial:/dev/rfcomm0?baudrate=9600").send(data)
"""

from printing.blocks import Align, Block, Cut, Feed, Line, QrCode
from printing.columns import char_columns, pad, table_row, text_columns, wrap
from printing.encoder import encode
from printing.errors import (CoverOpen, FontMissing, NeedsConfirmation, PaperOut, PreviewError, PrinterError,
                             PrinterOffline, PrinterSettingError, PrintingError)
from printing.glyphs import find_cjk_font
from printing.layouts import (follow_up_slip, follow_up_slip_blocks, lab_report, lab_report_blocks,
                              referral_slip, referral_slip_blocks, return_slip, return_slip_blocks)
from printing.model import (AbnormalFlag, ChineseMode, FollowUpSlip, LabReport, LabResult, PaperWidth,
                            Patient, PrinterSettings, ReferralSlip, ReturnSlip, sex_label)
from printing.preview import Preview, PrintedLine, preview
from printing.queue import FAILED, PRINTED, QUEUED, SENDING, PrintJob, PrintQueue
from printing.transports import (FileTransport, PrinterStatus, SerialTransport, TcpTransport, Transport,
                                 UsbTransport, open_transport)

__all__ = [
    "AbnormalFlag", "Align", "Block", "ChineseMode", "CoverOpen", "Cut", "FAILED", "Feed", "FileTransport",
    "FollowUpSlip", "FontMissing", "LabReport", "LabResult", "Line", "NeedsConfirmation", "PRINTED",
    "PaperOut", "PaperWidth", "Patient", "Preview", "PreviewError", "PrintJob", "PrintQueue", "PrintedLine",
    "PrinterError", "PrinterOffline", "PrinterSettingError", "PrinterSettings", "PrinterStatus",
    "PrintingError", "QUEUED", "QrCode", "ReferralSlip", "ReturnSlip", "SENDING", "SerialTransport", "TcpTransport",
    "Transport", "UsbTransport", "char_columns", "encode", "find_cjk_font", "follow_up_slip",
    "follow_up_slip_blocks", "lab_report", "lab_report_blocks", "open_transport", "pad", "preview",
    "referral_slip", "referral_slip_blocks", "return_slip", "return_slip_blocks", "sex_label", "table_row", "text_columns", "wrap",
]
