"""Call events on a durable Redis stream, shared by every process.

An event is a flat JSON object with at least ``type`` and ``uniqueid`` (Asterisk's), and
``ts`` (epoch seconds). Producers append; consumers read in a consumer group and ack only
after their work is committed, so a crash means a redelivery, never a loss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

import redis
import redis.asyncio as aioredis

CALL_EVENTS = "alo185:call-events"
DEAD_LETTERS = "alo185:dead-letters"
# Set (with a TTL) while the queue manager takes AMI events; its value is when it was last set (epoch
# seconds), for the readiness check (``alo185.monitoring.readiness``) to tell a stale heartbeat.
QUEUE_MANAGER_ALIVE = "alo185:queue-manager:alive"
# Counters the processes keep for the metrics (``alo185.monitoring.metrics``): one INCR where it happens,
# so every process and every scrape sees the same totals. FastAGI sessions ended, those that failed
# (an exception in the script), and the queue manager's AMI logins after its first.
AGI_SESSIONS = "alo185:count:agi-sessions"
AGI_FAILURES = "alo185:count:agi-failures"
AMI_RECONNECTS = "alo185:count:ami-reconnects"
# The Asterisk time of the last call event the queue manager wrote (no TTL): after it, events may have been
# missed, and are rebuilt from queue_log at the next AMI login (``alo185.calls.rebuild``).
QUEUE_MANAGER_SEEN = "alo185:queue-manager:seen"
# When the queue manager last lost AMI (epoch seconds), sent with each resync: a call found gone then
# ended when Asterisk went, not at the resync. In Redis, so it outlives a restart of the queue manager.
PBX_DOWN_AT = "alo185:pbx:down-at"
# The live queue state (a JSON snapshot), and the pub/sub channel its changes go out on.
LIVE_QUEUES = "alo185:live"
# The caller card (``alo185.tickets.caller_card``) the IVR leaves for the screen-pop, by the caller's uniqueid.
CALLER_CARD_PREFIX = "alo185:caller-card:"
# Operators' queue commands (log in/out, pause, unpause; ``alo185.operators.queue_commands``), the list each
# one's result is pushed onto, and the operator phones' registrations (a hash by extension).
QUEUE_COMMANDS = "alo185:queue-commands"
QUEUE_COMMAND_RESULT_PREFIX = "alo185:queue-command:"
PHONES = "alo185:phones"
# Each operator's screen-pops (pub/sub), by their queue member name (``queue_manager.screenpop``).
SCREENPOP_PREFIX = "alo185:screenpop:"
STREAM_MAXLEN = 1_000_000
# How long a stopping publisher goes on trying to hand its events to a Redis that does not answer.
STOP_FLUSH_S = 5.0

log = logging.getLogger(__name__)

# A stream's entries and an XREAD(GROUP) reply as these clients get them: RESP2, decoded (``connect`` sets
# ``decode_responses``). redis-py types its replies for both protocols and either decoding, so reads cast.
Entries = list[tuple[str, dict[str, str]]]
ReadReply = list[tuple[str, Entries]] | None


def connect(url: str, max_connections: int | None = None) -> redis.Redis:
    """A client pooling up to ``max_connections`` (redis-py's default, 100, when None)."""
    limits = {"max_connections": max_connections} if max_connections else {}
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5, **limits)


def caller_card_key(uniqueid: str) -> str:
    return CALLER_CARD_PREFIX + uniqueid


def screenpop_channel(member: str) -> str:
    return SCREENPOP_PREFIX + member


def event_time(ts: Any) -> datetime | None:
    """An event's ``ts`` (epoch seconds) as an aware datetime; None when it has none."""
    return datetime.fromtimestamp(float(ts), UTC) if ts not in (None, "") else None


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry's id (``<ms>-<seq>``) as a pair that orders like the stream."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def check(event: dict[str, Any]) -> None:
    if not event.get("type") or not event.get("uniqueid"):
        raise ValueError(f"an event needs 'type' and 'uniqueid': {event!r}")


