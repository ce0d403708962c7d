"""Hostile input on every channel: 400 naming the field (413 for a body too large), and nothing written.

The web form, the API, Open311 and WhatsApp take a ticket's fields with the same limits
(``alo185/channels/schemas.py``): a description of 4,000 characters is taken by each of them, one
of 4,001 by none. A WhatsApp reaction or an unsupported message is acknowledged and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from admin.app import create_app
from alo185 import services
from alo185.channels import api_keys, schemas, whatsapp
from alo185.channels.models import InboundMessage
from alo185.core import db
from alo185.core.settings import Settings
from alo185.sms.models import SmsMessage
from alo185.tickets.models import Citizen, Ticket, TicketAttachment, TicketHistory

SECRET = "meta-app-secret"
MESSAGE = ("entry", 0, "changes", 0, "value", "messages", 0)


@dataclass
class Channels:
    client: FlaskClient
    settings: Settings
    auth: dict[str, str]
    key: str

    def rows(self) -> tuple[int, ...]:
        """How many rows every table a channel writes holds: a refusal leaves them as they were."""
        with db.session_factory(self.settings.database_url)() as s:
            models = (Ticket, TicketHistory, Citizen, InboundMessage, SmsMessage, TicketAttachment)
            return tuple(s.scalar(select(func.count()).select_from(m)) or 0 for m in models)

    def tickets(self) -> list[Ticket]:
        with db.session_factory(self.settings.database_url)() as s:
            return list(s.scalars(select(Ticket)))


@pytest.fixture
def channels(redis_settings: Settings, database_url: str) -> Channels:
    """Every channel of one instance: a real Redis for the form's limiter, each kind of database."""
    settings = redis_settings.replace(
        db_url=database_url,
        public_url="https://alo185.example.gov.tr",
        whatsapp_verify_token="belirtec",
        whatsapp_app_secret=SECRET,
    )
    services.prepare_database(settings)
    with db.session_factory(database_url).begin() as s:
        key = api_keys.create(s, "e-Belediye")
    return Channels(create_app(settings).test_client(), settings, {"Authorization": f"Bearer {key}"}, key)


# --- the API ---------------------------------------------------------------------------------------------

API_TICKET = {"category": "yol-cukur", "description": "Okul önünde çukur", "phone": "0532 111 22 33"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address": {"sokak": "1"}}, "address"),
        ({"address": ["Gazi Mah."]}, "address"),
        ({"address": 5}, "address"),
        ({"district": {"ad": "Mezitli"}}, "district"),
        ({"district": ["Mezitli"]}, "district"),
        ({"district": 33}, "district"),
        ({"mahalle": {}}, "mahalle"),
        ({"mahalle": []}, "mahalle"),
        ({"mahalle": 1.5}, "mahalle"),
        ({"description": {}}, "description"),
        ({"description": None}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "x" * (schemas.DESCRIPTION_MAX + 1)}, "description"),
        ({"description": "nul \x00 char"}, "description"),
        ({"address": "a" * (schemas.ADDRESS_MAX + 1)}, "address"),
        ({"phone": "12"}, "phone"),
        ({"phone": 5321112233}, "phone"),
        ({"category": "yok"}, "category"),
        ({"category": ""}, "category"),
        ({"district": "Atlantis"}, "district"),
        ({"channel": "fax"}, "channel"),
        ({"type": "dilekce"}, "type"),
        ({"color": "red"}, "color"),
    ],
)
def test_the_api_names_the_refused_field_and_writes_nothing(channels: Channels, change: dict, field: str) -> None:
    before = channels.rows()
    reply = channels.client.post("/api/v1/tickets", json=API_TICKET | change, headers=channels.auth)
    assert reply.status_code == 400, reply.get_data(as_text=True)
    body = reply.get_json()
    assert list(body["fields"]) == [field] and body["error"].startswith(f"{field}: ")
    assert channels.rows() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [(b"[1, 2]", "body"), (b"", "body"), (b"{not json", "body"), (b"[" * 50_000 + b"]" * 50_000, "body")],
    ids=["a-list", "empty", "not-json", "deep-nesting"],
)
def test_the_api_refuses_a_body_that_is_no_object(channels: Channels, data: bytes, field: str) -> None:
    before = channels.rows()
    headers = channels.auth | {"Content-Type": "application/json"}
    reply = channels.client.post("/api/v1/tickets", data=data, headers=headers)
    assert reply.status_code == 400 and list(reply.get_json()["fields"]) == [field]
    assert channels.rows() == before


@pytest.mark.parametrize("limit", ["-1", "0", "201", "abc", "1e9", "99999999999999999999999"])
def test_the_api_search_refuses_a_limit_out_of_range(channels: Channels, limit: str) -> None:
    reply = channels.client.get("/api/v1/tickets", query_string={"q": "çukur", "limit": limit}, headers=channels.auth)
    assert reply.status_code == 400 and list(reply.get_json()["fields"]) == ["limit"]


