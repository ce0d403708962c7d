"""How long each kind of record keeps its personal data (KVKK saklama ve imha politikası), and the job that ends it.

``RECORD_TYPES`` is the policy: a default period, a minimum no administrator can go under, and the
method. "anonymise" keeps the row for statistics and blanks its personal fields (``anonymise.scrub``);
"delete" removes the row. ``run`` applies every rule with the cutoff ``now - keep_days``, in batches of
one short transaction each, and keeps one ``DestructionLog`` row (imha tutanağı) per record type and
run whose count grows with each committed batch, so the log is right even after a crash. Files go after
each batch's commit (see ``alo185.privacy.files``).

Periods are the municipality's policy (its KVKK committee may lengthen them with ``set_rule``); the
minimums protect what the law or the procedures need, noted with each type.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, cast

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, Session

from alo185.audit import trail
from alo185.audit.models import AuditLog
from alo185.calls.models import CallRecord
from alo185.channels.models import InboundMessage
from alo185.core.asterisk import recordings_dir
from alo185.core.settings import load_settings
from alo185.privacy.anonymise import MARKER, phone_forms_sql, scrub, scrub_citizens, scrub_tickets
from alo185.privacy.files import Roots, Store, recover, shred_after_commit
from alo185.privacy.models import DestructionLog, RetentionRule
from alo185.quality.models import CorrectiveAction, CorrectiveActionEvidence, CorrectiveActionStep, Nonconformity
from alo185.quality.procedure import KEEP_YEARS
from alo185.sms.models import SmsMessage
from alo185.surveys.models import SurveyAnswer, SurveyComment
from alo185.tickets.models import Citizen, Ticket
from alo185.tickets.queries import FINISHED
from alo185.voicemail.models import Voicemail

log = logging.getLogger(__name__)
BATCH_SIZE = 500


def years(n: int) -> int:
    """Days in ``n`` years, leap days included (a period must never end before its last calendar day)."""
    return math.ceil(n * 365.25)


class Method(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"


@dataclass(frozen=True)
class RecordType:
    default_days: int
    min_days: int
    method: Method
    why: str


RECORD_TYPES: dict[str, RecordType] = {  # in the order a run applies them
    "call_recordings": RecordType(
        years(1),
        90,
        Method.ANONYMISE,
        "The recording of the operator call deleted, the call record kept. 90 days like voicemails: complaints "
        "about the answer (the 30-day reopen window, the petition law's 30-day answer) can still be checked.",
    ),
    "call_records": RecordType(
        years(2),
        years(1),
        Method.ANONYMISE,
        "Caller number removed, the call kept for statistics. A year of repeat-caller and abuse checks at least.",
    ),
    "survey_answers": RecordType(
        years(2),
        years(1),
        Method.ANONYMISE,
        "Caller number removed, the score kept. Longer than the survey period (one survey a month per caller).",
    ),
    "voicemails": RecordType(
        years(1),
        90,
        Method.ANONYMISE,
        "Recording, transcript and number removed, the row kept; the ticket holds the request. 90 days outlive "
        "the 30-day reopen window and the petition law's 30-day answer.",
    ),
    "survey_comments": RecordType(
        years(1),
        90,
        Method.ANONYMISE,
        "Recording and transcript removed; kept 90 days at least for the quality unit's monthly review.",
    ),
    "sms_outbox": RecordType(
        years(1),
        180,
        Method.DELETE,
        "Sent and failed texts deleted. Half a year at least: they prove the citizen was told (a redirect, "
        "a resolution) while complaints about the answer can still come.",
    ),
    "inbound_messages": RecordType(
        years(1),
        90,
        Method.ANONYMISE,
        "Number and text removed; the ticket holds the request. 90 days like voicemails.",
    ),
    "tickets": RecordType(
        years(10),
        years(2),
        Method.ANONYMISE,
        "Finished tickets (closed, resolved, redirected, cannot be done, duplicate) since their last change: text, "
        "address, location, transcript, answer and attachments removed; category, directorate, mahalle, dates "
        "and status kept for statistics. 10 years: the general limitation period (TBK 146). Two at least: "
        "complaints to the Ombudsman (KDK) and the courts about an answer.",
    ),
    "citizens": RecordType(
        years(10),
        years(2),
        Method.ANONYMISE,
        "Citizens without a ticket or call for the period (and no open ticket): number, name, TC and address "
        "removed. Same periods as tickets.",
    ),
    "audit_log": RecordType(
        years(10),
        years(2),
        Method.DELETE,
        "Who saw or changed what. Two years at least, as for access logs (5651, KVKK technical measures).",
    ),
    "corrective_actions": RecordType(
        years(KEEP_YEARS),
        years(KEEP_YEARS),
        Method.DELETE,
        "DİFs with their steps and evidence, since closed: the quality procedure keeps them 20 years.",
    ),
    "nonconformities": RecordType(
        years(KEEP_YEARS),
        years(KEEP_YEARS),
        Method.DELETE,
        "Non-conformity records: 20 years like their DİFs (deleted once no DİF refers to them).",
    ),
}


class RetentionError(Exception):
    """A refused rule change; ``str()`` is English for logs, ``message_tr`` is for Turkish screens."""

    def __init__(self, message: str, message_tr: str) -> None:
        super().__init__(message)
        self.message_tr = message_tr


def seed_rules(session: Session, now: datetime | None = None) -> int:
    """Add the missing rules with their default periods (changed ones are kept); returns how many."""
    have = set(session.scalars(select(RetentionRule.record_type)))
    missing = [
        RetentionRule(record_type=name, keep_days=kind.default_days, updated_by="system", updated_at=now or _now())
        for name, kind in RECORD_TYPES.items()
        if name not in have
    ]
    session.add_all(missing)
    session.flush()
    return len(missing)


def set_rule(
    session: Session, record_type: str, keep_days: int, actor: str, now: datetime | None = None
) -> RetentionRule:
    """Change one period; unknown types and periods under the minimum are refused and change nothing."""
    kind = RECORD_TYPES.get(record_type)
    if kind is None:
        raise RetentionError(f"unknown record type {record_type!r}", f"Bilinmeyen kayıt türü: {record_type}.")
    if keep_days < kind.min_days:
        raise RetentionError(
            f"{record_type} must be kept at least {kind.min_days} days, not {keep_days}",
            f"{record_type} kayıtları en az {kind.min_days} gün saklanmalıdır ({keep_days} gün girildi).",
        )
    now = now or _now()
    rule = session.get(RetentionRule, record_type) or RetentionRule(
        record_type=record_type, keep_days=kind.default_days
    )
    before = rule.keep_days
    rule.keep_days, rule.updated_by, rule.updated_at = keep_days, actor, now
    session.add(rule)
    trail.record(
        session,
        actor=actor,
        action="retention.set",
        entity="retention_rule",
        entity_id=record_type,
        detail=f"{before} -> {keep_days} gün",
        now=now,
    )
    session.flush()
    return rule


def rules(session: Session) -> list[RetentionRule]:
    """Every type's rule, in policy order; a type without a stored rule gets its default (unsaved, no date)."""
    stored = {rule.record_type: rule for rule in session.scalars(select(RetentionRule))}
    return [
        stored.get(name) or RetentionRule(record_type=name, keep_days=kind.default_days, updated_by="system")
        for name, kind in RECORD_TYPES.items()
    ]


