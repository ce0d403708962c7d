"""``alo185 worker``: voicemail jobs from their Redis stream, each done by ``alo185.voicemail.intake``.

Jobs come from a consumer group, so several workers (on one machine or many sharing the
voicemail directory) split them. A job is acked only after its ticket is committed; a worker
that dies leaves its job pending, and the next start (or another worker, once the job has
been idle long enough) takes it again. A job that keeps failing is set aside as a dead letter.

A fault of the machine (the database or Redis away, a disk full or read-only) is no fault of the
job: the job stays pending, the loop waits longer at each try (up to ``max_backoff_s``) and goes on
by itself once the fault is gone.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading

import redis
from sqlalchemy.exc import OperationalError

from alo185.core import bus, db, disk
from alo185.core.backoff import Backoff
from alo185.core.settings import Settings
from alo185.voicemail import spool
from alo185.voicemail.intake import Intake
from alo185.voicemail.transcribe import Transcriber

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class Worker:
    def __init__(
        self,
        settings: Settings,
        transcriber: Transcriber | None = None,
        name: str = "worker",
        claim_idle_s: float = 300.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.redis = bus.connect(settings.redis_connection_url)
        self.intake = Intake(settings, db.session_factory(settings.database_url), transcriber)
        self.dirs = self.intake.dirs
        self.consumer = f"{socket.gethostname()}:{name}"
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.stopping = threading.Event()
        self.max_backoff_s = max_backoff_s
        bus.ensure_group(self.redis, spool.GROUP, spool.JOBS)

    # -- the loop ------------------------------------------------------------------------------
    def run_once(self, block_ms: int = 1000) -> int:
        """Take over stale jobs, then do this worker's pending and new jobs; returns jobs done."""
        self.redis.xautoclaim(spool.JOBS, spool.GROUP, self.consumer, self.claim_idle_ms, count=10)
        done = 0
        for msg_id, fields in bus.read_group(self.redis, spool.GROUP, self.consumer, block_ms, 1, spool.JOBS):
            self.handle(msg_id, fields)
            done += 1
        return done

    def handle(self, msg_id: str, event: dict) -> None:
        try:
            job = spool.Job.from_event(event)
            self.intake.process(job)
        except Exception as exc:
            if isinstance(exc, OperationalError) or disk.is_disk_fault(exc):
                raise  # the database or the disk is unwell, not the job: it stays pending and is retried
            self._failed(msg_id, event, exc)
            return
        self._done(msg_id)

    def _failed(self, msg_id: str, event: dict, exc: Exception) -> None:
        """A job that failed: tried again later, or set aside after ``MAX_ATTEMPTS``."""
        if self._attempts(msg_id) < MAX_ATTEMPTS:
            log.exception("voicemail job %s failed; it will be retried", msg_id)
            return
        log.exception("voicemail job %s failed %d times; kept in %s", msg_id, MAX_ATTEMPTS, bus.DEAD_LETTERS)
        bus.dead_letter(self.redis, msg_id, event, repr(exc))
        self._done(msg_id)

    def _done(self, msg_id: str) -> None:
        self.redis.xack(spool.JOBS, spool.GROUP, msg_id)
        self.redis.xdel(spool.JOBS, msg_id)

    def _attempts(self, msg_id: str) -> int:
        entries = self.redis.xpending_range(spool.JOBS, spool.GROUP, min=msg_id, max=msg_id, count=1)
        return int(entries[0]["times_delivered"]) if entries else MAX_ATTEMPTS

    def sweep(self) -> list[str]:
        """Recordings the hang-up hook never handed over (it failed, or crashed half-way)."""
        if not self.dirs.recording.exists():
            return []  # the PBX's spool is on another machine: its worker sweeps it
        older_than = self.settings.voicemail_max_s + 120
        return spool.sweep(self.redis, self.dirs, older_than, spool.queued_ids(self.redis))

    def run(self) -> None:
        """Until stopped: the sweep every minute, the jobs in between. A sweep that failed is tried again
        at the next turn, so what waited on a full disk is handed over once it has room."""
        sweep_every, since_sweep = 60.0, 60.0
        backoff = Backoff(max_s=self.max_backoff_s)
        while not self.stopping.is_set():
            try:
                if since_sweep >= sweep_every:
                    self.sweep()
                    since_sweep = 0.0
                since_sweep += 1.0 if self.run_once() == 0 else 0.0
                backoff.reset()
            except (redis.ConnectionError, OperationalError) as exc:
                delay = backoff.next()
                log.error(
                    "voicemail worker cannot reach Redis or the database (%s); jobs wait, retrying in %.0f s",
                    exc,
                    delay,
                )
                self.stopping.wait(delay)
            except OSError as exc:
                delay = backoff.next()
                log.error(
                    "voicemail worker cannot keep voicemails on disk: %s; jobs wait, retrying in %.0f s",
                    disk.describe(exc),
                    delay,
                )
                self.stopping.wait(delay)
            except Exception:
                delay = backoff.next()
                log.exception("voicemail worker failed; jobs wait, retrying in %.0f s", delay)
                self.stopping.wait(delay)


def main(settings: Settings, name: str = "worker") -> None:
    db.migrate(settings.database_url)
    worker = Worker(settings, name=name)
    try:
        worker.intake.load_transcriber()  # load the model before the first job
    except Exception:
        # Messages still become tickets (marked untranscribed); each job tries the model again.
        log.exception("no speech model at %s: voicemails get tickets without transcripts", settings.vosk_model_dir)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    log.info(
        "voicemail worker %s ready (model %s)",
        worker.consumer,
        worker.intake.transcriber and worker.intake.transcriber.name,
    )
    worker.run()