def test_the_api_search_refuses_no_words_and_a_repeated_parameter(channels: Channels) -> None:
    for query in ("q=%20%20", "q=a&q=b", "q=" + "x" * (schemas.QUERY_MAX + 1), "q=a%00b"):
        reply = channels.client.get(f"/api/v1/tickets?{query}", headers=channels.auth)
        assert reply.status_code == 400 and list(reply.get_json()["fields"]) == ["q"], query


def test_the_api_refuses_a_body_too_large_before_reading_it(channels: Channels) -> None:
    before = channels.rows()
    body = json.dumps(API_TICKET | {"description": "x" * (16 * 1024 * 1024)})
    headers = channels.auth | {"Content-Type": "application/json"}
    reply = channels.client.post("/api/v1/tickets", data=body, headers=headers)
    assert reply.status_code == 413 and reply.get_json()["error"]
    assert channels.rows() == before


# --- WhatsApp --------------------------------------------------------------------------------------------


def _notification(*messages: dict[str, Any]) -> dict[str, Any]:
    value = {"contacts": [{"profile": {"name": "Zeynep"}, "wa_id": "905321234567"}], "messages": list(messages)}
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}


def _text(body: object, **change: object) -> dict[str, Any]:
    message = {"from": "905321234567", "id": "wamid.T1", "timestamp": "1763700000", "type": "text"}
    return message | {"text": {"body": body}} | change


def _signed_post(client: FlaskClient, body: bytes) -> TestResponse:
    headers = {"X-Hub-Signature-256": whatsapp.signature(SECRET, body), "Content-Type": "application/json"}
    return client.post("/webhooks/whatsapp", data=body, headers=headers)


def _whatsapp(client: FlaskClient, payload: object) -> TestResponse:
    return _signed_post(client, json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (_text("çukur", timestamp="dün"), (*MESSAGE, "timestamp")),
        (_text("çukur", timestamp="99999999999999999999999999"), (*MESSAGE, "timestamp")),
        (_text("çukur", timestamp=-5), (*MESSAGE, "timestamp")),
        (_text(None), (*MESSAGE, "text", "body")),
        (_text({"metin": "çukur"}), (*MESSAGE, "text", "body")),
        (_text("x" * (schemas.DESCRIPTION_MAX + 1)), (*MESSAGE, "text", "body")),
        (_text("   "), (*MESSAGE, "text", "body")),
        (_text("çukur", id=""), (*MESSAGE, "id")),
        (_text("çukur", id="w" * 201), (*MESSAGE, "id")),
        (_text("çukur", **{"from": "abc"}), (*MESSAGE, "from")),
        ({"from": "905321234567", "id": "wamid.T2", "type": "image"}, MESSAGE),
        (
            {
                "from": "905321234567",
                "id": "wamid.T3",
                "type": "location",
                "location": {"latitude": 91, "longitude": 0},
            },
            (*MESSAGE, "location", "latitude"),
        ),
    ],
    ids=[
        "timestamp-words",
        "timestamp-huge",
        "timestamp-negative",
        "body-null",
        "body-object",
        "body-too-long",
        "body-blank",
        "id-empty",
        "id-too-long",
        "from-not-a-number",
        "image-without-image",
        "latitude-out-of-range",
    ],
)
def test_whatsapp_names_the_refused_field_and_writes_nothing(
    channels: Channels, message: dict, field: tuple[object, ...]
) -> None:
    before = channels.rows()
    reply = _whatsapp(channels.client, _notification(message))
    assert reply.status_code == 400, reply.get_data(as_text=True)
    assert list(reply.get_json()["fields"]) == [".".join(str(p) for p in field)]
    assert channels.rows() == before


def test_whatsapp_refuses_deep_nesting_and_a_body_too_large(channels: Channels) -> None:
    before = channels.rows()
    deep = _signed_post(channels.client, b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 100_000)
    assert deep.status_code == 400 and list(deep.get_json()["fields"]) == ["body"]
    huge = _whatsapp(channels.client, _notification(_text("x" * (16 * 1024 * 1024))))
    assert huge.status_code == 413
    assert channels.rows() == before


