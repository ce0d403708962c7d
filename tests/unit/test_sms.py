"""SMS: news of a ticket queued with the change itself, templates, and delivery with retries.

The HTTP adapter talks to a local fake provider that answers as told (ok, 500, 400, down).
"""

from __future__ import annotations

import http.server
import json
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alo185 import services
from alo185.core import db, links, procs
from alo185.core.settings import Settings
from alo185.org.models import Institution, User
from alo185.sms import templates
from alo185.sms.gateways import HttpGateway
from alo185.sms.models import SmsMessage
from alo185.sms.sender import Sender
from alo185.tickets import news, workflow
from alo185.tickets.models import Ticket, TicketStatus
from alo185.tickets.queries import create_ticket
from tests import disks
from tests.staff import staff_client
from workers.sms import run

S = TicketStatus


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    settings = Settings(var_dir=tmp_path, db_url=database_url, public_url="https://alo185.example.gov.tr")
    services.prepare_database(settings)
    return settings


@pytest.fixture
def sessions(settings: Settings):
    return db.session_factory(settings.database_url)


class Provider:
    """A fake SMS provider: records what it is sent and answers with ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict, dict]] = []
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server wants
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.received.append((body, dict(self.headers)))
                self.send_response(provider.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"id": f"p{len(provider.received)}"}).encode())

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.server.shutdown()


def _new_ticket(sessions, phone: str = "+905321234567", channel: str = "phone") -> int:
    with sessions.begin() as s:
        return create_ticket(s, phone=phone, category_code="yol-cukur", description="çukur", channel=channel).id


def _messages(sessions) -> list[tuple[str, str, str]]:
    with sessions() as s:
        return [(m.template, m.status, m.phone) for m in s.scalars(select(SmsMessage).order_by(SmsMessage.id))]


def _staff(s, role: str = "operator", directorate_id: int | None = None) -> str:
    username = f"{role}{directorate_id or 1}"
    if s.scalar(select(User).where(User.username == username)) is None:
        s.add(User(username=username, full_name=f"{role} bir", role=role, directorate_id=directorate_id))
        s.flush()
    return username


def _resolve(sessions, ticket_id: int) -> None:
    with sessions.begin() as s:
        ticket = s.get(Ticket, ticket_id)
        ticket.status = S.CHECKED  # the directorate's work and approvals are the workflow tests'
        workflow.transition(s, ticket, S.RESOLVED, actor=_staff(s), channel="admin")


# -- what gets queued ------------------------------------------------------------------------------
def test_a_new_ticket_queues_its_number_and_link_once(sessions) -> None:
    ticket_id = _new_ticket(sessions)
    assert _messages(sessions) == [("created", "pending", "+905321234567")]
    with sessions.begin() as s:
        assert news.ticket_news(s, s.get(Ticket, ticket_id), "created") is not None  # the same row
    assert len(_messages(sessions)) == 1


def test_a_landline_gets_no_text(sessions) -> None:
    _new_ticket(sessions, phone="+903242345678")
    assert _messages(sessions) == []


def test_redirect_cannot_be_done_and_resolution_are_told(sessions) -> None:
    a, b, c = (_new_ticket(sessions, phone=f"+90532111000{i}") for i in range(3))
    with sessions.begin() as s:
        other = s.scalar(select(Institution).where(Institution.kind == "external"))
        workflow.redirect(s, s.get(Ticket, a), actor=_staff(s), channel="admin", institution=other, reason="yetki")
        ticket_b = s.get(Ticket, b)
        chief = _staff(s, "chief", ticket_b.directorate_id)
        workflow.cannot_be_done(s, ticket_b, actor=chief, channel="admin", explanation="özel mülk")
    _resolve(sessions, c)
    kinds = {m[0] for m in _messages(sessions)}
    assert kinds == {"created", "redirected", "cannot_be_done", "resolved"}  # no survey: phone tickets
    with sessions() as s:
        redirected = s.scalar(select(SmsMessage).where(SmsMessage.template == "redirected"))
        assert redirected is not None and redirected.params["institution"] == other.name


def test_a_web_ticket_resolved_gets_the_survey_link_and_a_reopen_cycle_gets_new_news(sessions) -> None:
    ticket_id = _new_ticket(sessions, channel="web")
    _resolve(sessions, ticket_id)
    assert [m[0] for m in _messages(sessions)] == ["created", "resolved", "survey"]
    with sessions.begin() as s:
        workflow.reopen(s, s.get(Ticket, ticket_id), actor="citizen", channel="tracking_link", reason="sürüyor")
    _resolve(sessions, ticket_id)
    assert [m[0] for m in _messages(sessions)].count("resolved") == 2


# -- templates -----------------------------------------------------------------------------------------
def test_templates_are_checked_before_they_are_saved(sessions) -> None:
    with sessions.begin() as s:
        with pytest.raises(templates.TemplateError, match="unknown fields tc"):
            templates.save(s, "created", "Başvuru {number}, kimlik {tc}", by="admin")
        with pytest.raises(templates.TemplateError, match="unbalanced"):
            templates.save(s, "created", "Başvuru {number", by="admin")
        templates.save(s, "created", "Başvurunuz alındı: {number}. {link}", by="admin")
        assert templates.seed(s) == 0  # the edited text is kept
        assert templates.render(s, "created", {"number": "1234", "link": "L"}) == "Başvurunuz alındı: 1234. L"


# -- delivery ------------------------------------------------------------------------------------------
def test_delivery_with_links_and_idempotency_key(settings: Settings, sessions, provider: Provider) -> None:
    ticket_id = _new_ticket(sessions)
    sender = Sender(settings, HttpGateway(provider.url, "alo", "gizli"))
    assert sender.run_once() == 1
    [(body, headers)] = provider.received
    token = links.sign(settings.secrets()["flask_secret_key"], "track", ticket_id)
    assert body["to"] == "+905321234567" and f"https://alo185.example.gov.tr/takip/{token}" in body["text"]
    assert headers["Idempotency-Key"] == body["reference"] and headers["Authorization"].startswith("Basic ")
    with sessions() as s:
        message = s.scalars(select(SmsMessage)).one()
        assert (message.status, message.provider_id, message.attempts) == ("sent", "p1", 1)
        assert message.body == body["text"] and message.sent_at is not None
    assert sender.run_once() == 0  # nothing sent twice


def test_a_provider_error_is_retried_with_backoff_and_survives_a_restart(
    settings: Settings, sessions, provider: Provider
) -> None:
    _new_ticket(sessions)
    provider.status = 500
    now = datetime.now(UTC)
    Sender(settings, HttpGateway(provider.url)).run_once(now)
    with sessions() as s:
        message = s.scalars(select(SmsMessage)).one()
        assert (message.status, message.attempts) == ("pending", 1) and "HTTP 500" in message.last_error
        assert message.next_attempt_at - now == timedelta(seconds=30)
    assert Sender(settings, HttpGateway(provider.url)).run_once(now + timedelta(seconds=10)) == 0  # not yet
    provider.status = 200
    restarted = Sender(settings, HttpGateway(provider.url))  # a new process: the outbox is the record
    assert restarted.run_once(now + timedelta(seconds=31)) == 1
    assert _messages(sessions) == [("created", "sent", "+905321234567")]


def test_a_refused_message_fails_for_good_and_an_unreachable_provider_is_retried(
    settings: Settings, sessions, provider: Provider
) -> None:
    _new_ticket(sessions, phone="+905321110001")
    provider.status = 400
    Sender(settings, HttpGateway(provider.url)).run_once()
    assert _messages(sessions)[0][1] == "failed"
    _new_ticket(sessions, phone="+905321110002")
    Sender(settings, HttpGateway("http://127.0.0.1:9/send", timeout_s=2)).run_once()
    assert _messages(sessions)[1][1] == "pending"


def test_the_log_gateway_masks_numbers(settings: Settings, sessions, caplog) -> None:
    _new_ticket(sessions)
    with caplog.at_level("INFO"):
        Sender(settings).run_once()
    assert "+90 532 *** ** 67" in caplog.text and "+905321234567" not in caplog.text
    assert _messages(sessions)[0][1] == "sent"


def test_admin_edits_templates_and_lists_the_outbox_masked(settings: Settings, sessions) -> None:
    from admin.app import create_app

    _new_ticket(sessions)
    client = staff_client(create_app(settings))
    page = client.get("/sms/templates").get_data(as_text=True)
    assert "Sayın vatandaşımız" in page and "{link}" in page
    bad = client.post("/sms/templates/created", data={"text": "{number} {adres}"}, follow_redirects=True)
    assert "unknown fields adres" in bad.get_data(as_text=True)
    client.post("/sms/templates/created", data={"text": "Başvurunuz {number} alındı. {link}"})
    with sessions() as s:
        assert templates.render(s, "created", {"number": "42", "link": "L"}) == "Başvurunuz 42 alındı. L"
    outbox_page = client.get("/sms/").get_data(as_text=True)
    assert "+90 532 *** ** 67" in outbox_page and "+905321234567" not in outbox_page


def test_the_sender_waits_out_a_full_disk_and_then_sends_what_is_due(
    tmp_path: Path, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """The database's disk (a small tmpfs) fills up: no result can be kept. The sender keeps running, says so
    at ERROR a few times (each wait longer, no busy loop) and, once the disk is freed, the message ends
    sent; every try carried the same reference, so the provider sends it once."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], check=True)
    settings = Settings(var_dir=tmp_path, db_url=f"sqlite:///{disk / 'alo185.db'}", public_url="https://x.gov.tr")
    stopping = threading.Event()
    thread = threading.Thread(target=run, args=(Sender(settings, HttpGateway(provider.url)), stopping, 0.1, 1.0))
    try:
        services.prepare_database(settings)
        sessions = db.session_factory(settings.database_url)
        _new_ticket(sessions)
        filler = disks.fill(disk)
        with caplog.at_level(logging.ERROR, logger="workers.sms"):
            thread.start()
            assert procs.wait_until(lambda: any("full" in r.getMessage() for r in caplog.records), 10)
            time.sleep(2.5)
            assert thread.is_alive() and 2 <= len(caplog.records) <= 6, len(caplog.records)
            assert _messages(sessions) == [("created", "pending", "+905321234567")]

            filler.unlink()
            assert procs.wait_until(lambda: _messages(sessions)[0][1] == "sent", 30), caplog.text[-1000:]
            assert thread.is_alive()
        assert len({body["reference"] for body, _headers in provider.received}) == 1
    finally:
        stopping.set()
        if thread.is_alive():
            thread.join(10)
        subprocess.run(["umount", "--lazy", str(disk)], check=True)