# A batch in one round trip (one command to pack and one reply to parse, not one per event): values
# set with their TTL (the IVR's caller cards), then events appended, each as its own entry. KEYS: the
# stream, the keys to set. ARGV: MAXLEN, the number of keys, each key's value and TTL in seconds, then
# the events. Returns the number of events.
PUT_AND_APPEND = """
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('SET', KEYS[1 + i], ARGV[1 + 2 * i], 'EX', ARGV[2 + 2 * i])
end
for i = 3 + 2 * n, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
end
return #ARGV - 2 - 2 * n
"""

# Everything a writer has gathered, in one command: messages published, screen-pops completed with
# their caller card and published, values set, and call events appended (as ``PUT_AND_APPEND``).
# KEYS: the stream, the keys to set, each pop's card key. ARGV: MAXLEN, the four counts, the events,
# the values, channel and message pairs, then per pop its channel, its JSON object and the text its
# card must start with (``queue_manager.screenpop.unfinished``). The pop goes out as its object with
# the card's fields added; a pop whose card is missing or not as expected is not published, and its
# place in the reply holds 0 or the card's text, for the writer to finish. The other places hold 1.
WRITE = """
local n_events, n_set = tonumber(ARGV[2]), tonumber(ARGV[3])
local n_messages, n_pops = tonumber(ARGV[4]), tonumber(ARGV[5])
local a = 5 + n_events + n_set
for i = 1, n_messages do
  redis.call('PUBLISH', ARGV[a + 2 * i - 1], ARGV[a + 2 * i])
end
a = a + 2 * n_messages
local done = {}
for i = 1, n_pops do
  local channel, pop, prefix = ARGV[a + 3 * i - 2], ARGV[a + 3 * i - 1], ARGV[a + 3 * i]
  local card = redis.call('GET', KEYS[1 + n_set + i])
  done[i] = card or 0
  if card and #card > #prefix + 2 and string.sub(card, 1, #prefix) == prefix and string.sub(card, -2) == '}}' then
    redis.call('PUBLISH', channel, string.sub(pop, 1, -2) .. ', ' .. string.sub(card, #prefix + 1, -3) .. '}')
    done[i] = 1
  end
end
for i = 1, n_set do
  redis.call('SET', KEYS[1 + i], ARGV[5 + n_events + i])
end
for i = 1, n_events do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[5 + i])
end
return done
"""


