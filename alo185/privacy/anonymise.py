"""Erasing a person from the records that are kept (KVKK Art. 7, on the citizen's request under Art. 11).

Rows are kept and their personal fields blanked, so the statistics stay: a ticket keeps its number,
type, channel, category, directorate, district and mahalle, status, priority and dates; a call its
times, queue and outcome (its recording goes, like a voicemail's audio); a survey its score. ``scrub``
blanks one kind of record chosen by a SQL condition and serves both a citizen's request
(``anonymise_citizen``: by phone number and tickets) and the retention job
(``alo185.privacy.retention``: by age). Files go after the commit (see ``alo185.privacy.files``).

Left as they are, on purpose:

* ticket history: append-only by design (a listener refuses any update, the record is kept 20 years);
  it holds statuses, staff actors and notes about the handling, and citizens act as ``"citizen"``.
  A note in which staff wrote a citizen's name or number is not found or changed here.
* approvals' and redirects' notes and non-conformity findings: staff text about the handling.
* Redis call events and process logs (logs carry masked numbers only): transient, outside the database.

Survey opt-outs for the number are deleted (keeping them would keep the number): a citizen who asked
to be erased may be offered a survey again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    String,
    case,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from alo185.audit import trail
from alo185.audit.models import AuditLog
from alo185.calls.models import CallRecord
from alo185.channels.models import InboundMessage
from alo185.core.asterisk import recordings_dir
from alo185.core.settings import load_settings
from alo185.privacy.files import Roots, Store, file_column, shred_after_commit
from alo185.sms.models import SmsMessage
from alo185.surveys.models import SurveyAnswer, SurveyComment, SurveyOptOut
from alo185.tickets.models import Citizen, PlatformRole, Ticket, TicketAttachment
from alo185.voicemail.models import Voicemail

MARKER = "[anonimleştirildi]"  # a ticket's description once its text is gone
REDACTED = "[anonim]"  # in place of a number or name found in free text
CANCELLED = "kişisel veri silindi"  # why a text still waiting in the outbox will not be sent

# What each kept record loses: its personal fields (columns that may not be NULL become "").
BLANK: dict[type, dict[str, Any]] = {
    Ticket: {
        "description": MARKER,
        "address": None,
        "lat": None,
        "lon": None,
        "voicemail_transcript": None,
        "search_text": "",
        "public_answer": None,
        "updated_at": Ticket.updated_at,  # erasing is not activity (the citizens rule reads it)
    },
    TicketAttachment: {"ref": "", "caption": None},
    CallRecord: {"caller": None, "recording_ref": None, "updated_at": CallRecord.updated_at},
    Voicemail: {"caller": "", "audio_file": "", "transcript": None, "words": null()},
    SurveyAnswer: {"caller": ""},
    SurveyComment: {"audio_file": "", "transcript": None, "words": null()},
    InboundMessage: {"phone": "", "body": ""},
    SmsMessage: {
        "phone": "",
        "body": None,
        "params": {},
        "status": case((SmsMessage.status == "pending", "failed"), else_=SmsMessage.status),
        "last_error": case((SmsMessage.status == "pending", CANCELLED), else_=None),
    },
}
# How a number may have been stored: E.164 is the rule, but a call's first event keeps the caller ID
# as the trunk sent it. (prefix, leading characters of the E.164 form dropped):
# +905321234567, 905321234567, 00905321234567, 05321234567, 5321234567.
PHONE_FORMS = (("", 0), ("", 1), ("00", 1), ("0", 3), ("", 3))
AUDIT_TEXT = (AuditLog.actor, AuditLog.entity_id, AuditLog.detail)


class AnonymisationError(Exception):
    """A refused request; ``str()`` is English for logs, ``message_tr`` is for Turkish screens."""

    def __init__(self, message: str, message_tr: str) -> None:
        super().__init__(message)
        self.message_tr = message_tr


def phone_forms(e164: str) -> list[str]:
    """Every form in which this number may have been stored."""
    return [prefix + e164[drop:] for prefix, drop in PHONE_FORMS]


def phone_forms_sql(column: ColumnExpressionArgument[str]) -> list[ColumnElement[str]]:
    """``phone_forms`` of a column's value, in SQL (the same on SQLite and PostgreSQL)."""
    return [literal(prefix, String) + func.substr(column, drop + 1, type_=String) for prefix, drop in PHONE_FORMS]


def scrub(session: Session, model: type, where: ColumnElement[bool], roots: Roots) -> tuple[int, int]:
    """Blank the personal fields of the ``model`` rows matching ``where``; (rows, files to delete after commit)."""
    files = file_column(model)
    names = list(session.scalars(select(files[0]).where(where))) if files else []
    # ``Session.execute`` is typed to return a ``Result``; a DML statement's is a ``CursorResult``, with a rowcount.
    rows = cast(CursorResult[Any], session.execute(update(model).where(where).values(BLANK[model]))).rowcount
    shredded = shred_after_commit(session, files[1], roots.get(files[1]), names) if files else 0
    return rows, shredded


