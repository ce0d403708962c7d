"""AMI ingest: the queue manager's event handling side by side with panoramisk's bare parse.

The AMI stream of a real run (``bench/data/ami_stream.txt.gz``, recorded by
``python -m bench.ami_capture``) is fed at full speed, in socket-sized chunks, to an AMI protocol
(panoramisk's own ``AMIProtocol``, or the queue manager's ``alo185.core.ami_protocol.AmiProtocol``),
wired to a ``Manager`` the way ``Manager.connection_made`` wires it after a connect; only the
socket is missing. Every side yields to the event loop after every chunk, as a socket read does.
The stream is replayed as many times as it takes to make a round long enough to time.

(i)   panoramisk bare: its parse (``AMIProtocol.data_received`` -> ``Message.from_line``) and its
      dispatch to one no-op callback for every event.
(ii)  ingest: the queue manager as it runs: its protocol's parse (the same messages), panoramisk's
      dispatch to the queue manager's handlers, registered as ``QueueManager.start()`` registers
      them: call events into the outbox, which its publisher writes into a private Redis; the
      live state, with its publisher running; the screen-pop,
      which the writer's script completes with the caller card in Redis and publishes (a card
      it cannot use comes back to be decoded or looked up). Before the round, each recorded
      call's card is built from a migrated SQLite database (every caller a known citizen without
      tickets) and stored, as the IVR does during the call, seconds before the ring. A round
      ends when every call event is in Redis and every screen-pop has gone out.
(iii) ingest with database lookups: the same without the cards, as for calls that bypassed the
      IVR: each screen-pop looks the caller up in the database in a worker thread.
(iv)  ingest without screen-pops: the same, AgentCalled feeding only the live state; it shows
      what the screen-pops cost.
(v)   ingest on panoramisk's parse: (ii) with panoramisk's own ``AMIProtocol``; against (i) it shows
      what the queue manager's handlers and writes cost on their own.
(vi)  our parse bare: (i) with the queue manager's protocol; against (i), what its parse saves.
Not included: the socket read itself, and the resync that ``FullyBooted`` triggers (it asks a
live Asterisk).

Sides take turns round by round and the median round counts. Each round of ours is paired with a
panoramisk round right before or after it, and the median of those pairs' ratios is given too: it
holds better when the load of a shared machine changes between rounds. After every round of ours
the end state is checked: nobody waiting and no operator ringing or on a call in the live state,
no queue join left open, the call events in Redis, type by type, equal to a count made from the raw
stream without panoramisk or the translators, one screen-pop published per ring, no warning logged
(a failed screen-pop), and as many database lookups as the side calls for (none with the cards). A
wrong state fails the run. The screen-pops' delay (ring to write) is measured on the side with cards.
Quick mode: one round over the stream up to its first quiet point (the first wave of calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import json
import logging
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from alo185.core import bus, db, redis_server
from alo185.core.ami_protocol import AmiProtocol
from alo185.core.phone import normalize
from alo185.core.settings import Settings
from alo185.tickets import caller_card
from alo185.tickets.models import Citizen
from bench.ami_capture import INDEX_FILE, STREAM_FILE
from bench.common import summary_ms
from harness.instance import isolated_settings
from queue_manager import screenpop
from queue_manager.events import CALL_USEREVENT, TRANSLATORS
from queue_manager.service import QueueManager

CHUNK = 4096  # bytes a socket read hands over
ROUNDS = 5
ROUND_EVENTS = 30_000  # AMI events per round (the stream is replayed as often as it takes)
GOAL_RATIO = 0.8
EOL = "\r\n"
BUSY = ("ringing", "on_call")
# What each AMI event becomes on the call-event stream, written out apart from the translators.
CALL_EVENT_TYPES = {
    "QueueCallerJoin": "queue.join",
    "AgentConnect": "queue.connect",
    "AgentComplete": "queue.complete",
    "QueueCallerAbandon": "queue.abandon",
}
USER_EVENT_STAGES = {
    "start": "call.start",
    "ivr-done": "ivr.done",
    "voicemail": "call.voicemail",
    "recording": "call.recording",
}
HOLD_EVENTS = ("Hold", "Unhold")  # any leg of a call, keyed by the call (its Linkedid)


# The stream, read without panoramisk: what the check compares against.


def load_stream(quick: bool) -> bytes:
    """The recorded bytes; in quick mode up to the first quiet point."""
    data = gzip.decompress(STREAM_FILE.read_bytes())
    if quick:
        data = data[: json.loads(INDEX_FILE.read_text())["quiet_offsets"][0]]
    return data


def messages(data: bytes) -> Iterator[dict[str, str]]:
    """Each AMI message's headers (the first value of a repeated one)."""
    for block in data.decode("utf-8", "replace").split(EOL + EOL):
        headers: dict[str, str] = {}
        for line in block.split(EOL):
            key, sep, value = line.partition(": ")
            if sep:
                headers.setdefault(key, value)
        if headers:
            yield headers


