"""The channels' JSON API: token auth, tickets, search, and an OpenAPI document that matches the routes."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.app import create_app
from alo185 import services
from alo185.channels import api_keys
from alo185.channels.models import ApiKey
from alo185.core import db
from alo185.core.settings import Settings
from alo185.tickets.models import Ticket


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> tuple[FlaskClient, Settings, dict[str, str]]:
    settings = Settings(var_dir=tmp_path, db_url=database_url, public_url="https://alo185.example.gov.tr")
    services.prepare_database(settings)
    with db.session_factory(database_url).begin() as s:
        key = api_keys.create(s, "e-Belediye")
    return create_app(settings).test_client(), settings, {"Authorization": f"Bearer {key}"}


def _count(settings: Settings) -> int:
    with db.session_factory(settings.database_url)() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def test_create_read_and_search(api) -> None:
    client, _settings, auth = api
    body = {
        "category": "yol-cukur",
        "description": "Okul önünde çukur",
        "phone": "0532 111 22 33",
        "district": "Mezitli",
    }
    created = client.post("/api/v1/tickets", json=body, headers=auth)
    assert created.status_code == 201
    ticket = created.get_json()
    assert ticket["status"] == "sent_to_directorate" and ticket["directorate"] and ticket["district"] == "Mezitli"
    assert ticket["tracking_url"].startswith("https://alo185.example.gov.tr/takip/")
    assert [h["status"] for h in ticket["history"]] == ["recorded", "routed"]
    assert client.get(f"/api/v1/tickets/{ticket['number']}", headers=auth).get_json()["number"] == ticket["number"]
    for q in (ticket["number"], "+905321112233", "OKUL ÖNÜNDE"):
        assert [t["number"] for t in client.get("/api/v1/tickets", query_string={"q": q}, headers=auth).get_json()] == [
            ticket["number"]
        ]
    assert any(c["code"] == "yol-cukur" for c in client.get("/api/v1/categories", headers=auth).get_json())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "body: Input should be an object"),
        ({"description": "x"}, "category: Field required"),
        ({"category": "yok", "description": "x"}, "unknown or inactive category"),
        ({"category": "yol-cukur", "description": "x", "phone": "12"}, "not a phone number"),
        ({"category": "yol-cukur", "description": "x", "channel": "fax"}, "channel: Input should be"),
        ({"category": "yol-cukur", "description": "x", "district": "Atlantis"}, "unknown district"),
    ],
)
def test_bad_requests_change_nothing(api, body: object, message: str) -> None:
    client, settings, auth = api
    reply = client.post("/api/v1/tickets", json=body, headers=auth)
    assert reply.status_code == 400 and message in reply.get_json()["error"]
    assert _count(settings) == 0


def test_keys(api) -> None:
    client, settings, auth = api
    assert client.get("/api/v1/categories").status_code == 401
    assert client.get("/api/v1/categories", headers={"Authorization": "Bearer nope"}).status_code == 401
    with db.session_factory(settings.database_url).begin() as s:
        s.scalars(select(ApiKey)).one().active = False
    assert client.get("/api/v1/categories", headers=auth).status_code == 401
    assert client.get("/api/v1/tickets/12345678", headers=auth).status_code == 401


def test_the_openapi_document_describes_the_routes(api) -> None:
    client, _settings, auth = api
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and doc["servers"][0]["url"] == "https://alo185.example.gov.tr/api/v1"
    app = create_app(_settings)
    routes = {
        (rule.rule.removeprefix("/api/v1").replace("<number>", "{number}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and not rule.rule.endswith("openapi.json")
        for method in cast(set[str], rule.methods) - {"HEAD", "OPTIONS"}  # set for every routed rule
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert client.get("/api/v1/tickets/12345678", headers=auth).status_code == 404
