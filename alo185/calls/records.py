"""A call's record, folded from its call events (``docs/events.md``).

Idempotent: each event type sets its own fields of the record keyed by uniqueid, so a
redelivered or reordered event gives the same record; time on hold, which adds up, keeps how far
it was counted (``_on_hold``). What follows from the fields (duration, talk time, the outcome) is
derived again after every event. The recorder (``workers.recorder``) folds the events in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alo185.calls.models import CallRecord
from alo185.core.bus import event_time

LOST = "pbx_lost"  # end_cause of a call that died with Asterisk (found at the resync after it came back)
LOST_MARGIN = timedelta(seconds=2)
# The IVR's reasons for a queue that was closed (``ivr.hours``): the call's outcome is ``after-hours``.
CLOSED_REASONS = ("after_hours", "holiday")
# Events that only add to a call already recorded: alone they make no record (an operator's test call).
NO_NEW_RECORD = ("call.end", "call.hold", "call.recording")


def _set(record: CallRecord, **fields: Any) -> None:
    for name, value in fields.items():
        if value not in (None, ""):
            setattr(record, name, value)


def _on_start(r: CallRecord, e: dict[str, Any]) -> None:
    _set(r, linkedid=e.get("linkedid"), caller=e.get("caller"), started_at=event_time(e.get("ts")))


def _on_ivr(r: CallRecord, e: dict[str, Any]) -> None:
    path = e.get("path") or []
    _set(
        r,
        digit=e.get("digit"),
        queue=e.get("queue"),
        lang=e.get("lang"),
        ivr_path=">".join(path)[:500] if isinstance(path, list) else str(path)[:500],
        kvkk_version=e.get("kvkk_version"),
        category=e.get("category"),
        caller_kind=e.get("caller_kind"),
        ivr_action=e.get("action"),
        ivr_reason=e.get("reason"),
    )
    if not r.caller:
        _set(r, caller=e.get("caller"))


def _on_ivr_done(r: CallRecord, e: dict[str, Any]) -> None:
    _set(r, agi_status=e.get("agi_status"))


def _on_voicemail(r: CallRecord, e: dict[str, Any]) -> None:
    r.ivr_action = "voicemail"
    _set(r, ivr_reason=e.get("reason"))


def _on_callback(r: CallRecord, e: dict[str, Any]) -> None:
    r.ivr_action = "callback"  # the caller chose to be called back (the callback's own course: table callbacks)
    if not r.queue:
        _set(r, queue=e.get("queue"))


def _on_join(r: CallRecord, e: dict[str, Any]) -> None:
    _set(r, queue=e.get("queue"))  # the queue actually joined wins over the IVR's choice


def _on_connect(r: CallRecord, e: dict[str, Any]) -> None:
    r.answered = True
    _set(
        r,
        queue=e.get("queue"),
        wait_s=e.get("wait_s"),
        answered_by=e.get("member"),
        answered_at=event_time(e.get("ts")),
    )


def _on_complete(r: CallRecord, e: dict[str, Any]) -> None:
    r.answered = True
    if e.get("talk_s") is not None:
        r.talk_s, r.talk_source = e["talk_s"], "queue"
    _close_hold(r, event_time(e.get("ts")))  # the operator hung up with the caller on hold


def _on_abandon(r: CallRecord, e: dict[str, Any]) -> None:
    r.abandoned = True
    _set(r, queue=e.get("queue"), wait_s=e.get("wait_s"))


def _on_end(r: CallRecord, e: dict[str, Any]) -> None:
    _set(r, ended_at=event_time(e.get("ts")), end_cause=e.get("cause"))


def _on_ivr_step(r: CallRecord, e: dict[str, Any]) -> None:
    """Only the step that says the queue was closed: a caller who hangs up during that prompt has no IVR outcome."""
    if not r.ivr_reason and e.get("detail") in CLOSED_REASONS:
        r.ivr_reason = e["detail"]


def _on_hold(r: CallRecord, e: dict[str, Any]) -> None:
    """Hold opens a hold unless one is open or it was counted already; Unhold adds the open one to ``hold_s``.

    The call counts as held from a Hold to the next Unhold of any of its legs. Replaying events changes
    nothing: a Hold at or before ``hold_counted_to`` was counted, an Unhold without an open hold is spent.
    """
    at = event_time(e.get("ts"))
    if at is None:
        return
    if not e.get("held"):
        _close_hold(r, at)
    elif r.hold_started_at is None and (r.hold_counted_to is None or at > r.hold_counted_to):
        r.hold_started_at = at


def _close_hold(r: CallRecord, at: datetime | None) -> None:
    if r.hold_started_at is None or at is None or at < r.hold_started_at:
        return
    r.hold_s = round((r.hold_s or 0.0) + (at - r.hold_started_at).total_seconds(), 3)
    r.hold_started_at, r.hold_counted_to = None, at


def _on_recording(r: CallRecord, e: dict[str, Any]) -> None:
    _set(r, recording_ref=e.get("file"))


def _fill(record: CallRecord, **fields: Any) -> None:
    """Only the fields the record lacks: what the call's own events set (to the microsecond) stays."""
    for name, value in fields.items():
        if getattr(record, name) in (None, "") and value not in (None, ""):
            setattr(record, name, value)


