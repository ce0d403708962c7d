"""Text messages to citizens: the outbox (each row is the record of one message) and its templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, UTCDateTime


class SmsMessage(Base):
    """One message, from the moment it is due to its delivery (or its final failure).

    Written in the same transaction as the change it tells of, so a committed change always has
    its message, and a rolled-back one never does. ``key`` makes the same news go out once.
    """

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)  # e.g. "ticket-12:resolved:3"
    phone: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending | sent | failed
    body: Mapped[str | None] = mapped_column(Text)  # as sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsTemplate(Base):
    """The Turkish text of one kind of message, editable in the admin; ``{name}`` fields are filled in."""

    __tablename__ = "sms_templates"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now(), onupdate=func.now())
