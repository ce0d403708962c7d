"""Open311 GeoReport v2 in both formats: discovery, services, definitions, requests, tokens, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.app import create_app
from alo185 import services
from alo185.channels import api_keys
from alo185.core import db
from alo185.core.settings import Settings
from alo185.tickets.models import Ticket, TicketStatus


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> tuple[FlaskClient, Settings, str]:
    settings = Settings(var_dir=tmp_path, db_url=database_url, public_url="https://alo185.example.gov.tr")
    services.prepare_database(settings)
    with db.session_factory(database_url).begin() as s:
        key = api_keys.create(s, "Mersin mobil uygulaması")
    return create_app(settings).test_client(), settings, key


def _count(settings: Settings) -> int:
    with db.session_factory(settings.database_url)() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def _new(client: FlaskClient, key: str, fmt: str = "json", **extra: str):
    form = {
        "api_key": key,
        "service_code": "yol-cukur",
        "lat": "36.8121",
        "long": "34.6415",
        "description": "Kavşakta derin çukur",
        "attribute[ilce]": "Yenişehir",
        "first_name": "Ali",
        "last_name": "Kaya",
        "phone": "05321234567",
    } | extra
    return client.post(f"/open311/v2/requests.{fmt}", data=form)


def test_discovery_and_services_in_both_formats(api) -> None:
    client, _settings, _key = api
    discovery = client.get("/open311/discovery.json").get_json()
    assert discovery["endpoints"][0]["url"] == "https://alo185.example.gov.tr/open311/v2"
    assert "application/json" in discovery["endpoints"][0]["formats"]
    root = ET.fromstring(client.get("/open311/discovery.xml").data)
    assert root.tag == "discovery" and root.findtext("endpoints/endpoint/formats/format") == "text/xml"
    listed = client.get("/open311/v2/services.json").get_json()
    road = next(s for s in listed if s["service_code"] == "yol-cukur")
    assert road["metadata"] is True and road["type"] == "realtime" and road["group"]
    xml = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert xml.tag == "services" and len(xml.findall("service")) == len(listed)
    assert xml.findtext("service/metadata") == "true"


def test_a_service_definition_with_its_attributes(api) -> None:
    client, _settings, _key = api
    definition = client.get("/open311/v2/services/yol-cukur.json").get_json()
    ilce = definition["attributes"][0]
    assert ilce["code"] == "ilce" and ilce["datatype"] == "singlevaluelist"
    assert {"key": "Yenişehir", "name": "Yenişehir"} in ilce["values"]
    xml = ET.fromstring(client.get("/open311/v2/services/yol-cukur.xml").data)
    assert xml.tag == "service_definition" and xml.find("attributes/attribute/values/value/key") is not None
    missing = client.get("/open311/v2/services/yok.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404


def test_post_a_request_then_get_it_by_id_token_and_filters(api) -> None:
    client, settings, key = api
    created = _new(client, key)
    assert created.status_code == 200
    number = created.get_json()[0]["service_request_id"]
    [one] = client.get(f"/open311/v2/requests/{number}.json").get_json()
    assert (one["status"], one["service_code"], one["lat"], one["long"]) == ("open", "yol-cukur", 36.8121, 34.6415)
    assert one["agency_responsible"] and one["requested_datetime"].endswith("Z")
    assert client.get(f"/open311/v2/tokens/{number}.json").get_json() == [
        {"service_request_id": number, "token": number}
    ]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").data)
    assert xml.tag == "service_requests" and xml.findtext("request/service_request_id") == number
    assert [r["service_request_id"] for r in client.get("/open311/v2/requests.json?status=open").get_json()] == [number]
    assert client.get("/open311/v2/requests.json?status=closed").get_json() == []
    assert client.get("/open311/v2/requests.json?service_code=su-arizasi").get_json() == []
    assert len(client.get(f"/open311/v2/requests.json?service_request_id={number},99999999").get_json()) == 1
    with db.session_factory(settings.database_url).begin() as s:
        s.scalars(select(Ticket)).one().status = TicketStatus.RESOLVED
    assert client.get(f"/open311/v2/requests/{number}.json").get_json()[0]["status"] == "closed"


def test_post_in_xml(api) -> None:
    client, _settings, key = api
    reply = _new(client, key, fmt="xml")
    root = ET.fromstring(reply.data)
    assert reply.mimetype == "text/xml" and root.tag == "service_requests"
    assert root.findtext("request/service_request_id")


@pytest.mark.parametrize(
    ("extra", "status", "text"),
    [
        ({"api_key": "wrong"}, 403, "api_key"),
        ({"service_code": ""}, 400, "service_code: Field required"),
        ({"service_code": "yok"}, 404, "not found"),
        ({"lat": "", "long": ""}, 400, "a location is required"),
        ({"long": ""}, 400, "lat and long go together"),
        ({"lat": "kuzey"}, 400, "lat: Input should be a valid number"),
        ({"lat": "123"}, 400, "lat: Input should be less than or equal to 90"),
        ({"description": ""}, 400, "description: Field required"),
        ({"attribute[ilce]": "Atlantis"}, 400, "attribute[ilce]: unknown district"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_posts_get_the_specs_errors_and_change_nothing(api, extra: dict, status: int, text: str, fmt: str) -> None:
    client, settings, key = api
    reply = _new(client, key, fmt=fmt, **extra)
    assert reply.status_code == status
    if fmt == "json":
        [error] = reply.get_json()
        assert error["code"] == status and text in error["description"]
    else:
        root = ET.fromstring(reply.data)
        assert root.tag == "errors" and root.findtext("error/code") == str(status)
        description = root.findtext("error/description")
        assert description is not None and text in description
    assert _count(settings) == 0


def test_bad_queries_and_formats(api) -> None:
    client, _settings, _key = api
    assert client.get("/open311/v2/requests.json?start_date=dün").status_code == 400
    assert client.get("/open311/v2/requests.json?status=pending").status_code == 400
    reversed_dates = "/open311/v2/requests.json?start_date=2026-11-20T00:00:00Z&end_date=2026-11-01T00:00:00Z"
    assert client.get(reversed_dates).status_code == 400
    assert client.get("/open311/v2/requests/12345678.json").status_code == 404
    assert client.get("/open311/v2/services.yaml").status_code == 404
