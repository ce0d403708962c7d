"""WhatsApp Business Cloud API webhook: the verification handshake, the signature, messages -> tickets.

A message from a number with an open ticket is added to that ticket as a note; otherwise it
opens a new ticket (channel ``whatsapp``, category suggested from the words like a voicemail's).
Photos, voice notes and documents are kept as attachments by their media id. Meta retries
deliveries, so each message is taken once, by its id. The citizen is answered through the SMS
outbox.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.channels.models import InboundMessage
from alo185.core.phone import normalize
from alo185.sms import outbox
from alo185.tickets import queries
from alo185.tickets.models import Citizen, Ticket, TicketAttachment, TicketHistory
from alo185.voicemail.categorize import Rules

CHANNEL = "whatsapp"
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")


class Malformed(ValueError):
    """The payload is not a WhatsApp webhook notification as documented."""


@dataclass(frozen=True)
class Incoming:
    message_id: str
    phone: str  # E.164
    name: str
    kind: str
    text: str = ""
    media_id: str = ""
    mime_type: str = ""
    sent_at: datetime | None = None


def handshake(mode: str | None, token: str | None, challenge: str | None, verify_token: str) -> str | None:
    """The challenge to echo when Meta subscribes with our verify token; None otherwise."""
    if mode != "subscribe" or not token or not challenge or not verify_token:
        return None
    return challenge if hmac.compare_digest(token.encode(), verify_token.encode()) else None


def signature_ok(app_secret: str, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC of the raw body with the app secret>``."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def parse(payload: Any) -> list[Incoming]:
    """The messages in a notification (status updates and other fields are skipped)."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise Malformed("not a whatsapp_business_account notification")
    try:
        found = []
        for entry in payload["entry"]:
            for change in entry["changes"]:
                if change.get("field") != "messages":
                    continue
                value = change["value"]
                names = {c["wa_id"]: c.get("profile", {}).get("name", "") for c in value.get("contacts", [])}
                found += [_message(m, names) for m in value.get("messages", [])]
        return found
    except (KeyError, TypeError, AttributeError) as exc:
        raise Malformed(f"missing or wrong field: {exc}") from exc


def _message(raw: dict[str, Any], names: dict[str, str]) -> Incoming:
    phone = normalize("+" + str(raw["from"]).lstrip("+"))
    if phone is None:
        raise Malformed(f"not a phone number: {raw['from']!r}")
    kind = str(raw["type"])
    sent_at = datetime.fromtimestamp(int(raw["timestamp"]), UTC) if raw.get("timestamp") else None
    common: dict[str, Any] = {
        "message_id": str(raw["id"]),
        "phone": phone,
        "name": names.get(str(raw["from"]), ""),
        "sent_at": sent_at,
    }
    if kind == "text":
        return Incoming(kind=kind, text=str(raw["text"]["body"]), **common)
    if kind in MEDIA_KINDS:
        media = raw[kind]
        return Incoming(
            kind=kind,
            text=str(media.get("caption", "")),
            media_id=str(media["id"]),
            mime_type=str(media.get("mime_type", "")),
            **common,
        )
    if kind == "location":
        place = raw["location"]
        return Incoming(kind=kind, text=f"Konum: {place['latitude']}, {place['longitude']}", **common)
    return Incoming(kind=kind, text=f"[{kind}]", **common)


def handle(session: Session, message: Incoming, rules: Rules) -> InboundMessage:
    """A note on the sender's open ticket, or a new ticket; once per message id."""
    existing = session.scalar(
        select(InboundMessage).where(
            InboundMessage.channel == CHANNEL, InboundMessage.external_id == message.message_id
        )
    )
    if existing is not None:
        return existing
    text = message.text.strip() or {"image": "[fotoğraf]", "audio": "[sesli mesaj]"}.get(message.kind, "[dosya]")
    # Messages of one sender arriving at once must not each find no open ticket and open one apiece:
    # the sender's citizen row is locked until the transaction ends (a new sender has no row yet: the
    # unique phone makes the second insert fail, and the request runs again).
    session.execute(select(Citizen.id).where(Citizen.phone == message.phone).with_for_update())
    open_tickets = queries.open_tickets_for_phone(session, message.phone)
    if open_tickets:
        ticket, action = open_tickets[0], "note"
        _note(session, ticket, text)
        outbox.enqueue(
            session,
            f"whatsapp-{message.message_id}",
            message.phone,
            "message_added",
            {"number": ticket.number},
            ticket.id,
        )
    else:
        action = "new_ticket"
        category = rules.suggest(text) or rules.fallback
        ticket = queries.create_ticket(
            session, phone=message.phone, category_code=category, description=text, channel=CHANNEL, actor="citizen"
        )
        if ticket.citizen is not None and not ticket.citizen.full_name and message.name:
            ticket.citizen.full_name = message.name[:200]
    if message.media_id:
        session.add(
            TicketAttachment(
                ticket_id=ticket.id,
                kind=message.kind if message.kind != "sticker" else "image",
                ref=f"whatsapp:{message.media_id}",
                mime_type=message.mime_type,
                caption=message.text or None,
                source=CHANNEL,
            )
        )
    row = InboundMessage(
        channel=CHANNEL,
        external_id=message.message_id,
        phone=message.phone,
        body=message.text,
        ticket_id=ticket.id,
        action=action,
    )
    session.add(row)
    session.flush()
    return row


def _note(session: Session, ticket: Ticket, text: str) -> None:
    """The citizen's words added to the ticket's history (no change of status)."""
    session.add(
        TicketHistory(
            ticket=ticket,
            from_status=ticket.status,
            to_status=ticket.status,
            actor="citizen",
            channel=CHANNEL,
            note=text[:4000],
            created_at=datetime.now(UTC),
        )
    )