@pytest.mark.parametrize(
    "message",
    [
        {"type": "reaction", "reaction": {"message_id": "wamid.A0", "emoji": "👍"}},
        {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
        {"type": "system", "system": {"body": "Kullanıcı numarasını değiştirdi"}},
    ],
    ids=["reaction", "unsupported", "system"],
)
def test_whatsapp_acknowledges_and_ignores_what_is_no_message_of_a_citizen(channels: Channels, message: dict) -> None:
    before = channels.rows()
    reply = _whatsapp(channels.client, _notification({"from": "905321234567", "id": "wamid.R1"} | message))
    assert reply.status_code == 200
    assert reply.get_json() == {"received": 0, "messages": [], "ignored": ["wamid.R1"]}
    assert channels.rows() == before


# --- Open311 ---------------------------------------------------------------------------------------------


def _open311(channels: Channels, **change: str) -> TestResponse:
    form = {
        "api_key": channels.key,
        "service_code": "yol-cukur",
        "address_string": "Gazi Mah. 1. Sok.",
        "description": "Kavşakta derin çukur",
        "phone": "05321234567",
    } | change
    return channels.client.post("/open311/v2/requests.json", data=form)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "x" * (schemas.DESCRIPTION_MAX + 1)}, "description"),
        ({"description": "nul \x00 char"}, "description"),
        ({"address_string": "a" * (schemas.ADDRESS_MAX + 1)}, "address_string"),
        ({"attribute[ilce]": "i" * (schemas.PLACE_MAX + 1)}, "attribute[ilce]"),
        ({"attribute[mahalle]": "m" * (schemas.PLACE_MAX + 1)}, "attribute[mahalle]"),
        ({"phone": "on iki"}, "phone"),
        ({"first_name": "n" * (schemas.NAME_MAX + 1)}, "first_name"),
        ({"lat": "nan", "long": "34.6"}, "lat"),
        ({"media_url": "https://" + "u" * 300}, "media_url"),
    ],
)
def test_open311_names_the_refused_field_and_writes_nothing(channels: Channels, change: dict, field: str) -> None:
    before = channels.rows()
    reply = _open311(channels, **change)
    assert reply.status_code == 400
    [error] = reply.get_json()
    assert error["code"] == 400 and error["description"].startswith(f"{field}: ")
    assert channels.rows() == before


def test_open311_bounds_its_queries(channels: Channels) -> None:
    many = ",".join(str(10_000_000 + i) for i in range(500))
    reply = channels.client.get("/open311/v2/requests.json", query_string={"service_request_id": many})
    assert reply.status_code == 400 and reply.get_json()[0]["description"].startswith("service_request_id: ")
    assert channels.client.get("/open311/v2/requests/1%002.json").status_code == 404
    assert channels.client.get("/open311/v2/services/yol%00.json").status_code == 404
    huge = {"api_key": channels.key, "description": "x" * (2 * schemas.MAX_BODY_BYTES)}
    assert channels.client.post("/open311/v2/requests.json", data=huge).status_code == 413


# --- the web form ----------------------------------------------------------------------------------------


def _form(channels: Channels, **change: str) -> TestResponse:
    form = {"phone": "05327654321", "category": "cop-toplama", "description": "taştı", "consent": "on"} | change
    return channels.client.post("/basvuru", data=form)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"description": "x" * (schemas.DESCRIPTION_MAX + 1)}, "description", "talebinizi yazınız"),
        ({"address": "a" * (schemas.ADDRESS_MAX + 1)}, "address", "Adres geçersiz: en çok 500 karakter"),
        ({"mahalle": "m" * (schemas.PLACE_MAX + 1)}, "mahalle", "Mahalle geçersiz: en çok 100 karakter"),
        ({"name": "n" * (schemas.NAME_MAX + 1)}, "name", "en çok 200 karakter"),
        ({"phone": "12"}, "phone", "Telefon numaranızı"),
        ({"category": "yok"}, "category", "unknown or inactive category"),
    ],
)
def test_the_form_shows_the_error_at_the_field_and_writes_nothing(
    channels: Channels, change: dict, field: str, message: str
) -> None:
    before = channels.rows()
    reply = _form(channels, **change)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400
    assert f'id="{field}-error"' in page and 'aria-invalid="true"' in page
    error_line = page.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error_line
    assert channels.rows() == before


# --- the same limits everywhere --------------------------------------------------------------------------


def _by_api(channels: Channels, description: str, address: str) -> TestResponse:
    body = API_TICKET | {"description": description, "address": address}
    return channels.client.post("/api/v1/tickets", json=body, headers=channels.auth)


def _by_open311(channels: Channels, description: str, address: str) -> TestResponse:
    return _open311(channels, description=description, address_string=address)


def _by_form(channels: Channels, description: str, address: str) -> TestResponse:
    return _form(channels, description=description, address=address)


def _by_whatsapp(channels: Channels, description: str, _address: str) -> TestResponse:
    return _whatsapp(channels.client, _notification(_text(description, id=f"wamid.{len(description)}")))


@pytest.mark.parametrize("send", [_by_api, _by_open311, _by_form, _by_whatsapp], ids=lambda f: f.__name__)
def test_every_channel_has_the_same_limits(
    channels: Channels, send: Callable[[Channels, str, str], TestResponse]
) -> None:
    longest, address = "ç" * schemas.DESCRIPTION_MAX, "a" * schemas.ADDRESS_MAX
    assert send(channels, longest + "ç", address).status_code == 400
    if send is not _by_whatsapp:  # WhatsApp has no address
        assert send(channels, longest, address + "a").status_code == 400
    assert channels.tickets() == []
    assert send(channels, longest, address).status_code in (200, 201)
    [ticket] = channels.tickets()
    assert ticket.description == longest
    assert ticket.address in (address, None)  # WhatsApp: none
