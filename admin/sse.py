"""Server-sent events relayed from a Redis pub/sub channel: the wallboard's live state, the console's pops."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Response, abort, stream_with_context
from redis import Redis, RedisError
from redis.client import PubSub

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream
SUBSCRIBE_WAIT_S = 5.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def message(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def subscribe(client: Redis, channel: str) -> PubSub:
    """Subscribed and confirmed before anything is read, so no message published from now on is missed."""
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        pubsub.get_message(timeout=SUBSCRIBE_WAIT_S)
    except RedisError:
        pubsub.close()
        abort(503, f"the live channel {channel} is unavailable")
    return pubsub


def relay(
    pubsub: PubSub,
    event: str,
    opening: Callable[[], list[str]] = list,
    limit: int | None = None,
    shown: Callable[[str], str] = str,
) -> Response:
    """``text/event-stream``: the ``opening`` messages, then each message on ``pubsub`` as ``event``.

    ``limit`` ends the stream after that many relayed messages (for tests); ``shown`` is what a
    message becomes for this viewer (e.g. a number masked by role).
    """

    def events() -> Iterator[str]:
        sent = 0
        try:
            yield from opening()
            while limit is None or sent < limit:
                received = pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_S)
                if received is None:
                    yield ": keep-alive\n\n"
                    continue
                yield message(event, shown(received["data"]))
                sent += 1
        finally:
            pubsub.close()

    return Response(stream_with_context(events()), mimetype="text/event-stream", headers=HEADERS)
