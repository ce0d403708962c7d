"""The satisfaction survey table in İnegöl's form.

For a period: how many answered each of the four options and their share of all answers,
"satisfied" = çok memnunum + memnunum, and the response rate = answered / offered (a survey
the caller hung up on, or let time out, was offered and not answered). Shares are of answers,
"fikrim yok" included, and are cut (never rounded up, so satisfaction is never overstated):
answers to one decimal, "satisfied" to a whole percent, as İnegöl publishes them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from alo185.org.models import Directorate
from alo185.surveys.models import SurveyAnswer, SurveyComment
from alo185.surveys.scale import LABELS
from alo185.tickets.models import Ticket

DIMENSIONS = ("operator", "queue", "directorate", "channel")


@dataclass
class SurveyTable:
    counts: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    offered: int = 0

    @property
    def answered(self) -> int:
        return sum(self.counts.values())

    def percent(self, answer: int) -> float:
        return _cut_pct(self.counts[answer], self.answered, decimals=1)

    @property
    def satisfied(self) -> int:
        return self.counts[1] + self.counts[2]

    @property
    def satisfied_percent(self) -> float:
        return _cut_pct(self.satisfied, self.answered, decimals=0)

    @property
    def response_rate(self) -> float:
        return _cut_pct(self.answered, self.offered, decimals=1)

    def add(self, answer: int | None) -> None:
        self.offered += 1
        if answer in self.counts:
            self.counts[answer] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [
                {"answer": a, "label": LABELS[a], "count": self.counts[a], "percent": self.percent(a)} for a in LABELS
            ],
            "answered": self.answered,
            "offered": self.offered,
            "satisfied": self.satisfied,
            "satisfied_percent": self.satisfied_percent,
            "response_rate": self.response_rate,
        }


def _cut_pct(part: int, whole: int, decimals: int) -> float:
    """``part / whole`` as a percentage cut to ``decimals`` (integer arithmetic: 72/1920 is 3.7, not 3.8)."""
    if not whole:
        return 0.0
    scale: int = 10**decimals
    return (100 * scale * part // whole) / scale


def answers(session: Session, start: datetime, end: datetime) -> list[Any]:
    """(answer, offered_at, operator, queue, channel, directorate) for surveys offered in [start, end).

    Read once per report; ``table``, ``by`` and ``trend`` work on these rows.
    """
    ticket = or_(
        Ticket.id == SurveyAnswer.ticket_id,
        and_(SurveyAnswer.ticket_id.is_(None), Ticket.call_uniqueid == SurveyAnswer.uniqueid),
    )
    query = (
        select(
            SurveyAnswer.answer,
            SurveyAnswer.offered_at,
            SurveyAnswer.operator,
            SurveyAnswer.queue,
            SurveyAnswer.channel,
            Directorate.name,
        )
        .outerjoin(Ticket, ticket)
        .outerjoin(Directorate, Directorate.id == Ticket.directorate_id)
        .where(SurveyAnswer.offered_at >= start, SurveyAnswer.offered_at < end)
    )
    return list(session.execute(query))


def table(rows: Iterable[Any]) -> SurveyTable:
    result = SurveyTable()
    for row in rows:
        result.add(row.answer)
    return result


def by(rows: Iterable[Any], dimension: str) -> dict[str, SurveyTable]:
    """One table per operator, queue, directorate or channel ('' where the survey has none)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; one of {', '.join(DIMENSIONS)}")
    column = {"operator": 2, "queue": 3, "channel": 4, "directorate": 5}[dimension]
    tables: dict[str, SurveyTable] = defaultdict(SurveyTable)
    for row in rows:
        tables[row[column] or ""].add(row.answer)
    return dict(sorted(tables.items()))


def trend(rows: Iterable[Any], start: datetime, days: int = 7) -> list[tuple[date, SurveyTable]]:
    """Tables for consecutive buckets of ``days`` days from ``start`` (a week by default)."""
    tables: dict[date, SurveyTable] = defaultdict(SurveyTable)
    for row in rows:
        bucket = (row.offered_at - start).days // days
        tables[(start + timedelta(days=bucket * days)).date()].add(row.answer)
    return sorted(tables.items())


def comments(session: Session, start: datetime, end: datetime) -> list[tuple[SurveyAnswer, SurveyComment]]:
    """The spoken comments of the period with their transcripts, newest first (for the quality unit)."""
    query = (
        select(SurveyAnswer, SurveyComment)
        .join(SurveyComment, SurveyComment.uniqueid == SurveyAnswer.uniqueid)
        .where(SurveyAnswer.offered_at >= start, SurveyAnswer.offered_at < end)
        .order_by(SurveyAnswer.offered_at.desc())
    )
    return [(a, c) for a, c in session.execute(query)]
