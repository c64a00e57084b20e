"""Golden bytes: each layout in both widths must produce exactly the committed ESC/POS bytes.

A deliberate layout change regenerates them:

    PRINTING_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/printing/test_golden.py

then look at the previews (python -m printing.previews) and commit the .bin files with the change.
Text mode only: raster bytes depend on the installed font and FreeType, so they are checked against the
text-mode preview instead (test_layouts.py).
"""

import os
from pathlib import Path

import pytest

from printing import (PaperWidth, PrinterSettings, follow_up_slip, lab_report, preview, referral_slip,
                      return_slip)
from printing.samples import sample_follow_up_slip, sample_lab_report, sample_referral_slip, sample_return_slip

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("PRINTING_REGEN_GOLDEN") == "1"

LAYOUTS = {
    "lab-report": (lab_report, sample_lab_report),
    "follow-up-slip": (follow_up_slip, sample_follow_up_slip),
    "referral-slip": (referral_slip, sample_referral_slip),
    "return-slip": (return_slip, sample_return_slip),
}


@pytest.mark.parametrize("width", list(PaperWidth), ids=lambda w: f"{w.millimetres}mm")
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layout_bytes_match_golden_file(name, width):
    render, sample = LAYOUTS[name]
    data = render(sample(), PrinterSettings(width=width, cutter=True))
    path = GOLDEN / f"{name}-{width.millimetres}mm.bin"
    if REGENERATE:
        path.write_bytes(data)
    assert path.exists(), f"missing {path}; run with PRINTING_REGEN_GOLDEN=1 to create it"
    expected = path.read_bytes()
    if data != expected:
        shorter = min(len(data), len(expected))
        at = next((i for i, (a, b) in enumerate(zip(data, expected)) if a != b), shorter)
        pytest.fail(f"{path.name}: bytes differ from byte {at} (got {len(data)}, golden {len(expected)}): "
                    f"got {data[max(0, at - 16):at + 16]!r}, golden {expected[max(0, at - 16):at + 16]!r}")


@pytest.mark.parametrize("width", list(PaperWidth), ids=lambda w: f"{w.millimetres}mm")
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_golden_files_still_preview_cleanly(name, width):
    # A golden file is only worth keeping if the printer (here: the preview) reads it back whole.
    pv = preview((GOLDEN / f"{name}-{width.millimetres}mm.bin").read_bytes(), width)
    assert pv.chinese_mode_entered and pv.image.width == width.dots and len(pv.lines) > 15
