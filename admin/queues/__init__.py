"""Live queue state for the wallboard and the consoles: JSON, and a server-sent event stream.

The queue manager keeps the snapshot in Redis (``alo185:live``) and publishes every change on
the channel of the same name; this blueprint only relays it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request, stream_with_context

from admin import auth, context
from alo185 import bus
from alo185.access import Perm

bp = Blueprint("queues", __name__)
auth.protect(bp, Perm.QUEUES_LIVE)
KEEPALIVE_S = 15.0


@bp.get("/api/queues/live")
def live():  # type: ignore[no-untyped-def]
    raw = context.redis_client().get(bus.LIVE_QUEUES)
    return jsonify(json.loads(raw) if raw else {})


@bp.get("/api/queues/stream")
def stream() -> Response:
    """``text/event-stream``: the current snapshot, then each new one (``?max=N`` ends after N, for tests)."""
    client = context.redis_client()
    limit = request.args.get("max", type=int)

    def events() -> Iterator[str]:
        pubsub = client.pubsub()
        pubsub.subscribe(bus.LIVE_QUEUES)
        sent = 0
        try:
            current = client.get(bus.LIVE_QUEUES)
            if current:
                yield f"event: live\ndata: {current}\n\n"
                sent += 1
            while limit is None or sent < limit:
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_S)
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: live\ndata: {message['data']}\n\n"
                sent += 1
        finally:
            pubsub.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(events()), mimetype="text/event-stream", headers=headers)
