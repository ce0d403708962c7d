"""``alo185 recorder``: call events from the Redis stream -> call records in the database.

Idempotent: each event type sets its own fields of the record keyed by uniqueid, so a
redelivered or reordered event gives the same record; time on hold, which adds up, keeps how far
it was counted (``_on_hold``). Events are acked only after commit.
A record's 15-minute queue interval is recomputed from the records in the same transaction
(``queue_manager.intervals``), so the persisted figures are idempotent too.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from alo185 import bus, db
from alo185.models import CallRecord, SurveyAnswer, SurveyOptOut
from alo185.models.callbacks import PLACEHOLDER_PREFIX
from alo185.settings import Settings
from ivr import survey
from queue_manager import intervals

log = logging.getLogger(__name__)
GROUP = "recorder"
LOST = "pbx_lost"  # end_cause of a call that died with Asterisk (found at the resync after it came back)
LOST_MARGIN = timedelta(seconds=2)
# The IVR's reasons for a queue that was closed (``ivr.hours``): the call's outcome is ``after-hours``.
CLOSED_REASONS = ("after_hours", "holiday")
# Events that only add to a call already recorded: alone they make no record (an operator's test call).
NO_NEW_RECORD = ("call.end", "call.hold", "call.recording")


def _when(ts: Any) -> datetime | None:
    return datetime.fromtimestamp(float(ts), UTC) if ts not in (None, "") else None


def _set(record: CallRecord, **fields: Any) -> None:
    for name, value in fields.items():
        if value not in (None, ""):
            setattr(record, name, value)


def _on_start(r: CallRecord, e: dict[str, Any]) -> None:
    _set(r, linkedid=e.get("linkedid"), caller=e.get("caller"), started_at=_when(e.get("ts")))


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
    _set(r, queue=e.get("queue"), wait_s=e.get("wait_s"), answered_by=e.get("member"), answered_at=_when(e.get("ts")))


def _on_complete(r: CallRecord, e: dict[str, Any]) -> None:
    r.answered = True
    if e.get("talk_s") is not None:
        r.talk_s, r.talk_source = e["talk_s"], "queue"
    _close_hold(r, _when(e.get("ts")))  # the operator hung up with the caller on hold


def _on_abandon(r: CallRecord, e: dict[str, Any]) -> None:
    r.abandoned = True
    _set(r, queue=e.get("queue"), wait_s=e.get("wait_s"))


def _on_end(r: CallRecord, e: dict[str, Any]) -> None:
    _set(r, ended_at=_when(e.get("ts")), end_cause=e.get("cause"))


def _on_ivr_step(r: CallRecord, e: dict[str, Any]) -> None:
    """Only the step that says the queue was closed: a caller who hangs up during that prompt has no IVR outcome."""
    if not r.ivr_reason and e.get("detail") in CLOSED_REASONS:
        r.ivr_reason = e["detail"]


def _on_hold(r: CallRecord, e: dict[str, Any]) -> None:
    """Hold opens a hold unless one is open or it was counted already; Unhold adds the open one to ``hold_s``.

    The call counts as held from a Hold to the next Unhold of any of its legs. Replaying events changes
    nothing: a Hold at or before ``hold_counted_to`` was counted, an Unhold without an open hold is spent.
    """
    at = _when(e.get("ts"))
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


def apply_survey(session: Session, event: dict[str, Any]) -> SurveyAnswer:
    """A post-call survey: offered first, then answered (or opted out) — both fold into one row."""
    uniqueid = event["uniqueid"]
    row = session.scalars(select(SurveyAnswer).where(SurveyAnswer.uniqueid == uniqueid)).one_or_none()
    if row is None:
        row = SurveyAnswer(uniqueid=uniqueid, channel="phone", has_comment=False, offered_at=_when(event.get("ts")))
        session.add(row)
    for name in ("caller", "queue", "operator", "lang"):
        if event.get(name):
            setattr(row, name, event[name])
    if event.get("answer") in survey.LABELS:
        row.answer = int(event["answer"])
    row.has_comment = row.has_comment or bool(event.get("has_comment"))
    if event.get("opt_out") and row.caller:
        _opt_out(session, row.caller)
    return row


def _opt_out(session: Session, phone: str) -> None:
    if session.scalars(select(SurveyOptOut).where(SurveyOptOut.phone == phone)).first() is None:
        session.add(SurveyOptOut(phone=phone))


def apply_event(session: Session, event: dict[str, Any]) -> CallRecord | SurveyAnswer | None:
    """Fold one event into its call record (created on first sight). Unknown types are ignored."""
    if event.get("type") == "survey" and event.get("uniqueid"):
        return apply_survey(session, event)
    if event.get("type") == "pbx.channels":
        close_lost(session, event)
        return None
    handler = APPLY.get(event.get("type", ""))
    uniqueid = event.get("uniqueid")
    if handler is None or not uniqueid or str(uniqueid).startswith(PLACEHOLDER_PREFIX):
        return None  # a callback's placeholder is no citizen's call (the callback is its record)
    if event["type"] == "ivr.step" and event.get("node") != "closed":
        return None  # of the path's steps only the closed queue matters here (the path comes with ``ivr``)
    record = session.scalars(select(CallRecord).where(CallRecord.uniqueid == uniqueid)).one_or_none()
    if record is None:
        if event["type"] in NO_NEW_RECORD:
            return None  # a channel that never entered the hotline
        record = CallRecord(uniqueid=uniqueid, answered=False, abandoned=False)
        session.add(record)
    counted_before = intervals.snapshot(record)
    handler(record, event)
    _derive(session, record, counted_before)
    return record


def _derive(session: Session, record: CallRecord, counted_before: Any) -> None:
    """What follows from the record's own fields: duration, talk time, outcome, its queue interval."""
    if record.hold_started_at is not None and record.ended_at is not None:
        _close_hold(record, max(record.ended_at, record.hold_started_at))  # hung up while on hold
    if record.started_at and record.ended_at:
        record.duration_s = round((record.ended_at - record.started_at).total_seconds(), 3)
    if record.answered_at and record.ended_at and record.talk_source != "queue":
        # Asterisk's AgentComplete is authoritative; without it the talk ran until the caller's hang-up.
        record.talk_s, record.talk_source = round((record.ended_at - record.answered_at).total_seconds(), 3), "derived"
    record.outcome = outcome(record)
    intervals.refresh_if_changed(session, counted_before, record)


