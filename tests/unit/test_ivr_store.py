"""The IVR's database view: who is calling, looked up once per number."""

from __future__ import annotations

from pathlib import Path

from alo185 import db
from alo185.models import Citizen, PlatformRole
from ivr.store import DbServices


def test_the_caller_is_recognised_once_for_every_question(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    db.migrate(url)
    sessions = db.session_factory(url)
    with sessions.begin() as s:
        s.add(Citizen(phone="+905321112233", full_name="Ayşe Kaya"))
        s.add(Citizen(phone="+905324445566", full_name="Mehmet Muhtar", platform_role=PlatformRole.MUHTAR))
    services = DbServices(sessions)
    assert services.is_citizen("+905321112233") and services.is_citizen("+905324445566")
    assert not services.is_citizen("+905329998877") and not services.is_citizen("")
    assert services.platform_role("+905321112233") is None
    assert services.platform_role("+905324445566") == PlatformRole.MUHTAR
    with sessions.begin() as s:  # within the few seconds a call lasts, the first answer stands
        s.add(Citizen(phone="+905329998877"))
    assert not services.is_citizen("+905329998877")


def test_the_lookup_connection_holds_no_transaction_and_is_replaced_when_dropped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    db.migrate(url)
    sessions = db.session_factory(url)
    services = DbServices(sessions)
    assert not services.is_citizen("+905321112233")
    assert not services._local.conn.in_transaction()  # a kept snapshot would hide the citizen added next
    with sessions.begin() as s:
        s.add(Citizen(phone="+905324445566", full_name="Ayşe Kaya"))
    assert services.is_citizen("+905324445566")
    services._local.conn.invalidate()  # as after the database dropped it
    with sessions.begin() as s:
        s.add(Citizen(phone="+905327778899", full_name="Ali Veli"))
    assert services.is_citizen("+905327778899")