def _encoder() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False)``, the same text, for what is written here.

    ``JSONEncoder.encode`` builds its C encoder anew on every call, which is a third of its time for an
    event; this one is built once (without the check for circular references: events, pops and the
    snapshot are plain trees). Where the C encoder is missing or takes other arguments, the plain ``encode``.
    """
    plain = json.JSONEncoder(ensure_ascii=False)
    try:
        # typeshed leaves out the C accelerator, a private name of ``json.encoder``.
        iterencode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
            None, plain.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
        )
    except TypeError:
        return plain.encode
    return lambda value: "".join(iterencode(value, 0))


encode = _encoder()


def write(
    script: Any,
    events: list[dict[str, Any]],
    values: list[tuple[str, str]],
    messages: list[tuple[str, str]],
    pops: list[tuple[str, str, str, str]],
    stream: str = CALL_EVENTS,
) -> Any:
    """Run ``WRITE`` (``script``: it registered on a client); ``pops``: (card key, channel, pop, card prefix).

    Returns one place per pop (1, 0 or the card's text). The publications go first (a screen-pop
    waits on them), the events last. A failure part way leaves the earlier parts done: the events
    are then appended again, which their consumers take in their stride (each is applied by its
    uniqueid).
    """
    keys = [stream, *(key for key, _value in values), *(key for key, _channel, _pop, _prefix in pops)]
    args: list[Any] = [STREAM_MAXLEN, len(events), len(values), len(messages), len(pops)]
    args += [encode(event) for event in events]
    args += [value for _key, value in values]
    for channel, message in messages:
        args += (channel, message)
    for _key, channel, pop, prefix in pops:
        args += (channel, pop, prefix)
    return script(keys=keys, args=args)


def append_many(target: Any, events: list[dict[str, Any]], stream: str = CALL_EVENTS) -> Any:
    """XADD several events, in order, as separate entries; sync or asyncio client alike (or a pipeline)."""
    payloads = [encode(event) for event in events]
    return target.eval(PUT_AND_APPEND, 1, stream, STREAM_MAXLEN, 0, *payloads)


def publish(client: redis.Redis, event: dict[str, Any], stream: str = CALL_EVENTS) -> str:
    """Append one event; returns its stream id."""
    check(event)
    msg_id = client.xadd(
        stream, {"event": json.dumps(event, ensure_ascii=False)}, maxlen=STREAM_MAXLEN, approximate=True
    )
    return cast(str, msg_id)  # the client decodes (``connect``)


def all_events(client: redis.Redis, stream: str = CALL_EVENTS) -> Iterator[dict[str, Any]]:
    """Every event still on the stream, oldest first (for tests, benchmarks and inspection)."""
    for _id, fields in cast(Entries, client.xrange(stream)):
        if "event" in fields:
            yield json.loads(fields["event"])


def ensure_group(client: redis.Redis, group: str, stream: str = CALL_EVENTS) -> None:
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def read_group(
    client: redis.Redis, group: str, consumer: str, block_ms: int = 1000, count: int = 100, stream: str = CALL_EVENTS
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (id, event): first this consumer's unacknowledged backlog, then new events."""
    for start in ("0", ">"):
        replies = cast(
            ReadReply,
            client.xreadgroup(group, consumer, {stream: start}, count=count, block=None if start == "0" else block_ms),
        )
        for _stream, messages in replies or []:
            for msg_id, fields in messages:
                if not fields:  # deleted by trimming while pending
                    yield msg_id, {}
                    continue
                try:
                    yield msg_id, json.loads(fields["event"])
                except (KeyError, json.JSONDecodeError):
                    log.error("dropping malformed event %s: %r", msg_id, fields)
                    yield msg_id, {}


def dead_letter(client: redis.Redis, msg_id: str, event: dict[str, Any], error: str) -> None:
    """Keep an event a consumer could not handle, with the reason, for inspection and replay."""
    client.xadd(DEAD_LETTERS, {"id": msg_id, "event": json.dumps(event, ensure_ascii=False), "error": error})


class BackgroundPublisher:
    """Publishes from a thread, in order and in batches, so a call never waits on Redis.

    Used where the caller must not be held up (the IVR). Events wait in memory while Redis is
    unreachable and go out when it is back; ``close`` hands over what is queued.
    """

    def __init__(
        self, client: redis.Redis, stream: str = CALL_EVENTS, max_batch: int = 500, gather_s: float = 0.005
    ) -> None:
        self.client, self.stream, self.max_batch, self.gather_s = client, stream, max_batch, gather_s
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="event-publisher", daemon=True)
        self._thread.start()

    def publish(self, event: dict[str, Any]) -> None:
        check(event)
        self._queue.put(event)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        closing = False
        while not closing:
            batch = [self._queue.get()]
            time.sleep(self.gather_s)  # let a busy IVR's events gather: one round trip for many
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            closing = None in batch
            events = [e for e in batch if e is not None]
            while events:
                try:
                    append_many(self.client, events, self.stream)
                    break
                except redis.ConnectionError as exc:
                    log.warning("Redis unavailable (%s); holding %d events", exc, len(events))
                    time.sleep(0.5)


