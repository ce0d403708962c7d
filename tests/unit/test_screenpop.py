"""The screen-pop's content: what AgentCalled says, and who the caller is (the IVR's card, or the database)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast

from sqlalchemy import select

from alo185 import services
from alo185.core import bus, db
from alo185.core.phone import mask
from alo185.core.settings import Settings
from alo185.tickets import caller_card
from alo185.tickets.models import Citizen
from alo185.tickets.queries import create_ticket
from queue_manager import screenpop
from queue_manager.service import QueueManager

AGENT_CALLED = {
    "Event": "AgentCalled",
    "Timestamp": "1795270000.500000",
    "Channel": "Local/k1@alo185-sim-caller-00000001;1",
    "CallerIDNum": "+905321234567",
    "Uniqueid": "t123",
    "Queue": "temizlik",
    "Interface": "Local/2-1@alo185-sim-operator/n",
    "MemberName": "Test operatör 1",
    "ChanVariable": ["ALO185_IVR_PATH=kvkk>language:1>main:3", "ALO185_LANG=tr", "ALO185_CATEGORY=cop-toplama"],
}


def test_what_ami_tells() -> None:
    pop = screenpop.from_agent_called(AGENT_CALLED, joined_at=1795269990.0, now=1795270001.0)
    assert (pop["uniqueid"], pop["queue"], pop["member"]) == ("t123", "temizlik", "Test operatör 1")
    assert pop["caller"] == "+905321234567" and "caller_masked" not in pop  # the caller card's
    assert (pop["ivr_path"], pop["lang"], pop["category"]) == ("kvkk>language:1>main:3", "tr", "cop-toplama")
    assert pop["wait_s"] == 10.5 and pop["callback"] is False
    assert bus.screenpop_channel(pop["member"]) == "alo185:screenpop:Test operatör 1"
    one_var = screenpop.from_agent_called({**AGENT_CALLED, "ChanVariable": "ALO185_LANG=en"}, None, 0)
    assert one_var["lang"] == "en" and one_var["wait_s"] is None and one_var["ivr_path"] == ""


def known_caller(database_url: str) -> str:
    """A muhtar with one open ticket; returns its number."""
    services.prepare_database(Settings(db_url=database_url))
    with db.session_factory(database_url).begin() as s:
        s.add(Citizen(phone="+905321234567", full_name="Ayşe Demir", platform_role="muhtar"))
        s.flush()
        return create_ticket(
            s, phone="+905321234567", category_code="yol-cukur", description="x", channel="phone"
        ).number


def test_who_the_caller_is(database_url: str) -> None:
    number = known_caller(database_url)
    sessions = db.session_factory(database_url)
    details = caller_card.caller_details(sessions, "+905321234567")
    assert details["citizen"]["name"] == "Ayşe Demir" and details["platform_role"] == "muhtar"
    assert (
        [t["number"] for t in details["open_tickets"]] == [number] == [t["number"] for t in details["recent_tickets"]]
    )
    assert details["open_tickets"][0]["status"] == "sent_to_directorate"
    assert caller_card.card(sessions, "+905321234567") == {"caller_masked": "+90 532 *** ** 67", **details}
    assert caller_card.caller_details(sessions, "+905320000000")["citizen"] is None
    with sessions() as s:
        assert s.scalar(select(Citizen.id).where(Citizen.phone == "+905320000000")) is None


def pop_as_before(sessions: Any, event: dict, joined_at: float | None = None) -> dict[str, Any]:
    """The pop as the queue manager built it from the database alone (without ``published_ts``)."""
    pop = screenpop.from_agent_called(event, joined_at, 0)
    return {**pop, "caller_masked": mask(pop["caller"]), **caller_card.caller_details(sessions, pop["caller"])}


async def _until(done: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def published_pop(settings: Settings, event: dict) -> tuple[dict[str, Any], int]:
    """What the queue manager publishes when ``event`` (an AgentCalled) comes, and its database lookups."""
    pubsub = bus.connect(settings.redis_connection_url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(bus.screenpop_channel(event["MemberName"]))

    async def ring() -> int:
        qm = QueueManager(settings)
        writer = asyncio.create_task(qm.publish_forever())
        qm.on_agent_called(None, event)
        await _until(lambda: qm.pops_published)
        writer.cancel()
        await qm.redis.aclose()
        return qm.pop_lookups

    lookups = asyncio.run(ring())
    message, deadline = None, time.monotonic() + 5
    while message is None and time.monotonic() < deadline:  # None too for the subscription's confirmation
        message = pubsub.get_message(timeout=1)
    pubsub.close()
    assert message is not None, "no screen-pop published"
    pop = json.loads(message["data"])
    assert pop.pop("published_ts") >= pop["ami_ts"]
    return pop, lookups


def test_the_pop_reads_the_callers_card(redis_settings: Settings) -> None:
    known_caller(redis_settings.database_url)
    sessions = db.session_factory(redis_settings.database_url)
    client = bus.connect(redis_settings.redis_connection_url)
    client.set(bus.caller_card_key("t123"), caller_card.build(sessions, "+905321234567"))
    pop, lookups = published_pop(redis_settings, AGENT_CALLED)
    assert lookups == 0 and pop == pop_as_before(sessions, AGENT_CALLED)


def test_without_a_card_the_pop_asks_the_database(redis_settings: Settings) -> None:
    known_caller(redis_settings.database_url)
    sessions = db.session_factory(redis_settings.database_url)
    client = bus.connect(redis_settings.redis_connection_url)
    # A card left for another number under this call's id is not this caller's.
    client.set(bus.caller_card_key("t123"), caller_card.build(sessions, "+905320000000"))
    pop, lookups = published_pop(redis_settings, AGENT_CALLED)
    assert lookups == 1 and pop == pop_as_before(sessions, AGENT_CALLED)
    assert pop["citizen"]["name"] == "Ayşe Demir" and pop["caller_masked"] == "+90 532 *** ** 67"
    client.delete(bus.caller_card_key("t123"))
    assert published_pop(redis_settings, AGENT_CALLED) == (pop_as_before(sessions, AGENT_CALLED), 1)


def test_a_card_stored_in_another_form_is_still_used(redis_settings: Settings) -> None:
    """Redis finishes the pop when the card is as ``caller_card.encode`` writes it; any other form is decoded here."""
    known_caller(redis_settings.database_url)
    sessions = db.session_factory(redis_settings.database_url)
    client = bus.connect(redis_settings.redis_connection_url)
    fields = caller_card.card(sessions, "+905321234567")
    client.set(bus.caller_card_key("t123"), json.dumps({"card": fields, "caller": "+905321234567"}))
    pop, lookups = published_pop(redis_settings, AGENT_CALLED)
    assert lookups == 0 and pop == pop_as_before(sessions, AGENT_CALLED)


def test_redis_finishes_the_pop_as_python_would() -> None:
    pop = screenpop.from_agent_called(AGENT_CALLED, joined_at=1795269990.0, now=0)
    fields = {"caller_masked": "+90 532 *** ** 67", "citizen": {"name": 'Ayşe "Demir"'}, "open_tickets": []}
    unfinished, prefix = screenpop.unfinished(pop)
    stored = caller_card.encode(pop["caller"], fields)
    assert stored.startswith(prefix) and stored.endswith("}}")
    finished = json.loads(unfinished[:-1] + ", " + stored[len(prefix) : -2] + "}")  # what ``bus.WRITE`` does
    published = json.loads(screenpop.payload(pop, fields))
    assert finished.pop("published_ts") <= published.pop("published_ts") and finished == published


def test_events_routed_by_name_reach_the_outbox_the_live_state_and_the_pop(redis_settings: Settings) -> None:
    """``on_ami_event`` routes by name to handlers bound once: call events, the wait, the live state, the pop;
    a member status that repeats what is held does not mark the snapshot stale."""

    async def route() -> None:
        qm = QueueManager(redis_settings)
        member = {"Queue": "temizlik", "Interface": AGENT_CALLED["Interface"], "MemberName": AGENT_CALLED["MemberName"]}
        status = {"Event": "QueueMemberStatus", "Timestamp": "1795269990.0", "Status": "1", "Paused": "0", **member}
        qm.on_ami_event(None, status)
        assert qm._live_dirty.is_set()
        qm._live_dirty.clear()
        qm.on_ami_event(None, {**status, "Timestamp": "1795269995.0"})
        assert not qm._live_dirty.is_set()
        join = {"Event": "QueueCallerJoin", "Timestamp": "1795269999.0", "Queue": "temizlik", "Uniqueid": "t123"}
        qm.on_ami_event(None, {**join, "CallerIDNum": "+905321234567", "Position": "1"})
        qm.on_ami_event(None, AGENT_CALLED)
        assert [e["type"] for e in qm.outbox.items] == ["queue.join"]
        assert qm.joined_at == {"t123": 1795269999.0}
        assert [pop["wait_s"] for pop, _card in qm._pops_ready] == [1.5]
        assert qm.live.snapshot(1795270001.0)["temizlik"]["operators"][member["Interface"]]["state"] == "ringing"
        hangup = {"Event": "Hangup", "Timestamp": "1795270009.0", "Uniqueid": "t123", "Linkedid": "t123"}
        qm.on_ami_event(None, {**hangup, "Cause": "16"})
        assert [e["type"] for e in qm.outbox.items] == ["queue.join", "call.end"] and not qm.joined_at
        await qm.redis.aclose()

    asyncio.run(route())


def test_the_write_appends_each_event_as_its_own_entry_intact(redis_settings: Settings) -> None:
    """``bus.WRITE`` appends the events in order, their text as ``bus.encode`` made it, and sets the values."""
    events: list[dict[str, Any]] = [
        {"type": "call.start", "uniqueid": "u1", "ts": 1795270000.5, "caller": "+905321234567"},
        {"type": "call.voicemail", "uniqueid": "u1", "ts": None, "reason": 'satır\nbir\r\niki \u2028 "üç"'},
        {"type": "call.end", "uniqueid": "u1", "ts": 1795270009.25, "cause": "16"},
    ]

    async def write() -> list[dict]:
        qm = QueueManager(redis_settings)
        script = qm._write_script
        assert await bus.write(script, [], [], [], []) == []
        assert await bus.write(script, events[:1], [("alo185:test", "v")], [], []) == []
        assert await bus.write(script, events[1:], [], [], []) == []
        stored = [json.loads(f["event"]) for _id, f in cast(bus.Entries, await qm.redis.xrange(bus.CALL_EVENTS))]
        assert await qm.redis.get("alo185:test") == "v"
        await qm.redis.aclose()
        return stored

    assert asyncio.run(write()) == events
