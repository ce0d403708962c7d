"""Persisted 15-minute queue figures: recomputed from the call records, summed for any period.

An interval is always recomputed whole from the call records that belong to it (``refresh``),
never incremented, so a replayed stream, a restart or a redelivered event writes the same
numbers. Which calls count and how is ``service_level.figures_from_records``'s alone; a row keeps
the counts and sums behind its ratios, so a day or a month adds up exactly (``figures_for``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alo185.audit import trail
from alo185.calls.models import CallRecord
from alo185.core.orm import utcnow
from alo185.queues.models import QueueInterval, QueueTarget
from alo185.queues.service_level import INTERVAL_S, QueueFigures, figures_from_records

INTERVAL = timedelta(seconds=INTERVAL_S)
DEFAULT_TARGET_S = 5  # the promise: answered within 5 s
DEFAULT_SHORT_ABANDON_S = 5  # as service_level's default: callers gone sooner never had a chance
SECOND_TARGET_S = 20  # shown next to the queue's own target
TARGET_LIMITS = (1, 600)
# The longest a caller is taken to spend in the IVR before joining a queue; bounds the records
# an interval's refresh reads (by the indexed ``started_at``).
IVR_SPAN = timedelta(hours=1)

Key = tuple[str, datetime]  # (queue, interval start)


class TargetError(ValueError):
    """A target or threshold outside ``TARGET_LIMITS``."""


def interval_start(ts: datetime | float) -> datetime:
    """The UTC start of the 15-minute interval holding ``ts`` (an aware datetime or epoch seconds)."""
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("naive datetime: pass aware times only")
        ts = ts.timestamp()
    return datetime.fromtimestamp(ts - ts % INTERVAL_S, UTC)


class Timed(Protocol):
    """What ``joined_at`` reads of a call: a ``CallRecord``, or a row of its columns."""

    @property
    def answered(self) -> bool: ...
    @property
    def abandoned(self) -> bool: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def wait_s(self) -> float | None: ...


def joined_at(record: Timed) -> datetime | None:
    """When the caller entered the queue: queue_log files a call under that time, and so do we.

    The record keeps no join time; it is the answer (for an abandon, the hang-up) minus the wait,
    used when it lies within ``IVR_SPAN`` after the call's start, else the start itself.
    """
    end = record.answered_at if record.answered else record.ended_at if record.abandoned else None
    if end is None or record.wait_s is None:
        return record.started_at
    joined = end - timedelta(seconds=float(record.wait_s))
    start = record.started_at
    return joined if start is None or start <= joined < start + IVR_SPAN else start


def placement(record: CallRecord) -> Key | None:
    """The interval a record is counted in; None while ``figures_from_records`` would not count it."""
    joined = joined_at(record)
    if joined is None or not figures_from_records([record]):
        return None
    return (str(record.queue), interval_start(joined))


def snapshot(record: CallRecord) -> tuple[Any, ...] | None:
    """All of a record that its interval's figures depend on; equal snapshots need no refresh."""
    key = placement(record)
    return None if key is None else (key, record.answered, record.abandoned, record.wait_s, record.talk_s)


# --- targets ---------------------------------------------------------------------------------


def target_for(session: Session, queue: str) -> QueueTarget:
    """The queue's row, or an unsaved one with the defaults."""
    return session.get(QueueTarget, queue) or QueueTarget(
        queue=queue, target_s=DEFAULT_TARGET_S, short_abandon_s=DEFAULT_SHORT_ABANDON_S, updated_by="system"
    )


def check_seconds(name: str, value: Any) -> int:
    """A whole number of seconds within ``TARGET_LIMITS`` (booleans and fractions refused)."""
    low, high = TARGET_LIMITS
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TargetError(f"{name} must be a whole number of seconds from {low} to {high}, not {value!r}")
    return value


