"""The WhatsApp Business Cloud API webhook: handshake, signature, messages -> tickets and notes."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.app import create_app
from alo185 import services
from alo185.channels.models import InboundMessage
from alo185.core import db
from alo185.core.settings import Settings
from alo185.sms.models import SmsMessage
from alo185.tickets.models import Ticket, TicketAttachment, TicketHistory

SECRET = "meta-app-secret"
TOKEN = "dogrulama-belirteci"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> tuple[FlaskClient, Settings]:
    settings = Settings(var_dir=tmp_path, db_url=database_url, whatsapp_verify_token=TOKEN, whatsapp_app_secret=SECRET)
    services.prepare_database(settings)
    return create_app(settings).test_client(), settings


def _notification(*messages: dict, name: str = "Zeynep Kılıç", wa_id: str = "905321234567") -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA_ID",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "903242340185", "phone_number_id": "PNID"},
                            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def _text(message_id: str, body: str, sender: str = "905321234567") -> dict:
    return {"from": sender, "id": message_id, "timestamp": "1763700000", "type": "text", "text": {"body": body}}


def _post(client: FlaskClient, payload: object, secret: str = SECRET):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/webhooks/whatsapp", data=body, headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"}
    )


def _count(settings: Settings, model: type) -> int:
    with db.session_factory(settings.database_url)() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_the_verification_handshake(app) -> None:
    client, settings = app
    ok = client.get(f"/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1158201444")
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    assert client.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1").status_code == 403
    off = create_app(settings.replace(whatsapp_app_secret="")).test_client()
    assert off.get(f"/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1").status_code == 404


def test_a_message_opens_a_ticket_once(app) -> None:
    client, settings = app
    payload = _notification(_text("wamid.A1", "Merhaba, sokağımızda çöpler 3 gündür toplanmadı"))
    reply = _post(client, payload)
    assert reply.status_code == 200 and reply.get_json()["messages"][0]["action"] == "new_ticket"
    assert _post(client, payload).status_code == 200  # Meta delivers again
    with db.session_factory(settings.database_url)() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.citizen is not None
        assert (ticket.channel, ticket.category.code, ticket.citizen.phone) == (
            "whatsapp",
            "cop-toplama",
            "+905321234567",
        )
        assert ticket.citizen.full_name == "Zeynep Kılıç"
        assert [m.template for m in s.scalars(select(SmsMessage))] == ["created"]  # the answer, via the outbox
    assert _count(settings, InboundMessage) == 1


def test_a_later_message_is_a_note_on_the_open_ticket_and_a_photo_an_attachment(app) -> None:
    client, settings = app
    _post(client, _notification(_text("wamid.B1", "Parktaki salıncak kırık")))
    photo = {
        "from": "905321234567",
        "id": "wamid.B2",
        "timestamp": "1763700100",
        "type": "image",
        "image": {"id": "MEDIA123", "mime_type": "image/jpeg", "caption": "İşte fotoğrafı"},
    }
    reply = _post(client, _notification(photo))
    assert reply.get_json()["messages"][0]["action"] == "note"
    with db.session_factory(settings.database_url)() as s:
        ticket = s.scalars(select(Ticket)).one()
        notes = s.scalars(select(TicketHistory.note).where(TicketHistory.note.isnot(None))).all()
        assert notes == ["İşte fotoğrafı"]
        attachment = s.scalars(select(TicketAttachment)).one()
        assert (attachment.ticket_id, attachment.kind, attachment.ref) == (ticket.id, "image", "whatsapp:MEDIA123")
        assert sorted(m.template for m in s.scalars(select(SmsMessage))) == ["created", "message_added"]


@pytest.mark.parametrize(
    ("payload", "secret", "status"),
    [
        (_notification(_text("wamid.C1", "çukur")), "wrong-secret", 401),
        (b"{not json", SECRET, 400),
        ({"object": "page", "entry": []}, SECRET, 400),
        ({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]}, SECRET, 400),
        (_notification({"from": "905321234567", "id": "wamid.C2", "type": "text"}), SECRET, 400),  # no text
        (_notification(_text("wamid.C3", "x", sender="abc")), SECRET, 400),
    ],
    ids=["bad-signature", "not-json", "other-object", "no-value", "no-text", "bad-number"],
)
def test_bad_deliveries_are_refused_and_change_nothing(app, payload, secret: str, status: int) -> None:
    client, settings = app
    reply = _post(client, payload, secret)
    assert reply.status_code == status and reply.get_json()["error"]
    assert _count(settings, Ticket) == 0 and _count(settings, InboundMessage) == 0


def test_status_updates_are_acknowledged_and_ignored(app) -> None:
    client, settings = app
    statuses = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "W", "changes": [{"field": "messages", "value": {"statuses": [{"id": "wamid.X"}]}}]}],
    }
    assert _post(client, statuses).get_json()["received"] == 0
    assert _count(settings, Ticket) == 0
