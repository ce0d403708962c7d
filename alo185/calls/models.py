"""Call records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, UTCDateTime


class CallRecord(Base):
    """One call into the hotline, keyed by Asterisk's uniqueid of the caller's channel."""

    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64))
    caller: Mapped[str | None] = mapped_column(String(32))
    digit: Mapped[str | None] = mapped_column(String(8))
    queue: Mapped[str | None] = mapped_column(String(64))
    agi_status: Mapped[str | None] = mapped_column(String(16))
    lang: Mapped[str | None] = mapped_column(String(2))
    ivr_path: Mapped[str | None] = mapped_column(String(500))
    kvkk_version: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(64))
    caller_kind: Mapped[str | None] = mapped_column(String(16))
    ivr_action: Mapped[str | None] = mapped_column(String(16))
    ivr_reason: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    wait_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    # "queue": Asterisk's AgentComplete TalkTime; "derived": hang-up time minus answer time.
    talk_source: Mapped[str | None] = mapped_column(String(8))
    duration_s: Mapped[float | None] = mapped_column(Float)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_by: Mapped[str | None] = mapped_column(String(128))
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(16))
    # Asterisk's hang-up cause code, or "pbx_lost" when the call died with Asterisk (closed at the resync).
    end_cause: Mapped[str | None] = mapped_column(String(16))
    hold_s: Mapped[float | None] = mapped_column(Float)  # total time the operator held the caller
    # The hold in progress (AMI Hold without its Unhold yet), and the end of the last hold counted in
    # hold_s: a redelivered Hold from before it is not opened again (admin/recorder.py).
    hold_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hold_counted_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recording_ref: Mapped[str | None] = mapped_column(String(255))  # the operator call's audio file, if recorded
    wrap_up_code: Mapped[str | None] = mapped_column(String(40))  # the operator's choice after the call
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now(), onupdate=func.now())
