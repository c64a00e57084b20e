"""Median time to render a lab report with 8 results to ESC/POS bytes, per paper width and Chinese mode.

    .venv/bin/python bench/bench_print.py [--runs N]

Target: <= 20 ms each. Prints the figures; asserts nothing. The first render (font loading, glyph cache)
is reported separately because a tablet pays it once per app start (text mode needs no font, so its first
render is cheap; its preview then pays for the font instead).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

from printing import ChineseMode, PaperWidth, PrinterSettings, lab_report, preview  # noqa: E402
from printing.glyphs import glyph_set  # noqa: E402
from printing.samples import sample_lab_report  # noqa: E402


def main() -> None:
    """Run the benchmark and print one line per setting."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    runs = _smoke.parse(parser, runs=5).runs
    report = sample_lab_report(results=8)
    print(f"lab report, {len(report.results)} results, {runs} runs each (target <= 20 ms median)")
    for width in PaperWidth:
        for mode in ChineseMode:
            settings = PrinterSettings(width=width, mode=mode)
            glyph_set.cache_clear()  # 'first' includes opening the font and filling the glyph cache
            start = time.perf_counter()
            data = lab_report(report, settings)
            first = (time.perf_counter() - start) * 1000
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                lab_report(report, settings)
                times.append((time.perf_counter() - start) * 1000)
            preview_times = []
            for _ in range(max(5, runs // 10)):
                start = time.perf_counter()
                preview(data, width)
                preview_times.append((time.perf_counter() - start) * 1000)
            preview_ms = statistics.median(preview_times)
            print(f"{width.millimetres} mm {mode.value:6}: median {statistics.median(times):6.2f} ms  "
                  f"p95 {sorted(times)[int(0.95 * len(times)) - 1]:6.2f} ms  first {first:6.1f} ms  "
                  f"{len(data):6d} bytes  (preview median {preview_ms:.1f} ms)")


if __name__ == "__main__":
    main()
