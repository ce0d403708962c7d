"""The screen-pop through the real Asterisk: the operator's phone rings, the pop is on their channel."""

from __future__ import annotations

import json
import time
from typing import cast

from alo185.core import bus, db, procs
from alo185.queues.names import pbx_queues
from alo185.tickets.models import Citizen
from alo185.tickets.queries import create_ticket
from harness.instance import SIM_OPERATOR_NAME, Stack


def _busy_with(live: dict, uniqueid: str) -> bool:
    operators = live.get("temizlik", {}).get("operators", {}).values()
    return any(o["call"] == uniqueid and o["state"] in ("ringing", "on_call") for o in operators)


def test_a_ringing_operator_gets_the_callers_pop(stack: Stack) -> None:
    caller = "+905328880001"
    with db.session_factory(stack.settings.database_url).begin() as s:
        s.add(Citizen(phone=caller, full_name="Hatice Arslan"))
        s.flush()
        number = create_ticket(s, phone=caller, category_code="yol-cukur", description="çukur", channel="phone").number
    pubsub = bus.connect(stack.settings.redis_connection_url).pubsub()
    pubsub.psubscribe(bus.SCREENPOP_PREFIX + "*")
    try:
        # Türkçe; the IVR offers the open ticket first: 2 for the menu, then 3 (cleaning).
        uniqueid = stack.call(stack.after_notice("1w2w3"), caller=caller)
        pop, deadline = None, time.monotonic() + 120
        while pop is None and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1.0)
            if message and message["type"] == "pmessage":
                data = json.loads(message["data"])
                pop = data if data["uniqueid"] == uniqueid else None
        assert pop is not None, f"no screen-pop for {uniqueid}; events: {stack.events(uniqueid)}"
        received = time.time()
        # The live state has the operator with this call (ringing, or already talking).
        redis = bus.connect(stack.settings.redis_connection_url)
        assert procs.wait_until(lambda: _busy_with(json.loads(redis.get(bus.LIVE_QUEUES) or "{}"), uniqueid), 3)
        live = json.loads(cast(str, redis.get(bus.LIVE_QUEUES)))  # there (just waited for), decoded
        assert set(pbx_queues()) <= set(live)  # rebuilt from QueueStatus when the queue manager connected
    finally:
        pubsub.close()
    assert pop["member"].startswith(SIM_OPERATOR_NAME) and pop["queue"] == "temizlik"
    assert (pop["caller"], pop["caller_masked"]) == (caller, "+90 532 *** ** 01")
    assert pop["citizen"]["name"] == "Hatice Arslan" and [t["number"] for t in pop["open_tickets"]] == [number]
    assert pop["ivr_path"] == "kvkk>language:1>open_ticket:2>main:3" and pop["lang"] == "tr"
    assert pop["wait_s"] is not None and 0 <= pop["wait_s"] < 30 and pop["callback"] is False
    latency_ms, received_ms = (pop["published_ts"] - pop["ami_ts"]) * 1000, (received - pop["ami_ts"]) * 1000
    print(f"screen-pop: AgentCalled -> published {latency_ms:.1f} ms, -> received {received_ms:.1f} ms")
    assert latency_ms < 500
    stack.wait_record(uniqueid, timeout=150)