def call_event_type(headers: dict[str, str]) -> str | None:
    """The call event an AMI event should give, by the rules in ``docs/events.md``."""
    name, uniqueid = headers.get("Event", ""), headers.get("Uniqueid")
    if name in HOLD_EVENTS:
        return "call.hold" if headers.get("Linkedid") else None
    if not uniqueid:
        return None
    if name == "UserEvent":
        return USER_EVENT_STAGES.get(headers.get("Stage", "")) if headers.get("UserEvent") == CALL_USEREVENT else None
    if name == "Hangup":
        return "call.end" if uniqueid == headers.get("Linkedid") else None  # the citizen's channel only
    return CALL_EVENT_TYPES.get(name)


def stream_facts(data: bytes) -> dict[str, Any]:
    """AMI events, the call events they should give (by type), and the callers, counted from the text."""
    events = [h for h in messages(data) if "Event" in h]
    return {
        "events": len(events),
        "by_event": Counter(h["Event"] for h in events),
        "call_events": Counter(t for h in events if (t := call_event_type(h))),
        "callers": sorted({h["CallerIDNum"] for h in events if h.get("Event") == "QueueCallerJoin"}),
        "calls": {h["Uniqueid"]: h["CallerIDNum"] for h in events if h.get("Event") == "QueueCallerJoin"},
    }


# panoramisk's protocol and manager, without a socket.


class _NullTransport(asyncio.Transport):
    """Where the protocol's own writes (pings) would go."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        pass


def wired_manager(protocol_factory: type[AMIProtocol] = AmiProtocol) -> Manager:
    """A Manager with its protocol attached exactly as after a connect (no login: no user given)."""
    loop = asyncio.get_running_loop()
    manager = Manager(loop=loop, protocol_factory=protocol_factory)
    protocol = protocol_factory()
    protocol.connection_made(_NullTransport())
    connected = loop.create_future()
    connected.set_result((protocol.transport, protocol))
    manager.connection_made(connected)
    return manager


async def feed(manager: Manager, chunks: list[bytes], passes: int) -> None:
    for _ in range(passes):
        for chunk in chunks:
            manager.protocol.data_received(chunk)
            await asyncio.sleep(0)  # the loop runs other tasks between socket reads


def _noop(_manager: Manager, _event: object) -> None:
    pass


async def bare_round(chunks: list[bytes], passes: int, protocol_factory: type[AMIProtocol]) -> float:
    manager = wired_manager(protocol_factory)
    manager.register_event("*", _noop)
    gc.collect()
    started = time.perf_counter()
    await feed(manager, chunks, passes)
    elapsed = time.perf_counter() - started
    manager.close()
    return elapsed


# Ours.


class _Problems(logging.Handler):
    """Warnings and errors the queue manager logs (a failed screen-pop, Redis unavailable)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def logged_problems() -> Iterator[list[str]]:
    handler = _Problems()
    logger = logging.getLogger("queue_manager")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


