"""Opening hours per queue, with Turkish public and religious holidays from ``holidays``.

Half-day eves (arife, 28 October) close a queue at 13:00. A queue without hours is 24/7 and
open on holidays too; ``holidays_open`` keeps a queue with hours open on holidays.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from ivr.tree import WEEKDAYS, Queue

TZ = ZoneInfo("Europe/Istanbul")
OPEN = "open"
AFTER_HOURS = "after_hours"
HOLIDAY = "holiday"
HALF_DAY_CLOSE = time(13, 0)


@lru_cache(maxsize=8)
def _calendar(year: int) -> tuple[dict[date, str], dict[date, str]]:
    full = holidays.country_holidays("TR", years=year, categories=("public",), language="tr")
    half = holidays.country_holidays("TR", years=year, categories=("half_day",), language="tr")
    return dict(full.items()), dict(half.items())


def holiday_name(day: date) -> str | None:
    return _calendar(day.year)[0].get(day)


def is_half_day(day: date) -> bool:
    return day in _calendar(day.year)[1]


def _parse(hhmm: str) -> time:
    hh, mm = (int(x) for x in hhmm.split(":"))
    return time(23, 59, 59) if hh == 24 else time(hh, mm)


def queue_state(queue: Queue, now: datetime) -> str:
    """``open``, ``after_hours`` or ``holiday`` for ``queue`` at ``now`` (any timezone)."""
    if queue.always_open:
        return OPEN
    local = now.astimezone(TZ)
    today, clock = local.date(), local.time()
    if holiday_name(today) and not queue.holidays_open:
        return HOLIDAY
    spans = queue.hours.get(WEEKDAYS[local.weekday()], [])
    for start, end in spans:
        close = _parse(end)
        if is_half_day(today) and not queue.holidays_open:
            close = min(close, HALF_DAY_CLOSE)
        if _parse(start) <= clock < close:
            return OPEN
    return AFTER_HOURS
