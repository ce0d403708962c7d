"""The IVR's database view: who is calling, looked up once per number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from alo185.core import db
from alo185.menu.lookups import DbServices
from alo185.tickets.models import Citizen, PlatformRole


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


def test_the_lookup_connection_holds_no_transaction_and_is_replaced_when_dropped(
    sessions: sessionmaker[Session],
) -> None:
    services = DbServices(sessions)
    assert not services.is_citizen("+905321112233")
    kept = services._lookup._local.conn
    assert _idle(kept.dbapi_connection)  # a kept snapshot would hide the citizen added next
    with sessions.begin() as s:
        s.add(Citizen(phone="+905324445566", full_name="Ayşe Kaya", platform_role=PlatformRole.ESNAF))
    assert services.is_citizen("+905324445566")
    assert services.platform_role("+905324445566") == PlatformRole.ESNAF
    assert services._lookup._local.conn is kept  # one connection, kept between lookups
    kept.dbapi_connection.close()  # as after the database dropped it
    with sessions.begin() as s:
        s.add(Citizen(phone="+905327778899", full_name="Ali Veli"))
    assert services.is_citizen("+905327778899")
    assert services._lookup._local.conn is not kept


def test_a_lookup_error_other_than_a_dropped_connection_is_raised(sessions: sessionmaker[Session]) -> None:
    services = DbServices(sessions)
    services._lookup._sql = "SELECT id, platform_role FROM no_such_table"
    with pytest.raises(sessions.kw["bind"].dialect.loaded_dbapi.Error):
        services.platform_role("+905321112233")


def _idle(dbapi_connection: Any) -> bool:
    """No transaction open on a driver's connection (sqlite3's or psycopg's)."""
    if hasattr(dbapi_connection, "in_transaction"):
        return not dbapi_connection.in_transaction
    return dbapi_connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