async def our_round(settings: Settings, chunks: list[bytes], passes: int, facts: dict, side: str) -> tuple[float, dict]:
    qm = QueueManager(settings)
    if side == "ingest_without_screenpops":  # AgentCalled then only feeds the live state
        qm.routes = {**qm.routes, "AgentCalled": tuple(h for h in qm.routes["AgentCalled"] if h != qm.on_agent_called)}
    await qm.redis.delete(bus.CALL_EVENTS, *map(bus.caller_card_key, facts["calls"]))
    if side != "ingest_db_lookup":
        await store_cards(qm, settings, facts["calls"])
    manager = wired_manager(AMIProtocol if side == "ingest_panoramisk_parse" else AmiProtocol)
    manager.register_event("*", qm.on_ami_event)  # as QueueManager.start() does (its FullyBooted resync needs AMI)
    background = {asyncio.create_task(qm.publish_forever()), asyncio.create_task(qm.publish_live_forever())}
    expected = sum(facts["call_events"].values()) * passes
    pops = 0 if side == "ingest_without_screenpops" else facts["by_event"]["AgentCalled"] * passes
    with logged_problems() as problems, pop_delays() as delays:
        gc.collect()
        started = time.perf_counter()
        await feed(manager, chunks, passes)
        await _published(qm, expected, pops, timeout=60)
        elapsed = time.perf_counter() - started
        await _published(qm, expected + 1, pops + 1, timeout=0.3)  # anything beyond the expected count shows too
    for task in background:
        task.cancel()
    manager.close()
    lookups = pops if side == "ingest_db_lookup" else 0
    state = await check_state(qm, facts, passes, problems, lookups, pops)
    state["screenpop_delays_s"] = delays
    await qm.redis.aclose()
    return elapsed, state


@contextlib.contextmanager
def pop_delays() -> Iterator[list[float]]:
    """How long each screen-pop waited, from its AgentCalled to its message being put in a write to Redis
    (the round trip not included): the price of gathering writes, measured at full speed."""
    delays: list[float] = []
    rung: dict[int, float] = {}
    build, payload, unfinished = screenpop.from_agent_called, screenpop.payload, screenpop.unfinished

    def timed_build(event: Any, joined_at: float | None, now: float) -> dict[str, Any]:
        pop = build(event, joined_at, now)
        rung[id(pop)] = time.perf_counter()
        return pop

    def sent(pop: dict[str, Any]) -> None:
        started = rung.pop(id(pop), None)
        if started is not None:
            delays.append(time.perf_counter() - started)

    def timed_payload(pop: dict[str, Any], card: dict[str, Any]) -> str:
        sent(pop)
        return payload(pop, card)

    def timed_unfinished(pop: dict[str, Any]) -> tuple[str, str]:
        sent(pop)
        return unfinished(pop)

    screenpop.from_agent_called, screenpop.payload, screenpop.unfinished = timed_build, timed_payload, timed_unfinished
    try:
        yield delays
    finally:
        screenpop.from_agent_called, screenpop.payload, screenpop.unfinished = build, payload, unfinished


async def store_cards(qm: QueueManager, settings: Settings, calls: dict[str, str]) -> None:
    """Each recorded call's caller card, built and stored as the IVR does before the call joins its queue."""
    async with qm.redis.pipeline(transaction=False) as pipe:
        for uniqueid, caller in calls.items():
            card = await asyncio.to_thread(caller_card.build, qm.sessions, normalize(caller) or "")
            pipe.set(bus.caller_card_key(uniqueid), card, ex=caller_card.ttl_s(settings))
        await pipe.execute()


async def _published(qm: QueueManager, count: int, pops: int, timeout: float) -> None:
    """Until ``count`` call events are written and ``pops`` screen-pops published (or the timeout)."""
    deadline = time.perf_counter() + timeout
    while (qm.published < count or qm.pops_published < pops or not qm.outbox.empty()) and (
        time.perf_counter() < deadline
    ):
        await asyncio.sleep(0.001)


