"""Sending what is due in the outbox, with retries and backoff (run by ``alo185 sms``: ``workers.sms``).

The outbox is in the database, so a restart loses nothing: a message is ``pending`` until the
provider has taken it. A crash between the provider's reply and our commit sends it again; the
row id travels as the provider's idempotency key.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from alo185.core import db, links
from alo185.core.settings import Settings
from alo185.sms import outbox, templates
from alo185.sms.gateways import Gateway, HttpGateway, LogGateway, SendError
from alo185.sms.models import SmsMessage

log = logging.getLogger(__name__)


def gateway_for(settings: Settings) -> Gateway:
    if settings.sms_gateway == "log":
        return LogGateway()
    if settings.sms_gateway == "http":
        return HttpGateway(settings.sms_url, settings.sms_user, settings.sms_password)
    raise ValueError(f"unknown sms_gateway {settings.sms_gateway!r} (log or http)")


class Sender:
    def __init__(self, settings: Settings, gateway: Gateway | None = None) -> None:
        self.sessions: sessionmaker[Session] = db.session_factory(settings.database_url)
        self.gateway = gateway or gateway_for(settings)
        self.secret = settings.secrets()["flask_secret_key"]
        self.base_url = settings.public_base_url
        self.reopen_days = settings.reopen_window_days

    def params(self, message: SmsMessage) -> dict[str, object]:
        """The stored fields plus the links, made at sending time from the instance's secret."""
        params: dict[str, object] = {"days": self.reopen_days, **(message.params or {})}
        if message.ticket_id is not None:
            for purpose, field in (("track", "link"), ("survey", "survey_link")):
                token = links.sign(self.secret, purpose, message.ticket_id)
                params[field] = links.url(self.base_url, purpose, token)
        return params

    def run_once(self, now: datetime | None = None, limit: int = 50) -> int:
        """Send what is due now, up to ``limit``; returns how many were tried.

        Each message in a short write transaction of its own, so a web form waits for one send at
        most, not a batch; on SQLite the write lock keeps two senders off one message, on PostgreSQL
        the row lock does (``outbox.due`` skips locked rows).
        """
        now = now or datetime.now(UTC)
        with self.sessions() as s:  # an idle sender only reads: it takes no write lock to find nothing
            if not outbox.due(s, now, limit=1):
                return 0
        tried = 0
        while tried < limit:
            with db.writing(self.sessions) as s:
                due = outbox.due(s, now, limit=1)
                if not due:
                    break
                self.send(s, due[0], now)
            tried += 1
        return tried

    def send(self, session: Session, message: SmsMessage, now: datetime) -> None:
        """One message through the gateway; the result (sent, retry later, failed) is kept on its row."""
        body = templates.render(session, message.template, self.params(message))
        try:
            provider_id = self.gateway.send(message.phone, body, f"sms-{message.id}")
        except SendError as exc:
            outbox.failed(message, body, str(exc), exc.permanent, now)
            log.warning("SMS %s not sent (attempt %d): %s", message.id, message.attempts, exc)
        else:
            outbox.sent(message, body, provider_id, now)
