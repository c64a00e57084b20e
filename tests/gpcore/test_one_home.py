"""The small shared rules have one home in gpcore (issue 11): no module computes an age, China's day or a
name's matching form by hand again. A copy here fails the test with the line to replace."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gpcore", "server", "fieldapp", "printing")

# (what, pattern, the one file allowed to hold it, the function to call instead)
COPIES = [
    ("age from year arithmetic", r"\.year\s*-\s*\w+\.year", "gpcore/health_file.py", "gpcore.health_file.age_on"),
    ("China's time zone", r"ZoneInfo\(|Asia/Shanghai|timedelta\(hours\s*=\s*8\)", "gpcore/clock.py",
     "gpcore.clock"),
    ("the machine's date as today", r"date\.today\(\)", "gpcore/clock.py", "gpcore.clock.china_today"),
    ("name folding", r"normalize\(\s*[\"']NFKC[\"']", "gpcore/names.py", "gpcore.names.name_forms"),
]
# Text parsing, not matching: reference ranges (labs/ranges.py) fold full-width digits and punctuation.
ALLOWED = {"name folding": {"server/labs/ranges.py"}}


@pytest.mark.parametrize("what, pattern, home, instead", COPIES, ids=[c[0] for c in COPIES])
def test_one_home(what, pattern, home, instead):
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == home or rel in ALLOWED.get(what, ()):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(pattern, line) and not line.lstrip().startswith("#"):
                    found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, f"{what} outside {home} (use {instead}):\n" + "\n".join(found)
