"""Many writers at once: simultaneous web forms, API calls and WhatsApp messages all succeed; SMS senders share.

Each test starts its requests together (a barrier) in threads of one process against a real
database file or server, as a threaded web server would run them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from admin.app import create_app
from alo185 import services
from alo185.channels import api_keys, whatsapp
from alo185.channels.models import InboundMessage
from alo185.core import db
from alo185.core.settings import Settings
from alo185.sms.gateways import LogGateway
from alo185.sms.models import SmsMessage
from alo185.sms.sender import Sender
from alo185.tickets import queries
from alo185.tickets.models import Citizen, Ticket, TicketHistory
from harness import pg_cluster

SECRET = "meta-app-secret"
WRITERS = 20


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Flask:
    settings = Settings(
        var_dir=tmp_path, db_url=database_url, whatsapp_verify_token="belirtec", whatsapp_app_secret=SECRET
    )
    services.prepare_database(settings)
    return create_app(settings)


def _all_at_once(count: int, request: Callable[[int], Any]) -> list[Any]:
    """``request(i)`` for i in 0..count-1, each in its own thread, released together."""
    start = threading.Barrier(count)

    def run(i: int) -> Any:
        start.wait()
        return request(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _count(app: Flask, model: type, *where: Any) -> int:
    with app.extensions["alo185.sessions"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_simultaneous_web_forms_all_record_their_ticket(app: Flask) -> None:
    def submit(i: int) -> int:
        form = {
            "name": f"Vatandaş {i}",
            "phone": f"0532 700 {i:02d} 21",
            "category": "cop-toplama",
            "description": f"Çöp toplanmadı ({i})",
            "consent": "on",
        }
        # Each from an address of its own: the per-address limit is not what is tested here.
        return (
            app.test_client().post("/basvuru", data=form, environ_base={"REMOTE_ADDR": f"10.0.0.{i + 1}"}).status_code
        )

    assert Counter(_all_at_once(WRITERS, submit)) == {200: WRITERS}
    assert _count(app, Ticket, Ticket.channel == "web") == WRITERS
    assert _count(app, Citizen) == WRITERS


def test_simultaneous_api_calls_for_the_same_new_caller_make_one_citizen(app: Flask) -> None:
    with app.extensions["alo185.sessions"].begin() as s:
        key = api_keys.create(s, "e-Belediye")

    def create(i: int) -> int:
        body = {"category": "yol-cukur", "description": f"Çukur {i}", "phone": "0532 111 22 33"}
        return (
            app.test_client().post("/api/v1/tickets", json=body, headers={"Authorization": f"Bearer {key}"}).status_code
        )

    assert Counter(_all_at_once(WRITERS, create)) == {201: WRITERS}
    assert _count(app, Ticket) == WRITERS
    assert _count(app, Citizen, Citizen.phone == "+905321112233") == 1


def _whatsapp(app: Flask, sender: str, message_id: str, text: str) -> int:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA_ID",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "contacts": [{"profile": {"name": "Zeynep Kılıç"}, "wa_id": sender}],
                            "messages": [
                                {"from": sender, "id": message_id, "timestamp": "1763700000", "type": "text",
                                 "text": {"body": text}}
                            ],
                        },
                    }
                ],
            }
        ],
    }  # fmt: skip
    body = json.dumps(payload).encode()
    headers = {"X-Hub-Signature-256": whatsapp.signature(SECRET, body), "Content-Type": "application/json"}
    return app.test_client().post("/webhooks/whatsapp", data=body, headers=headers).status_code


def _what_a_sender_made(app: Flask, phone: str) -> dict[str, Any]:
    with app.extensions["alo185.sessions"]() as s:
        citizens = s.scalars(select(Citizen.id).where(Citizen.phone == phone)).all()
        tickets = s.scalars(select(Ticket.id).where(Ticket.citizen_id.in_(citizens))).all()
        notes = s.scalar(
            select(func.count())
            .select_from(TicketHistory)
            .where(TicketHistory.ticket_id.in_(tickets), TicketHistory.channel == "whatsapp")
        )
        actions = Counter(s.scalars(select(InboundMessage.action).where(InboundMessage.phone == phone)))
        texts = Counter(s.scalars(select(SmsMessage.template).where(SmsMessage.phone == phone)))
    return {"citizens": len(citizens), "tickets": len(tickets), "notes": notes, "actions": actions, "texts": texts}


@pytest.mark.parametrize("known", [False, True], ids=["new sender", "known sender without an open ticket"])
def test_simultaneous_first_whatsapp_messages_of_a_sender_are_one_ticket_and_notes(app: Flask, known: bool) -> None:
    if known:  # a citizen from before (a call, a finished ticket): nothing open to add the messages to
        with app.extensions["alo185.sessions"].begin() as s:
            s.add_all([Citizen(phone="+905321230001"), Citizen(phone="+905321230002")])
    count = 8
    together = _all_at_once(count, lambda i: _whatsapp(app, "905321230001", f"wamid.A{i}", f"Su yok, mesaj {i}"))
    for i in range(count):  # another such sender, one message after the other: what the same messages make
        assert _whatsapp(app, "905321230002", f"wamid.B{i}", f"Su yok, mesaj {i}") == 200

    assert together == [200] * count
    made = _what_a_sender_made(app, "+905321230001")
    assert made == _what_a_sender_made(app, "+905321230002")
    assert made["citizens"] == made["tickets"] == 1 and made["actions"] == {"new_ticket": 1, "note": count - 1}


def test_a_unit_that_lost_the_race_for_a_new_row_is_run_again(postgres_server: str, postgres_template: str) -> None:
    # On PostgreSQL two writers can both find no citizen and both insert one; on SQLite the write
    # transaction holds the lock from its start, so the other writer waits instead (tests above).
    url = pg_cluster.create_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}", template=postgres_template)
    sessions = db.session_factory(url)
    runs = []

    def find_or_add(s: Session) -> int:
        runs.append(1)
        citizen = s.scalar(select(Citizen).where(Citizen.phone == "+905320000001"))
        if citizen is None:
            if len(runs) == 1:  # another request adds the same new citizen in between
                with sessions.begin() as other:
                    other.add(Citizen(phone="+905320000001"))
            citizen = Citizen(phone="+905320000001")
            s.add(citizen)
            s.flush()
        return citizen.id

    try:
        assert db.write(sessions, find_or_add) and len(runs) == 2
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(Citizen)) == 1
    finally:
        db.engine_for(url).dispose()


def test_a_unit_that_fails_for_another_reason_is_not_run_again(app: Flask) -> None:
    runs = []

    def broken(s: Session) -> None:
        runs.append(1)
        s.add(Ticket())  # no number, no category: wrong however often it is run
        s.flush()

    with pytest.raises(IntegrityError):
        db.write(app.extensions["alo185.sessions"], broken)
    assert len(runs) == 1


class _Provider(LogGateway):
    """The log gateway, noting each reference it is handed (a provider takes a moment per message)."""

    def __init__(self) -> None:
        self.references: list[str] = []

    def send(self, phone: str, text: str, reference: str) -> str:
        time.sleep(0.005)
        self.references.append(reference)
        return super().send(phone, text, reference)


def test_senders_at_once_hand_each_text_over_once(app: Flask) -> None:
    sessions = app.extensions["alo185.sessions"]
    with sessions.begin() as s:
        for i in range(12):
            queries.create_ticket(
                s, phone=f"+90532800{i:04d}", category_code="yol-cukur", description="Çukur", channel="phone"
            )
    provider = _Provider()
    senders = [Sender(app.config["ALO185"], provider) for _ in range(4)]

    _all_at_once(len(senders), lambda i: senders[i].run_once())

    with sessions() as s:
        statuses = Counter(s.scalars(select(SmsMessage.status)))
    assert statuses == {"sent": 12}
    assert Counter(Counter(provider.references).values()) == {1: 12}  # each once
