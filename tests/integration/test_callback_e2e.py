"""Overflow with callback through the real PBX: the offer, the kept place, a queue manager killed meanwhile,
the operator connected first and then the citizen dialled; and the retries when the citizen does not answer.

An instance of its own (the offer on, the citizen's phone a Local channel of ``[alo185-sim-citizen]``,
short retry timings), since its queue manager is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from alo185 import services
from alo185.callbacks.models import Callback
from alo185.core import ami, bus, db, procs
from harness import simulate
from harness.instance import Stack, isolated_settings, running_stack

BUSY_CITIZEN = "+905327710001"  # the caller when every operator is busy
AWAY_CITIZEN = "+905327710002"  # the caller when nobody can answer, who then does not answer the callback
LATER_CITIZEN = "+905327710003"  # the caller when nobody is logged in at all


@pytest.fixture(scope="module")
def cb_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(
        tmp_path_factory.mktemp("callbacks"),
        overflow_offer=True,
        callback_dial="Local/{digits}@alo185-sim-citizen",
        callback_attempts=2,
        callback_retry_s=3,
        callback_ring_s=4,
    )
    with running_stack(settings) as stack:
        try:
            yield stack
        finally:  # Asterisk's log goes with the instance: keep a copy beside the processes' logs
            for name in ("messages.log", "queue_log"):
                log = stack.pbx.instance_dir / "log" / name
                if log.exists():
                    shutil.copy(log, settings.log_dir / f"asterisk-{name}")


def _callback(stack: Stack, caller: str) -> Callback | None:
    with db.session_factory(stack.settings.database_url)() as s:
        row = s.scalars(select(Callback).where(Callback.caller == caller)).one_or_none()
        if row is not None:
            s.expunge(row)
        return row


def _wait_callback(stack: Stack, caller: str, done, timeout: float = 90) -> Callback:
    found: list[Callback] = []

    def check() -> bool:
        row = _callback(stack, caller)
        if row is not None and done(row):
            found.append(row)
            return True
        return False

    assert procs.wait_until(check, timeout, interval=0.2), vars(_callback(stack, caller) or object())
    return found[0]


def _live(stack: Stack, queue: str) -> dict:
    raw = bus.connect(stack.settings.redis_connection_url).get(bus.LIVE_QUEUES) or "{}"
    return json.loads(raw).get(queue, {})


def _channel(stack: Stack, uniqueid: str) -> str:
    for line in stack.pbx.cli("core show channels concise").splitlines():
        fields = line.split("!")
        if len(fields) > 13 and fields[13] == uniqueid:
            return fields[0]
    return ""


def _operator(stack: Stack, queue: str, name: str, talk_s: int, ident: int, paused: bool = False) -> str:
    async def go() -> str:
        async with ami.session(stack.settings) as manager:
            interface = await simulate.add_operator(manager, queue, name, talk_s=talk_s, ident=ident)
            if paused:
                pause = {"Action": "QueuePause", "Queue": queue, "Interface": interface, "Paused": "true"}
                await ami.action(manager, {**pause, "Reason": "mola"})
            return interface

    return asyncio.run(go())


def _steps(stack: Stack, uniqueid: str) -> list[str]:
    """The caller's IVR steps from the stream (the caller hung up in the IVR: no final path on the record)."""
    client = bus.connect(stack.settings.redis_connection_url)
    steps = [e for e in bus.all_events(client) if e.get("type") == "ivr.step" and e.get("uniqueid") == uniqueid]
    return [f"{e['node']}:{e['key']}" for e in sorted(steps, key=lambda e: e["seq"])]


def _callback_events(stack: Stack, uniqueid: str) -> list[dict]:
    client = bus.connect(stack.settings.redis_connection_url)
    return [e for e in bus.all_events(client) if e.get("type") == "callback" and e.get("uniqueid") == uniqueid]


