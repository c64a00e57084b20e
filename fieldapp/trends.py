"""Blood-pressure and glucose trends from the visits on the tablet, and their scaling into a chart box.

Plain Python (no Kivy): the resident screen draws the lines these functions place.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass
class Series:
    """Points (day, value) of one measurement, oldest first, with the chart's value range and target."""

    name: str
    points: list[tuple[dt.date, float]]
    low: float
    high: float
    target: float | None = None


def trends(visits: list[dict], limit: int = 12) -> dict[str, Series]:
    """SBP, DBP and fasting glucose over the latest `limit` visits that measured them."""
    def points(key):
        out = [(dt.date.fromisoformat(v["visit_date"][:10]), float(v[key])) for v in visits
               if v.get(key) is not None and v.get("visit_date")]
        return sorted(out)[-limit:]
    return {"sbp": Series("sbp", points("sbp"), 60, 220, 140), "dbp": Series("dbp", points("dbp"), 60, 220, 90),
            "fpg": Series("fpg", points("fpg_mmol"), 2, 20, 7.0)}


def place(series: Series, x: float, y: float, w: float, h: float, first: dt.date | None = None,
          last: dt.date | None = None) -> list[float]:
    """The series as a flat [x0, y0, x1, y1, ...] list inside the box (dates across, values up)."""
    if not series.points:
        return []
    first = first or series.points[0][0]
    last = last or series.points[-1][0]
    span = max((last - first).days, 1)
    out: list[float] = []
    for day, value in series.points:
        fx = (day - first).days / span if last != first else 0.5
        fy = (min(max(value, series.low), series.high) - series.low) / (series.high - series.low)
        out += [x + fx * w, y + fy * h]
    return out


def value_y(series: Series, value: float, y: float, h: float) -> float:
    """Where a value (a target line) sits in the box."""
    return y + (min(max(value, series.low), series.high) - series.low) / (series.high - series.low) * h
