"""The citizen's tracking page: the steps in plain Turkish, reopen with a reason, nothing private, rate-limited."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.app import create_app
from admin.public.views import REQUESTS_PER_MINUTE
from alo185 import services
from alo185.core import db, links
from alo185.core.settings import Settings
from alo185.org.models import User
from alo185.tickets import workflow
from alo185.tickets.models import Ticket, TicketStatus
from alo185.tickets.queries import create_ticket

S = TicketStatus


@pytest.fixture
def site(redis_settings: Settings) -> tuple[FlaskClient, Settings, int]:
    services.prepare_database(redis_settings)
    with db.session_factory(redis_settings.database_url).begin() as s:
        ticket = create_ticket(s, phone="+905321234567", category_code="yol-cukur", description="çukur", channel="web")
        s.add(User(username="operator1", full_name="Ayşe Yılmaz", role="operator"))
        ticket_id = ticket.id
    return create_app(redis_settings).test_client(), redis_settings, ticket_id


def _link(settings: Settings, ticket_id: int, purpose: str = "track") -> str:
    token = links.sign(settings.secrets()["flask_secret_key"], purpose, ticket_id)
    return "/" + links.url("", purpose, token).lstrip("/")


def _resolve(settings: Settings, ticket_id: int, days_ago: int = 1) -> None:
    with db.session_factory(settings.database_url).begin() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.status = S.CHECKED
        ticket.public_answer = "Çukur asfaltla kapatıldı."
        when = datetime.now(UTC) - timedelta(days=days_ago)
        workflow.transition(s, ticket, S.RESOLVED, actor="operator1", channel="admin", now=when)


def test_the_steps_in_plain_turkish_and_nothing_private(site) -> None:
    client, settings, ticket_id = site
    page = client.get(_link(settings, ticket_id)).get_data(as_text=True)
    assert "Başvurunuz alındı." in page and "Başvurunuz ilgili müdürlüğe iletildi." in page
    assert "Yolda çukur" in page
    for private in ("+905321234567", "532", "Ayşe", "operator1"):
        assert private not in page
    assert "Yeniden aç" not in page  # not resolved: nothing to reopen


def test_forged_or_other_purpose_links_find_nothing(site) -> None:
    client, settings, ticket_id = site
    assert client.get(_link(settings, ticket_id)[:-2] + "zz").status_code == 404
    assert client.get("/takip/" + _link(settings, ticket_id, "survey").rsplit("/", 1)[1]).status_code == 404


def test_reopen_with_a_reason_within_the_window(site) -> None:
    client, settings, ticket_id = site
    _resolve(settings, ticket_id)
    link = _link(settings, ticket_id)
    page = client.get(link).get_data(as_text=True)
    assert "Başvurunuz çözüldü." in page and "Çukur asfaltla kapatıldı." in page and "Yeniden aç" in page
    assert client.post(link, data={"reason": "  "}).status_code == 400
    done = client.post(link, data={"reason": "Çukur yine açıldı"})
    assert done.status_code == 200 and "Başvurunuz yeniden açıldı" in done.get_data(as_text=True)
    with db.session_factory(settings.database_url)() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.status == S.REOPENED and ticket.reopen_count == 1
        last = ticket.history[-1]
        assert (last.channel, last.note, last.actor) == ("tracking_link", "Çukur yine açıldı", "citizen")


def test_no_reopen_after_the_window(site) -> None:
    client, settings, ticket_id = site
    _resolve(settings, ticket_id, days_ago=workflow.REOPEN_WINDOW.days + 1)
    link = _link(settings, ticket_id)
    assert "Yeniden aç" not in client.get(link).get_data(as_text=True)
    assert client.post(link, data={"reason": "yine"}).status_code == 409
    with db.session_factory(settings.database_url)() as s:
        assert s.scalar(select(Ticket.status).where(Ticket.id == ticket_id)) == S.RESOLVED


def test_requests_are_rate_limited(site) -> None:
    client, settings, ticket_id = site
    link = _link(settings, ticket_id)
    if time.time() % 60 > 55:
        time.sleep(6)  # all requests in one minute's window
    codes = [client.get(link).status_code for _ in range(REQUESTS_PER_MINUTE + 5)]
    assert codes[:REQUESTS_PER_MINUTE] == [200] * REQUESTS_PER_MINUTE and set(codes[-5:]) == {429}


def test_behind_a_proxy_each_citizen_has_their_own_limit(site) -> None:
    _client, settings, ticket_id = site
    client = create_app(settings.replace(proxy_hops=1)).test_client()
    link = _link(settings, ticket_id)
    if time.time() % 60 > 55:
        time.sleep(6)
    for _ in range(REQUESTS_PER_MINUTE):
        client.get(link, headers={"X-Forwarded-For": "203.0.113.7"})
    assert client.get(link, headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    assert client.get(link, headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 200


def test_the_reopen_window_is_a_setting(site) -> None:
    _client, settings, ticket_id = site
    _resolve(settings, ticket_id, days_ago=40)
    client = create_app(settings.replace(reopen_window_days=60)).test_client()
    assert client.post(_link(settings, ticket_id), data={"reason": "yine"}).status_code == 200
    with db.session_factory(settings.database_url)() as s:
        assert s.scalar(select(Ticket.status).where(Ticket.id == ticket_id)) == S.REOPENED


def _tickets(settings: Settings) -> int:
    with db.session_factory(settings.database_url)() as s:
        return len(s.scalars(select(Ticket.id)).all())


def test_the_web_form_records_a_ticket_and_gives_its_tracking_link(site) -> None:
    client, settings, _ticket_id = site
    page = client.get("/basvuru").get_data(as_text=True)
    assert "Yolda çukur" in page and "Yenişehir" in page and 'name="consent"' in page
    form = {
        "name": "Elif Şahin",
        "phone": "0532 765 43 21",
        "category": "cop-toplama",
        "district": "Yenişehir",
        "mahalle": "",
        "address": "Gazi Mah. 1. Sok.",
        "description": "Çöp konteyneri taştı.",
        "consent": "on",
    }
    done = client.post("/basvuru", data=form)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Başvuru numaranız" in text and "/takip/" in text
    with db.session_factory(settings.database_url)() as s:
        ticket = s.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
        assert ticket is not None and ticket.district is not None and ticket.citizen is not None
        assert (ticket.channel, ticket.category.code, ticket.district.name) == ("web", "cop-toplama", "Yenişehir")
        assert ticket.citizen.phone == "+905327654321" and ticket.citizen.full_name == "Elif Şahin"
        assert ticket.number in text and ticket.address == "Gazi Mah. 1. Sok."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": "12"}, "Telefon numaranızı"),
        ({"category": "yok"}, "unknown or inactive category"),
        ({"district": "Atlantis"}, "unknown district"),
        ({"description": " "}, "talebinizi yazınız"),
        ({"consent": ""}, "aydınlatma metnini"),
    ],
)
def test_the_web_form_refuses_bad_input_and_records_nothing(site, change: dict, message: str) -> None:
    client, settings, _ticket_id = site
    before = _tickets(settings)
    form = {"phone": "05327654321", "category": "cop-toplama", "description": "taştı", "consent": "on"} | change
    reply = client.post("/basvuru", data=form)
    assert reply.status_code == 400 and message in reply.get_data(as_text=True)
    assert _tickets(settings) == before