def periods(session: Session) -> dict[str, int]:
    """Each type's period in force: never under the minimum, even for a row edited by hand."""
    return {rule.record_type: max(rule.keep_days, RECORD_TYPES[rule.record_type].min_days) for rule in rules(session)}


# -- what is due, and how it goes ------------------------------------------------------------------
Destroy = Callable[[Session, ColumnElement[bool], Roots, datetime], tuple[int, int]]  # -> (rows, files)
Cutoffs = dict[str, datetime]  # every type's cutoff in this run


class _Rows(Protocol):
    """A model whose rows a job goes through by their integer key (its column, on the class)."""

    id: ClassVar[Mapped[int]]


@dataclass(frozen=True)
class _Job:
    model: type[_Rows]
    # Rows past the cutoff that still hold their data; the same before and after the types run
    # earlier in this run were destroyed, so a dry run counts exactly what a run would do.
    due: Callable[[datetime, Cutoffs], ColumnElement[bool]]
    destroy: Destroy  # given the rows of one batch


def _scrubbing(model: type) -> Destroy:
    return lambda session, where, roots, _now: scrub(session, model, where, roots)


# ``Session.execute`` is typed to return a ``Result``; a DML statement's is a ``CursorResult``, with a rowcount.
def _deleting(model: type) -> Destroy:
    return lambda session, where, _roots, _now: (
        cast(CursorResult[Any], session.execute(delete(model).where(where))).rowcount,
        0,
    )


