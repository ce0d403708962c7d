"""Fixtures: a throw-away alo185 instance on free ports with the real Asterisk, Redis and database."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from alo185 import ami, db, procs, redis_server, services, simulate
from alo185.models import CallRecord
from alo185.pbx import Pbx
from alo185.settings import Settings, load_settings
from ivr.menu import QUEUES

TEST_OPERATOR = "Test operatör"


def make_settings(var_dir: Path, **changes: object) -> Settings:
    """Settings for an isolated instance: its own var dir, ports and Asterisk instance dir."""
    base = load_settings({k: v for k, v in os.environ.items() if k == "ALO185_PBX_ROOT"})
    return base.replace(
        var_dir=var_dir,
        instance=f"test-{os.getpid()}-{var_dir.name}",
        ami_port=procs.free_port(),
        agi_port=procs.free_port(),
        sip_port=procs.free_port(),
        admin_port=procs.free_port(),
        **changes,
    )


@pytest.fixture
def redis_settings(tmp_path: Path) -> Iterator[Settings]:
    """A private Redis (and SQLite database) for one test."""
    settings = make_settings(tmp_path)
    redis_server.start(settings)
    db.migrate(settings.database_url)
    yield settings
    redis_server.stop(settings)


@dataclass
class Stack:
    settings: Settings
    pbx: Pbx

    def ami(self, *actions: dict) -> list:
        return ami.run(self.settings, *actions)

    def call(self, keys: str = "", caller: str = "+905321234567") -> str:
        """Originate a citizen's call into 185 that keys ``keys``; returns its uniqueid."""
        uniqueid = f"t{time.time_ns()}"

        async def _go() -> None:
            manager = await ami.connect(self.settings)
            try:
                await simulate.call_185(manager, uniqueid, caller, keys)
            finally:
                ami.disconnect(manager)

        asyncio.run(_go())
        return uniqueid

    def record(self, uniqueid: str) -> CallRecord | None:
        with db.session_factory(self.settings.database_url)() as s:
            return s.scalars(select(CallRecord).where(CallRecord.uniqueid == uniqueid)).one_or_none()

    def wait_record(
        self, uniqueid: str, done: Callable[[CallRecord], bool] = lambda r: r.ended_at is not None, timeout: float = 45
    ) -> CallRecord:
        found: list[CallRecord] = []

        def _check() -> bool:
            record = self.record(uniqueid)
            if record is not None and done(record):
                found.append(record)
                return True
            return False

        if not procs.wait_until(_check, timeout, interval=0.2):
            raise AssertionError(f"no finished call record for {uniqueid}: {self.record(uniqueid)!r}")
        return found[0]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Asterisk, Redis, the database, FastAGI, the queue manager and the recorder, once per session."""
    settings = make_settings(tmp_path_factory.mktemp("stack"))
    redis_server.start(settings)
    db.migrate(settings.database_url)
    pbx = Pbx.install(settings, log=lambda _msg: None)
    try:
        pbx.start()
        for service in services.PROCESSES:
            if service.name != "admin":  # the admin is exercised in-process with Flask's client
                services.start_process(settings, service)
        stack = Stack(settings, pbx)

        async def _operators() -> None:
            manager = await ami.connect(settings)
            try:
                for queue in QUEUES:
                    await simulate.add_operator(manager, queue, TEST_OPERATOR, talk_s=2)
            finally:
                ami.disconnect(manager)

        asyncio.run(_operators())
        yield stack
    finally:
        pids = [pid for pid in services.status(settings).values() if pid]
        services.down(settings, log=lambda _msg: None)
        pbx.remove_instance()
        leftovers = [pid for pid in pids if procs.alive(pid)]
        assert not leftovers, f"processes left running: {leftovers}"