def set_target(
    session: Session,
    queue: str,
    target_s: int,
    short_abandon_s: int | None = None,
    *,
    actor: str,
    now: datetime | None = None,
) -> QueueTarget:
    """Change a queue's target (audited). It applies to intervals refreshed from now on."""
    target_s = check_seconds("target_s", target_s)
    if short_abandon_s is not None:
        short_abandon_s = check_seconds("short_abandon_s", short_abandon_s)
    row = target_for(session, queue)
    before = f"{row.target_s}/{row.short_abandon_s}"
    row.target_s, row.short_abandon_s = target_s, short_abandon_s or row.short_abandon_s
    row.updated_by, row.updated_at = actor, now or utcnow()
    session.add(row)
    detail = f"{before} -> {row.target_s}/{row.short_abandon_s} s (target/short abandon)"
    trail.record(session, actor=actor, action="queue.target", entity="queue", entity_id=queue, detail=detail, now=now)
    session.flush()
    return row


# --- refreshing ------------------------------------------------------------------------------


def refresh(session: Session, queue: str, start: datetime) -> QueueInterval:
    """Recompute one interval from the call records, in the caller's transaction.

    The row is locked first (PostgreSQL), so a concurrent refresh of the same interval waits and
    then reads the records this one wrote, instead of overwriting them with an older view.
    """
    start = interval_start(start)
    target = target_for(session, queue)
    row = _locked_row(session, queue, start, target)
    records = [r for r in _candidates(session, queue, start) if placement(r) == (queue, start)]
    fig = figures_from_records(records, short_abandon_s=target.short_abandon_s).get(queue, QueueFigures())
    _store(row, _values(fig, target))
    return row


def refresh_for_record(session: Session, record: CallRecord) -> QueueInterval | None:
    """Refresh the interval the record is counted in (None if it is not counted)."""
    key = placement(record)
    return None if key is None else refresh(session, *key)


def refresh_if_changed(session: Session, before: tuple[Any, ...] | None, record: CallRecord) -> list[QueueInterval]:
    """After an event: refresh the record's old and new interval if anything counted changed.

    A call can move (another queue joined, its join time known only at the answer or hang-up);
    the interval it left is refreshed too, so it does not keep counting it.
    """
    after = snapshot(record)
    if after == before:
        return []
    keys = sorted({s[0] for s in (before, after) if s is not None})  # one lock order for all recorders
    return [refresh(session, queue, start) for queue, start in keys]


def rebuild(session: Session, queue: str, start: datetime, end: datetime) -> list[QueueInterval]:
    """Refresh every interval of ``[start, end)`` that has calls or a row: a backfill of records from
    before intervals were kept, or a period re-measured against the queue's current target."""
    first, stop = interval_start(start), end
    candidates = session.scalars(select(CallRecord).where(CallRecord.queue == queue, _started_near(first, stop)))
    keys = {k for k in map(placement, candidates) if k is not None and k[0] == queue and first <= k[1] < stop}
    keys |= {(queue, row.interval_start) for row in rows(session, queue, first, stop)}
    return [refresh(session, q, s) for q, s in sorted(keys)]


def _started_near(first: datetime, stop: datetime) -> Any:
    """Records that can have joined within ``[first, stop)``: a caller joins after the call starts."""
    return or_(CallRecord.started_at.between(first - IVR_SPAN, stop), CallRecord.started_at.is_(None))


def _candidates(session: Session, queue: str, start: datetime) -> list[CallRecord]:
    query = select(CallRecord).where(CallRecord.queue == queue, _started_near(start, start + INTERVAL))
    return list(session.scalars(query.order_by(CallRecord.id)))  # a fixed order: the same float sums


def _locked_row(session: Session, queue: str, start: datetime, target: QueueTarget) -> QueueInterval:
    """The interval's row, inserted empty if missing (a no-op on conflict), then locked."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    empty = _values(QueueFigures(), target) | {"queue": queue, "interval_start": start, "updated_at": utcnow()}
    session.execute(insert(QueueInterval).values(**empty).on_conflict_do_nothing())
    query = select(QueueInterval).where(QueueInterval.queue == queue, QueueInterval.interval_start == start)
    return session.scalars(query.with_for_update().execution_options(populate_existing=True)).one()


def _values(fig: QueueFigures, target: QueueTarget) -> dict[str, Any]:
    """A row's columns from the figures: counts and sums, never ratios."""
    return {
        "offered": fig.offered,
        "answered": fig.answered,
        "answered_within_target": _answered_within(fig, target.target_s),
        "answered_within_20s": _answered_within(fig, SECOND_TARGET_S),
        "abandoned": fig.abandoned,
        "short_abandoned": fig.short_abandoned,
        "wait_answered_sum_s": round(sum(fig.waits), 3),
        "talk_sum_s": round(sum(fig.talks), 3),
        "talk_count": len(fig.talks),
        "target_s": target.target_s,
        "short_abandon_s": target.short_abandon_s,
    }


