"""KVKK record keeping: how long each kind of record is kept, and what the destruction job removed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, UTCDateTime, utcnow


class RetentionRule(Base):
    """How many days one record type is kept before the destruction job deletes or anonymises it."""

    __tablename__ = "retention_rules"

    record_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    keep_days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DestructionLog(Base):
    """One destruction run for one record type (imha tutanağı): what, up to when, how many, by whom."""

    __tablename__ = "destruction_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    record_type: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))  # delete | anonymise
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(Text)
