"""Health record numbers: 17 digits = county(6) + township(3) + committee(3) + serial(5)."""
from __future__ import annotations

import re

_COUNTY = re.compile(r"^\d{6}$")
_THREE = re.compile(r"^\d{3}$")
_RECORD = re.compile(r"^\d{17}$")
MAX_SERIAL = 99_999


def committee_kind(code: str) -> str:
    """'residents' (001-099), 'village' (101-199) or 'other' (901-999); ValueError otherwise."""
    n = int(code)
    if 1 <= n <= 99:
        return "residents"
    if 101 <= n <= 199:
        return "village"
    if 901 <= n <= 999:
        return "other"
    raise ValueError(f"committee code {code} is outside 001-099, 101-199 and 901-999")


def compose(county: str, township: str, committee: str, serial: int) -> str:
    """The 17-digit record number; the serial is assigned in order of creation per committee."""
    if not _COUNTY.match(county) or not _THREE.match(township) or not _THREE.match(committee):
        raise ValueError("county is 6 digits, township and committee 3 digits each")
    committee_kind(committee)
    if not 1 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial must be 1-{MAX_SERIAL}")
    return f"{county}{township}{committee}{serial:05d}"


def is_well_formed(number: str) -> bool:
    """17 digits with a committee code in one of the allowed ranges."""
    if not _RECORD.match(number or ""):
        return False
    try:
        committee_kind(number[9:12])
    except ValueError:
        return False
    return True


def short_form(number: str) -> str:
    """The last 8 digits (committee + serial) that the paper forms show."""
    return number[-8:]
