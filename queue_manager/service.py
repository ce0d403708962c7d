"""``alo185 queue``: one AMI connection (reconnecting), call events onto the Redis stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import redis.asyncio as aioredis
from panoramisk import Manager

from alo185 import ami, bus
from alo185.settings import Settings
from queue_manager.events import TRANSLATORS, translate

log = logging.getLogger(__name__)
ALIVE_TTL_S = 30


class QueueManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.redis_connection_url, decode_responses=True)
        self.manager: Manager | None = None
        self.outbox: asyncio.Queue[dict] = asyncio.Queue()
        self.published = 0
        self._publisher: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None

    def on_event(self, _manager: Manager, message: object) -> None:
        """AMI callback: never awaits, so the event loop keeps reading AMI."""
        event = translate(message)  # type: ignore[arg-type]
        if event is not None:
            self.outbox.put_nowait(event)

    async def publish_forever(self) -> None:
        """One writer, in AMI order, batching whatever has queued up meanwhile."""
        while True:
            batch = [await self.outbox.get()]
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
        self.manager = await ami.connect(self.settings, timeout=30)
        for name in TRANSLATORS:
            self.manager.register_event(name, self.on_event)
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
