"""Fixtures: a throw-away alo185 instance on free ports with the real Asterisk, Redis and database."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from alo185 import db, procs, redis_server
from alo185.instance import SIM_OPERATOR_NAME, Stack, isolated_settings, running_stack
from alo185.settings import Settings
from alo185.voicemail.model_files import packaged_model

TEST_OPERATOR = SIM_OPERATOR_NAME


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are missing: apt-get install postgresql")
    return found[-1].parent


def _as_postgres(argv: list[str]) -> list[str]:
    # The server refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster on a free port; yields its base URL (without a database)."""
    bindir = _postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="alo185-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", procs.free_port()
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "alo185", "--no-sync", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -h 127.0.0.1 -F"
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log")]
    subprocess.run(_as_postgres([*ctl, "-o", options, "-w", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://alo185@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([*ctl, "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def new_database(request: pytest.FixtureRequest, directory: Path) -> str:
    """An empty, migrated database of the kind ``request.param`` names (sqlite or postgresql)."""
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'alo185.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"t_{uuid.uuid4().hex[:12]}"
        with sqlalchemy.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        url = f"{server}/{name}"
    db.migrate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each kind."""
    return new_database(request, tmp_path)


@pytest.fixture
def redis_settings(tmp_path: Path) -> Iterator[Settings]:
    """A private Redis (and SQLite database) for one test."""
    settings = isolated_settings(tmp_path)
    redis_server.start(settings)
    db.migrate(settings.database_url)
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
