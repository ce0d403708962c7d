"""The month report on tickets: volumes by category, directorate, channel and ilçe; resolution and rates.

Formulas (tickets created in [start, end)):
- resolution time: resolved_at - created_at over the resolved ones (median and mean, hours);
- within SLA: resolved ones with resolved_at <= due_at, over resolved ones with a due time;
- reopen rate: tickets reopened at least once / all; redirect rate: tickets now redirected / all.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alo185.org.models import Directorate, District
from alo185.tickets.models import Category, Ticket, TicketStatus


def _counts(session: Session, column: Any, start: datetime, end: datetime, join: Any = None) -> dict[str, int]:
    query = select(column, func.count()).select_from(Ticket)
    if join is not None:
        query = query.outerjoin(*join)
    query = query.where(Ticket.created_at >= start, Ticket.created_at < end).group_by(column)
    return {str(key) if key is not None else "": n for key, n in session.execute(query)}


def month_report(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    in_period = (Ticket.created_at >= start, Ticket.created_at < end)
    total = session.scalar(select(func.count()).select_from(Ticket).where(*in_period)) or 0
    reopened = session.scalar(select(func.count()).select_from(Ticket).where(*in_period, Ticket.reopen_count > 0))
    redirected = session.scalar(
        select(func.count()).select_from(Ticket).where(*in_period, Ticket.status == TicketStatus.REDIRECTED)
    )
    resolved = session.execute(
        select(Ticket.created_at, Ticket.resolved_at, Ticket.due_at).where(*in_period, Ticket.resolved_at.isnot(None))
    ).all()
    hours = [(r.resolved_at - r.created_at).total_seconds() / 3600 for r in resolved]
    with_due = [r for r in resolved if r.due_at is not None]
    within = sum(1 for r in with_due if r.resolved_at <= r.due_at)
    return {
        "tickets": total,
        "by_category": _counts(session, Category.name, start, end, (Category, Category.id == Ticket.category_id)),
        "by_directorate": _counts(
            session, Directorate.name, start, end, (Directorate, Directorate.id == Ticket.directorate_id)
        ),
        "by_channel": _counts(session, Ticket.channel, start, end),
        "by_district": _counts(session, District.name, start, end, (District, District.id == Ticket.district_id)),
        "resolved": len(resolved),
        "resolution_hours_median": round(statistics.median(hours), 1) if hours else None,
        "resolution_hours_mean": round(statistics.fmean(hours), 1) if hours else None,
        "within_sla_percent": round(100 * within / len(with_due), 1) if with_due else None,
        "reopen_rate_percent": round(100 * (reopened or 0) / total, 1) if total else None,
        "redirect_rate_percent": round(100 * (redirected or 0) / total, 1) if total else None,
    }
