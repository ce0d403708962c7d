"""ISO 10002 (complaints handling) figures for a period, as the quality unit reports them.

For tickets created in ``[start, end)``:

- acknowledgement time = the first sent "created" SMS's ``sent_at`` - the ticket's ``created_at``
  (the citizen told their request was received, with its number); median and p90 over the tickets
  that got one; "missing" = tickets without a sent one (withheld number, not yet or never delivered).
  p90 is the nearest rank: the smallest time within which at least 90 % were acknowledged;
- resolution time (median), within-SLA and reopen rate: ``alo185.tickets.figures.month_report``'s;
- satisfaction: the survey's "satisfied" share (``alo185.surveys.results``: çok memnunum + memnunum
  over all answers, cut to a whole percent) of the surveys offered in the period;
- non-conformities recorded in the period: how many, decided or not, by decision;
- DİFs opened in the period by their status now, and every DİF not closed now;
- overdue: open tickets (the directorates' statuses) past their due time now, whenever created.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alo185.quality.models import CorrectiveAction, CorrectiveActionStatus, Nonconformity, NonconformityDecision
from alo185.sms.models import SmsMessage
from alo185.surveys import results
from alo185.tickets import figures, sla
from alo185.tickets.models import Ticket

ACK_TEMPLATE = "created"  # the SMS that tells the citizen their request was received


def nearest_rank(values: Sequence[float], share: float) -> float | None:
    """The smallest value with at least ``share`` (0–1) of ``values`` at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def acknowledgements(session: Session, start: datetime, end: datetime, received: int) -> dict[str, Any]:
    """Receipt → acknowledgement times (seconds) of the period's tickets."""
    first_sent = (
        select(SmsMessage.ticket_id, func.min(SmsMessage.sent_at).label("sent_at"))
        .where(SmsMessage.template == ACK_TEMPLATE, SmsMessage.sent_at.isnot(None))
        .group_by(SmsMessage.ticket_id)
        .subquery()
    )
    rows = session.execute(
        select(Ticket.created_at, first_sent.c.sent_at)
        .join(first_sent, first_sent.c.ticket_id == Ticket.id)
        .where(Ticket.created_at >= start, Ticket.created_at < end)
    ).all()
    waits = [max(0.0, (sent - created).total_seconds()) for created, sent in rows]
    return {
        "sent": len(waits),
        "missing": received - len(waits),
        "median_s": statistics.median(waits) if waits else None,
        "p90_s": nearest_rank(waits, 0.9),
    }


def nonconformities(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    rows = session.execute(
        select(Nonconformity.decision, func.count())
        .where(Nonconformity.created_at >= start, Nonconformity.created_at < end)
        .group_by(Nonconformity.decision)
    ).all()
    counts = {str(decision or ""): n for decision, n in rows}
    total = sum(counts.values())
    by_decision = {d.value: counts.get(d.value, 0) for d in NonconformityDecision} | {"": counts.get("", 0)}
    return {
        "total": total,
        "decided": total - by_decision[""],
        "undecided": by_decision[""],
        "by_decision": by_decision,
    }


def difs(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    rows = session.execute(
        select(CorrectiveAction.status, func.count())
        .where(CorrectiveAction.created_at >= start, CorrectiveAction.created_at < end)
        .group_by(CorrectiveAction.status)
    ).all()
    counts = {str(status): n for status, n in rows}
    open_now = session.scalar(
        select(func.count())
        .select_from(CorrectiveAction)
        .where(CorrectiveAction.status != CorrectiveActionStatus.CLOSED)
    )
    return {"by_status": {s.value: counts.get(s.value, 0) for s in CorrectiveActionStatus}, "open_now": open_now or 0}


def report(
    session: Session, start: datetime, end: datetime, now: datetime, ticket_report: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The figures; pass ``ticket_report`` (``tickets.month_report`` of the same period) if already made."""
    month = ticket_report if ticket_report is not None else figures.month_report(session, start, end)
    answers = results.table(results.answers(session, start, end))
    return {
        "received": month["tickets"],
        "acknowledgement": acknowledgements(session, start, end, month["tickets"]),
        "resolution_hours_median": month["resolution_hours_median"],
        "within_sla": as_ratio(month["within_sla_percent"]),
        "reopen_rate": as_ratio(month["reopen_rate_percent"]),
        "satisfied": answers.satisfied_percent / 100 if answers.answered else None,
        "survey_answered": answers.answered,
        "nonconformities": nonconformities(session, start, end),
        "difs": difs(session, start, end),
        "overdue_now": sum(n for _directorate, n in sla.overdue_counts(session, now)),
    }


def as_ratio(percent: float | None) -> float | None:
    """``month_report``'s percentages as ratios (0–1), as every other rate here."""
    return None if percent is None else percent / 100
