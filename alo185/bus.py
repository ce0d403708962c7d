"""Call events on a durable Redis stream, shared by every process.

An event is a flat JSON object with at least ``type`` and ``uniqueid`` (Asterisk's), and
``ts`` (epoch seconds). Producers append; consumers read in a consumer group and ack only
after their work is committed, so a crash means a redelivery, never a loss.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import redis

CALL_EVENTS = "alo185:call-events"
DEAD_LETTERS = "alo185:dead-letters"
# Set (with a TTL) while the queue manager takes AMI events.
QUEUE_MANAGER_ALIVE = "alo185:queue-manager:alive"
STREAM_MAXLEN = 1_000_000

log = logging.getLogger(__name__)


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)


def check(event: dict[str, Any]) -> None:
    if not event.get("type") or not event.get("uniqueid"):
        raise ValueError(f"an event needs 'type' and 'uniqueid': {event!r}")


def append(target: Any, event: dict[str, Any], stream: str = CALL_EVENTS) -> Any:
    """XADD one event on ``target``: a client, a pipeline, sync or asyncio alike."""
    return target.xadd(stream, {"event": json.dumps(event, ensure_ascii=False)}, maxlen=STREAM_MAXLEN, approximate=True)


def publish(client: redis.Redis, event: dict[str, Any], stream: str = CALL_EVENTS) -> str:
    """Append one event; returns its stream id."""
    check(event)
    return append(client, event, stream)


def all_events(client: redis.Redis, stream: str = CALL_EVENTS) -> Iterator[dict[str, Any]]:
    """Every event still on the stream, oldest first (for tests, benchmarks and inspection)."""
    for _id, fields in client.xrange(stream):
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
        replies = client.xreadgroup(
            group, consumer, {stream: start}, count=count, block=None if start == "0" else block_ms
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

    def __init__(self, client: redis.Redis, stream: str = CALL_EVENTS, max_batch: int = 500) -> None:
        self.client, self.stream, self.max_batch = client, stream, max_batch
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
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            closing = None in batch
            events = [e for e in batch if e is not None]
            while events:
                try:
                    pipe = self.client.pipeline(transaction=False)
                    for event in events:
                        append(pipe, event, self.stream)
                    pipe.execute()
                    break
                except redis.ConnectionError as exc:
                    log.warning("Redis unavailable (%s); holding %d events", exc, len(events))
                    time.sleep(0.5)
