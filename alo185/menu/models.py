"""The IVR's data: published menu versions, uploaded prompt recordings, announcements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, UTCDateTime


class MenuVersion(Base):
    """One version of the menu tree (YAML). Published versions are never changed or deleted."""

    __tablename__ = "ivr_menu_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    yaml: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class PromptRecording(Base):
    """A recording uploaded in the admin; it is played instead of the rendered text."""

    __tablename__ = "ivr_prompt_recordings"
    __table_args__ = (UniqueConstraint("prompt", "lang", name="uq_ivr_prompt_recordings_prompt_lang"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(2))
    file_name: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(64), default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class Announcement(Base):
    """A message callers hear before the menu (a planned water outage…), city-wide or for some areas."""

    __tablename__ = "ivr_announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_tr: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text, default="")
    text_ar: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Empty lists: city-wide. Names as in the district/mahalle tables.
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    mahalles: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
