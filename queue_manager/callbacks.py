"""Callbacks in the queue manager: the state machine (``alo185.callbacks.machine``) over its AMI connection.

``AmiPbx`` is the machine's ``PbxActions`` over AMI; ``CallbackService`` feeds it AMI events one at a
time, sweeps for due callbacks and reconciles on every AMI login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from panoramisk import Manager

from alo185.callbacks.machine import QUEUE_HALF, STAGE_FAMILY, USER_EVENT, Callbacks, Config
from alo185.callbacks.models import PLACEHOLDER_PREFIX
from alo185.core import ami
from queue_manager.events import header

log = logging.getLogger(__name__)

SWEEP_S = 2.0  # requested callbacks are placed at least this often (at once when the IVR says so)
RECONCILE_S = 30.0  # placeholders checked against Asterisk's channels at least this often


class AmiPbx:
    """``PbxActions`` over the queue manager's AMI connection."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self._names: dict[str, str] = {}  # uniqueid -> channel name, from the last channel list

    async def originate(self, fields: dict[str, Any]) -> None:
        await ami.action(self.manager, fields)

    async def stage(self, placeholder: str) -> str:
        action = {"Action": "DBGet", "Family": STAGE_FAMILY, "Key": placeholder}
        reply = await asyncio.wait_for(self.manager.send_action(action), 15)  # a list when found
        for message in reply if isinstance(reply, list) else [reply]:
            if header(message, "Event") == "DBGetResponse":
                return header(message, "Val")
        if not isinstance(reply, list) and "not found" in header(reply, "Message").lower():
            return ""
        raise ami.AmiError(f"DBGet {placeholder} failed: {reply!r}")

    async def forget(self, placeholder: str) -> None:
        with contextlib.suppress(ami.AmiError):  # nothing there
            await ami.action(self.manager, {"Action": "DBDel", "Family": STAGE_FAMILY, "Key": placeholder})

    async def channels(self) -> set[str]:
        replies = await ami.list_action(self.manager, {"Action": "CoreShowChannels"})
        listed = [c for c in replies if header(c, "Event") == "CoreShowChannel"]
        self._names = {header(c, "Uniqueid"): header(c, "Channel") for c in listed}
        return set(self._names)

    async def hang_up(self, uniqueid: str) -> None:
        await self.channels()
        name = self._names.get(uniqueid)
        if name:
            with contextlib.suppress(ami.AmiError):  # gone meanwhile
                await ami.action(self.manager, {"Action": "Hangup", "Channel": name})


class CallbackService:
    """Feeds AMI events to ``Callbacks`` one at a time, sweeps for due callbacks, reconciles on login."""

    def __init__(self, machine: Callbacks, ready: Callable[[], bool] = lambda: True) -> None:
        self.machine = machine
        self.ready = ready  # AMI logged in: no sweep or reconcile is tried without it
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def start(cls, qm: Any) -> CallbackService:
        """Attach to a started ``QueueManager``: its AMI routes, its event stream, its database."""
        assert qm.manager is not None
        manager = qm.manager
        machine = Callbacks(qm.sessions, AmiPbx(manager), Config.from_settings(qm.settings), qm.outbox.put_nowait)
        service = cls(machine, ready=lambda: bool(manager.authenticated))
        service.attach(qm.routes)
        service.run()
        return service

    def attach(self, routes: dict[str, tuple[Callable[[Any, Any], None], ...]]) -> None:
        for name, handler in (
            ("UserEvent", self.on_user_event),
            ("Hangup", self.on_hangup),
            ("AgentConnect", self.on_agent_connect),
            ("FullyBooted", self.on_login),
        ):
            routes[name] = (*routes.get(name, ()), handler)

    def run(self) -> None:
        self.inbox.put_nowait(("reconcile",))
        for job in (self.work_forever(), self.tick_forever()):
            task = asyncio.get_running_loop().create_task(job)
            self._tasks.add(task)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    # AMI handlers: they never await, the work is queued.
    def on_user_event(self, _manager: Any, message: Mapping[str, Any]) -> None:
        if header(message, "UserEvent") != USER_EVENT:
            return
        stage = header(message, "Stage")
        if stage == "requested":  # from the IVR: place it now rather than at the next sweep
            self.inbox.put_nowait(("sweep",))
        elif header(message, "Placeholder").startswith(PLACEHOLDER_PREFIX):
            self.inbox.put_nowait(("stage", header(message, "Placeholder"), stage))

    def on_hangup(self, _manager: Any, message: Mapping[str, Any]) -> None:
        uniqueid = header(message, "Uniqueid")
        if uniqueid.startswith(PLACEHOLDER_PREFIX) and not uniqueid.endswith(QUEUE_HALF):
            self.inbox.put_nowait(("end", uniqueid))

    def on_agent_connect(self, _manager: Any, message: Mapping[str, Any]) -> None:
        uniqueid = header(message, "Uniqueid")
        if uniqueid.startswith(PLACEHOLDER_PREFIX) and uniqueid.endswith(QUEUE_HALF):
            member = header(message, "MemberName") or header(message, "Interface")
            self.inbox.put_nowait(("operator", uniqueid.removesuffix(QUEUE_HALF), member))

    def on_login(self, _manager: Any, _message: object) -> None:
        self.inbox.put_nowait(("reconcile",))

    async def handle(self, item: tuple[Any, ...]) -> None:
        kind, *args = item
        if kind == "stage":
            await self.machine.on_stage(*args)
        elif kind == "operator":
            await self.machine.on_operator(*args)
        elif kind == "end":
            await self.machine.on_end(*args)
        elif kind in ("sweep", "reconcile") and self.ready():
            await (self.machine.place_due() if kind == "sweep" else self.machine.reconcile())

    async def work_forever(self) -> None:
        while True:
            item = await self.inbox.get()
            try:
                await self.handle(item)
            except Exception:
                # The row keeps its state: the next reconcile (at the latest) takes it up again.
                log.exception("callback work %r failed", item)

    async def tick_forever(self) -> None:
        last_reconcile = time.monotonic()
        while True:
            await asyncio.sleep(SWEEP_S)
            if self.inbox.qsize() > 10:  # busy: what is queued covers it
                continue
            if time.monotonic() - last_reconcile >= RECONCILE_S:
                last_reconcile = time.monotonic()
                self.inbox.put_nowait(("reconcile",))
            else:
                self.inbox.put_nowait(("sweep",))