class LoopPublisher:
    """The same contract as ``BackgroundPublisher`` for an asyncio process: no thread, no lock.

    ``publish`` only appends; ``run`` (a task on the loop) sends what has gathered in one round
    trip while the calls go on, and holds the events while Redis is unreachable. ``put`` does the
    same for a plain value with a TTL (the caller card).
    """

    def __init__(self, url: str, stream: str = CALL_EVENTS, max_batch: int = 500) -> None:
        self.url, self.stream, self.max_batch = url, stream, max_batch
        self._pending: list[dict[str, Any]] = []
        self._values: dict[str, tuple[str, int]] = {}  # key -> (value, TTL in seconds)
        self._wake: asyncio.Event | None = None
        self._stopping = False

    def publish(self, event: dict[str, Any]) -> None:
        check(event)
        self._pending.append(event)
        self._wakeup()

    def put(self, key: str, value: str, ttl_s: int) -> None:
        """SET with a TTL, sent with the next batch. Dropped, not held, when Redis fails: it is short-lived."""
        self._values[key] = (value, ttl_s)
        self._wakeup()

    def _wakeup(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def stop(self) -> None:
        """Have ``run`` hand over what is pending and return. Not ``cancel()``: redis-py's asyncio client with a
        socket timeout, on Python 3.11, loses a cancel that lands while a command is in flight (two times in three
        in a test), and the task then never ends; one that is not lost can cost the batch."""
        self._stopping = True
        self._wakeup()

    async def run(self) -> None:
        """Publish until ``stop``; then hand over what is pending, for at most ``STOP_FLUSH_S`` while Redis is down."""
        client = aioredis.Redis.from_url(self.url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)
        script = client.register_script(PUT_AND_APPEND)
        self._wake = asyncio.Event()
        if self._pending or self._values:  # published before the loop ran
            self._wake.set()
        try:
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                await self._send(script, retry_s=0.5)
            await self._send(script, retry_s=0.1, until=asyncio.get_running_loop().time() + STOP_FLUSH_S)
            if self._pending:
                log.error("Redis unavailable at shutdown: %d events not published", len(self._pending))
        finally:
            await client.aclose()

    async def _send(self, script: Any, retry_s: float, until: float | None = None) -> None:
        """What has gathered, in a round trip per ``max_batch`` events; each takes the values put so far,
        so a caller card never waits behind a backlog of events. While Redis is down the events are held
        and tried again, until ``stop`` (or the loop time ``until``)."""
        while self._pending or self._values:
            values, self._values = self._values, {}
            batch = self._pending[: self.max_batch]
            args: list[Any] = [STREAM_MAXLEN, len(values)]
            for value, ttl_s in values.values():
                args += (value, ttl_s)
            args += [encode(event) for event in batch]
            try:
                await script(keys=[self.stream, *values], args=args)
            except aioredis.RedisError as exc:
                if values:
                    log.warning("Redis did not take %d values (%s); dropped", len(values), exc)
                if not self._pending:
                    return  # only values, dropped: nothing to hold or try again
                log.warning("Redis unavailable (%s); holding %d events", exc, len(self._pending))
                if self._stopping if until is None else asyncio.get_running_loop().time() > until:
                    return  # stopping: the final hand-over takes over / has tried long enough
                await asyncio.sleep(retry_s)
                continue
            del self._pending[: len(batch)]


class Counters:
    """INCRs sent from an event loop without waiting for their reply: a count kept for the metrics never
    holds up a call, and a Redis away loses the count, nothing else."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: aioredis.Redis | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def incr(self, key: str) -> None:
        if self._client is None:
            self._client = aioredis.Redis.from_url(self._url, socket_timeout=2, socket_connect_timeout=2)
        task = asyncio.get_running_loop().create_task(self._incr(self._client, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _incr(client: aioredis.Redis, key: str) -> None:
        try:
            await client.incr(key)
        except aioredis.RedisError as exc:
            log.debug("%s not counted: %s", key, exc)