def test_a_callback_survives_a_restart_of_the_queue_manager(cb_stack: Stack) -> None:
    stack, settings = cb_stack, cb_stack.settings
    t0 = time.monotonic()
    _operator(stack, "temizlik", "Geri arayan", talk_s=120, ident=11)
    # A first caller takes the only operator (Türkçe, 3: cleaning) and stays on the line.
    first = stack.call(stack.after_notice("1w3"), caller="+905327710000")
    stack.wait_record(first, lambda r: r.answered, timeout=90)
    assert procs.wait_until(lambda: _live(stack, "temizlik").get("by_state", {}).get("on_call") == 1, 10)

    # The next caller is told the wait and offered the callback; presses 1 (during the offer) and hangs up.
    caller = stack.call(stack.after_notice("1w3", 3, "1"), caller=BUSY_CITIZEN, hang_up=True)
    row = _wait_callback(stack, BUSY_CITIZEN, lambda r: r.state == "queued")
    placeholder = row.placeholder
    assert placeholder is not None  # queued: its place in the queue has a channel
    assert (row.queue, row.call_uniqueid, row.placements) == ("temizlik", caller, 1)
    waiting = lambda: {c["uniqueid"] for c in _live(stack, "temizlik").get("callers", [])}  # noqa: E731
    assert procs.wait_until(lambda: placeholder + "-q" in waiting(), 10), waiting()  # on the wallboard too
    assert procs.wait_until(lambda: stack.channel_app(placeholder + "-q") == "Queue", 10)  # the place is kept
    stack.wait_until_gone(caller, timeout=30)  # the citizen has hung up
    assert _steps(stack, caller)[-4:] == ["main:3", "overflow:", "overflow_offer:1", "callback:"]

    # The queue manager dies (no goodbye) while the callback waits, and is started again.
    redis = bus.connect(settings.redis_connection_url)
    pid = procs.running_pid(settings, "queue")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert procs.wait_until(lambda: not procs.alive(pid), 10)
    redis.delete(bus.QUEUE_MANAGER_ALIVE)  # so "ready" means the new one
    log = procs.log_path(settings, "queue")
    reconciled = log.read_text().count("callbacks reconciled: 1 waiting in Asterisk, 0 settled, 0 placed")
    services.start_process(settings, services.process("queue"))
    assert procs.wait_until(  # the new one found the placeholder in Asterisk's channels
        lambda: log.read_text().count("callbacks reconciled: 1 waiting in Asterisk, 0 settled, 0 placed") > reconciled,
        15,
    ), log.read_text()[-2000:]
    row = _wait_callback(stack, BUSY_CITIZEN, lambda r: True)
    assert (row.state, row.placeholder, row.placements) == ("queued", placeholder, 1)  # left alone, not placed twice
    assert stack.channel_app(placeholder + "-q") == "Queue"

    # The operator becomes free: the first caller hangs up. The placeholder is next in the queue.
    stack.ami({"Action": "Hangup", "Channel": _channel(stack, first)})
    row = _wait_callback(stack, BUSY_CITIZEN, lambda r: r.state in ("connected", "failed"), timeout=60)
    assert (row.state, row.outcome, row.attempts, row.placements) == ("connected", "connected", 1, 1)
    assert row.operator == "Geri arayan" and row.placeholder == placeholder

    # The operator was connected first, and the citizen dialled after: the callback's events in order.
    events = _callback_events(stack, caller)
    states = [e["state"] for e in events]
    assert "requested" in states, states
    assert [s for s in states if s != "requested"] == ["queued", "operator_connected", "dialing", "connected"]
    client = bus.connect(settings.redis_connection_url)
    connect = next(
        e for e in bus.all_events(client) if e["type"] == "queue.connect" and e["uniqueid"] == placeholder + "-q"
    )
    dialing = next(e for e in events if e["state"] == "dialing")
    assert connect["member"] == "Geri arayan" and connect["ts"] <= dialing["ts"]

    record = stack.wait_record(caller, lambda r: r.outcome == "callback" and r.ended_at is not None, timeout=30)
    assert (record.ivr_action, record.answered, record.queue) == ("callback", False, "temizlik")
    assert stack.record(placeholder + "-q") is None and stack.record(placeholder) is None
    print(f"\ncallback through a queue manager restart: {time.monotonic() - t0:.1f} s")