def scrub_tickets(session: Session, where: ColumnElement[bool], roots: Roots) -> tuple[int, int]:
    """Tickets and their attachments (the attachments first: ``where`` may no longer match afterwards)."""
    _rows, files = scrub(
        session, TicketAttachment, TicketAttachment.ticket_id.in_(select(Ticket.id).where(where)), roots
    )
    rows, ticket_files = scrub(session, Ticket, where, roots)
    return rows, files + ticket_files


def scrub_citizens(session: Session, where: ColumnElement[bool], now: datetime) -> int:
    """The citizen rows themselves: the number becomes ``anon-<id>`` (the column is unique and required)."""
    citizens = list(session.scalars(select(Citizen).where(where)))
    for citizen in citizens:
        citizen.phone = f"anon-{citizen.id}"
        citizen.full_name = citizen.tc_masked = citizen.address = None
        citizen.platform_role, citizen.platform_mahalle_id = PlatformRole.NONE, None  # a muhtar of X is someone
        citizen.anonymised_at = citizen.updated_at = now
    session.flush()
    return len(citizens)


def anonymise_citizen(
    session: Session,
    citizen: Citizen,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
    voicemail_dir: Path | None = None,
    recording_dir: Path | None = None,
) -> AuditLog:
    """Remove a citizen's personal data from every record and keep the statistics; returns the audit row.

    The caller commits; the recordings and stored attachments are deleted after that commit.
    """
    reason = (reason or "").strip()
    if citizen.anonymised_at is not None:
        raise AnonymisationError(
            f"citizen {citizen.id} was already anonymised", "Bu vatandaşın kişisel verileri zaten silinmiş."
        )
    if not reason:
        raise AnonymisationError("a reason is required", "Anonimleştirme gerekçesi zorunludur.")
    now = now or datetime.now(UTC)
    roots: Roots = {
        Store.VOICEMAIL: voicemail_dir or load_settings().voicemail_path,
        Store.RECORDING: recording_dir or recordings_dir(load_settings()),
    }
    secrets = _secrets(citizen)
    counts = _scrub_everywhere(session, citizen, phone_forms(citizen.phone), secrets, roots)
    scrub_citizens(session, Citizen.id == citizen.id, now)
    summary = ", ".join(f"{label} {n}" for label, n in counts.items())
    detail = f"Gerekçe: {_redact(reason, secrets)}. Anonimleştirilen kayıtlar: {summary}."
    row = trail.record(
        session, actor=actor, action="citizen.anonymise", entity="citizen", entity_id=citizen.id, detail=detail, now=now
    )
    session.flush()
    return row


def _scrub_everywhere(
    session: Session, citizen: Citizen, forms: list[str], secrets: list[str], roots: Roots
) -> dict[str, int]:
    """Every record of the citizen, by their tickets and number; how many of each kind (in Turkish)."""
    tickets = Ticket.citizen_id == citizen.id
    ticket_ids = select(Ticket.id).where(tickets)
    calls = select(CallRecord.uniqueid).where(CallRecord.caller.in_(forms))
    answers = or_(SurveyAnswer.caller.in_(forms), SurveyAnswer.ticket_id.in_(ticket_ids))
    comments = or_(
        SurveyComment.uniqueid.in_(select(SurveyAnswer.uniqueid).where(answers)), SurveyComment.uniqueid.in_(calls)
    )
    # In this order: comments are found through answers and calls, which lose the number after them.
    return {
        "başvuru": scrub_tickets(session, tickets, roots)[0],
        "anket yorumu": scrub(session, SurveyComment, comments, roots)[0],
        "anket": scrub(session, SurveyAnswer, answers, roots)[0],
        "sesli mesaj": scrub(
            session, Voicemail, or_(Voicemail.caller.in_(forms), Voicemail.ticket_id.in_(ticket_ids)), roots
        )[0],
        "çağrı": scrub(session, CallRecord, CallRecord.caller.in_(forms), roots)[0],
        "SMS": scrub(session, SmsMessage, SmsMessage.phone.in_(forms), roots)[0],
        "gelen mesaj": scrub(
            session,
            InboundMessage,
            or_(InboundMessage.phone.in_(forms), InboundMessage.ticket_id.in_(ticket_ids)),
            roots,
        )[0],
        "anket reddi": cast(
            CursorResult[Any], session.execute(delete(SurveyOptOut).where(SurveyOptOut.phone.in_(forms)))
        ).rowcount,
        "denetim kaydı": _scrub_audit(session, secrets),
    }


def _secrets(citizen: Citizen) -> list[str]:
    """What must not remain in free text: the number in every form, and the name; the longest first."""
    found = [*phone_forms(citizen.phone), *([citizen.full_name.strip()] if citizen.full_name else [])]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def _redact(text: str | None, secrets: list[str]) -> str | None:
    for secret in secrets:
        text = text.replace(secret, REDACTED) if text else text
    return text


def _scrub_audit(session: Session, secrets: list[str]) -> int:
    """Audit rows keep the event (who looked at or changed what) but lose the number and name they quote."""
    quoting = or_(*(column.contains(s, autoescape=True) for column in AUDIT_TEXT for s in secrets))
    rows = list(session.scalars(select(AuditLog).where(quoting)))
    for row in rows:
        for column in AUDIT_TEXT:
            setattr(row, column.key, _redact(getattr(row, column.key), secrets))
    return len(rows)
