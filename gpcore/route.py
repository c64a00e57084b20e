"""Walking-route order: households by committee, then by address read as a person reads it, so 2号 comes
before 10号 and 9弄 before 12弄 (building, unit and door numbers compare as numbers, not as text).

Plain Python, standard library only; the server's lists and the tablet's worklist sort with it.

    sorted(households, key=lambda h: route_key(h.committee, h.address))
"""
from __future__ import annotations

import re

_RUNS = re.compile(r"(\d+)")


def natural_key(text) -> tuple:
    """`text` as alternating (text, number, text, number, ..., text) so digit runs compare by value.

    Full-width digits (１２号) count as digits. Equal values written differently ("02" and "2") compare
    equal here; route_key breaks the tie on the text itself so the order is total."""
    parts = _RUNS.split("" if text is None else str(text))
    # re.split with a group keeps the separators: even positions are text, odd positions digit runs, so
    # two keys always compare text with text and number with number.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts))


def route_key(committee, address) -> tuple:
    """The order a team walks households in: committee, then address (road, lane, building, unit, door)."""
    return (natural_key(committee), natural_key(address), "" if address is None else str(address))
