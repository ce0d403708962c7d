"""What is due to be sent. Rows are added in the caller's transaction (the outbox pattern).

A message is keyed (``enqueue``): the same key again is a no-op, so a retried transaction never
queues a text twice. The sender (``alo185.sms.sender``) takes what is due, with backoff.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.sms.models import SmsMessage

MOBILE = re.compile(r"\+905\d{9}")  # Turkish mobile numbers: the only ones a text reaches


MAX_ATTEMPTS = 8


def enqueue(
    session: Session, key: str, phone: str, template: str, params: dict[str, Any], ticket_id: int | None = None
) -> SmsMessage | None:
    """Queue one message; None when the number takes no texts. The same ``key`` again is a no-op."""
    if not MOBILE.fullmatch(phone or ""):
        return None
    existing = session.scalar(select(SmsMessage).where(SmsMessage.key == key))
    if existing is not None:
        return existing
    message = SmsMessage(
        key=key,
        phone=phone,
        template=template,
        params=params,
        ticket_id=ticket_id,
        status="pending",
        attempts=0,
        next_attempt_at=datetime.now(UTC),
    )
    session.add(message)
    return message


def due(session: Session, now: datetime, limit: int = 50) -> list[SmsMessage]:
    query = (
        select(SmsMessage)
        .where(SmsMessage.status == "pending", SmsMessage.next_attempt_at <= now)
        .order_by(SmsMessage.next_attempt_at, SmsMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # several senders share the work
    return list(session.scalars(query))


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def sent(message: SmsMessage, body: str, provider_id: str, now: datetime) -> None:
    message.status, message.body, message.provider_id, message.sent_at = "sent", body, provider_id, now
    message.attempts += 1
    message.last_error = None


def failed(message: SmsMessage, body: str, error: str, permanent: bool, now: datetime) -> None:
    message.attempts += 1
    message.body, message.last_error = body, error[:2000]
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    else:
        message.next_attempt_at = now + backoff(message.attempts)
