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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.channels import schemas
from alo185.channels.models import InboundMessage
from alo185.core.phone import normalize
from alo185.sms import outbox
from alo185.tickets import queries
from alo185.tickets.models import Citizen, Ticket, TicketAttachment, TicketHistory
from alo185.voicemail.categorize import Rules

CHANNEL = "whatsapp"
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")
# What a citizen can say to us; reactions, system notices, "unsupported" and the rest are acknowledged and ignored.
KINDS = frozenset({"text", "location", *MEDIA_KINDS})
MAX_TIMESTAMP = 9_999_999_999  # seconds: a date Python can still represent
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=schemas.NO_NUL)]  # external_id
MediaId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=schemas.NO_NUL)]
Caption = Annotated[str, StringConstraints(max_length=schemas.DESCRIPTION_MAX, pattern=schemas.NO_NUL)]


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


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header Meta sends with ``body``: ``sha256=<hex HMAC with the app secret>``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is ``body``'s signature with the app secret (no secret configured: never)."""
    if not app_secret or not header:
        return False
    return hmac.compare_digest(signature(app_secret, body), header)


class _Payload(BaseModel):
    """A part of a notification: Meta adds fields over time, so unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Text(_Payload):
    body: schemas.Description


class _Media(_Payload):
    id: MediaId
    mime_type: Annotated[str, StringConstraints(max_length=100, pattern=schemas.NO_NUL)] = ""
    caption: Caption = ""


class _Location(_Payload):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


def _e164(sender: str) -> str:
    """Meta's ``from`` is the number in international form without its ``+``."""
    return normalize("+" + sender.lstrip("+")) or ""


def _a_number(sender: str) -> str:
    if not _e164(sender):
        raise ValueError("not a phone number")
    return sender


class _Message(_Payload):
    sender: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{6,15}$"), AfterValidator(_a_number)] = Field(
        alias="from"
    )
    id: MessageId
    timestamp: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP)
    type: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=schemas.NO_NUL)]
    text: _Text | None = None
    image: _Media | None = None
    audio: _Media | None = None
    video: _Media | None = None
    document: _Media | None = None
    sticker: _Media | None = None
    location: _Location | None = None

    @model_validator(mode="after")
    def _has_its_content(self) -> _Message:
        """A text without ``text``, a photo without ``image``…: no message to take."""
        if self.type in KINDS and getattr(self, self.type) is None:
            raise PydanticCustomError("missing", "a {kind} message needs its {kind} object", {"kind": self.type})
        return self


class _Profile(_Payload):
    name: schemas.Name = ""


class _Contact(_Payload):
    wa_id: str
    profile: _Profile = _Profile()


class _Value(_Payload):
    contacts: list[_Contact] = []
    messages: list[_Message] = []


class _Change(_Payload):
    field: str
    value: _Value | None = None

    @model_validator(mode="after")
    def _messages_have_a_value(self) -> _Change:
        if self.field == "messages" and self.value is None:
            raise PydanticCustomError("missing", "a messages change needs its value")
        return self


class _Entry(_Payload):
    changes: list[_Change]


class Notification(_Payload):
    """A webhook notification as Meta documents it; only what is read is checked, but all of that is."""

    object: Literal["whatsapp_business_account"]
    entry: list[_Entry]


def parse(body: bytes) -> tuple[list[Incoming], list[str]]:
    """The messages to take from a notification's raw body, and the ids of those acknowledged and ignored.

    Reactions, system notices, unsupported types and anything not a citizen's text, media or
    location are ignored; status updates and other fields are skipped. Raises pydantic's
    ``ValidationError`` naming each wrong field (bad JSON, too deep, a wrong type or limit).
    """
    notification = Notification.model_validate_json(body)
    taken: list[Incoming] = []
    ignored: list[str] = []
    for entry in notification.entry:
        for change in entry.changes:
            if change.field != "messages" or change.value is None:
                continue
            names = {c.wa_id: c.profile.name for c in change.value.contacts}
            for raw in change.value.messages:
                if raw.type in KINDS:
                    taken.append(_message(raw, names))
                else:
                    ignored.append(raw.id)
    return taken, ignored


def _message(raw: _Message, names: dict[str, str]) -> Incoming:
    sent_at = datetime.fromtimestamp(raw.timestamp, UTC) if raw.timestamp else None
    common: dict[str, Any] = {
        "message_id": raw.id,
        "phone": _e164(raw.sender),
        "name": names.get(raw.sender, ""),
        "kind": raw.type,
        "sent_at": sent_at,
    }
    if raw.text is not None and raw.type == "text":
        return Incoming(text=raw.text.body, **common)
    if raw.location is not None and raw.type == "location":
        return Incoming(text=f"Konum: {raw.location.latitude}, {raw.location.longitude}", **common)
    media = getattr(raw, raw.type)
    assert isinstance(media, _Media)  # KINDS: text, location, or a media kind (checked by _has_its_content)
    return Incoming(text=media.caption, media_id=media.id, mime_type=media.mime_type, **common)


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