def _answered_within(fig: QueueFigures, target_s: float) -> int:
    """The numerator of ``QueueFigures.service_level``, kept as a count so intervals add up."""
    base = fig.offered - fig.short_abandoned
    share = fig.service_level(target_s)
    return 0 if share is None else round(share * base)


def _store(row: QueueInterval, values: dict[str, Any]) -> None:
    """Write only what changed: a refresh that finds the same numbers leaves the row (and updated_at) alone."""
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        row.updated_at = utcnow()


# --- reading ---------------------------------------------------------------------------------


def rows(session: Session, queue: str, start: datetime, end: datetime) -> list[QueueInterval]:
    """The queue's persisted intervals starting within ``[start, end)``, in time order."""
    query = select(QueueInterval).where(
        QueueInterval.queue == queue, QueueInterval.interval_start >= start, QueueInterval.interval_start < end
    )
    return list(session.scalars(query.order_by(QueueInterval.interval_start)))


def queues(session: Session) -> set[str]:
    """Every queue that has persisted intervals or a target."""
    found = set(session.scalars(select(QueueInterval.queue).distinct()))
    return found | set(session.scalars(select(QueueTarget.queue)))


SUMMED = (
    "offered",
    "answered",
    "answered_within_target",
    "answered_within_20s",
    "abandoned",
    "short_abandoned",
    "wait_answered_sum_s",
    "talk_sum_s",
    "talk_count",
)


@dataclass
class PeriodFigures:
    """Intervals added up; the ratios are ``QueueFigures``'s, rebuilt from counts and sums."""

    offered: int = 0
    answered: int = 0
    answered_within_target: int = 0
    answered_within_20s: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    wait_answered_sum_s: float = 0.0
    talk_sum_s: float = 0.0
    talk_count: int = 0
    targets_s: set[int] = field(default_factory=set)  # more than one if the target changed within the period
    short_abandons_s: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, intervals: Iterable[QueueInterval]) -> PeriodFigures:
        total = cls()
        for row in intervals:
            total.add(row)
        return total

    def add(self, row: QueueInterval) -> None:
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(row, name))
        if row.offered:
            self.targets_s.add(row.target_s)
            self.short_abandons_s.add(row.short_abandon_s)

    @property
    def sl_target(self) -> float | None:
        """Answered within each interval's target / (offered − short abandons)."""
        return _ratio(self.answered_within_target, self.offered - self.short_abandoned)

    @property
    def sl_20s(self) -> float | None:
        return _ratio(self.answered_within_20s, self.offered - self.short_abandoned)

    @property
    def asa_s(self) -> float | None:
        return _ratio(self.wait_answered_sum_s, self.answered)

    @property
    def aht_s(self) -> float | None:
        return _ratio(self.talk_sum_s, self.talk_count)

    @property
    def answer_rate(self) -> float | None:
        return _ratio(self.answered, self.offered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "answered_within_target": self.answered_within_target,
            "answered_within_20s": self.answered_within_20s,
            "targets_s": sorted(self.targets_s),
            "short_abandons_s": sorted(self.short_abandons_s),
            "sl_target": _round(self.sl_target),
            "sl_20s": _round(self.sl_20s),
            "asa_s": _round(self.asa_s),
            "aht_s": _round(self.aht_s),
            "answer_rate": _round(self.answer_rate),
        }


def figures_for(session: Session, queue: str, start: datetime, end: datetime) -> PeriodFigures:
    """The queue's figures over the intervals starting within ``[start, end)``."""
    return PeriodFigures.of(rows(session, queue, start, end))


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
