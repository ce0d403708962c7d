"""``alo185 worker``: voicemail jobs -> archived audio, transcript and a routed ticket.

Survey comments (``kind="comment"``) go the same way and end as a transcribed ``SurveyComment``.

Jobs come from a consumer group, so several workers (on one machine or many sharing the
voicemail directory) split them. A job is acked only after its ticket is committed; a worker
that dies leaves its job pending, and the next start (or another worker, once the job has
been idle long enough) takes it again. The ticket is keyed by the call's uniqueid: a job done
twice makes one ticket.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path

import redis
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from alo185 import bus, db
from alo185.models import CallRecord, SurveyComment, Voicemail
from alo185.settings import Settings
from alo185.tickets import queries
from alo185.voicemail import spool
from alo185.voicemail.categorize import DEFAULT_RULES, RulesFile
from alo185.voicemail.transcribe import DecoderOptions, Transcriber, Transcript

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
FAILED_NOTE = "Ses kaydı yazıya dökülemedi; lütfen kaydı dinleyin."


class MissingAudio(RuntimeError):
    pass


class Worker:
    def __init__(
        self,
        settings: Settings,
        transcriber: Transcriber | None = None,
        name: str = "worker",
        claim_idle_s: float = 300.0,
    ) -> None:
        self.settings = settings
        self.redis = bus.connect(settings.redis_connection_url)
        self.sessions = db.session_factory(settings.database_url)
        self.dirs = spool.dirs_for(settings)
        self.rules = RulesFile(settings.voicemail_rules or DEFAULT_RULES)
        self.transcriber = transcriber
        self.consumer = f"{socket.gethostname()}:{name}"
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.stopping = threading.Event()
        bus.ensure_group(self.redis, spool.GROUP, spool.JOBS)

    def _transcriber(self) -> Transcriber:
        if self.transcriber is None:
            self.transcriber = Transcriber(
                self.settings.vosk_model_dir, DecoderOptions.from_settings(self.settings), scratch=self.settings.run_dir
            )
        return self.transcriber

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
            self.process(job)
        except OperationalError:
            raise  # the database is unwell: the job stays pending and is retried
        except Exception as exc:
            if self._attempts(msg_id) < MAX_ATTEMPTS:
                log.exception("voicemail job %s failed; it will be retried", msg_id)
                return
            log.exception("voicemail job %s failed %d times; kept in %s", msg_id, MAX_ATTEMPTS, bus.DEAD_LETTERS)
            bus.dead_letter(self.redis, msg_id, event, repr(exc))
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
        sweep_every, since_sweep = 60.0, 60.0
        while not self.stopping.is_set():
            try:
                if since_sweep >= sweep_every:
                    self.sweep()
                    since_sweep = 0.0
                since_sweep += 1.0 if self.run_once() == 0 else 0.0
            except (redis.ConnectionError, OperationalError) as exc:
                log.warning("voicemail worker waits: %s", exc)
                self.stopping.wait(1)

    # -- one job -------------------------------------------------------------------------------
    def process(self, job: spool.Job) -> Voicemail | SurveyComment:
        done = self._done(job)
        if done is not None:
            return done  # a redelivery: already recorded
        audio = self._archive(job)
        transcript, error = self._transcribe(audio)
        with self.sessions.begin() as s:
            if job.kind == "comment":
                return _record_comment(s, job, audio, transcript, error, self.dirs.voicemail)
            return self._record(s, job, audio, transcript, error)

    def _done(self, job: spool.Job) -> Voicemail | SurveyComment | None:
        with self.sessions() as s:
            if job.kind == "comment":
                return s.scalar(select(SurveyComment).where(SurveyComment.uniqueid == job.uniqueid))
            return s.scalar(
                select(Voicemail).where(Voicemail.uniqueid == job.uniqueid, Voicemail.ticket_id.isnot(None))
            )

    def _archive(self, job: spool.Job) -> Path:
        """The audio, moved from the inbox to its dated place (a retry finds it there)."""
        target = self.dirs.archived(job)
        inbox = self.dirs.inbox / target.name
        if inbox.exists():
            spool.move_atomic(inbox, target)
        if not target.exists():
            raise MissingAudio(f"no audio for voicemail {job.uniqueid}")
        return target

    def _transcribe(self, audio: Path) -> tuple[Transcript | None, str | None]:
        try:
            return self._transcriber().transcribe(audio), None
        except Exception as exc:  # a ticket is made all the same, with the audio to listen to
            log.exception("transcription of %s failed", audio.name)
            return None, f"{type(exc).__name__}: {exc}"

    def _record(
        self, s: Session, job: spool.Job, audio: Path, transcript: Transcript | None, error: str | None
    ) -> Voicemail:
        call = s.scalar(select(CallRecord).where(CallRecord.uniqueid == job.uniqueid))
        caller = job.caller or (call.caller if call is not None else "") or ""
        ivr_path = job.ivr_path or (call.ivr_path if call is not None else "") or ""
        rules = self.rules.get()
        text = transcript.text if transcript is not None else ""
        suggested = rules.suggest(text) if text else None
        ticket = queries.create_ticket(
            s,
            phone=caller or None,
            category_code=suggested or rules.fallback,
            description=_description(text, error),
            channel="phone",
            type="istek",
            actor="voicemail",
        )
        ticket.voicemail_transcript = text or None
        ticket.call_uniqueid = job.uniqueid
        vm = s.scalar(select(Voicemail).where(Voicemail.uniqueid == job.uniqueid)) or Voicemail(uniqueid=job.uniqueid)
        vm.caller, vm.ivr_path, vm.reason, vm.lang = caller, ivr_path, job.reason, job.lang
        vm.audio_file = str(audio.relative_to(self.dirs.voicemail))
        vm.audio_s = transcript.audio_s if transcript is not None else 0.0
        vm.transcript = text or None
        vm.words = transcript.words if transcript is not None else None
        vm.confidence = transcript.confidence if transcript is not None else None
        vm.transcribe_error = error
        vm.model = self.transcriber.name if self.transcriber is not None else ""
        vm.suggested_category = suggested
        vm.ticket_id = ticket.id  # create_ticket flushed: the id is there
        s.add(vm)
        log.info("voicemail %s -> ticket %s (%s)", job.uniqueid, ticket.number, ticket.category.code)
        return vm


def _record_comment(
    s: Session, job: spool.Job, audio: Path, transcript: Transcript | None, error: str | None, root: Path
) -> SurveyComment:
    comment = SurveyComment(
        uniqueid=job.uniqueid,
        audio_file=str(audio.relative_to(root)),
        transcript=(transcript.text or None) if transcript is not None else None,
        words=transcript.words if transcript is not None else None,
        transcribe_error=error,
    )
    s.add(comment)
    return comment


def _description(text: str, error: str | None) -> str:
    if error is not None:
        return f"Sesli mesaj. {FAILED_NOTE}"
    return f"Sesli mesaj: {text}" if text else "Sesli mesaj (konuşma anlaşılamadı; lütfen kaydı dinleyin)."


def main(settings: Settings, name: str = "worker") -> None:
    db.migrate(settings.database_url)
    worker = Worker(settings, name=name)
    try:
        worker._transcriber()  # load the model before the first job
    except Exception:
        # Messages still become tickets (marked untranscribed); each job tries the model again.
        log.exception("no speech model at %s: voicemails get tickets without transcripts", settings.vosk_model_dir)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    log.info("voicemail worker %s ready (model %s)", worker.consumer, worker.transcriber and worker.transcriber.name)
    worker.run()