async def check_state(
    qm: QueueManager, facts: dict, passes: int, problems: list[str], lookups: int, pops: int
) -> dict[str, Any]:
    """The end state after the last call: quiet queues, every call event in Redis exactly once, a screen-pop
    published for every ring (``pops``), and as many of them that asked the database as ``lookups``."""
    snapshot = qm.live.snapshot(time.time())
    operators = [(queue, iface, op["state"]) for queue, q in snapshot.items() for iface, op in q["operators"].items()]
    busy = [f"{queue} {iface}: {state}" for queue, iface, state in operators if state in BUSY]
    expected = Counter({kind: n * passes for kind, n in facts["call_events"].items()})
    in_redis = Counter(
        json.loads(f["event"])["type"] for _id, f in cast(bus.Entries, await qm.redis.xrange(bus.CALL_EVENTS))
    )
    rules_cover_translators = set(TRANSLATORS) == set(CALL_EVENT_TYPES) | {"UserEvent", "Hangup", *HOLD_EVENTS}
    state = {
        "callers_waiting": sum(q["waiting"] for q in snapshot.values()),
        "operators": len(operators),
        "operators_by_state": dict(Counter(state for _q, _i, state in operators)),
        "busy_operators": busy[:10],
        "open_queue_joins": len(qm.joined_at),
        "call_events_expected": sum(expected.values()),
        "call_events_in_redis": sum(in_redis.values()),
        "call_events_published": qm.published,
        "call_events_by_type_match": in_redis == expected and rules_cover_translators,
        "problems_logged": problems[:10],
        "screenpops_published": qm.pops_published,
        "screenpops_expected": pops,
        "screenpop_db_lookups": qm.pop_lookups,
        "screenpop_db_lookups_expected": lookups,
    }
    state["ok"] = (
        state["callers_waiting"] == 0
        and not busy
        and state["operators"] > 0
        and state["open_queue_joins"] == 0
        and state["call_events_by_type_match"]
        and qm.published == state["call_events_expected"]
        and not problems
        and qm.pops_published == pops
        and qm.pop_lookups == lookups
    )
    return state


def seed_citizens(settings: Settings, callers: list[str]) -> None:
    """Every caller a known citizen, so each screen-pop runs its full lookup."""
    with db.session_factory(settings.database_url)() as s:
        s.add_all(Citizen(phone=normalize(c), full_name=f"Vatandaş {i}") for i, c in enumerate(callers))
        s.commit()


SIDES = (
    "panoramisk",
    "ingest",
    "ingest_db_lookup",
    "ingest_without_screenpops",
    "ingest_panoramisk_parse",
    "our_parse_bare",
)


async def one_round(side: str, settings: Settings, chunks: list[bytes], passes: int, facts: dict) -> tuple:
    if side == "panoramisk":
        return await bare_round(chunks, passes, AMIProtocol), None
    if side == "our_parse_bare":
        return await bare_round(chunks, passes, AmiProtocol), None
    return await our_round(settings, chunks, passes, facts, side)


async def alternate(settings: Settings, data: bytes, facts: dict, rounds: int, passes: int) -> dict[str, list]:
    """Sides take turns, and which goes first rotates, so a noisy neighbour hits all alike.

    Each round of ours is paired with a panoramisk round right before or after it (alternately), so
    every side also has a ratio per pair, taken under the same load.
    """
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    ours = SIDES[1:]
    results: dict[str, list] = {side: [] for side in (*SIDES, "states", "pairs", "screenpop_delays_s")}
    for i in range(rounds):
        for j, side in enumerate(ours[i % len(ours) :] + ours[: i % len(ours)]):
            pair = ("panoramisk", side) if (i + j) % 2 == 0 else (side, "panoramisk")
            timed = {}
            for one in pair:
                elapsed, state = await one_round(one, settings, chunks, passes, facts)
                results[one].append(elapsed)
                timed[one] = elapsed
                if state is not None:
                    if one == "ingest":
                        results["screenpop_delays_s"] += state["screenpop_delays_s"]
                    del state["screenpop_delays_s"]
                    results["states"].append({"side": one, **state})
            results["pairs"].append((side, timed["panoramisk"] / timed[side]))
    return results


def run(quick: bool = False) -> dict[str, Any]:
    data = load_stream(quick)
    facts = stream_facts(data)
    rounds = 1 if quick else ROUNDS
    passes = 1 if quick else max(1, round(ROUND_EVENTS / facts["events"]))
    with tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp:
        settings = isolated_settings(Path(tmp))
        redis_server.start(settings)
        try:
            db.migrate(settings.database_url)
            seed_citizens(settings, facts["callers"])
            results = asyncio.run(alternate(settings, data, facts, rounds, passes))
        finally:
            redis_server.stop(settings)
    return figures(results, facts, len(data), passes)