def test_a_citizen_who_does_not_answer_is_tried_again_then_failed(cb_stack: Stack) -> None:
    stack = cb_stack
    t0 = time.monotonic()
    # The only operator of roads (4) is on a break: nobody can answer. The citizen's phone will not answer.
    interface = _operator(stack, "fen", "Molada", talk_s=60, ident=12, paused=True)
    digits = AWAY_CITIZEN.lstrip("+")
    stack.ami({"Action": "DBPut", "Family": "alo185sim", "Key": f"noanswer/{digits}", "Val": "1"})
    caller = stack.call(stack.after_notice("1w4", 3, "1"), caller=AWAY_CITIZEN, hang_up=True)
    row = _wait_callback(stack, AWAY_CITIZEN, lambda r: r.state == "queued")
    assert row.queue == "fen" and row.attempts == 0
    stack.wait_record(caller, lambda r: r.outcome == "callback" and r.ended_at is not None, timeout=30)
    assert _steps(stack, caller)[-4:] == ["main:4", "overflow:", "overflow_offer:1", "callback:"]

    stack.ami({"Action": "QueuePause", "Queue": "fen", "Interface": interface, "Paused": "false"})
    row = _wait_callback(stack, AWAY_CITIZEN, lambda r: r.attempts == 1 and r.state != "dialing", timeout=60)
    assert row.state in ("requested", "queued", "operator_connected") and row.outcome is None  # to be retried
    row = _wait_callback(stack, AWAY_CITIZEN, lambda r: r.state in ("connected", "failed"), timeout=90)
    assert (row.state, row.outcome, row.attempts, row.placements) == ("failed", "no_answer", 2, 2)
    states = [e["state"] for e in _callback_events(stack, caller) if e["state"] != "requested"]
    assert states == ["queued", "operator_connected", "dialing", "queued", "operator_connected", "dialing", "failed"]
    # "requested" between the two attempts is announced too; the retry waited its 3 s
    assert procs.wait_until(lambda: not _channel(stack, row.placeholder or "-"), 10)
    print(f"\ntwo unanswered attempts: {time.monotonic() - t0:.1f} s")


def test_nobody_logged_in_offers_a_callback_placed_once_an_operator_logs_in(cb_stack: Stack) -> None:
    stack = cb_stack
    # Nobody is logged in to funeral services (7): the caller hears that nobody can answer now and
    # presses 1 for a callback (during the prompts) instead of leaving a message.
    caller = stack.call(stack.after_notice("1w7", 3, "1"), caller=LATER_CITIZEN, hang_up=True)
    row = _wait_callback(stack, LATER_CITIZEN, lambda r: r.state == "queued")
    assert (row.queue, row.call_uniqueid, row.attempts) == ("cenaze", caller, 0)
    record = stack.wait_record(caller, lambda r: r.outcome == "callback" and r.ended_at is not None, timeout=30)
    assert (record.ivr_action, record.queue, record.answered) == ("callback", "cenaze", False)
    assert _steps(stack, caller)[-4:] == ["main:7", "no_operator:", "no_operator_offer:1", "callback:"]
    # The placeholder waits in the empty queue; an operator logs in, takes it, and the citizen is called.
    _operator(stack, "cenaze", "Sonradan gelen", talk_s=30, ident=13)
    row = _wait_callback(stack, LATER_CITIZEN, lambda r: r.state in ("connected", "failed"), timeout=60)
    assert (row.state, row.operator) == ("connected", "Sonradan gelen")
