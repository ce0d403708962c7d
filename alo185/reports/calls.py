"""Call figures for a period: per local day and hour of day, per queue, per operator; calls that became tickets.

Which calls count and every ratio — SL(T), ASA, AHT, abandonment, answer rate — are
``alo185.queues.service_level``'s (``figures_from_records`` and ``QueueFigures``); this module only
groups the call records and adds the groups' figures up. Each queue keeps its own short-abandon
threshold (``intervals.target_for``), as its 15-minute intervals do.

A call is placed at the time its caller joined the queue (``intervals.joined_at``; the call's start
when it never queued), as the intervals place it, so the two never disagree about a day or an hour.

- calls: every call record placed in the period, queued or not (ended in the IVR, voicemail,
  after hours) — what reached the hotline;
- per operator (``answered_by``): the calls they answered and their AHT;
- ticket share = answered calls with at least one ticket whose ``call_uniqueid`` is the call's
  / answered calls. The denominator is the answered calls, not all calls: a call nobody answered
  had no operator to record the request (the share Mersin reports as 85.87 % "recorded").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alo185.calls.models import CallRecord
from alo185.queues import intervals
from alo185.queues.service_level import QueueFigures, figures_from_records
from alo185.tickets.models import Ticket

TZ = ZoneInfo("Europe/Istanbul")
SL_TARGETS_S = (5, 20)  # the service levels reported: İnegöl's 5 s promise, and the usual 20 s
# What ``figures_from_records`` and ``joined_at`` read of a record.
COLUMNS = (
    CallRecord.uniqueid,
    CallRecord.queue,
    CallRecord.answered,
    CallRecord.abandoned,
    CallRecord.answered_by,
    CallRecord.wait_s,
    CallRecord.talk_s,
    CallRecord.started_at,
    CallRecord.answered_at,
    CallRecord.ended_at,
)


@dataclass
class CallGroup:
    """The calls of one day, hour, queue or operator."""

    calls: int = 0
    figures: QueueFigures = field(default_factory=QueueFigures)
    with_ticket: int = 0  # answered calls that became at least one ticket

    @property
    def ticket_share(self) -> float | None:
        """Answered calls that became a ticket / answered calls (0–1)."""
        return self.with_ticket / self.figures.answered if self.figures.answered else None


@dataclass
class CallsReport:
    total: CallGroup
    days: dict[date, CallGroup]  # every local day of the period, empty ones too
    hours: dict[int, CallGroup]  # every local hour of day 0–23, over the whole period
    queues: dict[str, CallGroup]  # "" for the calls that never joined a queue
    operators: dict[str, CallGroup]


def merge(parts: Iterable[QueueFigures]) -> QueueFigures:
    """Several queues' figures as one: counts added, waits and talks pooled (so the ratios stay QueueFigures')."""
    total = QueueFigures()
    for f in parts:
        total.offered += f.offered
        total.answered += f.answered
        total.abandoned += f.abandoned
        total.short_abandoned += f.short_abandoned
        total.waits.extend(f.waits)
        total.talks.extend(f.talks)
    return total


def _read_window(start: datetime, end: datetime) -> Any:
    """Records that can be placed in ``[start, end)``: read by the indexed start.

    A caller joins within ``intervals.IVR_SPAN`` of the call's start, so records that started that
    much earlier are read too; records without a start are read as the intervals read them.
    """
    return or_(CallRecord.started_at.between(start - intervals.IVR_SPAN, end), CallRecord.started_at.is_(None))


def records(session: Session, start: datetime, end: datetime) -> list[Any]:
    """The records placed in ``[start, end)`` (by their join time), only the columns the figures read."""
    rows = session.execute(select(*COLUMNS).where(_read_window(start, end)).order_by(CallRecord.id))
    return [r for r in rows if (at := intervals.joined_at(r)) is not None and start <= at < end]


def ticketed(session: Session, start: datetime, end: datetime) -> set[str]:
    """The calls read for ``[start, end)`` that have at least one ticket (``Ticket.call_uniqueid``)."""
    query = (
        select(CallRecord.uniqueid)
        .join(Ticket, Ticket.call_uniqueid == CallRecord.uniqueid)
        .where(_read_window(start, end))
        .distinct()
    )
    return set(session.scalars(query))


def group(rows: Iterable[Any], short_abandon: dict[str, float], with_ticket: set[str]) -> CallGroup:
    """Counts and ``figures_from_records`` per queue (each with its threshold), merged."""
    rows = list(rows)
    by_queue: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        if r.queue:
            by_queue[r.queue].append(r)
    parts = [
        figures_from_records(rs, short_abandon_s=short_abandon[q]).get(q, QueueFigures()) for q, rs in by_queue.items()
    ]
    answered = sum(1 for r in rows if r.queue and r.answered and r.uniqueid in with_ticket)
    return CallGroup(calls=len(rows), figures=merge(parts), with_ticket=answered)


def _groups(
    rows: list[Any], key: Callable[[Any], Hashable | None], short_abandon: dict[str, float], with_ticket: set[str]
) -> dict[Any, CallGroup]:
    buckets: dict[Any, list[Any]] = defaultdict(list)
    for r in rows:
        k = key(r)
        if k is not None:
            buckets[k].append(r)
    return {k: group(rs, short_abandon, with_ticket) for k, rs in sorted(buckets.items(), key=lambda kv: str(kv[0]))}


def local(row: Any) -> datetime:
    """A row of ``records``'s join time, local (``records`` keeps only rows that have one)."""
    at = intervals.joined_at(row)
    assert at is not None
    return at.astimezone(TZ)


def report(session: Session, start: datetime, end: datetime) -> CallsReport:
    """The period's figures; ``start``/``end`` are aware (local midnights, normally)."""
    rows = records(session, start, end)
    short_abandon = {
        q: float(intervals.target_for(session, q).short_abandon_s) for q in {r.queue for r in rows if r.queue}
    }
    with_ticket = ticketed(session, start, end)
    days = _groups(rows, lambda r: local(r).date(), short_abandon, with_ticket)
    hours = _groups(rows, lambda r: local(r).hour, short_abandon, with_ticket)
    first, last = start.astimezone(TZ).date(), (end - timedelta(microseconds=1)).astimezone(TZ).date()
    every_day = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return CallsReport(
        total=group(rows, short_abandon, with_ticket),
        days={d: days.get(d, CallGroup()) for d in every_day},
        hours={h: hours.get(h, CallGroup()) for h in range(24)},
        queues=_groups(rows, lambda r: r.queue or "", short_abandon, with_ticket),  # "": never queued
        operators=_groups(rows, lambda r: (r.answered_by or "") if r.answered else None, short_abandon, with_ticket),
    )