def _on_rebuilt(r: CallRecord, e: dict[str, Any]) -> None:
    """A call's facts from Asterisk's durable record (``alo185.calls.rebuild``), after events were missed.

    It fills in what the events would have set and corrects what their absence made wrong: an end taken
    for a death with the PBX, an answer not seen, talk time guessed from the hang-up. A record that has
    the facts is left as it is, so rebuilding twice, or a gap that missed nothing, changes nothing.
    """
    _fill(r, linkedid=e.get("linkedid"), caller=e.get("caller"), started_at=event_time(e.get("ts")))
    _fill(r, agi_status=e.get("agi_status"), recording_ref=e.get("recording"))
    if e.get("voicemail_reason") is not None:
        _on_voicemail(r, {"reason": e["voicemail_reason"]})
    _set(r, queue=e.get("queue"))  # the queue Asterisk says the caller was in, as ``queue.join`` does
    if e.get("member") or e.get("answered"):
        r.answered = True
        _fill(r, answered_by=e.get("member"), answered_at=event_time(e.get("answered_ts")), wait_s=e.get("wait_s"))
    if e.get("talk_s") is not None and r.talk_source != "queue":
        r.talk_s, r.talk_source = e["talk_s"], "queue"
    if e.get("abandoned"):
        r.abandoned = True
        _fill(r, wait_s=e.get("wait_s"))
    if e.get("ended_ts") is not None and (r.ended_at is None or r.end_cause == LOST):
        r.ended_at, r.end_cause = event_time(e["ended_ts"]), e.get("cause") or r.end_cause


APPLY: dict[str, Callable[[CallRecord, dict[str, Any]], None]] = {
    "call.start": _on_start,
    "ivr": _on_ivr,
    "ivr.done": _on_ivr_done,
    "call.voicemail": _on_voicemail,
    "callback": _on_callback,
    "queue.join": _on_join,
    "queue.connect": _on_connect,
    "queue.complete": _on_complete,
    "queue.abandon": _on_abandon,
    "call.end": _on_end,
    "ivr.step": _on_ivr_step,
    "call.hold": _on_hold,
    "call.recording": _on_recording,
    "call.rebuilt": _on_rebuilt,
}


