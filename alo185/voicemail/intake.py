"""A voicemail job done: the audio archived, transcribed, and recorded as a routed ticket.

A survey comment (``kind="comment"``) goes the same way and ends as a transcribed ``SurveyComment``.
The ticket is keyed by the call's uniqueid: a job done twice makes one ticket. Which job, and when,
is the worker's (``workers.voicemail``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alo185.calls.models import CallRecord
from alo185.core import db
from alo185.core.settings import Settings
from alo185.surveys.models import SurveyComment
from alo185.tickets import queries
from alo185.voicemail import spool
from alo185.voicemail.categorize import DEFAULT_RULES, RulesFile
from alo185.voicemail.models import Voicemail
from alo185.voicemail.transcribe import DecoderOptions, Transcriber, Transcript

log = logging.getLogger(__name__)
FAILED_NOTE = "Ses kaydı yazıya dökülemedi; lütfen kaydı dinleyin."


class MissingAudio(RuntimeError):
    pass


class Intake:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], transcriber: Transcriber | None = None
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.dirs = spool.dirs_for(settings)
        self.rules = RulesFile(settings.voicemail_rules or DEFAULT_RULES)
        self.transcriber = transcriber

    def load_transcriber(self) -> Transcriber:
        if self.transcriber is None:
            self.transcriber = Transcriber(
                self.settings.vosk_model_dir, DecoderOptions.from_settings(self.settings), scratch=self.settings.run_dir
            )
        return self.transcriber

    def process(self, job: spool.Job) -> Voicemail | SurveyComment:
        done = self._done(job)
        if done is not None:
            return done  # a redelivery: already recorded
        audio = self._archive(job)
        transcript, error = self._transcribe(audio)

        def record(s: Session) -> Voicemail | SurveyComment:
            if job.kind == "comment":
                return _record_comment(s, job, audio, transcript, error, self.dirs.voicemail)
            return self._record(s, job, audio, transcript, error)

        # The slow part (transcription) is done; the transaction is short, and run again if it lost a race.
        return db.write(self.sessions, record)

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
            return self.load_transcriber().transcribe(audio), None
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