def _scrub_recordings(session: Session, where: ColumnElement[bool], roots: Roots, _now: datetime) -> tuple[int, int]:
    """Only the recording: the reference goes from the call record, the file after the commit."""
    names = list(session.scalars(select(CallRecord.recording_ref).where(where)))
    rows = cast(
        CursorResult[Any],
        session.execute(update(CallRecord).where(where).values(recording_ref=None, updated_at=CallRecord.updated_at)),
    ).rowcount
    return rows, shred_after_commit(session, Store.RECORDING, roots.get(Store.RECORDING), [n for n in names if n])


def _scrub_tickets(session: Session, where: ColumnElement[bool], roots: Roots, _now: datetime) -> tuple[int, int]:
    return scrub_tickets(session, where, roots)


def _scrub_citizens(session: Session, where: ColumnElement[bool], _roots: Roots, now: datetime) -> tuple[int, int]:
    return scrub_citizens(session, where, now), 0


def _delete_corrective_actions(
    session: Session, where: ColumnElement[bool], roots: Roots, _now: datetime
) -> tuple[int, int]:
    """A DİF goes with its steps and evidence (rows, then the files after the commit)."""
    ids = select(CorrectiveAction.id).where(where)
    evidence = CorrectiveActionEvidence.corrective_action_id.in_(ids)
    names = list(session.scalars(select(CorrectiveActionEvidence.stored_as).where(evidence)))
    session.execute(delete(CorrectiveActionEvidence).where(evidence))
    session.execute(delete(CorrectiveActionStep).where(CorrectiveActionStep.corrective_action_id.in_(ids)))
    rows = cast(CursorResult[Any], session.execute(delete(CorrectiveAction).where(where))).rowcount
    return rows, shred_after_commit(session, Store.EVIDENCE, roots.get(Store.EVIDENCE), names)


def _dif_due(cutoff: datetime) -> ColumnElement[bool]:
    return func.coalesce(CorrectiveAction.closed_at, CorrectiveAction.created_at) < cutoff


def _nonconformity_due(cutoff: datetime, every: Cutoffs) -> ColumnElement[bool]:
    """Past its period, and each of its DİFs (if any) is due too: deleted just before, in a run."""
    kept_dif = exists().where(
        CorrectiveAction.nonconformity_id == Nonconformity.id, ~_dif_due(every["corrective_actions"])
    )
    return (Nonconformity.created_at < cutoff) & ~kept_dif


def _citizen_inactive(cutoff: datetime, _every: Cutoffs) -> ColumnElement[bool]:
    recent_ticket = exists().where(
        Ticket.citizen_id == Citizen.id, or_(Ticket.updated_at >= cutoff, Ticket.status.not_in(FINISHED))
    )
    recent_call = exists().where(CallRecord.caller.in_(phone_forms_sql(Citizen.phone)), CallRecord.started_at >= cutoff)
    return Citizen.anonymised_at.is_(None) & (Citizen.updated_at < cutoff) & ~recent_ticket & ~recent_call


JOBS: dict[str, _Job] = {
    "call_recordings": _Job(
        CallRecord,
        lambda c, _: (
            (func.coalesce(CallRecord.started_at, CallRecord.updated_at) < c) & CallRecord.recording_ref.is_not(None)
        ),
        _scrub_recordings,
    ),
    "call_records": _Job(
        CallRecord,
        lambda c, _: (func.coalesce(CallRecord.started_at, CallRecord.updated_at) < c) & CallRecord.caller.is_not(None),
        _scrubbing(CallRecord),
    ),
    "survey_answers": _Job(
        SurveyAnswer, lambda c, _: (SurveyAnswer.offered_at < c) & (SurveyAnswer.caller != ""), _scrubbing(SurveyAnswer)
    ),
    "voicemails": _Job(
        Voicemail,
        lambda c, _: (
            (Voicemail.created_at < c)
            & or_(Voicemail.audio_file != "", Voicemail.transcript.is_not(None), Voicemail.caller != "")
        ),
        _scrubbing(Voicemail),
    ),
    "survey_comments": _Job(
        SurveyComment,
        lambda c, _: (
            (SurveyComment.created_at < c) & or_(SurveyComment.audio_file != "", SurveyComment.transcript.is_not(None))
        ),
        _scrubbing(SurveyComment),
    ),
    "sms_outbox": _Job(
        SmsMessage,
        lambda c, _: (SmsMessage.created_at < c) & SmsMessage.status.in_(("sent", "failed")),
        _deleting(SmsMessage),
    ),
    "inbound_messages": _Job(
        InboundMessage,
        lambda c, _: (InboundMessage.received_at < c) & or_(InboundMessage.phone != "", InboundMessage.body != ""),
        _scrubbing(InboundMessage),
    ),
    "tickets": _Job(
        Ticket,
        lambda c, _: Ticket.status.in_(FINISHED) & (Ticket.updated_at < c) & (Ticket.description != MARKER),
        _scrub_tickets,
    ),
    "citizens": _Job(Citizen, _citizen_inactive, _scrub_citizens),
    "audit_log": _Job(AuditLog, lambda c, _: AuditLog.at < c, _deleting(AuditLog)),
    "corrective_actions": _Job(
        CorrectiveAction,
        lambda c, _: _dif_due(c),
        _delete_corrective_actions,
    ),
    "nonconformities": _Job(Nonconformity, _nonconformity_due, _deleting(Nonconformity)),
}


