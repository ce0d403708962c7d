"""Call events on a durable Redis stream, shared by every process.

An event is a flat JSON object with at least ``type`` and ``uniqueid`` (Asterisk's), and
``ts`` (epoch seconds). Producers append; consumers read in a consumer group and ack only
after their work is committed, so a crash means a redelivery, never a loss.
"""

from __future__ import annotations

import json
import logging
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


def publish(client: redis.Redis, event: dict[str, Any], stream: str = CALL_EVENTS) -> str:
    """Append one event; returns its stream id."""
    if not event.get("type") or not event.get("uniqueid"):
        raise ValueError(f"an event needs 'type' and 'uniqueid': {event!r}")
    return client.xadd(stream, {"event": json.dumps(event, ensure_ascii=False)}, maxlen=STREAM_MAXLEN, approximate=True)


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
