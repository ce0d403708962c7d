"""Fixtures: a throw-away alo185 instance on free ports with the real Asterisk, Redis and database.

The suite runs in parallel (pytest-xdist, ``-n`` in setup.cfg): each worker starts instances of its
own, on ports from a range of its own (``harness.ports``). A module runs on one worker, in its order
(an integration module's tests may share its instance and build on each other), and so do the browser
tests (one instance with the admin); the longest start first, so the workers end together.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from xdist.scheduler import LoadScopeScheduling

from alo185.core import db, redis_server
from alo185.core.settings import Settings
from alo185.voicemail.model_files import packaged_model
from harness import pg_cluster, ports
from harness.instance import SIM_OPERATOR_NAME, Stack, isolated_settings, running_stack
from tests.staff import World, build_world

TEST_OPERATOR = SIM_OPERATOR_NAME
# Each parallel worker's ports: below the kernel's ephemeral range (32768-), above Asterisk's RTP (-20000).
# Two suites run side by side on one machine each take another first port (ALO185_TEST_PORTS_FROM).
PORTS_FROM = int(os.environ.get("ALO185_TEST_PORTS_FROM", "20100"))
PORTS_PER_WORKER = 600
# What to start first in a parallel run: the longest tests (seconds, measured alone with --durations=0).
# Every other test follows, in the order collected; a test missing here only ends the run later.
LONGEST_FIRST = {
    "tests/integration/test_voicemail_e2e.py": 260,
    "tests/integration/test_ivr_e2e.py": 220,
    "tests/integration/test_stop_e2e.py": 160,
    "tests/integration/test_callback_e2e.py": 150,
    "tests/browser/": 100,
    "tests/integration/test_call_e2e.py": 100,
    "tests/integration/test_queue_figures_e2e.py": 100,
    "tests/integration/test_queue_manager_crash_e2e.py": 95,
    "tests/integration/test_bench_quick.py::test_benchmark_quick_run[busy_hour]": 90,
    "tests/integration/test_softphones_e2e.py": 75,
    "tests/integration/test_log_privacy_e2e.py": 70,
    "tests/integration/test_survey_e2e.py": 70,
    "tests/integration/test_screenpop_e2e.py": 60,
    "tests/integration/test_bench_quick.py::test_benchmark_quick_run[screenpop]": 60,
    "tests/integration/test_bench_quick.py::test_benchmark_quick_run[transcribe]": 60,
    "tests/integration/test_hold_e2e.py": 50,
    "tests/integration/test_supervise_e2e.py": 50,
    "tests/integration/test_pbx_restart_e2e.py": 45,
    "tests/integration/test_bench_quick.py::test_benchmark_quick_run[ivr]": 35,
    "tests/integration/test_bench_quick.py::test_benchmark_quick_run[calls]": 35,
}


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, … in a parallel run
    if worker.startswith("gw"):
        first = PORTS_FROM + int(worker[2:]) * PORTS_PER_WORKER
        os.environ[ports.RANGE_VARIABLE] = f"{first}-{first + PORTS_PER_WORKER - 1}"


def _expected_s(item: pytest.Item) -> int:
    return max((s for prefix, s in LONGEST_FIRST.items() if item.nodeid.startswith(prefix)), default=0)


def _scope(nodeid: str) -> str:
    """What runs on one worker, in its order: a module, and the browser tests together; but each
    benchmark's quick run alone (each starts an instance of its own)."""
    path = nodeid.split("::")[0]
    if path.startswith("tests/browser/"):
        return "tests/browser/"  # one instance with the admin (admin_stack) for them all
    if path.endswith("test_bench_quick.py"):
        return nodeid
    return path  # a module's tests may share its instance and build on each other


class _ByScope(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return _scope(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling:
    config.option.loadscopereorder = False  # the longest first, as collected (pytest_collection_modifyitems)
    return _ByScope(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_expected_s, reverse=True)  # stable: the rest keep their order


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
    try:
        migrated_sqlite(request, Path(settings.database_url.removeprefix("sqlite:///")))
        yield settings
    finally:  # a failed setup too
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