def run(
    session: Session,
    now: datetime,
    actor: str = "system",
    dry_run: bool = False,
    voicemail_dir: Path | None = None,
    evidence_dir: Path | None = None,
    stop: Callable[[], bool] = lambda: False,
    batch_size: int = BATCH_SIZE,
    recording_dir: Path | None = None,
) -> list[DestructionLog]:
    """Apply every rule at ``now``; one log row per record type (count may be 0).

    Commits after each batch: give it a session that is not inside ``begin()``. A dry run changes
    nothing and returns the rows it would have written. ``voicemail_dir`` defaults to the instance's
    archive, ``recording_dir`` the instance's recordings of operator calls (``core.asterisk.recordings_dir``); DİF
    evidence files are deleted only when ``evidence_dir`` is given. ``stop`` is asked
    between batches (the scheduler's SIGTERM); the rest is done by the next run.
    """
    roots: Roots = {
        Store.VOICEMAIL: voicemail_dir or load_settings().voicemail_path,
        Store.EVIDENCE: evidence_dir,
        Store.RECORDING: recording_dir or recordings_dir(load_settings()),
    }
    if not dry_run:
        recover(session, roots.values())
        seed_rules(session, now)
        session.commit()
    days = periods(session)
    cutoffs = {name: now - timedelta(days=n) for name, n in days.items()}
    done = []
    for name, job in JOBS.items():
        entry = _log_entry(name, days[name], cutoffs[name], now, actor)
        if dry_run:
            due = job.due(entry.cutoff, cutoffs)
            entry.count = session.scalar(select(func.count()).select_from(job.model).where(due)) or 0
            entry.detail = f"Deneme: {entry.detail}"
        else:
            _destroy(session, job, entry, cutoffs, roots, now, stop, batch_size)
        done.append(entry)
    if dry_run:
        session.rollback()
    return done


def _log_entry(name: str, days: int, cutoff: datetime, now: datetime, actor: str) -> DestructionLog:
    return DestructionLog(
        run_at=now,
        record_type=name,
        method=RECORD_TYPES[name].method.value,
        cutoff=cutoff,
        count=0,
        actor=actor,
        detail=f"saklama süresi {days} gün",
    )


def _destroy(
    session: Session,
    job: _Job,
    entry: DestructionLog,
    cutoffs: Cutoffs,
    roots: Roots,
    now: datetime,
    stop: Callable[[], bool],
    batch_size: int,
) -> None:
    """Batch after batch, each committed with the log row's count; by id, so a row left as is ends the loop."""
    session.add(entry)
    period, files, after = entry.detail, 0, 0
    id_column = job.model.id
    while not stop():
        ids = list(
            session.scalars(
                select(id_column)
                .where(job.due(entry.cutoff, cutoffs), id_column > after)
                .order_by(id_column)
                .limit(batch_size)
            )
        )
        if not ids:
            break
        _rows, batch_files = job.destroy(session, id_column.in_(ids), roots, now)
        files += batch_files
        entry.count += len(ids)
        entry.detail = f"{period}; {files} dosya silindi" if files else period
        session.commit()
        after = ids[-1]
    session.commit()
    if entry.count:
        log.info("%s: %s %d records before %s", entry.record_type, entry.method, entry.count, entry.cutoff)


def _now() -> datetime:
    return datetime.now(UTC)
