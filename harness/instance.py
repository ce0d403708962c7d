"""Throw-away instances for tests and benchmarks: own var dir, free ports, own Asterisk files.

They share the machine's PBX root, so only the first ever provisions Asterisk.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from panoramisk import Manager
from sqlalchemy import select

from alo185 import services
from alo185.calls.models import CallRecord
from alo185.core import ami, bus, db, procs, redis_server
from alo185.core.settings import Settings, load_settings
from alo185.pbx.control import Pbx
from alo185.queues.names import pbx_queues
from harness import ports, simulate
from workers import recorder

SIM_OPERATOR_NAME = "Test operatör"


def isolated_settings(var_dir: Path, **changes: object) -> Settings:
    """Settings for an instance of its own; only ``ALO185_PBX_ROOT`` is taken from the environment.

    No wrap-up unless asked for (``wrap_up_s``): simulated operators take the next call at once.
    No overflow offer unless asked for (``overflow_offer=True``): simulated callers key scripts written
    for the menu, and a question they were not scripted for would derail them.
    """
    base = load_settings({k: v for k, v in os.environ.items() if k == "ALO185_PBX_ROOT"})
    return base.replace(
        var_dir=var_dir,
        instance=f"t{os.getpid()}-{var_dir.name}",
        ami_port=ports.free_port(),
        agi_port=ports.free_port(),
        sip_port=ports.free_port(),
        admin_port=ports.free_port(),
        **{"wrap_up_s": 0, "overflow_offer": False, **changes},
    )


@dataclass
class Stack:
    """A running instance and the ways tests and benchmarks drive it."""

    settings: Settings
    pbx: Pbx
    sim_operator_interfaces: tuple[str, ...] = ()
    sim_operator_specs: tuple[tuple[str, int, int], ...] = ()  # (name, talk_s, ident) of each

    def ami(self, *actions: dict) -> list:
        return ami.run(self.settings, *actions)

    def prompt_seconds(self, prompt_id: str, lang: str = "tr") -> float:
        """How long a rendered prompt plays (to time a simulated caller's keys)."""
        with wave.open(str(self.pbx.instance_dir / "sounds" / lang / f"{prompt_id}.wav")) as w:
            return w.getnframes() / w.getframerate()

    def keys(self, *parts: str | float) -> str:
        """A DTMF script: strings are keys (``w`` = 0.5 s pause), numbers are seconds to wait first."""
        return "".join("W" * math.ceil(p) if isinstance(p, int | float) else p for p in parts)

    def after_notice(self, *parts: str | float, extra_s: float = 0.0) -> str:
        """Keys pressed once the recording notice (not interruptible) is over."""
        return self.keys(self.prompt_seconds("kvkk") + 1.0 + extra_s, *parts)

    def call(
        self,
        keys: str = "",
        caller: str = "+905321234567",
        hang_up: bool = False,
        speech: str = "",
        after_speech: str = "",
    ) -> str:
        """Originate a citizen's call into 185 that keys ``keys``; returns its uniqueid.

        With ``hang_up`` the caller leaves 4 s after the last key (end ``keys`` with pauses to stay longer).
        With ``speech`` (see ``speech_file``) the caller then says it and hangs up; or, with ``after_speech``,
        keys that (``#`` ends a voicemail) and stays until the PBX hangs up.
        """
        uniqueid = f"t{time.time_ns()}"

        async def _go() -> None:
            async with ami.session(self.settings) as manager:
                await simulate.call_185(
                    manager, uniqueid, caller, keys, hang_up=hang_up, speech=speech, after_speech=after_speech
                )

        asyncio.run(_go())
        return uniqueid

    def speech_file(self, name: str, text: str, voice: str) -> str:
        """``text`` spoken by espeak-ng for a simulated caller to say; returns the name for ``call``."""
        from alo185.voicemail.model_files import speak

        if not name.replace("_", "").isalnum():
            raise ValueError(f"a speech name is letters, digits and '_' (it travels in a dialplan extension): {name!r}")

        target = self.pbx.instance_dir / "sounds" / "sim" / f"{name}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        speak(text, voice, target)
        return name

    def channel_app(self, uniqueid: str) -> str:
        """The application the call's channel runs now ('' when it is gone)."""
        for line in self.pbx.cli("core show channels concise").splitlines():
            fields = line.split("!")
            if len(fields) > 13 and fields[13] == uniqueid:
                return fields[5]
        return ""

    def wait_until_gone(self, uniqueid: str, timeout: float = 120) -> None:
        if not procs.wait_until(lambda: not self.channel_app(uniqueid), timeout, interval=0.5):
            raise AssertionError(f"call {uniqueid} still up after {timeout} s")

    def wait_recorded(self, timeout: float = 30) -> None:
        """Until the recorder has committed every call event on the stream so far (read and acknowledged)."""
        client = bus.connect(self.settings.redis_connection_url)
        last = client.xinfo_stream(bus.CALL_EVENTS)["last-generated-id"]

        def _caught_up() -> bool:
            group = next(g for g in client.xinfo_groups(bus.CALL_EVENTS) if g["name"] == recorder.GROUP)
            return bus.stream_id(group["last-delivered-id"]) >= bus.stream_id(last) and group["pending"] == 0

        if not procs.wait_until(_caught_up, timeout, interval=0.1):
            raise AssertionError(f"the recorder did not reach event {last} in {timeout} s")

    def events(self, uniqueid: str) -> list[str]:
        """The call's events on the stream, type and time (for failure messages)."""
        client = bus.connect(self.settings.redis_connection_url)
        return [f"{e.get('type')}@{e.get('ts')}" for e in bus.all_events(client) if e.get("uniqueid") == uniqueid]

    def record(self, uniqueid: str) -> CallRecord | None:
        with db.session_factory(self.settings.database_url)() as s:
            return s.scalars(select(CallRecord).where(CallRecord.uniqueid == uniqueid)).one_or_none()

    def wait_record(
        self, uniqueid: str, done: Callable[[CallRecord], bool] | None = None, timeout: float = 90
    ) -> CallRecord:
        """The call's record once ``done`` holds for it (by default: ended, and talk time known if answered).

        AMI may report AgentComplete after the caller's Hangup, so an answered call is complete
        only with its talk time.
        """
        done = done or (lambda r: r.ended_at is not None and (not r.answered or r.talk_s is not None))
        found: list[CallRecord] = []

        def _check() -> bool:
            record = self.record(uniqueid)
            if record is not None and done(record):
                found.append(record)
                return True
            return False

        if not procs.wait_until(_check, timeout, interval=0.1):
            record = self.record(uniqueid)
            fields = {c.key: getattr(record, c.key) for c in CallRecord.__table__.columns} if record else None
            raise AssertionError(f"no finished call record for {uniqueid}: {fields}; events: {self.events(uniqueid)}")
        return found[0]

    def add_sim_operators(self, talk_s: int = 2, count: int = 1) -> None:
        """``count`` simulated operators in every queue, each talking ``talk_s`` seconds a call."""
        for ident in range(1, count + 1):
            name = SIM_OPERATOR_NAME if count == 1 else f"{SIM_OPERATOR_NAME} {ident}"
            if (name, talk_s, ident) not in self.sim_operator_specs:
                self.sim_operator_specs += ((name, talk_s, ident),)
                self.sim_operator_interfaces += (simulate.SIM_OPERATOR.format(talk=talk_s, ident=ident),)

        async def _go() -> None:
            async with ami.session(self.settings) as manager:
                for queue in pbx_queues():
                    await self._staff(manager, queue)

        asyncio.run(_go())

    async def _staff(self, manager: Manager, queue: str) -> None:
        for name, talk_s, ident in self.sim_operator_specs:
            await simulate.add_operator(manager, queue, name, talk_s=talk_s, ident=ident)

    def unstaff(self, queue: str) -> None:
        """Take the simulated operators out of ``queue`` (one that is not there already is fine)."""

        async def _go() -> None:
            async with ami.session(self.settings) as manager:
                for interface in self.sim_operator_interfaces:
                    await simulate.remove_operator(manager, queue, interface)

        asyncio.run(_go())

    @contextmanager
    def one_operator(self, queue: str, name: str, talk_s: int, ident: int = 99) -> Iterator[None]:
        """Inside: ``queue`` is answered by one simulated operator talking ``talk_s`` s. Staffed as before after."""
        self.unstaff(queue)
        interface = simulate.SIM_OPERATOR.format(talk=talk_s, ident=ident)

        async def _one(add: bool) -> None:
            async with ami.session(self.settings) as manager:
                if add:
                    await simulate.add_operator(manager, queue, name, talk_s=talk_s, ident=ident)
                    return
                await simulate.remove_operator(manager, queue, interface)
                await self._staff(manager, queue)

        asyncio.run(_one(add=True))
        try:
            yield
        finally:
            asyncio.run(_one(add=False))


@contextmanager
def running_stack(settings: Settings, with_admin: bool = False) -> Iterator[Stack]:
    """Redis, the database, Asterisk and alo185's processes; everything stopped and removed after (a failed
    start too)."""
    redis_server.start(settings)
    pbx: Pbx | None = None
    try:
        services.prepare_database(settings)
        pbx = Pbx.install(settings, log=lambda _msg: None)
        pbx.start()
        for service in services.PROCESSES:
            if with_admin or service.name != "admin":
                services.start_process(settings, service)
        yield Stack(settings, pbx)
    finally:
        pids = [pid for pid in services.status(settings).values() if pid]
        services.down(settings, log=lambda _msg: None, deadline_s=0)  # Redis too; calls still up are cut
        if pbx is not None:
            pbx.remove_instance()
        leftovers = [pid for pid in pids if procs.alive(pid)]
        if leftovers:
            raise RuntimeError(f"processes left running: {leftovers}")
