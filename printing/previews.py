"""Write PNG previews of every layout, in both widths and both Chinese modes, for a person to look at.

    .venv/bin/python -m printing.previews [folder]      (default /tmp/print-previews)
"""

from __future__ import annotations

import sys
from pathlib import Path

from printing.layouts import follow_up_slip, lab_report, referral_slip, return_slip
from printing.model import ChineseMode, PaperWidth, PrinterSettings
from printing.preview import preview
from printing.samples import (sample_follow_up_slip, sample_lab_report, sample_lab_report_with_comments,
                              sample_referral_slip, sample_return_slip)


def write_previews(folder: str | Path = "/tmp/print-previews") -> list[Path]:
    """Render all sample layouts and save their previews; returns the PNG paths."""
    folder = Path(folder)
    documents = [("lab-report", lab_report, sample_lab_report()),
                 ("lab-report-comments", lab_report, sample_lab_report_with_comments()),
                 ("follow-up-slip", follow_up_slip, sample_follow_up_slip()),
                 ("referral-slip", referral_slip, sample_referral_slip()),
                 ("return-slip", return_slip, sample_return_slip())]
    paths = []
    for width in PaperWidth:
        for mode in ChineseMode:
            settings = PrinterSettings(width=width, mode=mode, cutter=True)
            for name, render, document in documents:
                pv = preview(render(document, settings), width, settings.encoding)
                paths.append(pv.save(folder / f"{name}-{width.millimetres}mm-{mode.value}.png"))
    return paths


if __name__ == "__main__":
    for written in write_previews(*sys.argv[1:2]):
        print(written)
