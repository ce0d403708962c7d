"""When a ticket is due, and who must hear about tickets that are about to be, or already are, late.

Deadlines are counted in Turkish local time (Europe/Istanbul) and stored in UTC.

* ``hours``: plain elapsed hours, day and night (water leaks, funerals do not wait for Monday).
* ``working_days``: counting starts the day after the ticket is recorded; Saturdays, Sundays and
  public holidays count 0, an ordinary weekday 1, and a half-day eve (arife: the day before
  Ramazan/Kurban Bayramı and 28 October, when offices close at 13:00) counts **0.5**. The ticket is
  due at the end of the working day on which the count reaches the SLA: 17:30, or 13:00 when that
  day is an eve. So with 1 working day left, an eve is not enough and the deadline moves to the next
  full working day; with half a day left (possible after a priority speed-up), the eve ends it at 13:00.
* ``calendar_days`` (the 30 days of the petition law): the deadline is the end of the working day
  on the last day; if that day is a weekend or holiday it moves to the next working day.

Holidays come from the ``holidays`` package (``country_holidays("TR", categories=("public",
"half_day"))``), so religious holidays follow the official calendar without hand-kept tables.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from alo185.org.models import Directorate, Role, User
from alo185.tickets.models import Category, LegalDeadline, Priority, SlaUnit, Ticket, TicketStatus

WORKDAY_END = time(17, 30)
HALF_DAY_END = time(13, 0)
# Statutory deadlines (3071 Dilekçe Hakkı: 30 days; 4982 Bilgi Edinme: 15 working days).
LEGAL_DEADLINES: dict[LegalDeadline, tuple[SlaUnit, int]] = {
    LegalDeadline.PETITION: (SlaUnit.CALENDAR_DAYS, 30),
    LegalDeadline.INFORMATION: (SlaUnit.WORKING_DAYS, 15),
}
# Urgent work is due sooner; a low priority never extends the category's promise.
PRIORITY_FACTOR: dict[Priority, float] = {
    Priority.LOW: 1.0,
    Priority.NORMAL: 1.0,
    Priority.HIGH: 0.5,
    Priority.URGENT: 0.25,
}
DEFAULT_WARNING_LEAD = timedelta(hours=4)
# Statuses in which the directorate holds the ticket and its clock is running.
DIRECTORATE_STATUSES = frozenset(
    {
        TicketStatus.ROUTED,
        TicketStatus.REOPENED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.AWAITING_CHIEF,
        TicketStatus.AWAITING_MANAGER,
    }
)


def local_zone() -> tzinfo:
    """Europe/Istanbul; Turkey has kept UTC+3 all year since 2016, the fallback where tzdata is missing."""
    try:
        return ZoneInfo("Europe/Istanbul")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=3), "TRT")


LOCAL = local_zone()


@cache
def _calendars() -> tuple[holidays.HolidayBase, holidays.HolidayBase]:
    """(public and half-day holidays, half-day eves only); both extend to new years on lookup."""
    every = holidays.country_holidays("TR", categories=("public", "half_day"))
    eves = holidays.country_holidays("TR", categories=("half_day",))
    return every, eves


def working_day_credit(day: date) -> float:
    """1 for a working day, 0.5 for a half-day eve, 0 for weekends and public holidays."""
    every, eves = _calendars()
    if day.weekday() in every.weekend:
        return 0.0
    if day in eves:
        return 0.5
    if day in every:
        return 0.0
    return 1.0


def end_of_work(day: date) -> datetime:
    """When the offices close on ``day`` (13:00 on an eve), in UTC."""
    closing = HALF_DAY_END if working_day_credit(day) == 0.5 else WORKDAY_END
    return datetime.combine(day, closing, LOCAL).astimezone(UTC)


def add_hours(start: datetime, hours: float) -> datetime:
    return (start + timedelta(hours=hours)).astimezone(UTC)


def add_working_days(start: datetime, days: float) -> datetime:
    """End of the working day on which ``days`` working days after ``start``'s day are used up."""
    if days <= 0:
        return start.astimezone(UTC)
    day = start.astimezone(LOCAL).date()
    counted = 0.0
    while counted < days:
        day += timedelta(days=1)
        counted += working_day_credit(day)
    return end_of_work(day)


def add_calendar_days(start: datetime, days: int) -> datetime:
    """End of work on the ``days``-th day, moved to the next working day if the offices are closed then."""
    day = start.astimezone(LOCAL).date() + timedelta(days=days)
    while working_day_credit(day) == 0:
        day += timedelta(days=1)
    return end_of_work(day)


