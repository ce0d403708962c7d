"""Each process SIGKILLed during a call is started again by the supervisor within seconds, and no record is lost.

A caller talks to an operator while the FastAGI server, the queue manager, the recorder, the voicemail
worker, the SMS sender, the scheduler and the admin are killed one after the other; then, the call
over, the bundled Redis. Each is back (a new pid, serving: listening, heartbeat, ping) within a few
seconds; the call's record is complete, and a call placed after all the kills is recorded too.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from alo185 import services
from alo185.core import bus, procs, redis_server, supervisor
from alo185.core.settings import Settings
from harness.instance import Stack, isolated_settings, running_stack

BACK_WITHIN_S = 20.0  # generous on a loaded machine; the measured times are printed
TALK_S = 300  # the operator would talk through all the kills and more: the caller hangs up after them


def _serving(settings: Settings, name: str, pid: int) -> bool:
    """The process ``pid`` does its work: the servers listen, the queue manager beats, Redis answers."""
    if name == "agi":
        return procs.listening(pid, settings.agi_port)
    if name == "admin":
        return procs.listening(pid, settings.admin_port)
    if name == "queue":
        return bool(bus.connect(settings.redis_connection_url).exists(bus.QUEUE_MANAGER_ALIVE))
    if name == redis_server.PROCESS_NAME:
        return redis_server.ping(settings)
    return True


def _kill_and_time(settings: Settings, name: str) -> float:
    """SIGKILL ``name``; seconds until a new one runs and serves."""
    old = procs.running_pid(settings, name)
    assert old is not None, f"{name} should be running"
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    if name == "queue":
        bus.connect(settings.redis_connection_url).delete(bus.QUEUE_MANAGER_ALIVE)  # as its TTL would, later

    def _back() -> bool:
        new = procs.running_pid(settings, name)
        return new is not None and new != old and _serving(settings, name, new)

    assert procs.wait_until(_back, BACK_WITHIN_S, interval=0.05), f"{name} not back in {BACK_WITHIN_S} s"
    return time.monotonic() - killed


def _hang_up(stack: Stack, uniqueid: str) -> None:
    """The caller hangs up (the call's channel, found by its uniqueid, is hung up)."""
    for line in stack.pbx.cli("core show channels concise").splitlines():
        fields = line.split("!")
        if len(fields) > 13 and fields[13] == uniqueid:
            stack.ami({"Action": "Hangup", "Channel": fields[0]})
            return
    raise AssertionError(f"call {uniqueid} is not up")


def _answered(stack: Stack, uniqueid: str) -> Callable[[], bool]:
    return lambda: bool((r := stack.record(uniqueid)) and r.answered)


def test_every_process_killed_during_a_call_is_back_in_seconds_and_the_records_are_whole(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with running_stack(settings, with_admin=True) as stack:
        services.start_supervisor(settings)
        assert procs.wait_until(lambda: procs.running_pid(settings, supervisor.PROCESS_NAME) is not None, 10)
        watching = procs.running_pid(settings, supervisor.PROCESS_NAME)
        stack.add_sim_operators(talk_s=TALK_S)
        talking = stack.call(stack.after_notice("1w1w1"), caller="+905321110001")
        assert procs.wait_until(_answered(stack, talking), 60), stack.events(talking)

        times = {service.name: _kill_and_time(settings, service.name) for service in services.PROCESSES}
        _hang_up(stack, talking)  # the call was up through the kills
        record = stack.wait_record(talking, timeout=60)
        assert record.outcome == "answered" and record.talk_s is not None, record
        assert record.talk_s >= sum(times.values()) - 1, record  # talking all along, to the hang-up

        times[redis_server.PROCESS_NAME] = _kill_and_time(settings, redis_server.PROCESS_NAME)
        after = stack.call("WW", caller="+905321110002", hang_up=True)  # leaves during the recording notice
        placed = [talking, after]
        records = {uniqueid: stack.wait_record(uniqueid, timeout=60) for uniqueid in placed}
        print(f"\nrestart times (s): { {name: round(s, 2) for name, s in times.items()} }")
        print(f"calls placed {len(placed)}, records written {sum(r.ended_at is not None for r in records.values())}")
        assert records[after].outcome == "ended", records[after]
    # 'down' (leaving the block) stopped the supervisor first: nothing it stopped came back.
    assert watching is not None and not procs.alive(watching)
    time.sleep(2 * supervisor.FIRST_WAIT_S + 1)
    back = {name: pid for name, pid in services.status(settings).items() if pid is not None}
    assert not back, back
