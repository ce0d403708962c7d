"""Fixtures: a throw-away alo185 instance on free ports with the real Asterisk, Redis and database."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from alo185.core import db, redis_server
from alo185.core.settings import Settings
from alo185.voicemail.model_files import packaged_model
from harness import pg_cluster
from harness.instance import SIM_OPERATOR_NAME, Stack, isolated_settings, running_stack
from tests.staff import World, build_world

TEST_OPERATOR = SIM_OPERATOR_NAME


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster on a free port; yields its base URL (without a database)."""
    with pg_cluster.private_cluster() as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, migrated once: each test gets a copy (the migrations have tests of their own)."""
    path = tmp_path_factory.mktemp("template") / "alo185.db"
    url = f"sqlite:///{path}"
    db.migrate(url)
    db.engine_for(url).dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """The same for PostgreSQL: a migrated database nobody connects to, copied by CREATE DATABASE … TEMPLATE."""
    name = f"t_template_{uuid.uuid4().hex[:8]}"
    url = pg_cluster.create_database(postgres_server, name)
    db.migrate(url)
    db.engine_for(url).dispose()
    return name


def migrated_sqlite(request: pytest.FixtureRequest, path: Path) -> str:
    """``path`` as a fresh copy of the migrated template; its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


def new_database(request: pytest.FixtureRequest, directory: Path) -> str:
    """An empty, migrated database of the kind ``request.param`` names (sqlite or postgresql)."""
    if request.param == "sqlite":
        return migrated_sqlite(request, directory / "alo185.db")
    server, template = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
    return pg_cluster.create_database(server, f"t_{uuid.uuid4().hex[:12]}", template=template)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database of each kind."""
    url = new_database(request, tmp_path)
    yield url
    db.engine_for(url).dispose()  # its pooled connections would otherwise pile up on the shared server


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    """Sessions on ``database_url``; a test module that needs rows in it first defines its own."""
    return db.session_factory(database_url)


@pytest.fixture
def redis_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A private Redis (and SQLite database) for one test."""
    settings = isolated_settings(tmp_path)
    redis_server.start(settings)
    migrated_sqlite(request, Path(settings.database_url.removeprefix("sqlite:///")))
    yield settings
    redis_server.stop(settings)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Asterisk, Redis, the database, FastAGI, the queue manager and the recorder, once per session.

    The admin is exercised in-process with Flask's test client.
    """
    settings = isolated_settings(tmp_path_factory.mktemp("stack"), vosk_model=packaged_model())
    with running_stack(settings) as stack:
        stack.add_sim_operators(talk_s=2, count=4)
        yield stack


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> World:
    """The admin with a user per role and two tickets in two directorates (``tests.staff.World``)."""
    return build_world(tmp_path, database_url)
