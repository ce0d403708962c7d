"""``alo185 scheduler``: the instance's clock. Deadline warnings every ``escalation_interval_s``, the KVKK
retention job once a day at ``retention_hour`` (local time).

``Scheduler.tick(now)`` does whatever is due at ``now`` and is what the tests drive; ``run`` calls it
in a loop. A failing job is logged and tried again at the next tick; nothing it raises ends the loop.
Escalations are safe to run from several schedulers at once (each warning is unique per deadline).
The retention job is meant for one: whether today's run happened is read from the destruction log,
so a restart does not repeat it. SIGTERM stops the loop within a second (a retention run stops
between two batches).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alo185.core import db, disk
from alo185.core.settings import Settings
from alo185.privacy import retention
from alo185.privacy.models import DestructionLog
from alo185.tickets.escalation import run_escalations
from alo185.tickets.sla import LOCAL

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Tick:
    """What one tick did: None where a job was not due (or failed, then its name is in ``failed``)."""

    notices: int | None = None
    destroyed: list[DestructionLog] | None = None
    failed: list[str] = field(default_factory=list)


class Scheduler:
    def __init__(self, settings: Settings) -> None:
        self.sessions: sessionmaker[Session] = db.session_factory(settings.database_url)
        self.interval = timedelta(seconds=max(1, settings.escalation_interval_s))
        self.retention_hour = settings.retention_hour
        self.voicemail_dir = settings.voicemail_path
        self.evidence_dir = settings.evidence_path
        self.stopping = threading.Event()
        self.next_escalation: datetime | None = None  # None: at the first tick
        self.retention_done_for: datetime | None = None  # the last daily slot known to be done

    def tick(self, now: datetime) -> Tick:
        """Run what is due at ``now``."""
        done = Tick()
        if self.next_escalation is None or now >= self.next_escalation:
            self.next_escalation = now + self.interval
            done.notices = self._guarded("escalations", done, lambda: self._escalate(now))
        slot = self._retention_slot(now)
        if now >= slot and self.retention_done_for != slot:
            done.destroyed = self._guarded("retention", done, lambda: self._retain(now, slot))
        return done

    def run(self) -> None:
        while not self.stopping.is_set():
            self.tick(datetime.now(UTC))
            assert self.next_escalation is not None
            self.stopping.wait(max(0.0, (self.next_escalation - datetime.now(UTC)).total_seconds()))

    def _escalate(self, now: datetime) -> int:
        with self.sessions.begin() as session:
            created = run_escalations(session, now)
        if created:
            log.info("escalations: %d new warnings", created)
        return created

    def _retention_slot(self, now: datetime) -> datetime:
        """Today's retention time (local), in UTC."""
        return datetime.combine(now.astimezone(LOCAL).date(), time(self.retention_hour), LOCAL).astimezone(UTC)

    def _retain(self, now: datetime, slot: datetime) -> list[DestructionLog] | None:
        """Today's run, unless the destruction log shows one since the slot (a restart, a manual run)."""
        with self.sessions() as session:
            last = session.scalar(select(func.max(DestructionLog.run_at)))
            if last is not None and last >= slot:
                self.retention_done_for = slot
                return None
            entries = retention.run(
                session,
                now,
                voicemail_dir=self.voicemail_dir,
                evidence_dir=self.evidence_dir,
                stop=self.stopping.is_set,
            )
        if not self.stopping.is_set():
            self.retention_done_for = slot
        summary = ", ".join(f"{e.record_type} {e.count}" for e in entries if e.count) or "nothing due"
        log.info("retention: %s", summary)
        return entries

    @staticmethod
    def _guarded(name: str, done: Tick, job: Callable[[], T]) -> T | None:
        """The job's result; a failure is logged, noted in ``done`` and left for the next tick."""
        try:
            return job()
        except OSError as exc:  # a disk full or read-only: said plainly, without a traceback each minute
            log.error("%s failed: %s; retried at the next tick", name, disk.describe(exc))
            done.failed.append(name)
            return None
        except Exception:
            log.exception("%s failed; retried at the next tick", name)
            done.failed.append(name)
            return None


def main(settings: Settings) -> None:
    scheduler = Scheduler(settings)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: scheduler.stopping.set())
    log.info(
        "scheduler ready: escalations every %ss, retention daily at %02d:00",
        settings.escalation_interval_s,
        settings.retention_hour,
    )
    scheduler.run()
    log.info("scheduler stopped")
