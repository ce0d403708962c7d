"""What both steps of the non-conforming service procedure share (``nonconformity``, ``corrective``).

Plain Python over SQLAlchemy sessions, like ``alo185.tickets``: every function checks everything
first, then changes the records, writes one audit row and flushes; the caller commits. This module
holds what both steps share: the error, the actor check, the audit row and the archive period.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.audit import trail as audit_trail
from alo185.audit.models import AuditLog
from alo185.org import access
from alo185.org.access import Perm
from alo185.org.models import User
from alo185.quality.models import CorrectiveAction, Nonconformity
from alo185.tickets.workflow import aware  # one check of a time for the tickets and this procedure

__all__ = ["KEEP_YEARS", "QualityError", "audit", "aware", "required_text", "staff"]

# The procedure's records table: the corrective action report (QDMS) is kept by the Integrated
# Management Systems unit for 20 years; non-conformity records, DİFs, their steps and evidence follow it.
KEEP_YEARS = 20


class QualityError(Exception):
    """A refused step; ``str()`` is English for logs, ``message_tr`` is for Turkish screens."""

    def __init__(self, message: str, message_tr: str) -> None:
        super().__init__(message)
        self.message_tr = message_tr


def staff(session: Session, actor: str, perm: Perm) -> User:
    """The active staff member ``actor`` names, if their role grants ``perm``; otherwise refused."""
    user = session.scalar(select(User).where(User.username == actor))
    if user is None or not user.active:
        raise QualityError(f"{actor!r} is not an active staff member", f"{actor} etkin bir personel kullanıcısı değil.")
    if not access.allowed(user.role, perm):
        raise QualityError(
            f"{user.role} {actor!r} lacks the permission {perm}", f"{actor} kullanıcısının bu işlem için yetkisi yok."
        )
    return user


def required_text(value: str | None, what: str, what_tr: str) -> str:
    """``value`` stripped, refused when blank: the procedure's records need their text."""
    text = (value or "").strip()
    if not text:
        raise QualityError(f"the {what} is required", f"{what_tr} zorunludur.")
    return text


ENTITY = {Nonconformity: "nonconformity", CorrectiveAction: "corrective_action"}


def audit(
    session: Session, record: Nonconformity | CorrectiveAction, *, actor: str, action: str, detail: str, now: datetime
) -> AuditLog:
    """The step's audit row, then flush: the last act of every successful step."""
    if record.id is None:
        session.flush()  # a new record needs its id for the audit row
    row = audit_trail.record(
        session, actor=actor, action=action, entity=ENTITY[type(record)], entity_id=record.id, detail=detail, now=now
    )
    session.flush()
    return row
