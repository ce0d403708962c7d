"""Queue service level: the persisted 15-minute figures, and each queue's answer-time target.

An interval row keeps counts and sums, not ratios, so any period's SL, ASA, AHT and answer rate
is rebuilt exactly by adding rows (``alo185.queues.intervals.figures_for``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, UTCDateTime, utcnow


class QueueInterval(Base):
    """One queue's calls that joined it in one 15-minute interval (UTC start, aligned to 15 min)."""

    __tablename__ = "queue_intervals"
    __table_args__ = (UniqueConstraint("queue", "interval_start", name="uq_queue_intervals_queue_interval_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    interval_start: Mapped[datetime] = mapped_column(UTCDateTime())
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_within_target: Mapped[int] = mapped_column(Integer, default=0)
    answered_within_20s: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    wait_answered_sum_s: Mapped[float] = mapped_column(Float, default=0.0)
    talk_sum_s: Mapped[float] = mapped_column(Float, default=0.0)
    talk_count: Mapped[int] = mapped_column(Integer, default=0)  # answered calls with a talk time: AHT's divisor
    # The target and short-abandon threshold this row was counted with: a later change of the
    # queue's target does not silently rewrite what was measured against the old one.
    target_s: Mapped[int] = mapped_column(Integer)
    short_abandon_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QueueTarget(Base):
    """A queue's own answer-time target and short-abandon threshold; without a row the defaults apply."""

    __tablename__ = "queue_targets"

    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_s: Mapped[int] = mapped_column(Integer)
    short_abandon_s: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
