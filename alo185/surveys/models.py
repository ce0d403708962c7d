"""Surveys' records: the answers, the spoken comments after a "memnun değilim", the numbers that opted out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, UTCDateTime


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
    words: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    transcribe_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class SurveyOptOut(Base):
    """A caller who asked (key 9) never to be surveyed again."""

    __tablename__ = "survey_opt_outs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