def _scaled(unit: SlaUnit, value: float, priority: Priority) -> float:
    """The SLA shortened by priority; working days round up to half days, calendar days to whole days."""
    amount = value * PRIORITY_FACTOR[Priority(priority)]
    if unit is SlaUnit.WORKING_DAYS:
        return max(0.5, math.ceil(amount * 2) / 2)
    if unit is SlaUnit.CALENDAR_DAYS:
        return max(1, math.ceil(amount))
    return amount


def deadline(start: datetime, unit: SlaUnit, amount: float) -> datetime:
    if unit is SlaUnit.HOURS:
        return add_hours(start, amount)
    if unit is SlaUnit.WORKING_DAYS:
        return add_working_days(start, amount)
    return add_calendar_days(start, math.ceil(amount))


def due_at(category: Category, priority: Priority | str, created_at: datetime) -> datetime:
    """The category's SLA (shortened by priority), capped by its statutory deadline if it has one."""
    unit = SlaUnit(category.sla_unit)
    due = deadline(created_at, unit, _scaled(unit, category.sla_value, Priority(priority)))
    legal = LEGAL_DEADLINES.get(LegalDeadline(category.legal_deadline or LegalDeadline.NONE))
    if legal is not None:
        due = min(due, deadline(created_at, *legal))
    return due


def superior(ticket: Ticket, role: Role) -> User | None:
    """The first active ``role`` up the assignee's ``reports_to`` chain, else one in the ticket's directorate."""
    seen: set[int] = set()
    user = ticket.assignee
    while user is not None and user.id not in seen:
        seen.add(user.id)
        if user.role == role and user.active:
            return user
        user = user.reports_to
    staff = ticket.directorate.staff if ticket.directorate is not None else []
    candidates = sorted((u for u in staff if u.role == role and u.active), key=lambda u: u.id)
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class Escalation:
    """Tickets by the user to tell: chiefs before the deadline, managers once it has passed."""

    warn_chiefs: dict[int, list[Ticket]] = field(default_factory=dict)
    notify_managers: dict[int, list[Ticket]] = field(default_factory=dict)


def escalations(tickets: Iterable[Ticket], now: datetime, lead: timedelta = DEFAULT_WARNING_LEAD) -> Escalation:
    """Who to warn about which tickets; no side effects, so the caller decides how (and whether again) to send.

    A ticket the directorate holds and that is due within ``lead`` goes to the assignee's chief; one whose
    deadline has passed goes to the manager. Tickets nobody can be found for are left out.
    """
    chiefs: dict[int, list[Ticket]] = defaultdict(list)
    managers: dict[int, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        if ticket.status not in DIRECTORATE_STATUSES or ticket.due_at is None:
            continue
        if ticket.due_at <= now:
            target, role = managers, Role.MANAGER
        elif ticket.due_at <= now + lead:
            target, role = chiefs, Role.CHIEF
        else:
            continue
        person = superior(ticket, role)
        if person is not None:
            target[person.id].append(ticket)
    return Escalation(warn_chiefs=dict(chiefs), notify_managers=dict(managers))


def escalation_candidates(session: Session, now: datetime, lead: timedelta = DEFAULT_WARNING_LEAD) -> list[Ticket]:
    """Tickets ``escalations`` may report, with the staff relations it reads already loaded."""
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(DIRECTORATE_STATUSES), Ticket.due_at <= now + lead)
            .options(
                selectinload(Ticket.assignee).selectinload(User.reports_to).selectinload(User.reports_to),
                selectinload(Ticket.directorate).selectinload(Directorate.staff),
            )
            .order_by(Ticket.due_at, Ticket.id)
        )
    )


def overdue_for_directorate(session: Session, directorate_id: int, now: datetime) -> list[Ticket]:
    """A directorate's late tickets, the longest overdue first."""
    return list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.directorate_id == directorate_id,
                Ticket.status.in_(DIRECTORATE_STATUSES),
                Ticket.due_at < now,
            )
            .order_by(Ticket.due_at, Ticket.id)
        )
    )


def overdue_counts(session: Session, now: datetime) -> list[tuple[Directorate, int]]:
    """How many late tickets each directorate holds, the most first (directorates with none left out)."""
    rows = session.execute(
        select(Directorate, func.count(Ticket.id))
        .join(Ticket, Ticket.directorate_id == Directorate.id)
        .where(Ticket.status.in_(DIRECTORATE_STATUSES), Ticket.due_at < now)
        .group_by(Directorate.id)
        .order_by(func.count(Ticket.id).desc(), Directorate.name)
    ).all()
    return [(directorate, count) for directorate, count in rows]
