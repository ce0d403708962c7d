"""The callbacks' rows: the IVR's request, and the transactions the state machine (``machine``) runs.

Each transaction is given a session of its own (the machine runs it in a worker thread) and answers
with a ``View``: the row as the machine sees it, outside any session.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alo185.callbacks.models import OPEN_STATES, PLACED_STATES, PLACEHOLDER_PREFIX, Callback, CallbackState

MAX_PLACEMENTS = 20  # placeholders for one callback before it is given up ("unplaceable")
DIAL_OUTCOMES = {"NOANSWER": "no_answer", "BUSY": "busy", "CHANUNAVAIL": "unavailable", "CONGESTION": "unavailable"}


def request(
    session: Session, *, call_uniqueid: str, caller: str, queue: str, priority: int, lang: str, now: datetime
) -> Callback:
    """The IVR's request (once per call: asking again returns the same row)."""
    found = session.scalars(select(Callback).where(Callback.call_uniqueid == call_uniqueid)).one_or_none()
    if found is not None:
        return found
    row = Callback(
        call_uniqueid=call_uniqueid,
        caller=caller,
        queue=queue,
        priority=priority,
        lang=lang,
        state=CallbackState.REQUESTED,
        requested_at=now,
        attempts=0,
        placements=0,
    )
    session.add(row)
    session.flush()
    return row


def placeholder_id(callback_id: int, placement: int) -> str:
    return f"{PLACEHOLDER_PREFIX}{callback_id}-{placement}"


@dataclass(frozen=True)
class View:
    """A row as the machine sees it, outside any session."""

    id: int
    call_uniqueid: str
    caller: str
    queue: str
    priority: int
    lang: str
    state: CallbackState
    attempts: int
    placements: int
    placeholder: str
    placed_at: datetime | None
    operator: str
    outcome: str

    @classmethod
    def of(cls, row: Callback) -> View:
        return cls(
            id=row.id,
            call_uniqueid=row.call_uniqueid,
            caller=row.caller,
            queue=row.queue,
            priority=row.priority,
            lang=row.lang,
            state=CallbackState(row.state),
            attempts=row.attempts,
            placements=row.placements,
            placeholder=row.placeholder or "",
            placed_at=row.placed_at,
            operator=row.operator or "",
            outcome=row.outcome or "",
        )


def _finish(row: Callback, state: CallbackState, outcome: str, now: datetime) -> None:
    row.state, row.outcome, row.ended_at, row.next_attempt_at = state, outcome, now, None


def due(session: Session, now: datetime) -> list[int]:
    query = select(Callback.id).where(
        Callback.state == CallbackState.REQUESTED,
        or_(Callback.next_attempt_at.is_(None), Callback.next_attempt_at <= now),
    )
    return list(session.scalars(query.order_by(Callback.priority.desc(), Callback.requested_at)))


def claim(session: Session, callback_id: int, now: datetime) -> View | None:
    row = session.get(Callback, callback_id, with_for_update=True)
    if row is None or row.state != CallbackState.REQUESTED:
        return None
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return None
    if row.placements >= MAX_PLACEMENTS:
        _finish(row, CallbackState.FAILED, "unplaceable", now)
        return View.of(row)
    row.placements += 1
    row.placeholder = placeholder_id(row.id, row.placements)
    row.state, row.placed_at, row.next_attempt_at = CallbackState.QUEUED, now, None
    return View.of(row)


def _placed(session: Session, placeholder: str) -> Callback | None:
    query = select(Callback).where(Callback.placeholder == placeholder, Callback.state.in_(PLACED_STATES))
    return session.scalars(query.with_for_update()).one_or_none()


def placed_view(session: Session, placeholder: str) -> View | None:
    row = _placed(session, placeholder)
    return None if row is None else View.of(row)


def placed_views(session: Session) -> list[View]:
    query = select(Callback).where(Callback.state.in_(PLACED_STATES)).order_by(Callback.id)
    return [View.of(row) for row in session.scalars(query)]


def unclaim(session: Session, placeholder: str, retry_at: datetime) -> View | None:
    row = _placed(session, placeholder)
    if row is None:
        return None
    row.state, row.next_attempt_at = CallbackState.REQUESTED, retry_at
    return View.of(row)


def stage(session: Session, placeholder: str, stage: str, now: datetime) -> View | None:
    row = _placed(session, placeholder)
    if row is None:
        return None
    if stage == "operator" and row.state == CallbackState.QUEUED:
        row.state = CallbackState.OPERATOR_CONNECTED
    elif stage == "dialing" and row.state in (CallbackState.QUEUED, CallbackState.OPERATOR_CONNECTED):
        row.state, row.attempts, row.last_attempt_at = CallbackState.DIALING, row.attempts + 1, now
    elif stage == "connected":
        if row.state != CallbackState.DIALING:  # the dialing stage was missed
            row.attempts, row.last_attempt_at = row.attempts + 1, now
        _finish(row, CallbackState.CONNECTED, "connected", now)
    else:
        return None
    return View.of(row)


def operator(session: Session, placeholder: str, member: str) -> None:
    row = _placed(session, placeholder)
    if row is not None and member:
        row.operator = member[:128]


def settle(session: Session, placeholder: str, stage: str, now: datetime, attempts: int, retry_s: float) -> View | None:
    row = _placed(session, placeholder)
    if row is None:
        return None
    kind, _, detail = stage.partition(":")
    if kind == "connected":
        if row.state != CallbackState.DIALING:
            row.attempts, row.last_attempt_at = row.attempts + 1, now
        _finish(row, CallbackState.CONNECTED, "connected", now)
    elif kind in ("dialing", "noanswer"):  # the citizen was dialled and did not answer
        if row.state != CallbackState.DIALING:  # the dialing stage was missed: the attempt counts now
            row.attempts, row.last_attempt_at = row.attempts + 1, now
        if row.attempts >= attempts:
            _finish(row, CallbackState.FAILED, DIAL_OUTCOMES.get(detail, "no_answer"), now)
        else:
            row.state, row.next_attempt_at = CallbackState.REQUESTED, now + timedelta(seconds=retry_s)
    elif kind == "hold":  # Queue() gave up on the placeholder
        _finish(row, CallbackState.FAILED, "expired" if detail == "TIMEOUT" else "unplaceable", now)
    else:  # never dialled ('' or "operator"): the place is taken again at once
        row.state, row.next_attempt_at = CallbackState.REQUESTED, now
    return View.of(row)


def cancel(session: Session, callback_id: int, now: datetime) -> View | None:
    row = session.get(Callback, callback_id, with_for_update=True)
    if row is None or row.state not in OPEN_STATES:
        return None
    placed = row.state in PLACED_STATES
    _finish(row, CallbackState.CANCELLED, "cancelled", now)
    view = View.of(row)
    return view if placed else dataclasses.replace(view, placeholder="")  # nothing in Asterisk to hang up
