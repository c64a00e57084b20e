"""The calendar day in China, for the tablet and the server: visit dates, "today", a lab report's day.

China Standard Time is one fixed offset, UTC+8: China has kept it all year since 1991 (no daylight saving).
A fixed offset rather than ZoneInfo("Asia/Shanghai"), because (1) the two agree for every time this
software records; (2) zoneinfo needs an IANA database that Android does not give Python and Windows does
not have (the tablet would need the tzdata package for nothing); (3) SQLite can only shift a stored time
by a fixed amount (date(t, '+8 hours')), so the PostgreSQL expression uses the same offset and both
databases give the same day.
"""
from __future__ import annotations

import datetime as dt

UTC_OFFSET_HOURS = 8
CHINA = dt.timezone(dt.timedelta(hours=UTC_OFFSET_HOURS), "CST")


def to_china(moment: dt.datetime) -> dt.datetime:
    """The moment on China's clocks; a naive datetime is taken as a wall-clock time read in China."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=CHINA)
    return moment.astimezone(CHINA)


def china_date(moment: dt.datetime) -> dt.date:
    """The calendar day in China of a moment (naive: a wall-clock time read in China)."""
    return to_china(moment).date()


def china_wall_time(value: str | dt.datetime | None) -> dt.datetime | None:
    """A moment as China's wall clocks show it, without an offset: what a screen or a paper shows (the
    server and the sync keep UTC, "2026-11-24T23:20:28+00:00", which a doctor reads as 2026-11-25 07:20). An
    ISO string as stored on the tablet or a datetime; a naive one is already China's; None or "" is None."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return to_china(moment).replace(tzinfo=None)


def china_minute(value: str | dt.datetime | None) -> str:
    """'2026-11-25 07:20': a moment to the minute as a doctor reads it in China ('' when there is none)."""
    moment = china_wall_time(value)
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def china_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date on a doctor's calendar in China; `now` (default the system clock) may be in any zone."""
    return china_date(now if now is not None else dt.datetime.now(dt.timezone.utc))


__all__ = ["CHINA", "UTC_OFFSET_HOURS", "china_date", "china_minute", "china_today", "china_wall_time",
           "to_china"]
