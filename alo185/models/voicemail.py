"""What callers leave after the menu: voicemails (audio, transcript, ticket) and post-call surveys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from alo185.models.base import Base, UTCDateTime


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
    words: Mapped[list | None] = mapped_column(JSON)  # [{"word", "start", "end", "conf"}]
    confidence: Mapped[float | None] = mapped_column(Float)
    transcribe_error: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(100), default="")
    suggested_category: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class SurveyAnswer(Base):
    """One post-call survey: offered, and the key pressed (None: offered, not answered)."""

    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)  # the call's (or a web survey's token)
    caller: Mapped[str] = mapped_column(String(32), default="", index=True)
    channel: Mapped[str] = mapped_column(String(16), default="phone")
    answer: Mapped[int | None] = mapped_column(Integer)  # 1 çok memnunum … 4 fikrim yok
    queue: Mapped[str] = mapped_column(String(64), default="")
    operator: Mapped[str] = mapped_column(String(128), default="")
    lang: Mapped[str] = mapped_column(String(2), default="tr")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    has_comment: Mapped[bool] = mapped_column(default=False)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SurveyComment(Base):
    """The spoken comment after a "not satisfied", transcribed by the voicemail worker."""

    __tablename__ = "survey_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    audio_file: Mapped[str] = mapped_column(String(300))
    transcript: Mapped[str | None] = mapped_column(Text)
    words: Mapped[list | None] = mapped_column(JSON)
    transcribe_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class SurveyOptOut(Base):
    """A caller who asked (key 9) never to be surveyed again."""

    __tablename__ = "survey_opt_outs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
