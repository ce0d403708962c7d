"""Call events fold into one record per call, whatever the order or repetition."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import func, select

from alo185.calls.models import CallRecord
from alo185.core import bus, db, procs, redis_server
from alo185.core.settings import Settings
from harness.instance import isolated_settings
from tests import disks
from workers.recorder import Recorder, apply_event

T0 = 1_795_256_920.0
EVENTS = [
    {"type": "call.start", "uniqueid": "u1", "ts": T0, "linkedid": "u1", "caller": "+905321234567"},
    {"type": "ivr", "uniqueid": "u1", "ts": T0 + 1, "caller": "+905321234567", "digit": "1", "queue": "su"},
    {"type": "ivr.done", "uniqueid": "u1", "ts": T0 + 4, "agi_status": "SUCCESS"},
    {"type": "queue.join", "uniqueid": "u1", "ts": T0 + 4, "queue": "su", "position": 1},
    {"type": "queue.connect", "uniqueid": "u1", "ts": T0 + 7, "queue": "su", "member": "Ayşe", "wait_s": 3.0},
    {"type": "queue.complete", "uniqueid": "u1", "ts": T0 + 67, "queue": "su", "talk_s": 60.0},
    {"type": "call.end", "uniqueid": "u1", "ts": T0 + 68.5, "cause": "16"},
]


def _fold(sessions, events) -> dict:
    with sessions.begin() as s:
        for e in events:
            apply_event(s, e)
    with sessions() as s:
        r = s.scalars(select(CallRecord)).one()
        return {
            c: getattr(r, c)
            for c in (
                "caller",
                "digit",
                "queue",
                "agi_status",
                "wait_s",
                "talk_s",
                "duration_s",
                "answered",
                "answered_by",
                "outcome",
            )
        }


def test_a_full_call(sessions) -> None:
    assert _fold(sessions, EVENTS) == {
        "caller": "+905321234567",
        "digit": "1",
        "queue": "su",
        "agi_status": "SUCCESS",
        "wait_s": 3.0,
        "talk_s": 60.0,
        "duration_s": 68.5,
        "answered": True,
        "answered_by": "Ayşe",
        "outcome": "answered",
    }


def test_replayed_events_change_nothing(sessions) -> None:
    once = _fold(sessions, EVENTS)
    assert _fold(sessions, EVENTS + EVENTS[::-1]) == once


# The stream keeps AMI order, so a call's end never comes before its start; any other order folds the same.
ORDERS = [p for p in itertools.permutations(range(len(EVENTS))) if p[0] != len(EVENTS) - 1][::601]


@pytest.mark.parametrize("order", ORDERS)
def test_order_does_not_matter(tmp_path: Path, order: tuple[int, ...]) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    db.migrate(url)
    assert _fold(db.session_factory(url), [EVENTS[i] for i in order])["duration_s"] == 68.5


def test_abandoned_call(sessions) -> None:
    out = _fold(
        sessions,
        [
            EVENTS[0],
            {"type": "queue.abandon", "uniqueid": "u1", "queue": "su", "wait_s": 12.0},
            {"type": "call.end", "uniqueid": "u1", "ts": T0 + 20},
        ],
    )
    assert out["outcome"] == "abandoned" and not out["answered"] and out["wait_s"] == 12.0


def test_end_of_an_unknown_channel_makes_no_record(sessions) -> None:
    with sessions.begin() as s:
        assert apply_event(s, {"type": "call.end", "uniqueid": "operator-leg", "ts": T0}) is None
        assert apply_event(s, {"type": "no.such.type", "uniqueid": "u9"}) is None
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(CallRecord)) == 0


def test_recorder_acks_after_commit_and_sets_bad_events_aside(redis_settings: Settings) -> None:
    client = bus.connect(redis_settings.redis_connection_url)
    recorder = Recorder(redis_settings, consumer="t")
    for e in EVENTS[:3]:
        bus.publish(client, e)
    client.xadd(bus.CALL_EVENTS, {"event": json.dumps({"type": "call.start", "uniqueid": "u2", "ts": "yesterday"})})
    client.xadd(bus.CALL_EVENTS, {"garbage": "1"})
    assert recorder.run_once(block_ms=100) == 5
    assert client.xpending(bus.CALL_EVENTS, "recorder")["pending"] == 0
    dead = cast(bus.Entries, client.xrange(bus.DEAD_LETTERS))
    assert len(dead) == 1 and "u2" in dead[0][1]["event"] and "ValueError" in dead[0][1]["error"]
    with recorder.sessions() as s:
        assert s.scalars(select(CallRecord.queue).where(CallRecord.uniqueid == "u1")).one() == "su"


def test_unacked_events_are_taken_back_after_a_crash(redis_settings: Settings) -> None:
    client = bus.connect(redis_settings.redis_connection_url)
    first = Recorder(redis_settings, consumer="host-a")
    bus.publish(client, EVENTS[0])
    # The consumer read the event and died before committing (nothing acked).
    list(bus.read_group(client, "recorder", "host-a", block_ms=100))
    assert client.xpending(bus.CALL_EVENTS, "recorder")["pending"] == 1
    again = Recorder(redis_settings, consumer="host-a")
    assert again.run_once(block_ms=100) == 1
    assert client.xpending(bus.CALL_EVENTS, "recorder")["pending"] == 0
    with first.sessions() as s:
        assert s.scalars(select(CallRecord.caller)).one() == "+905321234567"


def test_publish_refuses_events_without_identity(redis_settings: Settings) -> None:
    client = bus.connect(redis_settings.redis_connection_url)
    with pytest.raises(ValueError):
        bus.publish(client, {"type": "ivr"})
    assert client.xlen(bus.CALL_EVENTS) == 0


def test_background_publisher_keeps_order_and_hands_over_on_close(redis_settings: Settings) -> None:
    client = bus.connect(redis_settings.redis_connection_url)
    publisher = bus.BackgroundPublisher(client)
    for i in range(300):
        publisher.publish({"type": "ivr.step", "uniqueid": "u1", "seq": i})
    with pytest.raises(ValueError):
        publisher.publish({"type": "ivr.step"})
    publisher.close()
    seqs = [json.loads(f["event"])["seq"] for _id, f in cast(bus.Entries, client.xrange(bus.CALL_EVENTS))]
    assert seqs == list(range(300))


def test_talk_time_without_agent_complete_is_derived_and_then_corrected(sessions) -> None:
    without_complete = [e for e in EVENTS if e["type"] != "queue.complete"]
    out = _fold(sessions, without_complete)
    assert out["talk_s"] == 61.5  # call.end (68.5) - queue.connect (7.0)
    assert _fold(sessions, [EVENTS[5]])["talk_s"] == 60.0  # Asterisk's figure wins when it comes


def test_loop_publisher_holds_events_while_redis_is_down_and_keeps_order(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    publisher = bus.LoopPublisher(settings.redis_connection_url)

    async def scenario() -> None:
        task = asyncio.create_task(publisher.run())
        for i in range(200):  # Redis is not running yet
            publisher.publish({"type": "ivr.step", "uniqueid": "u1", "seq": i})
        await asyncio.sleep(0.3)
        await asyncio.to_thread(redis_server.start, settings)
        for i in range(200, 300):
            publisher.publish({"type": "ivr.step", "uniqueid": "u1", "seq": i})
        publisher.stop()  # shutting down hands over what is pending
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(scenario())
        client = bus.connect(settings.redis_connection_url)
        seqs = [json.loads(f["event"])["seq"] for _id, f in cast(bus.Entries, client.xrange(bus.CALL_EVENTS))]
        assert seqs == list(range(300))
    finally:
        redis_server.stop(settings)


def test_a_value_put_during_a_backlog_of_events_goes_with_the_next_round_trip(redis_settings: Settings) -> None:
    """A caller card must reach Redis before the phone rings, not after every event queued before it."""
    publisher = bus.LoopPublisher(redis_settings.redis_connection_url, max_batch=100)
    client = bus.connect(redis_settings.redis_connection_url)
    seen: list[int] = []  # events in the stream when the card first showed

    async def scenario() -> None:
        for i in range(1000):
            publisher.publish({"type": "ivr.step", "uniqueid": "u1", "seq": i})
        task = asyncio.create_task(publisher.run())
        while client.xlen(bus.CALL_EVENTS) == 0:
            await asyncio.sleep(0.001)
        publisher.put("card:u1", "{}", 60)
        while not client.exists("card:u1"):
            await asyncio.sleep(0)
        seen.append(client.xlen(bus.CALL_EVENTS))
        publisher.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert seen[0] < 1000 and client.xlen(bus.CALL_EVENTS) == 1000


@pytest.mark.parametrize("after_s", [0.0, 0.002, 0.005, 0.02])
def test_a_publisher_stopped_with_a_batch_in_flight_hands_everything_over(
    redis_settings: Settings, after_s: float
) -> None:
    """Shutting down mid-batch: the publisher ends, and no event is lost or written twice."""
    publisher = bus.LoopPublisher(redis_settings.redis_connection_url, max_batch=50)

    async def scenario() -> None:
        task = asyncio.create_task(publisher.run())
        for i in range(2000):
            publisher.publish({"type": "ivr.step", "uniqueid": "u1", "seq": i})
            if i % 100 == 99:
                await asyncio.sleep(0)
        await asyncio.sleep(after_s)
        publisher.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    client = bus.connect(redis_settings.redis_connection_url)
    assert [json.loads(f["event"])["seq"] for _id, f in cast(bus.Entries, client.xrange(bus.CALL_EVENTS))] == list(
        range(2000)
    )


def test_a_publisher_stopped_while_redis_is_down_gives_up_after_a_while(caplog) -> None:
    publisher = bus.LoopPublisher("redis://127.0.0.1:1/0")  # nothing listens there

    async def scenario() -> float:
        task = asyncio.create_task(publisher.run())
        publisher.publish({"type": "ivr.step", "uniqueid": "u1", "seq": 0})
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        publisher.stop()
        await asyncio.wait_for(task, bus.STOP_FLUSH_S + 5)
        return time.monotonic() - t0

    assert asyncio.run(scenario()) < bus.STOP_FLUSH_S + 2
    assert "Redis unavailable at shutdown: 1 events not published" in caplog.text


def test_calls_missing_from_asterisks_channel_list_are_closed_as_lost(sessions) -> None:
    waiting = [
        {"type": "call.start", "uniqueid": u, "ts": T0, "linkedid": u, "caller": "+905321234567"} for u in ("a", "b")
    ]
    joins = [{"type": "queue.join", "uniqueid": u, "ts": T0 + 4, "queue": "su", "position": 1} for u in ("a", "b")]
    just_started = {"type": "call.start", "uniqueid": "c", "ts": T0 + 29.5, "linkedid": "c", "caller": "+90532"}
    resync = {"type": "pbx.channels", "uniqueids": ["b"], "ts": T0 + 30}
    with sessions.begin() as s:
        sequence: list[dict[str, Any]] = [
            *waiting,
            *joins,
            just_started,
            EVENTS[0] | {"uniqueid": "done"},
            resync,
            resync,
        ]
        for e in sequence:
            apply_event(s, e)
        apply_event(s, {"type": "call.end", "uniqueid": "done", "ts": T0 + 10, "cause": "16"})
    with sessions() as s:
        rows = {r.uniqueid: r for r in s.scalars(select(CallRecord))}
    # Nobody saw Asterisk go: the call ended, as far as is known, at its last known moment, not at the resync.
    assert (rows["a"].outcome, rows["a"].end_cause, rows["a"].duration_s) == ("lost", "pbx_lost", 0.0)
    assert rows["b"].ended_at is None and rows["c"].ended_at is None  # still there / started as the list was taken
    assert (rows["done"].outcome, rows["done"].end_cause) == ("ended", "16")


def test_calls_lost_with_the_pbx_end_when_ami_was_lost_not_at_the_resync(sessions) -> None:
    """The resync after Asterisk came back says when the queue manager lost AMI: the calls gone ended then."""
    waiting = {"type": "call.start", "uniqueid": "w", "ts": T0, "linkedid": "w", "caller": "+905321234567"}
    talking = [
        {"type": "call.start", "uniqueid": "t", "ts": T0, "linkedid": "t", "caller": "+905321234568"},
        {"type": "queue.connect", "uniqueid": "t", "ts": T0 + 20, "queue": "su", "member": "Ayşe", "wait_s": 15.0},
    ]
    # A call whose own events go past the loss (AMI dropped, Asterisk went on): its last known moment.
    later = {"type": "call.start", "uniqueid": "l", "ts": T0 + 45, "linkedid": "l", "caller": "+905321234569"}
    resync = {"type": "pbx.channels", "uniqueids": [], "ts": T0 + 120, "down_at": T0 + 40}
    with sessions.begin() as s:
        for e in (waiting, *talking, later, resync, resync | {"ts": T0 + 130}):
            apply_event(s, e)
    with sessions() as s:
        rows = {r.uniqueid: r for r in s.scalars(select(CallRecord))}
    assert (rows["w"].end_cause, rows["w"].outcome, rows["w"].duration_s) == ("pbx_lost", "lost", 40.0)
    assert (rows["t"].end_cause, rows["t"].outcome, rows["t"].duration_s, rows["t"].talk_s) == (
        "pbx_lost",
        "answered",
        40.0,
        20.0,
    )
    assert (rows["l"].end_cause, rows["l"].duration_s) == ("pbx_lost", 0.0)


def test_the_recorder_waits_out_a_full_disk_and_then_records_what_waited(
    redis_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The database's disk (a small tmpfs) is full: each commit fails; the recorder keeps running, says so
    at ERROR a few times (each wait longer, no busy loop), acks nothing, and records it all once freed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    database = Path(redis_settings.database_url.removeprefix("sqlite:///"))
    size_kb = database.stat().st_size // 1024 + 256
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(disk)], check=True)
    recorder: Recorder | None = None
    try:
        shutil.copyfile(database, disk / database.name)
        settings = redis_settings.replace(db_url=f"sqlite:///{disk / database.name}")
        filler = disks.fill(disk)
        client = bus.connect(settings.redis_connection_url)
        for e in EVENTS:
            bus.publish(client, e)
        recorder = Recorder(settings, consumer="t", max_backoff_s=1.0)
        thread = threading.Thread(target=recorder.run, daemon=True)
        with caplog.at_level(logging.ERROR, logger="workers.recorder"):
            thread.start()
            try:
                assert procs.wait_until(lambda: any("full" in r.getMessage() for r in caplog.records), 10)
                time.sleep(2.5)
                failures = [r for r in caplog.records if r.levelno == logging.ERROR]
                assert thread.is_alive() and 2 <= len(failures) <= 6, len(failures)
                assert client.xpending(bus.CALL_EVENTS, "recorder")["pending"] == len(EVENTS)  # nothing acked

                filler.unlink()
                assert procs.wait_until(lambda: client.xpending(bus.CALL_EVENTS, "recorder")["pending"] == 0, 30)
                assert thread.is_alive()
            finally:
                recorder.stopping.set()
                thread.join(10)
        with recorder.sessions() as s:
            record = s.scalars(select(CallRecord)).one()
            assert (record.queue, record.answered, record.talk_s) == ("su", True, 60.0)
    finally:
        if recorder is not None:
            recorder.sessions.kw["bind"].dispose()  # its open database files would keep the disk busy
        subprocess.run(["umount", "--lazy", str(disk)], check=True)
