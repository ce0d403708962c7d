"""The operator console's page and its work API: screen-pop stream, ticket from a call, search, note, wrap-up."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from alo185.audit.models import AuditLog
from alo185.calls.models import CallRecord
from alo185.core import bus
from alo185.core.settings import Settings
from alo185.tickets.models import Citizen, Ticket, TicketHistory, TicketStatus
from alo185.tickets.queries import create_ticket
from tests.staff import log_in
from tests.unit.test_console_api import app as app  # the fixture

CALLER = "+905321112233"


def _call(app: Flask, uniqueid: str, answered_by: str | None) -> None:
    with app.extensions["alo185.sessions"].begin() as s:
        s.add(
            CallRecord(
                uniqueid=uniqueid,
                caller=CALLER,
                queue="fen",
                answered=answered_by is not None,
                answered_by=answered_by,
                abandoned=False,
                started_at=datetime.now(UTC),
            )
        )


def _audit(app: Flask, action: str) -> list[tuple[str, str | None, str | None]]:
    with app.extensions["alo185.sessions"]() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        return [(r.actor, r.entity_id, r.detail) for r in rows]


def test_the_page_is_the_operators_home_with_the_lists_it_offers(app: Flask) -> None:
    ayse, sef, uzman = (log_in(app.test_client(), n) for n in ("ayse", "sef", "uzman"))
    assert ayse.get("/").headers["Location"] == "/console"
    assert sef.get("/").headers["Location"] != "/console"  # supervisors are no operators
    page = ayse.get("/console")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Operatör konsolu" in html
    for shown in ('value="yol-cukur"', "Yolda çukur", 'value="cagri-sonrasi-is"', 'value="basvuru-kaydedildi"'):
        assert shown in html, shown
    assert 'href="/console"' in html and "<kbd>n</kbd>" in html and 'aria-keyshortcuts="n"' in html
    # A supervisor picks the operator to watch; an operator may not watch another; an expert has no console.
    assert 'name="user"' in sef.get("/console").get_data(as_text=True)
    assert sef.get("/console?user=ayse").status_code == 200
    assert ayse.get("/console?user=mehmet").status_code == 403
    assert uzman.get("/console").status_code == 403


def _stream(client: FlaskClient, path: str) -> tuple[threading.Thread, list[tuple[str, dict]]]:
    """Open the stream in a thread of its own, as the server does each request, and read its events to the end.

    Returns once the view has answered (it subscribes before it does), with the reading thread.
    """
    events: list[tuple[str, dict]] = []
    answered = threading.Event()

    def read() -> None:
        response = client.get(path, buffered=False)
        events.append(("status", {"code": response.status_code, "type": response.mimetype}))
        answered.set()
        buffer = ""
        for chunk in response.response:
            buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
                if "event" in fields:
                    events.append((fields["event"], json.loads(fields["data"])))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert answered.wait(10)
    assert events.pop(0) == ("status", {"code": 200, "type": "text/event-stream"})
    return reader, events


def test_the_stream_relays_only_the_operators_own_pops_masked_for_a_supervisor(
    app: Flask, redis_settings: Settings
) -> None:
    ayse, sef = log_in(app.test_client(), "ayse"), log_in(app.test_client(), "sef")
    own, own_events = _stream(ayse, "/api/console/stream?max=1")
    watching, watched_events = _stream(sef, "/api/console/stream?user=ayse&max=1")
    redis = bus.connect(redis_settings.redis_connection_url)
    pop = {"type": "screenpop", "uniqueid": "u-1", "caller": CALLER, "caller_masked": "+90 532 *** ** 33"}
    assert redis.publish(bus.screenpop_channel("mehmet"), json.dumps({**pop, "uniqueid": "not-hers"})) == 0
    # both streams subscribed before returning
    assert redis.publish(bus.screenpop_channel("ayse"), json.dumps(pop)) == 2
    own.join(5)
    watching.join(5)
    assert [(e, d.get("uniqueid"), d.get("caller")) for e, d in own_events] == [
        ("ready", None, None),
        ("screenpop", "u-1", CALLER),
    ]
    assert [(e, d.get("caller")) for e, d in watched_events] == [("ready", None), ("screenpop", "+90 532 *** ** 33")]
    assert log_in(app.test_client(), "ayse").get("/api/console/stream?user=mehmet").status_code == 403


def test_a_ticket_from_the_pop_gets_the_calls_number_and_is_linked_to_the_call(app: Flask) -> None:
    _call(app, "call-1", "ayse")
    ayse = log_in(app.test_client(), "ayse")
    body = {"uniqueid": "call-1", "phone": "+90 532 *** ** 33", "category": "yol-cukur", "description": "Çukur var"}
    created = ayse.post("/api/console/tickets", json={**body, "type": "sikayet"})
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["number"]
    assert created.get_json()["call_uniqueid"] == "call-1" and created.get_json()["status"] == "routed"
    with app.extensions["alo185.sessions"]() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None and ticket.citizen is not None
        assert (ticket.citizen.phone, ticket.category.code, ticket.channel.value) == (CALLER, "yol-cukur", "phone")
        assert (ticket.type.value, ticket.call_uniqueid) == ("sikayet", "call-1")
        assert ticket.history[0].actor == "ayse"
    assert _audit(app, "ticket.create") == [("ayse", number, "console call-1")]
    # A number typed in full wins; nonsense, an unknown category or call, no CSRF token are refused.
    typed = ayse.post("/api/console/tickets", json={**body, "phone": "0532 999 88 77"})
    assert typed.status_code == 201
    with app.extensions["alo185.sessions"]() as s:
        assert s.scalar(select(Citizen).where(Citizen.phone == "+905329998877")) is not None
    assert ayse.post("/api/console/tickets", json={**body, "phone": "abc"}).status_code == 400
    assert ayse.post("/api/console/tickets", json={**body, "category": "yok"}).status_code == 400
    assert ayse.post("/api/console/tickets", json={**body, "description": " "}).status_code == 400
    assert ayse.post("/api/console/tickets", json={**body, "uniqueid": "nope"}).status_code == 404
    no_token = log_in(app.test_client(), "ayse")
    no_token.environ_base.pop("HTTP_X_CSRFTOKEN")
    assert no_token.post("/api/console/tickets", json=body).status_code == 400


def test_a_note_is_a_history_line_with_the_status_unchanged_and_audited(app: Flask) -> None:
    with app.extensions["alo185.sessions"].begin() as s:
        number = create_ticket(s, phone=CALLER, category_code="yol-cukur", description="x", channel="phone").number
    ayse = log_in(app.test_client(), "ayse")
    added = ayse.post(f"/api/console/tickets/{number}/notes", json={"note": "  Vatandaş tekrar aradı.  "})
    assert added.status_code == 201 and added.get_json()["note"] == "Vatandaş tekrar aradı."
    with app.extensions["alo185.sessions"]() as s:
        last = s.scalars(select(TicketHistory).order_by(TicketHistory.id.desc())).first()
        assert last is not None and (last.from_status, last.to_status) == (TicketStatus.ROUTED, TicketStatus.ROUTED)
        assert (last.actor, last.note, last.channel.value) == ("ayse", "Vatandaş tekrar aradı.", "admin")
    assert _audit(app, "ticket.note") == [("ayse", number, None)]
    assert ayse.post(f"/api/console/tickets/{number}/notes", json={"note": ""}).status_code == 400
    assert ayse.post("/api/console/tickets/12345678/notes", json={"note": "x"}).status_code == 404


def test_a_wrap_up_code_is_for_the_operator_who_answered(app: Flask) -> None:
    _call(app, "call-2", "ayse")
    _call(app, "call-3", None)
    ayse, mehmet, sef = (log_in(app.test_client(), n) for n in ("ayse", "mehmet", "sef"))
    codes = [c["code"] for c in ayse.get("/api/console/wrap-up-codes").get_json()]
    assert "bilgi-verildi" in codes and all(len(c) <= 40 for c in codes)
    assert mehmet.post("/api/console/wrap-up", json={"uniqueid": "call-2", "code": "bilgi-verildi"}).status_code == 403
    assert ayse.post("/api/console/wrap-up", json={"uniqueid": "call-2", "code": "uydurma"}).status_code == 400
    assert ayse.post("/api/console/wrap-up", json={"uniqueid": "call-3", "code": "hat-koptu"}).status_code == 409
    assert ayse.post("/api/console/wrap-up", json={"uniqueid": "yok", "code": "hat-koptu"}).status_code == 404
    done = ayse.post("/api/console/wrap-up", json={"uniqueid": "call-2", "code": "bilgi-verildi"})
    assert done.status_code == 200 and done.get_json()["wrap_up_code"] == "bilgi-verildi"
    assert sef.post("/api/console/wrap-up", json={"uniqueid": "call-2", "code": "yanlis-arama"}).status_code == 200
    with app.extensions["alo185.sessions"]() as s:
        record = s.scalar(select(CallRecord).where(CallRecord.uniqueid == "call-2"))
        assert record is not None and record.wrap_up_code == "yanlis-arama"
    assert _audit(app, "call.wrap_up") == [("ayse", "call-2", "bilgi-verildi"), ("sef", "call-2", "yanlis-arama")]


def test_search_finds_citizens_and_tickets_by_number_name_and_words(app: Flask) -> None:
    with app.extensions["alo185.sessions"].begin() as s:
        s.add(Citizen(phone=CALLER, full_name="Işıl Çelik"))
        s.add(Citizen(phone="+905320000001", full_name="Ticketless"))
        s.flush()
        ticket = create_ticket(s, phone=CALLER, category_code="cop-toplama", description="Çöp alınmadı", channel="web")
        number = ticket.number
    ayse, sef = log_in(app.test_client(), "ayse"), log_in(app.test_client(), "sef")
    by_phone = ayse.get("/api/console/search", query_string={"q": "0532 111 22 33"}).get_json()
    assert [t["number"] for t in by_phone["tickets"]] == [number]
    assert [(c["name"], c["phone"]) for c in by_phone["citizens"]] == [("Işıl Çelik", CALLER)]
    by_name = ayse.get("/api/console/search", query_string={"q": "isil celik"}).get_json()
    assert [t["number"] for t in by_name["tickets"]] == [number] and by_name["tickets"][0]["status"]
    alone = ayse.get("/api/console/search", query_string={"q": "+90 532 000 00 01"}).get_json()
    assert alone["tickets"] == [] and [c["name"] for c in alone["citizens"]] == ["Ticketless"]
    # Supervisors see numbers in lists masked (alo185.org.access).
    masked = sef.get("/api/console/search", query_string={"q": number}).get_json()
    assert masked["tickets"][0]["phone"] == "+90 532 *** ** 33"
    assert ayse.get("/api/console/search").status_code == 400
