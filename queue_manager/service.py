"""``alo185 queue``: one AMI connection (reconnecting), call events onto the Redis stream."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import redis.asyncio as aioredis
from panoramisk import Manager

from alo185.calls import rebuild
from alo185.core import ami, bus, db
from alo185.core.asterisk import Asterisk
from alo185.core.asterisk_root import ProvisionError
from alo185.core.settings import Settings
from alo185.queues import service_level
from alo185.tickets import caller_card
from queue_manager import callbacks, commands, screenpop
from queue_manager.events import TRANSLATORS, header
from queue_manager.live import LiveState

log = logging.getLogger(__name__)
ALIVE_TTL_S = 30
# In a burst, whatever is for Redis (call events, screen-pops with their caller cards, the live
# snapshot) gathers up to this long after the last write before it goes out, in one round trip: a
# round trip costs the loop as much as handling dozens of events (more on a busy machine, where
# waking Redis costs a time slice), so one for many. A screen-pop in a burst is out within this plus
# a round trip. A burst: BURST_WRITES writes within BURST_WINDOW_S; otherwise (one call's events, a
# ring) every write goes at once.
PUBLISH_GATHER_S = 0.01
BURST_WRITES, BURST_WINDOW_S = 5, 0.1
# Call events in one write at most (after a Redis outage the backlog goes out in several).
PUBLISH_MAX_BATCH = 500
LIVE_INTERVAL_S = 0.1  # the live snapshot goes out at most this often
RETRY_S = 0.5
_JOIN_ENDS = ("queue.connect", "queue.abandon", "call.end")  # call events after which a caller no longer waits
# The gap rebuilt at a login starts this long before the last event written: queue_log keeps whole seconds.
GAP_MARGIN_S = 2.0
# Without a mark of the last event written (a new instance, a lost Redis), the rebuild looks back this far.
REBUILD_LOOKBACK_S = 3600.0
# What an AMI event is handed to: panoramisk's manager and the event (a ``Message``, a mapping).
Handler = Callable[[Manager, Mapping[str, Any]], None]


class Outbox:
    """Call events waiting for the writer, in AMI order. ``put_nowait`` as on an ``asyncio.Queue``."""

    def __init__(self, wake: asyncio.Event) -> None:
        self.items: list[dict] = []
        self._wake = wake

    def put_nowait(self, event: dict) -> None:
        self.items.append(event)
        self._wake.set()

    def empty(self) -> bool:
        return not self.items


class QueueManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.redis_connection_url, decode_responses=True)
        self._write_script = self.redis.register_script(bus.WRITE)
        self.manager: Manager | None = None
        self.commands: commands.Commands | None = None
        self.callbacks: callbacks.CallbackService | None = None
        self._wake = asyncio.Event()  # something is waiting for the writer
        self.outbox = Outbox(self._wake)
        self.published = 0
        self._publisher: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None
        self.sessions = db.session_factory(settings.database_url)
        self.joined_at: dict[str, float] = {}  # caller uniqueid -> when it joined its queue (AMI time)
        self._pops: set[asyncio.Task] = set()
        # Screen-pops for the next write, with their caller card's fields, or None: the write reads the card.
        self._pops_ready: list[tuple[dict, dict[str, Any] | None]] = []
        self._pops_due = False  # one of them has waited already (for the database): the next write goes at once
        self.pops_published = 0
        self.pop_lookups = 0  # screen-pops that found no caller card and asked the database
        self.live = LiveState(wrap_up_s=settings.wrap_up_s)
        self._live_dirty = asyncio.Event()
        self._live_payload: str | None = None  # the latest snapshot, for the writer
        self._live_task: asyncio.Task | None = None
        self.routes = self._routes()
        # The mark of the last event written (``bus.QUEUE_MANAGER_SEEN``) moves only once the gap a resync
        # rebuilds is written too: when ``published`` reaches this (None: a resync is under way).
        self._gap_written_at: int | None = None
        self._rebuilt_to: float | None = None  # the time the last rebuild read queue_log up to
        self._resyncing = asyncio.Lock()
        self._logins = 0  # AMI logins of this process: those after the first are reconnects (``bus.AMI_RECONNECTS``)

    def _routes(self) -> dict[str, tuple[Handler, ...]]:
        """AMI event name -> its handlers, in order: the call event first (the screen-pop reads its wait).

        Built once, each handler bound to its translator or fold, so no handler looks the event's name up again.
        """
        routes: dict[str, list[Handler]] = {}
        for name, translator in TRANSLATORS.items():
            routes.setdefault(name, []).append(self._call_event_handler(translator))
        routes.setdefault("AgentCalled", []).append(self.on_agent_called)
        for name, fold in self.live.folds().items():
            routes.setdefault(name, []).append(self._live_handler(fold))
        return {name: tuple(handlers) for name, handlers in routes.items()}

    def on_ami_event(self, manager: Manager, message: Mapping[str, Any]) -> None:
        """Every AMI event, routed by its name: one dict lookup where panoramisk matches a pattern per name."""
        try:  # ``events.header`` inline: its first step, on a panoramisk message
            # a panoramisk Message's private store (untyped); another mapping raises AttributeError
            name = message._store["event"][1]  # type: ignore[attr-defined]
        except (AttributeError, KeyError):
            name = header(message, "Event")
        for handler in self.routes.get(name, ()):
            handler(manager, message)

    def _call_event_handler(self, translator: Callable[[Mapping[str, Any]], dict | None]) -> Handler:
        """The handler for one kind of call event (``events.translate`` with the translator already chosen)."""
        outbox, joined_at = self.outbox, self.joined_at

        def on_call_event(_manager: Manager, message: Mapping[str, Any]) -> None:
            event = translator(message)
            if event is None or not event["uniqueid"]:
                return
            outbox.put_nowait(event)
            kind = event["type"]  # when its caller joined: the screen-pop's wait so far
            if kind == "queue.join":
                if event["ts"] is not None:
                    joined_at[event["uniqueid"]] = event["ts"]
            elif kind in _JOIN_ENDS:
                joined_at.pop(event["uniqueid"], None)

        return on_call_event

    def _live_handler(self, fold: Callable[[Mapping[str, Any], float], bool]) -> Handler:
        """The handler for one kind of live event; the snapshot is marked stale only when the state changed."""
        dirty = self._live_dirty

        def on_live_event(_manager: Manager, message: Mapping[str, Any]) -> None:
            if fold(message, time.time()):
                dirty.set()

        return on_live_event

    async def publish_live_forever(self) -> None:
        """The snapshot for ``alo185:live`` (a key, and pub/sub for the stream), at most 10 times a second.

        Changes in between are folded into the next snapshot, taken after the pause: the last change
        always goes out, at most ``LIVE_INTERVAL_S`` late. The writer (``publish_forever``) sends it with
        whatever else is going to Redis; a newer snapshot replaces one not yet sent.
        """
        while True:
            with contextlib.suppress(TimeoutError):  # a wrap-up ends without an event: wake up then too
                await asyncio.wait_for(self._live_dirty.wait(), self.live.next_change(time.time()))
            self._live_dirty.clear()
            self._live_payload = bus.encode(self.live.snapshot(time.time()))
            self._wake.set()
            await asyncio.sleep(LIVE_INTERVAL_S)

    async def resync(self, manager: Manager) -> None:
        """Rebuild from Asterisk's own lists: nothing stale survives a restart of Asterisk or of this process.

        QueueStatus rebuilds the live state; the calls' facts since the last event written are rebuilt
        from queue_log (``rebuild_gap``); then CoreShowChannels tells the recorder which calls still exist
        (``pbx.channels``), so the record of a call that died with Asterisk is closed, not left open.
        """
        self.gap_opened()
        async with self._resyncing:  # a login and FullyBooted come together: one resync after the other
            await self._resync(manager)

    async def _resync(self, manager: Manager) -> None:
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
        listed: dict[str, Any] = {"type": "pbx.channels", "uniqueids": active, "ts": now}
        down_at = await self._pbx_down_at()
        if down_at is not None:
            listed["down_at"] = down_at
        rebuilt = await self.rebuild_gap(now)
        self.gap_rebuilt(rebuilt)  # before pbx.channels: a call that ended in the gap is ended, not taken for lost
        self.outbox.put_nowait(listed)
        for gone in set(self.joined_at) - set(active):
            del self.joined_at[gone]
        log.info(
            "resynchronised: %d queues, %d channels, %d calls rebuilt", len(self.live.queues), len(active), len(rebuilt)
        )

    async def rebuild_gap(self, now: float) -> list[dict[str, Any]]:
        """The facts of the calls since the last event written, from queue_log (``alo185.calls.rebuild``).

        The gap starts at the mark the writer keeps in Redis (or the last rebuild, if later), a little
        before for queue_log's whole seconds: reading more than the gap is harmless, the recorder only
        fills in what a record lacks.
        """
        try:
            path = Asterisk.locate(self.settings).queue_log
            since = await self.gap_start(now)
            lines = await asyncio.to_thread(rebuild.read_since, path, since)
        except (ProvisionError, OSError, aioredis.RedisError) as exc:
            log.warning("calls missed while AMI was away cannot be rebuilt: %s", exc)
            return []
        self._rebuilt_to = now
        return rebuild.events(service_level.parse(lines))

    def gap_opened(self) -> None:
        """AMI events may have been missed (a login): the mark of the last event written stays where it is."""
        self._gap_written_at = None

    def gap_rebuilt(self, events: list[dict[str, Any]]) -> None:
        """The gap's rebuilt calls go out; the mark moves again once they are written (whatever the batches)."""
        for event in events:
            self.outbox.put_nowait(event)
        self._gap_written_at = self.published + len(self.outbox.items)

    async def gap_start(self, now: float) -> float:
        """Where the gap to rebuild starts: the mark, or the last rebuild if later; an hour back without either."""
        seen = await self.redis.get(bus.QUEUE_MANAGER_SEEN)
        marks = [float(seen)] if seen else []
        if self._rebuilt_to is not None:
            marks.append(self._rebuilt_to)
        return max(marks) - GAP_MARGIN_S if marks else now - REBUILD_LOOKBACK_S

    def _ami_lost(self, _manager: Manager, _exc: object) -> None:
        """AMI dropped (Asterisk died, or is stopping): the calls the next resync finds gone ended about now."""
        self._spawn(self._note_pbx_down(time.time()))

    async def _note_pbx_down(self, at: float) -> None:
        try:
            await self.redis.set(bus.PBX_DOWN_AT, repr(at))
        except aioredis.RedisError as exc:
            log.warning("Redis unavailable: when AMI was lost (%.3f) is not kept: %s", at, exc)

    async def _pbx_down_at(self) -> float | None:
        """When AMI was last lost. Kept, not taken: every resync carries it, so none closes the lost calls
        without it (the recorder uses it only for calls it knows nothing of after that moment, so an old
        one does no harm)."""
        try:
            value = await self.redis.get(bus.PBX_DOWN_AT)
        except aioredis.RedisError as exc:
            log.warning("Redis unavailable: when AMI was lost is not known: %s", exc)
            return None
        return float(value) if value else None

    def _logged_in(self, manager: Manager, *_args: object) -> None:
        """Every AMI login: a resync, and a reconnect counted for the metrics after the first."""
        self._logins += 1
        if self._logins > 1:
            self._spawn(self._count_reconnect())
        self._resync_soon(manager)

    async def _count_reconnect(self) -> None:
        try:
            await self.redis.incr(bus.AMI_RECONNECTS)
        except aioredis.RedisError as exc:  # a metric lost, nothing else
            log.warning("Redis unavailable: an AMI reconnect not counted: %s", exc)

    def _resync_soon(self, manager: Manager, *_args: object) -> None:
        """After every (re)login and when Asterisk reports it has fully booted."""
        self.gap_opened()  # at once: the first events after a login may be written before the resync runs
        self._spawn(self.resync(manager))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work)
        self._pops.add(task)
        task.add_done_callback(self._pops.discard)
        return task

    def on_agent_called(self, _manager: Manager, message: Mapping[str, Any]) -> None:
        """An operator's phone rings: the screen-pop goes out with the next write, which reads the caller card
        the IVR left and publishes the pop with it in the same round trip. It never waits here."""
        joined = self.joined_at.get(header(message, "Uniqueid"))
        pop = screenpop.from_agent_called(message, joined, time.time())
        if pop["member"]:
            self._pop_ready(pop, None)

    def _pop_ready(self, pop: dict, card: dict[str, Any] | None) -> None:
        self._pops_ready.append((pop, card))
        self._wake.set()

    def _card_missed(self, pop: dict, stored: str | None) -> None:
        """The write found no card it could use as stored: decode it here, or ask the database (a call that bypassed
        the IVR, or a card for another number)."""
        card = caller_card.decode(stored, pop["caller"])
        if card is None:
            self._spawn(self._look_up_card(pop))
        else:
            self._pop_ready(pop, card)
            self._pops_due = True

    async def _look_up_card(self, pop: dict) -> None:
        """The database (in a worker thread), only for a call whose card is not in Redis."""
        self.pop_lookups += 1
        try:
            card = await asyncio.to_thread(caller_card.card, self.sessions, pop["caller"])
        except Exception:
            log.exception("screen-pop for call %s failed", pop.get("uniqueid"))
            return
        self._pop_ready(pop, card)
        self._pops_due = True  # it has waited long enough

    async def publish_forever(self) -> None:
        """The one writer to Redis: call events (in AMI order), screen-pops, the live snapshot.

        Whatever has gathered goes out in one round trip (``bus.WRITE``); in a burst, after a pause of
        up to ``PUBLISH_GATHER_S`` since the last one. Redis itself reads each screen-pop's caller card
        and publishes the pop with it, so a pop costs no round trip of its own.
        """
        loop = asyncio.get_running_loop()
        recent: collections.deque[float] = collections.deque(maxlen=BURST_WRITES)  # when the last writes went
        while True:
            await self._wake.wait()
            now = loop.time()
            burst = len(recent) == BURST_WRITES and now - recent[0] < BURST_WINDOW_S
            pause = recent[-1] + PUBLISH_GATHER_S - now if recent else 0.0
            if burst and pause > 0 and not self._pops_due:  # the writes of a call's events go at once
                await asyncio.sleep(pause)
            self._wake.clear()
            self._pops_due = False
            recent.append(loop.time())
            if not await self._write():
                await asyncio.sleep(RETRY_S)
                self._wake.set()
            elif self.outbox.items:  # more than one batch was waiting
                self._wake.set()

    async def _write(self) -> bool:
        """One round trip (``bus.WRITE``) for everything waiting; False when the call events are still to be written."""
        events = self.outbox.items[:PUBLISH_MAX_BATCH]
        pops, self._pops_ready = self._pops_ready, []
        live, self._live_payload = self._live_payload, None
        if not (events or pops or live):
            return True
        messages, carded = [], []
        for pop, card in pops:
            if card is None:
                carded.append(pop)
            else:
                messages.append((bus.screenpop_channel(pop["member"]), screenpop.payload(pop, card)))
        values = []
        gap = self._gap_written_at
        if events and gap is not None and self.published + len(events) >= gap:
            values += self._seen_mark(events)
        if live is not None:
            values.append((bus.LIVE_QUEUES, live))
            messages.append((bus.LIVE_QUEUES, live))
        with_cards = [
            (bus.caller_card_key(pop["uniqueid"]), bus.screenpop_channel(pop["member"]), *screenpop.unfinished(pop))
            for pop in carded
        ]
        try:
            done = await bus.write(self._write_script, events, values, messages, with_cards)
        except aioredis.RedisError as exc:
            log.warning("Redis did not take the write (%s); holding %d events", exc, len(self.outbox.items))
            for pop, _card in pops:  # not sent again: a pop that late would be stale, the phone may have stopped
                log.warning("screen-pop for call %s failed: %s", pop["uniqueid"], exc)
            if self._live_payload is None:  # unless a newer snapshot came meanwhile
                self._live_payload = live
            return False
        del self.outbox.items[: len(events)]
        self.published += len(events)
        self.pops_published += len(pops) - len(carded)
        for pop, outcome in zip(carded, done, strict=True):
            if outcome == 1:
                self.pops_published += 1
            else:  # no card stored (0), or one the write could not use as it stood (its text)
                self._card_missed(pop, outcome or None)
        return True

    @staticmethod
    def _seen_mark(events: list[dict]) -> list[tuple[str, str]]:
        """The write's mark of the last event it holds (by Asterisk's time): up to there nothing was missed."""
        times = [e["ts"] for e in events if e.get("type") != rebuild.REBUILT and isinstance(e.get("ts"), float | int)]
        return [(bus.QUEUE_MANAGER_SEEN, repr(float(max(times))))] if times else []

    async def start(self) -> None:
        if self._publisher is None:
            self._publisher = asyncio.create_task(self.publish_forever())
        self.manager = await ami.connect(
            self.settings, timeout=30, on_login=self._logged_in, on_disconnect=self._ami_lost
        )
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
                    await self.redis.set(bus.QUEUE_MANAGER_ALIVE, repr(time.time()), ex=ALIVE_TTL_S)
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