def _max_ms(results: dict[str, list]) -> float | None:
    delays = results["screenpop_delays_s"]
    return round(max(delays) * 1000, 2) if delays else None


def figures(results: dict[str, list], facts: dict, size: int, passes: int) -> dict[str, Any]:
    events = facts["events"] * passes
    per_s = {side: [events / s for s in results[side]] for side in SIDES}
    median = {side: statistics.median(per_s[side]) for side in SIDES}
    failed = [s for s in results["states"] if not s["ok"]]
    paired = {side: statistics.median(r for s, r in results["pairs"] if s == side) for side in SIDES[1:]}
    return {
        "ingest_events_per_s": round(median["ingest"]),
        "panoramisk_parse_events_per_s": round(median["panoramisk"]),
        "ratio": round(median["ingest"] / median["panoramisk"], 3),
        "ratio_paired_median": round(paired["ingest"], 3),
        "goal_ratio": GOAL_RATIO,
        "screenpop_delay_ms": {**summary_ms(results["screenpop_delays_s"]), "max": _max_ms(results)},
        "screenpop_details": "caller card from Redis (written by the IVR)",
        "ingest_db_lookup_events_per_s": round(median["ingest_db_lookup"]),
        "ratio_db_lookup": round(median["ingest_db_lookup"] / median["panoramisk"], 3),
        "ingest_without_screenpops_events_per_s": round(median["ingest_without_screenpops"]),
        "ratio_without_screenpops": round(median["ingest_without_screenpops"] / median["panoramisk"], 3),
        "ratio_paired_median_db_lookup": round(paired["ingest_db_lookup"], 3),
        "ratio_paired_median_without_screenpops": round(paired["ingest_without_screenpops"], 3),
        "ingest_panoramisk_parse_events_per_s": round(median["ingest_panoramisk_parse"]),
        "ratio_panoramisk_parse": round(median["ingest_panoramisk_parse"] / median["panoramisk"], 3),
        "ratio_paired_median_panoramisk_parse": round(paired["ingest_panoramisk_parse"], 3),
        "our_parse_bare_events_per_s": round(median["our_parse_bare"]),
        "ratio_our_parse_bare": round(median["our_parse_bare"] / median["panoramisk"], 3),
        "events": events,
        "rounds_events_per_s": {side: [round(x) for x in per_s[side]] for side in SIDES},
        "stream": {
            "bytes": size,
            "events": facts["events"],
            "passes_per_round": passes,
            "chunk_bytes": CHUNK,
            "by_event": dict(facts["by_event"].most_common()),
            "call_events": dict(facts["call_events"].most_common()),
        },
        "state_ok": not failed,
        "states_checked": len(results["states"]),
        "state": (failed or results["states"])[-1],
        "includes": "the queue manager's AMI protocol (alo185.core.ami_protocol: the same messages as panoramisk's "
        "parse) and panoramisk's dispatch; the queue manager's handlers: call events translated into the "
        "outbox and written to a private Redis by its publisher, the live state and its publisher, screen-pops "
        "(the writer's script reads the caller card the IVR stored before the call reached its queue and "
        "publishes the pop with it, in the same round trip as the other writes); the cards are "
        "stored before the round (every caller a known citizen without tickets), as the IVR does during the calls",
        "db_lookup": "the same without caller cards, as for a call that bypassed the IVR: each screen-pop looks the "
        "caller up in SQLite in a worker thread",
        "without_screenpops": "the same without the AgentCalled screen-pop (card or lookup, and publication)",
        "panoramisk_parse": "the ingest on panoramisk's own AMIProtocol: what the handlers and writes cost alone",
        "our_parse_bare": "panoramisk bare with the queue manager's AMI protocol instead of panoramisk's",
        "excludes": "the socket read; the resync FullyBooted triggers (it queries a live Asterisk)",
    }
