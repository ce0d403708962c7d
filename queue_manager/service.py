"""``alo185 queue``: one AMI connection (reconnecting), call events onto the Redis stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import redis.asyncio as aioredis
from panoramisk import Manager

from alo185 import ami, bus, db
from alo185.settings import Settings
from alo185.tickets import caller_card
from queue_manager import callbacks, commands, screenpop
from queue_manager.events import TRANSLATORS, header, translate
from queue_manager.live import LIVE_EVENTS, LiveState

log = logging.getLogger(__name__)
ALIVE_TTL_S = 30
# Screen-pops read and published at once; a burst waits its turn rather than exhausting the Redis
# client's connection pool (each pop in flight holds a connection).
SCREENPOP_CONCURRENCY = 8
# In a burst, call events gather this long before they go out: a round trip costs the loop as much
# as handling dozens of events, so one for many. After a quiet spell the first goes at once.
PUBLISH_GATHER_S = 0.002


class QueueManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.redis_connection_url, decode_responses=True)
        self.manager: Manager | None = None
        self.commands: commands.Commands | None = None
        self.callbacks: callbacks.CallbackService | None = None
        self.outbox: asyncio.Queue[dict] = asyncio.Queue()
        self.published = 0
        self._publisher: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None
        self.sessions = db.session_factory(settings.database_url)
        self.joined_at: dict[str, float] = {}  # caller uniqueid -> when it joined its queue (AMI time)
        self._pops: set[asyncio.Task] = set()
        self._pop_slots = asyncio.Semaphore(SCREENPOP_CONCURRENCY)
        self.pop_lookups = 0  # screen-pops that found no caller card and asked the database
        self.live = LiveState(wrap_up_s=settings.wrap_up_s)
        self._live_dirty = asyncio.Event()
        self._live_task: asyncio.Task | None = None
        self.routes = self._routes()

    def _routes(self) -> dict[str, tuple[Callable[[Manager, object], None], ...]]:
        """AMI event name -> its handlers, in order: the call event first (the screen-pop reads its wait)."""
        routes: dict[str, list[Callable[[Manager, object], None]]] = {}
        for name in TRANSLATORS:
            routes.setdefault(name, []).append(self.on_event)
        routes.setdefault("AgentCalled", []).append(self.on_agent_called)
        for name in LIVE_EVENTS:
            routes.setdefault(name, []).append(self.on_live_event)
        return {name: tuple(handlers) for name, handlers in routes.items()}

    def on_ami_event(self, manager: Manager, message: Mapping[str, Any]) -> None:
        """Every AMI event, routed by its name: one dict lookup where panoramisk matches a pattern per name."""
        for handler in self.routes.get(message["Event"], ()):
            handler(manager, message)

    def on_event(self, _manager: Manager, message: object) -> None:
        """AMI callback: never awaits, so the event loop keeps reading AMI."""
        event = translate(message)  # type: ignore[arg-type]
        if event is not None:
            self.outbox.put_nowait(event)
            self._track_wait(event)

    def _track_wait(self, event: dict) -> None:
        if event["type"] == "queue.join" and event.get("ts") is not None:
            self.joined_at[event["uniqueid"]] = event["ts"]
        elif event["type"] in ("queue.connect", "queue.abandon", "call.end"):
            self.joined_at.pop(event["uniqueid"], None)

    def on_live_event(self, _manager: Manager, message: object) -> None:
        if self.live.apply(message, time.time()):  # type: ignore[arg-type]
            self._live_dirty.set()

    async def publish_live_forever(self) -> None:
        """The snapshot to ``alo185:live`` (a key, and pub/sub for the stream), at most 10 times a second."""
        while True:
            with contextlib.suppress(TimeoutError):  # a wrap-up ends without an event: wake up then too
                await asyncio.wait_for(self._live_dirty.wait(), self.live.next_change(time.time()))
            self._live_dirty.clear()
            payload = json.dumps(self.live.snapshot(time.time()), ensure_ascii=False)
            try:
                await self.redis.set(bus.LIVE_QUEUES, payload)
                await self.redis.publish(bus.LIVE_QUEUES, payload)
            except aioredis.ConnectionError as exc:
                log.warning("Redis unavailable for the live state: %s", exc)
            await asyncio.sleep(0.1)

    async def resync(self, manager: Manager) -> None:
        """Rebuild from Asterisk's own lists: nothing stale survives a restart of Asterisk or of this process.

        QueueStatus rebuilds the live state; CoreShowChannels tells the recorder which calls still
        exist (``pbx.channels``), so the record of a call that died with Asterisk is closed, not left open.
        """
        try:
            replies = await ami.list_action(manager, {"Action": "QueueStatus"})
            channels = await ami.list_action(manager, {"Action": "CoreShowChannels"})
        except (ami.AmiError, TimeoutError) as exc:
            log.warning("resync failed: %s", exc)
            return
        now = time.time()
        self.live.resync(replies, now)
        self._live_dirty.set()
        active = sorted({header(c, "Uniqueid") for c in channels if header(c, "Event") == "CoreShowChannel"})
        self.outbox.put_nowait({"type": "pbx.channels", "uniqueids": active, "ts": now})
        for gone in set(self.joined_at) - set(active):
            del self.joined_at[gone]
        log.info("resynchronised: %d queues, %d channels", len(self.live.queues), len(active))

    def _resync_soon(self, manager: Manager, *_args: object) -> None:
        """After every (re)login and when Asterisk reports it has fully booted."""
        self._spawn(self.resync(manager))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work)
        self._pops.add(task)
        task.add_done_callback(self._pops.discard)
        return task

    def on_agent_called(self, _manager: Manager, message: object) -> None:
        """An operator's phone rings: the screen-pop goes out from a task of its own."""
        joined = self.joined_at.get(header(message, "Uniqueid"))  # type: ignore[arg-type]
        pop = screenpop.from_agent_called(message, joined, time.time())  # type: ignore[arg-type]
        if pop["member"]:
            self._spawn(self._publish_pop(pop))

    async def _publish_pop(self, pop: dict) -> None:
        async with self._pop_slots:
            try:
                card = await self._caller_card(pop)
                await self.redis.publish(screenpop.channel_for(pop["member"]), screenpop.payload(pop, card))
            except Exception:
                log.exception("screen-pop for call %s failed", pop.get("uniqueid"))

    async def _caller_card(self, pop: dict) -> dict[str, Any]:
        """The card the IVR left in Redis; the database (in a worker thread) only for a call that bypassed the IVR."""
        card = caller_card.decode(await self.redis.get(bus.caller_card_key(pop["uniqueid"])), pop["caller"])
        if card is None:
            self.pop_lookups += 1
            card = await asyncio.to_thread(caller_card.card, self.sessions, pop["caller"])
        return card

    async def publish_forever(self) -> None:
        """One writer, in AMI order, batching whatever has queued up meanwhile (in a burst, for a moment)."""
        loop = asyncio.get_running_loop()
        sent_at = -PUBLISH_GATHER_S
        while True:
            batch = [await self.outbox.get()]
            pause = sent_at + PUBLISH_GATHER_S - loop.time()
            if pause > 0:  # the last write went out a moment ago: a burst
                await asyncio.sleep(pause)
            sent_at = loop.time()
            while not self.outbox.empty():
                batch.append(self.outbox.get_nowait())
            while True:
                try:
                    await bus.append_many(self.redis, batch)
                    break
                except aioredis.ConnectionError as exc:
                    log.warning("Redis unavailable (%s); holding %d events", exc, len(batch))
                    await asyncio.sleep(0.5)
            self.published += len(batch)

    async def start(self) -> None:
        if self._publisher is None:
            self._publisher = asyncio.create_task(self.publish_forever())
        self.manager = await ami.connect(self.settings, timeout=30, on_login=self._resync_soon)
        self.manager.register_event("*", self.on_ami_event)
        self.manager.register_event("FullyBooted", self._resync_soon)
        self.commands = commands.start(self.manager, self.redis, self.sessions)  # operators' log-in, pause…
        if self._live_task is None:
            self._live_task = asyncio.create_task(self.publish_live_forever())
        await self.resync(self.manager)
        self.callbacks = callbacks.CallbackService.start(self)  # callers' kept places, and the calls back
        self._heartbeat = asyncio.create_task(self.heartbeat_forever())
        log.info("queue manager connected to AMI %s:%s", self.settings.ami_host, self.settings.ami_port)

    async def heartbeat_forever(self) -> None:
        """Tell the other processes (and ``alo185 up``) that AMI events are being taken."""
        while True:
            try:
                if self.manager is not None and self.manager.authenticated:
                    await self.redis.set(bus.QUEUE_MANAGER_ALIVE, "1", ex=ALIVE_TTL_S)
            except aioredis.ConnectionError as exc:
                log.warning("Redis unavailable for the heartbeat: %s", exc)
            await asyncio.sleep(ALIVE_TTL_S / 3)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for part in (self.commands, self.callbacks):
            if part is not None:
                part.stop()
        if self.manager is not None:
            ami.disconnect(self.manager)
        for _ in range(100):  # up to 5 s to hand over what is still queued
            if self.outbox.empty() or self._publisher is None or self._publisher.done():
                break
            await asyncio.sleep(0.05)
        if self._publisher is not None:
            self._publisher.cancel()
        with contextlib.suppress(aioredis.ConnectionError):
            await self.redis.delete(bus.QUEUE_MANAGER_ALIVE)
        await self.redis.aclose()


async def _serve(settings: Settings) -> None:
    qm = QueueManager(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await qm.start()
            break
        except ami.AmiError as exc:
            log.warning("%s; retrying", exc)
            await asyncio.sleep(1)
    await stop.wait()
    await qm.stop()


def main(settings: Settings) -> None:
    asyncio.run(_serve(settings))
