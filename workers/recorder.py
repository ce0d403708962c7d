"""``alo185 recorder``: call events from the Redis stream -> call records, survey answers, queue intervals.

Each event folds into its record (``alo185.calls.records``) or survey answer (``alo185.surveys.answers``);
a record's 15-minute queue interval (``alo185.queues.intervals``) is recomputed from the records in
the same transaction, so the persisted figures are idempotent too. Events are acked only after commit.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

import redis
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from alo185.callbacks.models import PLACEHOLDER_PREFIX
from alo185.calls import records
from alo185.calls.models import CallRecord
from alo185.core import bus, db, disk
from alo185.core.backoff import Backoff
from alo185.core.settings import Settings
from alo185.queues import intervals
from alo185.surveys import answers
from alo185.surveys.models import SurveyAnswer

log = logging.getLogger(__name__)
GROUP = "recorder"


def apply_event(session: Session, event: dict[str, Any]) -> CallRecord | SurveyAnswer | None:
    """Fold one event into what it tells of. Unknown types are ignored."""
    if event.get("type") == "survey" and event.get("uniqueid"):
        return answers.fold(session, event)
    if event.get("type") == "pbx.channels":
        close_lost(session, event)
        return None
    if str(event.get("uniqueid", "")).startswith(PLACEHOLDER_PREFIX):
        return None  # a callback's placeholder is no citizen's call (the callback is its record)
    record = records.record_for(session, event)
    if record is None:
        return None
    counted_before = intervals.snapshot(record)
    records.fold(record, event)
    intervals.refresh_if_changed(session, counted_before, record)
    return record


def close_lost(session: Session, event: dict[str, Any]) -> list[CallRecord]:
    """The calls that died with Asterisk (``pbx.channels`` at a resync) are ended, and their intervals refreshed.

    They ended when the queue manager lost AMI (``down_at``), if it saw that, not at the resync.
    """
    at = bus.event_time(event.get("ts"))
    if at is None:
        return []
    down_at = bus.event_time(event.get("down_at"))
    lost = records.lost_with_the_pbx(session, at, set(event.get("uniqueids") or []))
    for record in lost:
        counted_before = intervals.snapshot(record)
        records.close_lost(record, at, down_at)
        intervals.refresh_if_changed(session, counted_before, record)
    if lost:
        log.warning("%d call(s) ended with Asterisk: %s", len(lost), ", ".join(r.uniqueid for r in lost))
    return lost


class Recorder:
    def __init__(self, settings: Settings, consumer: str | None = None, max_backoff_s: float = 30.0) -> None:
        self.redis = bus.connect(settings.redis_connection_url)
        self.sessions: sessionmaker[Session] = db.session_factory(settings.database_url)
        # A stable name: after a restart this consumer takes back its own unacked events.
        self.consumer = consumer or socket.gethostname()
        self.stopping = threading.Event()
        self.max_backoff_s = max_backoff_s
        bus.ensure_group(self.redis, GROUP)

    def run_once(self, block_ms: int = 1000) -> int:
        """Process what is pending and what arrives within ``block_ms``; returns events handled."""
        handled = 0
        batch = list(bus.read_group(self.redis, GROUP, self.consumer, block_ms=block_ms))
        if not batch:
            return 0
        # One write transaction for the batch: it waits for the lock rather than failing on it.
        with db.writing(self.sessions) as session:
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
        """Until stopped. A fault that lasts (Redis or the database away, a full disk) is waited out, each
        retry later than the one before; nothing is acked meanwhile, so nothing is lost."""
        backoff = Backoff(max_s=self.max_backoff_s)
        while not self.stopping.is_set():
            try:
                self.run_once()
                backoff.reset()
            except redis.ConnectionError as exc:
                delay = backoff.next()
                log.warning("Redis unavailable, retrying in %.0f s: %s", delay, exc)
                self.stopping.wait(delay)
            except OSError as exc:
                delay = backoff.next()
                log.error("recording failed: %s; events stay pending, retrying in %.0f s", disk.describe(exc), delay)
                self.stopping.wait(delay)
            except Exception as exc:  # the database full or away among them: said in the first line
                delay = backoff.next()
                log.exception("recording failed (%s); events stay pending, retrying in %.0f s", exc, delay)
                self.stopping.wait(delay)
        self.drain()

    def drain(self) -> None:
        """At a stop, record what is on the stream already: stopped after the PBX and the queue manager
        (``alo185 down``), that is every event of the last calls."""
        try:
            while self.run_once(block_ms=1):
                pass
        except Exception as exc:  # what is not recorded stays on the stream, for the next start
            log.warning("stopping with events not yet recorded (they stay on the stream): %s", exc)


def main(settings: Settings) -> None:
    recorder = Recorder(settings)
    signal.signal(signal.SIGTERM, lambda *_: recorder.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: recorder.stopping.set())
    recorder.run()