def close_lost(session: Session, event: dict[str, Any]) -> list[CallRecord]:
    """Asterisk listed its channels at a resync (``pbx.channels``): open calls not among them died with it.

    Only calls that started a little before the list was taken, so one starting just then is not closed.
    """
    at = _when(event.get("ts"))
    if at is None:
        return []
    active = set(event.get("uniqueids") or [])
    started_before = at - LOST_MARGIN
    open_records = session.scalars(
        select(CallRecord).where(
            CallRecord.ended_at.is_(None),
            or_(CallRecord.started_at <= started_before, CallRecord.started_at.is_(None)),
        )
    )
    closed = []
    for record in open_records:
        if record.uniqueid in active:
            continue
        counted_before = intervals.snapshot(record)
        record.ended_at, record.end_cause = at, LOST
        _derive(session, record, counted_before)
        closed.append(record)
    if closed:
        log.warning("%d call(s) ended with Asterisk: %s", len(closed), ", ".join(r.uniqueid for r in closed))
    return closed


class Recorder:
    def __init__(self, settings: Settings, consumer: str | None = None) -> None:
        self.redis = bus.connect(settings.redis_connection_url)
        self.sessions: sessionmaker[Session] = db.session_factory(settings.database_url)
        # A stable name: after a restart this consumer takes back its own unacked events.
        self.consumer = consumer or socket.gethostname()
        self.stopping = threading.Event()
        bus.ensure_group(self.redis, GROUP)

    def run_once(self, block_ms: int = 1000) -> int:
        """Process what is pending and what arrives within ``block_ms``; returns events handled."""
        handled = 0
        batch = list(bus.read_group(self.redis, GROUP, self.consumer, block_ms=block_ms))
        if not batch:
            return 0
        with self.sessions.begin() as session:
            for msg_id, event in batch:
                try:
                    with session.begin_nested():
                        apply_event(session, event)
                except OperationalError:
                    raise  # the database is unwell: nothing is acked, all is retried
                except Exception as exc:
                    # A bad event must not block the stream: keep it aside for a person to look at.
                    log.exception("event %s cannot be recorded; moved to %s", msg_id, bus.DEAD_LETTERS)
                    bus.dead_letter(self.redis, msg_id, event, repr(exc))
                handled += 1
        self.redis.xack(bus.CALL_EVENTS, GROUP, *[msg_id for msg_id, _ in batch])
        return handled

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.run_once()
            except redis.ConnectionError as exc:
                log.warning("Redis unavailable: %s", exc)
                self.stopping.wait(1)
            except Exception:
                log.exception("recording failed; events stay pending and are retried")
                self.stopping.wait(1)


def main(settings: Settings) -> None:
    recorder = Recorder(settings)
    signal.signal(signal.SIGTERM, lambda *_: recorder.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: recorder.stopping.set())
    recorder.run()
