"""Citizens, categories, tickets and everything recorded about a ticket's life.

Enumerations are ``StrEnum`` in ``VARCHAR`` columns (see ``StrEnumType``); the workflow that
moves a ticket between statuses lives in ``alo185.tickets.workflow``.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship, validates

from alo185.core.orm import Base, StrEnumType, UTCDateTime, utcnow
from alo185.org.models import Directorate, District, Institution, Mahalle, User

MASKED_TC = re.compile(r"\d{3}\*{6}\d{2}")


class SlaUnit(StrEnum):
    HOURS = "hours"
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class LegalDeadline(StrEnum):
    """Statutory answer deadline that caps a category's own SLA."""

    NONE = "none"
    PETITION = "petition"  # 3071 sayılı Dilekçe Hakkı Kanunu: 30 days
    INFORMATION = "information"  # 4982 sayılı Bilgi Edinme Hakkı Kanunu: 15 working days


class PlatformRole(StrEnum):
    NONE = "none"
    MUHTAR = "muhtar"
    ESNAF = "esnaf"
    MECLIS_UYESI = "meclis_uyesi"


class TicketType(StrEnum):
    ISTEK = "istek"
    SIKAYET = "sikayet"
    ONERI = "oneri"
    BILGI = "bilgi"
    IHBAR = "ihbar"
    TESEKKUR = "tesekkur"


class Channel(StrEnum):
    """How a request reached the municipality."""

    PHONE = "phone"
    WHATSAPP = "whatsapp"
    WEB = "web"
    EMAIL = "email"
    SOCIAL = "social"
    WALK_IN = "walk_in"
    PLATFORM = "platform"


class ChangeChannel(StrEnum):
    """Where a change to a ticket was made: the intake channels plus the staff and citizen tools."""

    PHONE = "phone"
    WHATSAPP = "whatsapp"
    WEB = "web"
    EMAIL = "email"
    SOCIAL = "social"
    WALK_IN = "walk_in"
    PLATFORM = "platform"
    ADMIN = "admin"
    TRACKING_LINK = "tracking_link"
    SYSTEM = "system"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    RECORDED = "recorded"
    ROUTED = "routed"
    IN_PROGRESS = "in_progress"
    AWAITING_CHIEF = "awaiting_chief"
    AWAITING_MANAGER = "awaiting_manager"
    CHECKED = "checked"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    REDIRECTED = "redirected"
    CANNOT_BE_DONE = "cannot_be_done"
    DUPLICATE = "duplicate"


class ApprovalLevel(StrEnum):
    CHIEF = "chief"
    MANAGER = "manager"


class ApprovalDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class Category(Base):
    """A request topic: where it is routed, how fast it must be answered, and whether it is ours at all."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    directorate_id: Mapped[int | None] = mapped_column(ForeignKey("directorates.id"), index=True)
    sla_unit: Mapped[SlaUnit] = mapped_column(StrEnumType(SlaUnit))
    sla_value: Mapped[int] = mapped_column(Integer)
    legal_deadline: Mapped[LegalDeadline] = mapped_column(StrEnumType(LegalDeadline), default=LegalDeadline.NONE)
    in_jurisdiction: Mapped[bool] = mapped_column(Boolean, default=True)
    default_redirect_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    requires_manager_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    default_priority: Mapped[Priority] = mapped_column(StrEnumType(Priority), default=Priority.NORMAL)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    directorate: Mapped[Directorate | None] = relationship()
    default_redirect_institution: Mapped[Institution | None] = relationship()


class Citizen(Base):
    """A caller or writer, keyed by phone number. The TC kimlik no is only ever stored masked (KVKK)."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    tc_masked: Mapped[str | None] = mapped_column(String(11))
    platform_role: Mapped[PlatformRole] = mapped_column(StrEnumType(PlatformRole), default=PlatformRole.NONE)
    platform_mahalle_id: Mapped[int | None] = mapped_column(ForeignKey("mahalles.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    mahalle_id: Mapped[int | None] = mapped_column(ForeignKey("mahalles.id"))
    address: Mapped[str | None] = mapped_column(Text)
    kvkk_notice_version: Mapped[str | None] = mapped_column(String(32))
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # personal data removed on request
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    platform_mahalle: Mapped[Mahalle | None] = relationship(foreign_keys=[platform_mahalle_id])
    district: Mapped[District | None] = relationship()
    mahalle: Mapped[Mahalle | None] = relationship(foreign_keys=[mahalle_id])
    tickets: Mapped[list[Ticket]] = relationship(back_populates="citizen")

    @validates("tc_masked")
    def _only_masked(self, _key: str, value: str | None) -> str | None:
        if value is not None and not MASKED_TC.fullmatch(value):
            raise ValueError("only a masked TC kimlik no (e.g. 123******78) may be stored")
        return value


class Ticket(Base):
    """One request, complaint, suggestion... and where it stands."""

    __tablename__ = "tickets"
    # A directorate's work list (queries.open_for_directorate) is read from this index alone.
    __table_args__ = (Index("ix_tickets_directorate_status_due", "directorate_id", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    type: Mapped[TicketType] = mapped_column(StrEnumType(TicketType))
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel))
    status: Mapped[TicketStatus] = mapped_column(StrEnumType(TicketStatus), index=True)
    priority: Mapped[Priority] = mapped_column(StrEnumType(Priority), default=Priority.NORMAL)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    directorate_id: Mapped[int | None] = mapped_column(ForeignKey("directorates.id"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    mahalle_id: Mapped[int | None] = mapped_column(ForeignKey("mahalles.id"))
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text)
    voicemail_transcript: Mapped[str | None] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text, default="")  # description + name, folded (tickets.search)
    call_uniqueid: Mapped[str | None] = mapped_column(String(64), index=True)
    public_answer: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    category: Mapped[Category] = relationship()
    directorate: Mapped[Directorate | None] = relationship()
    citizen: Mapped[Citizen | None] = relationship(back_populates="tickets")
    assignee: Mapped[User | None] = relationship()
    district: Mapped[District | None] = relationship()
    mahalle: Mapped[Mahalle | None] = relationship()
    duplicate_of: Mapped[Ticket | None] = relationship(remote_side=[id])
    history: Mapped[list[TicketHistory]] = relationship(
        back_populates="ticket", order_by="TicketHistory.id", passive_deletes="all"
    )


class TicketHistory(Base):
    """Append-only: one row per status change, never updated or deleted (records are kept 20 years)."""

    __tablename__ = "ticket_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    from_status: Mapped[TicketStatus | None] = mapped_column(StrEnumType(TicketStatus))
    to_status: Mapped[TicketStatus] = mapped_column(StrEnumType(TicketStatus))
    actor: Mapped[str] = mapped_column(String(128))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[ChangeChannel] = mapped_column(StrEnumType(ChangeChannel))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="history")


@event.listens_for(TicketHistory, "before_update")
@event.listens_for(TicketHistory, "before_delete")
def _history_is_append_only(_mapper: Mapper[TicketHistory], _conn: Connection, target: TicketHistory) -> None:
    raise ValueError(f"ticket history is append-only (row {target.id})")


class Approval(Base):
    """A chief's or manager's decision on a ticket's answer."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    level: Mapped[ApprovalLevel] = mapped_column(StrEnumType(ApprovalLevel))
    decision: Mapped[ApprovalDecision] = mapped_column(StrEnumType(ApprovalDecision))
    actor: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ticket: Mapped[Ticket] = relationship()


class Redirect(Base):
    """A ticket handed to another institution; the citizen is told the reason by SMS."""

    __tablename__ = "redirects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    citizen_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship()
    institution: Mapped[Institution] = relationship()


class EscalationNotice(Base):
    """A warning sent about a ticket's deadline; unique per deadline, so a restart or rerun sends nothing twice."""

    __tablename__ = "escalation_notices"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "due_at", name="uq_escalation_notices_ticket_id_kind_due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # warn_chief | overdue
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ticket: Mapped[Ticket] = relationship()
    user: Mapped[User] = relationship()


class TicketAttachment(Base):
    """A file that came with a ticket: a photo or document from WhatsApp, a voicemail's audio…

    ``ref`` is where it is: a path under the instance's storage, or the channel's own media id
    (fetched from the channel when someone opens it).
    """

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | audio | video | document | voicemail
    ref: Mapped[str] = mapped_column(String(300))
    mime_type: Mapped[str] = mapped_column(String(100), default="")
    caption: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # the channel it came by
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
