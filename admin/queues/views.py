"""Live queue state for the wallboard and the consoles: JSON, and a server-sent event stream.

The queue manager keeps the snapshot in Redis (``alo185:live``) and publishes every change on
the channel of the same name; this blueprint only relays it. The persisted 15-minute figures
and each queue's answer-time target are read and set here too (``alo185.queues.intervals``).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy.orm import Session

from admin import auth, context, sse
from alo185.core import bus
from alo185.org.access import Perm
from alo185.queues import intervals
from alo185.queues.models import QueueInterval, QueueTarget
from alo185.queues.names import pbx_queues

bp = Blueprint("queues", __name__)
auth.protect(bp, Perm.QUEUES_LIVE)
TZ = ZoneInfo("Europe/Istanbul")
MAX_DAYS = 31


@bp.get("/api/queues/live")
def live() -> Response:
    raw = context.redis_client().get(bus.LIVE_QUEUES)
    return jsonify(json.loads(raw) if raw else {})


@bp.get("/api/queues/stream")
def stream() -> Response:
    """``text/event-stream``: the current snapshot, then each new one (``?max=N`` ends after N, for tests)."""
    client = context.redis_client()
    limit = request.args.get("max", type=int)
    pubsub = sse.subscribe(client, bus.LIVE_QUEUES)  # before the snapshot is read: no change in between is lost

    def opening() -> list[str]:
        current = cast(str | None, client.get(bus.LIVE_QUEUES))  # the client decodes (``bus.connect``)
        return [sse.message("live", current)] if current else []

    first = opening()  # counted in ``max`` like every later snapshot
    return sse.relay(pubsub, "live", lambda: first, None if limit is None else max(limit - len(first), 0))


def _known(session: Session, queue: str) -> bool:
    """A queue the PBX has, or one with figures or a target from before it was renamed or removed."""
    return queue in pbx_queues() or queue in intervals.queues(session)


def _days() -> tuple[date, date]:
    """``from``/``to``: local dates, both included (``to`` defaults to ``from``, ``from`` to today)."""
    try:
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else datetime.now(TZ).date()
        last = date.fromisoformat(request.args["to"]) if request.args.get("to") else first
    except ValueError:
        abort(400, "'from' and 'to' are dates: YYYY-MM-DD")
    if first > last:
        abort(400, "'from' is after 'to'")
    if (last - first).days >= MAX_DAYS:
        abort(400, f"at most {MAX_DAYS} days at a time")
    return first, last


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, TZ)


def _interval_json(start: datetime, row: QueueInterval | None) -> dict[str, Any]:
    """One 15-minute slot in local time; a slot without calls has zeros and no ratios."""
    figures = intervals.PeriodFigures.of([row] if row is not None else [])
    return {
        "start": start.astimezone(TZ).isoformat(),
        "end": (start + intervals.INTERVAL).astimezone(TZ).isoformat(),
        "target_s": row.target_s if row is not None and row.offered else None,
        **figures.as_dict(),
    }


def _target_json(target: QueueTarget) -> dict[str, Any]:
    updated = target.updated_at.astimezone(TZ).isoformat() if target.updated_at else None
    return {
        "queue": target.queue,
        "target_s": target.target_s,
        "short_abandon_s": target.short_abandon_s,
        "updated_by": target.updated_by,
        "updated_at": updated,
    }


@bp.get("/api/queues/intervals")
def queue_intervals() -> Response:
    """Every 15-minute slot of the local days asked for, each day's totals and the period's."""
    queue = request.args.get("queue", "").strip()
    if not queue:
        abort(400, "'queue' is required")
    first, last = _days()
    start, end = _local_midnight(first), _local_midnight(last + timedelta(days=1))
    with context.sessions()() as session:
        if not _known(session, queue):
            abort(400, f"unknown queue {queue!r}")
        found = {row.interval_start: row for row in intervals.rows(session, queue, start, end)}
        target = intervals.target_for(session, queue)
    slots = [start + i * intervals.INTERVAL for i in range(int((end - start) / intervals.INTERVAL))]
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return jsonify(
        {
            "queue": queue,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "timezone": str(TZ),
            "target": _target_json(target),
            "intervals": [_interval_json(slot, found.get(slot)) for slot in slots],
            "days": [{"date": day.isoformat(), **_day_totals(found, day)} for day in days],
            "total": intervals.PeriodFigures.of(found.values()).as_dict(),
        }
    )


def _day_totals(found: dict[datetime, QueueInterval], day: date) -> dict[str, Any]:
    start, end = _local_midnight(day), _local_midnight(day + timedelta(days=1))
    return intervals.PeriodFigures.of(row for at, row in found.items() if start <= at < end).as_dict()


@bp.post("/api/queues/<queue>/target")
def set_queue_target(queue: str) -> Response:
    """JSON ``{"target_s": 5, "short_abandon_s": 5}`` (the threshold may be left out); 1 to 600 s."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "target_s" not in body:
        abort(400, 'send JSON like {"target_s": 5, "short_abandon_s": 5}')
    with context.sessions().begin() as session:
        if not _known(session, queue):
            abort(404, f"unknown queue {queue!r}")
        try:
            target = intervals.set_target(
                session, queue, body["target_s"], body.get("short_abandon_s"), actor=context.user()
            )
        except intervals.TargetError as refused:
            abort(400, str(refused))
        answer = _target_json(target)
    return jsonify(answer)
