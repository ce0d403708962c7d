"""Voicemails: the audio, its transcript and the ticket it became."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, UTCDateTime


class Voicemail(Base):
    """One message, keyed by the call's uniqueid so a redelivered job never makes a second ticket."""

    __tablename__ = "voicemails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(32), default="")
    ivr_path: Mapped[str] = mapped_column(String(500), default="")
    reason: Mapped[str] = mapped_column(String(32), default="")  # after_hours, no_operator, choice, …
    lang: Mapped[str] = mapped_column(String(2), default="tr")
    audio_file: Mapped[str] = mapped_column(String(300))  # relative to the voicemail archive
    audio_s: Mapped[float] = mapped_column(Float, default=0.0)
    transcript: Mapped[str | None] = mapped_column(Text)
    words: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{"word", "start", "end", "conf"}]
    confidence: Mapped[float | None] = mapped_column(Float)
    transcribe_error: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(100), default="")
    suggested_category: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
