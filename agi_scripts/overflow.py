"""The IVR's overflow prediction (``engine.PredictWait``), on the IVR's event loop without blocking it.

The live queue state comes from Redis (``alo185:live``, written by the queue manager); the queue's
recent AHT and its target from the database, read in a worker thread and kept for ``figures_ttl_s``.
While the queue manager is not running (no ``alo185:queue-manager:alive``) the live state may be stale:
there is no prediction then, and no offer (callers are queued as ever). When nobody is logged in to the
queue at all, the engine asks too: a prediction (any) means the offer is on and the queue manager, which
places callbacks, is running, so the caller is offered a callback or voicemail instead of voicemail only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis.asyncio as aioredis
from sqlalchemy.orm import Session, sessionmaker

from alo185.core import bus
from alo185.queues import overflow


class LivePredictor:
    def __init__(
        self,
        redis_url: str,
        sessions: sessionmaker[Session],
        wrap_up_s: float = 0.0,
        figures_ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis_url, self.sessions, self.wrap_up_s = redis_url, sessions, wrap_up_s
        self.figures_ttl_s, self.clock = figures_ttl_s, clock
        self._client: aioredis.Redis | None = None  # made on the loop that uses it
        self._figures: dict[str, tuple[float, tuple[float, float]]] = {}

    async def __call__(self, queue: str) -> overflow.Prediction | None:
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self.redis_url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2
            )
        raw, alive = await self._client.mget(bus.LIVE_QUEUES, bus.QUEUE_MANAGER_ALIVE)
        state = json.loads(raw).get(queue) if raw and alive else None
        if state is None:
            return None
        aht_s, target_s = await self.figures(queue)
        return overflow.predict(state, aht_s, target_s)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def figures(self, queue: str) -> tuple[float, float]:
        hit = self._figures.get(queue)
        if hit is not None and self.clock() - hit[0] < self.figures_ttl_s:
            return hit[1]
        value = await asyncio.to_thread(self._read, queue)
        self._figures[queue] = (self.clock(), value)
        return value

    def _read(self, queue: str) -> tuple[float, float]:
        with self.sessions() as session:
            return overflow.queue_figures(session, queue, datetime.now(UTC), self.wrap_up_s)