def outcome(r: CallRecord) -> str | None:
    """One word for how the call went (``docs/events.md``).

    ``after-hours``: the caller reached a closed queue (after hours or a holiday), whether or not they
    left a message (their voicemail, if any, is linked by the uniqueid; ``ivr_action`` says which).
    """
    if r.answered:
        return "answered"
    if r.abandoned:
        return "abandoned"
    if r.ivr_action == "callback":
        return "callback"
    if r.end_cause == LOST:
        return "lost"
    if r.ivr_reason in CLOSED_REASONS:
        return "after-hours"
    if r.ivr_action == "voicemail":
        return "voicemail"
    if r.ivr_action == "hangup":
        return "ivr-hangup"
    if r.ended_at is not None:
        return "ended"  # hung up before reaching a queue
    return None


def record_for(session: Session, event: dict[str, Any]) -> CallRecord | None:
    """The record ``event`` folds into (created on first sight), or None when it makes and changes none."""
    if APPLY.get(event.get("type", "")) is None or not event.get("uniqueid"):
        return None
    if event["type"] == "ivr.step" and event.get("node") != "closed":
        return None  # of the path's steps only the closed queue matters here (the path comes with ``ivr``)
    uniqueid = event["uniqueid"]
    record = session.scalars(select(CallRecord).where(CallRecord.uniqueid == uniqueid)).one_or_none()
    if record is None:
        # A rebuilt call without its start never entered the hotline (a callback's placeholder in a queue).
        if event["type"] in NO_NEW_RECORD or (event["type"] == "call.rebuilt" and event.get("ts") is None):
            return None  # a channel that never entered the hotline
        record = CallRecord(uniqueid=uniqueid, answered=False, abandoned=False)
        session.add(record)
    return record


def fold(record: CallRecord, event: dict[str, Any]) -> None:
    """The event's fields into the record, then what follows from them."""
    APPLY[event["type"]](record, event)
    derive(record)


def derive(record: CallRecord) -> None:
    """What follows from the record's own fields: duration, talk time, outcome."""
    if record.hold_started_at is not None and record.ended_at is not None:
        _close_hold(record, max(record.ended_at, record.hold_started_at))  # hung up while on hold
    if record.started_at and record.ended_at:
        record.duration_s = round((record.ended_at - record.started_at).total_seconds(), 3)
    if record.answered_at and record.ended_at and record.talk_source != "queue":
        # Asterisk's AgentComplete is authoritative; without it the talk ran until the caller's hang-up.
        record.talk_s, record.talk_source = round((record.ended_at - record.answered_at).total_seconds(), 3), "derived"
    record.outcome = outcome(record)


def lost_with_the_pbx(session: Session, at: datetime, active: set[str]) -> list[CallRecord]:
    """Asterisk listed its channels (``active``) at ``at``, at a resync: the open calls not among them died with it.

    Only calls that started a little before the list was taken, so one starting just then is not closed.
    They are not changed here: ``close_lost`` ends each.
    """
    open_records = session.scalars(
        select(CallRecord).where(
            CallRecord.ended_at.is_(None),
            or_(CallRecord.started_at <= at - LOST_MARGIN, CallRecord.started_at.is_(None)),
        )
    )
    return [record for record in open_records if record.uniqueid not in active]


def close_lost(record: CallRecord, at: datetime, pbx_down_at: datetime | None = None) -> None:
    """End a call found gone at the resync at ``at``: as lost with the PBX, at ``lost_end``."""
    record.ended_at, record.end_cause = lost_end(record, at, pbx_down_at), LOST
    derive(record)


def lost_end(record: CallRecord, at: datetime, pbx_down_at: datetime | None) -> datetime:
    """When a call that died with Asterisk ended: never at the resync ``at``, which came after the downtime.

    When AMI was lost (``pbx_down_at``: Asterisk went then) if that is after all the record knows of
    the call; else the last moment the record knows of (a call whose end was missed another way).
    """
    known = [t for t in (record.started_at, record.answered_at, record.hold_started_at, record.hold_counted_to) if t]
    last = max(known, default=None)
    if pbx_down_at is not None and (last is None or pbx_down_at >= last):
        return min(pbx_down_at, at)
    return last or at
