"""The non-conforming service procedure's records: non-conformities, corrective actions (DİF), steps, evidence."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alo185.core.orm import Base, StrEnumType, UTCDateTime, utcnow
from alo185.org.models import Directorate, Institution, User
from alo185.tickets.models import Ticket


class NonconformityDecision(StrEnum):
    """The two decisions the non-conforming service procedure allows."""

    REOPEN = "reopen"
    REDIRECT = "redirect"


class CorrectiveActionStatus(StrEnum):
    OPEN = "open"
    PLANNED = "planned"
    DONE = "done"
    APPROVED = "approved"
    CLOSED = "closed"


class Nonconformity(Base):
    """A non-conforming service record (uygun olmayan hizmet) with its finding (bulgu) and decision."""

    __tablename__ = "nonconformities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    directorate_id: Mapped[int | None] = mapped_column(ForeignKey("directorates.id"), index=True)
    finding: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(128))
    decision: Mapped[NonconformityDecision | None] = mapped_column(StrEnumType(NonconformityDecision))
    decision_note: Mapped[str | None] = mapped_column(Text)
    redirect_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket | None] = relationship()
    directorate: Mapped[Directorate | None] = relationship()
    redirect_institution: Mapped[Institution | None] = relationship()
    corrective_actions: Mapped[list[CorrectiveAction]] = relationship(back_populates="nonconformity")


class CorrectiveAction(Base):
    """A DİF: planned by the directorate manager, evidenced, approved by the manager, closed by quality."""

    __tablename__ = "corrective_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformities.id"), index=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"), index=True)
    status: Mapped[CorrectiveActionStatus] = mapped_column(
        StrEnumType(CorrectiveActionStatus), default=CorrectiveActionStatus.OPEN
    )
    problem: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(128), default="")
    action_plan: Mapped[str | None] = mapped_column(Text)
    planned_by: Mapped[str | None] = mapped_column(String(128))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closure_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    nonconformity: Mapped[Nonconformity | None] = relationship(back_populates="corrective_actions")
    directorate: Mapped[Directorate] = relationship()
    steps: Mapped[list[CorrectiveActionStep]] = relationship(
        back_populates="corrective_action", order_by="CorrectiveActionStep.id"
    )
    evidence_files: Mapped[list[CorrectiveActionEvidence]] = relationship(
        back_populates="corrective_action", order_by="CorrectiveActionEvidence.id"
    )


class CorrectiveActionStep(Base):
    """One action of a DİF's plan: who does it by when, and when it was done."""

    __tablename__ = "corrective_action_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corrective_action_id: Mapped[int] = mapped_column(ForeignKey("corrective_actions.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)

    corrective_action: Mapped[CorrectiveAction] = relationship(back_populates="steps")
    assignee: Mapped[User | None] = relationship()


class CorrectiveActionEvidence(Base):
    """A file proving an action was done, stored under the instance's evidence directory."""

    __tablename__ = "corrective_action_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    corrective_action_id: Mapped[int] = mapped_column(ForeignKey("corrective_actions.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("corrective_action_steps.id"))
    file_name: Mapped[str] = mapped_column(String(200))  # as uploaded
    stored_as: Mapped[str] = mapped_column(String(300))  # relative to the evidence directory
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    corrective_action: Mapped[CorrectiveAction] = relationship(back_populates="evidence_files")
