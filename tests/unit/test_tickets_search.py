"""Ticket search (number, phone, words with Turkish casing) and duplicate suggestions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from alo185 import services
from alo185.core import db
from alo185.core.settings import Settings
from alo185.org.models import Mahalle
from alo185.tickets import search
from alo185.tickets.models import Category, Citizen, Ticket
from alo185.tickets.queries import create_ticket


@pytest.fixture
def sessions(database_url: str):
    services.prepare_database(Settings(db_url=database_url))
    return db.session_factory(database_url)


def _ticket(s, description: str, phone: str = "+905321234567", **fields: object) -> Ticket:
    category = str(fields.pop("category", "yol-cukur"))
    ticket = create_ticket(s, phone=phone, category_code=category, description=description, channel="phone")
    for name, value in fields.items():
        setattr(ticket, name, value)
    s.flush()
    return ticket


def test_by_number_phone_and_words(sessions) -> None:
    with sessions.begin() as s:
        s.add(Citizen(phone="+905329998877", full_name="İsmail IŞIK"))
        s.flush()
        light = _ticket(s, "Sokak lambası yanmıyor, KARANLIK", phone="+905329998877")
        hole = _ticket(s, "İnönü Caddesi'nde çukur")
        light_id, hole_id, number = light.id, hole.id, hole.number
    with sessions() as s:
        ids = lambda q: [t.id for t in search.search(s, q)]  # noqa: E731
        assert ids(number) == [hole_id]
        assert ids(number[:-1] + str((int(number[-1]) + 1) % 10)) == []  # wrong check digit
        assert ids("0532 999 88 77") == ids("+905329998877") == [light_id]
        assert ids("ışık") == ids("ISIK") == ids("isik") == [light_id]  # the name, any casing
        assert ids("İNÖNÜ") == ids("inonu caddesi") == [hole_id]
        assert ids("karanlık lamba") == [light_id]  # every word must match
        assert ids("100%") == [] and ids("") == []


def test_a_directorate_sees_only_its_own(sessions) -> None:
    with sessions.begin() as s:
        road = _ticket(s, "çukur var")
        bread = _ticket(s, "fırında çukur gibi ekmek", category="zabita-firin")
        road_dir, bread_dir, road_id = road.directorate_id, bread.directorate_id, road.id
    with sessions() as s:
        assert [t.id for t in search.search(s, "çukur", directorate_id=road_dir)] == [road_id]
        assert len(search.search(s, "çukur")) == 2 and road_dir != bread_dir


def test_duplicate_suggestions_by_mahalle_or_distance(sessions) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as s:
        mahalle, other = s.scalars(select(Mahalle).limit(2)).all()
        same = _ticket(s, "çukur", mahalle_id=mahalle.id)
        near = _ticket(s, "çukur", lat=36.8121, lon=34.6415)  # about 110 m from the new one
        _ticket(s, "çukur", mahalle_id=other.id, lat=36.90, lon=34.70)  # elsewhere
        _ticket(s, "çukur", mahalle_id=mahalle.id, created_at=now - timedelta(days=30))  # too old
        _ticket(s, "ekmek", category="zabita-firin", mahalle_id=mahalle.id)  # another category
        category_id = s.scalar(select(Category.id).where(Category.code == "yol-cukur"))
        expected = {same.id, near.id}
    with sessions() as s:
        found = search.duplicate_candidates(
            s, category_id=category_id, now=now, mahalle_id=mahalle.id, lat=36.8111, lon=34.6415
        )
        assert {t.id for t in found} == expected
        assert search.duplicate_candidates(s, category_id=category_id, now=now) == []


def test_distance() -> None:
    assert search.distance_m(36.8, 34.6, 36.8, 34.6) == 0
    assert 110 < search.distance_m(36.8111, 34.6415, 36.8121, 34.6415) < 112
