"""Callbacks: a caller who chose to be called back keeps their place in the queue.

The queue manager owns each row after the IVR creates it (``queue_manager/callbacks.py``): it puts
a placeholder into the caller's queue, and when an operator takes it the citizen is dialled.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alo185.core.orm import Base, StrEnumType, UTCDateTime, utcnow

# Placeholder channels' uniqueids start so (``<prefix><id>-<placement>``, its queue half ends in "-q"):
# they are not citizens' calls, and the recorder leaves them out of the call records.
PLACEHOLDER_PREFIX = "alo185cb-"


class CallbackState(StrEnum):
    REQUESTED = "requested"  # waiting to be placed (at once, or after a failed attempt at next_attempt_at)
    QUEUED = "queued"  # its placeholder waits in the queue
    OPERATOR_CONNECTED = "operator_connected"  # an operator took the placeholder and hears the notice
    DIALING = "dialing"  # the citizen's phone rings
    CONNECTED = "connected"  # the citizen answered: done
    FAILED = "failed"  # no answer after the last attempt (or the place could not be kept)
    CANCELLED = "cancelled"


PLACED_STATES = (CallbackState.QUEUED, CallbackState.OPERATOR_CONNECTED, CallbackState.DIALING)
OPEN_STATES = (CallbackState.REQUESTED, *PLACED_STATES)


class Callback(Base):
    """One callback, keyed by the uniqueid of the call that asked for it."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(32))  # E.164, the number called back
    queue: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    lang: Mapped[str] = mapped_column(String(2), default="tr")
    state: Mapped[CallbackState] = mapped_column(StrEnumType(CallbackState), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Calls to the citizen's phone so far, and placeholders put into the queue so far.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    placements: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a requested one is placed from then
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    placeholder: Mapped[str | None] = mapped_column(String(64))  # uniqueid of the current (or last) placeholder
    operator: Mapped[str | None] = mapped_column(String(128))  # who took it (queue member name)
    # connected | no_answer | busy | unavailable | expired | unplaceable | cancelled
    outcome: Mapped[str | None] = mapped_column(String(16))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
