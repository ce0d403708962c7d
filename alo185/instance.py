"""Throw-away instances for tests and benchmarks: own var dir, free ports, own Asterisk files.

They share the machine's PBX root, so only the first ever provisions Asterisk.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from alo185 import ami, db, procs, redis_server, services, simulate
from alo185.models import CallRecord
from alo185.pbx import Pbx
from alo185.settings import Settings, load_settings
from ivr.menu import QUEUES

SIM_OPERATOR_NAME = "Test operatör"


def isolated_settings(var_dir: Path, **changes: object) -> Settings:
    """Settings for an instance of its own; only ``ALO185_PBX_ROOT`` is taken from the environment."""
    base = load_settings({k: v for k, v in os.environ.items() if k == "ALO185_PBX_ROOT"})
    return base.replace(
        var_dir=var_dir,
        instance=f"t{os.getpid()}-{var_dir.name}",
        ami_port=procs.free_port(),
        agi_port=procs.free_port(),
        sip_port=procs.free_port(),
        admin_port=procs.free_port(),
        **changes,
    )


@dataclass
class Stack:
    """A running instance and the ways tests and benchmarks drive it."""

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
        """The call's record once ``done`` holds for it (by default: the call has ended)."""
        found: list[CallRecord] = []

        def _check() -> bool:
            record = self.record(uniqueid)
            if record is not None and done(record):
                found.append(record)
                return True
            return False

        if not procs.wait_until(_check, timeout, interval=0.1):
            raise AssertionError(f"no finished call record for {uniqueid}: {self.record(uniqueid)!r}")
        return found[0]

    def add_sim_operators(self, talk_s: int = 2, count: int = 1) -> None:
        """``count`` simulated operators in every queue, each talking ``talk_s`` seconds a call."""

        async def _go() -> None:
            manager = await ami.connect(self.settings)
            try:
                for queue in QUEUES:
                    for ident in range(1, count + 1):
                        name = SIM_OPERATOR_NAME if count == 1 else f"{SIM_OPERATOR_NAME} {ident}"
                        await simulate.add_operator(manager, queue, name, talk_s=talk_s, ident=ident)
            finally:
                ami.disconnect(manager)

        asyncio.run(_go())


@contextmanager
def running_stack(settings: Settings, with_admin: bool = False) -> Iterator[Stack]:
    """Redis, the database, Asterisk and alo185's processes; everything stopped and removed after."""
    redis_server.start(settings)
    db.migrate(settings.database_url)
    pbx = Pbx.install(settings, log=lambda _msg: None)
    try:
        pbx.start()
        for service in services.PROCESSES:
            if with_admin or service.name != "admin":
                services.start_process(settings, service)
        yield Stack(settings, pbx)
    finally:
        pids = [pid for pid in services.status(settings).values() if pid]
        services.down(settings, log=lambda _msg: None)
        pbx.remove_instance()
        leftovers = [pid for pid in pids if procs.alive(pid)]
        if leftovers:
            raise RuntimeError(f"processes left running: {leftovers}")
