"""The supervisor: a dead process comes back after a wait that doubles, resets once it ran a while,
and nothing comes back while the instance is stopped on purpose."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from alo185 import services
from alo185.core import procs, supervisor
from alo185.core.settings import Settings


def test_the_wait_doubles_at_each_death_in_a_row_up_to_its_ceiling() -> None:
    policy = supervisor.RestartPolicy(first_s=0.5, max_s=4.0, stable_s=60.0)
    now, waits = 0.0, []
    for _ in range(6):
        waits.append(policy.died(now))
        now = policy.not_before
        assert policy.due(now) and not policy.due(now - 0.01)
        policy.started(now)
        now += 1.0  # dies a second after each start
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_process_that_stayed_up_long_enough_starts_over_from_the_first_wait() -> None:
    policy = supervisor.RestartPolicy(first_s=0.5, max_s=30.0, stable_s=60.0)
    for _ in range(4):
        policy.died(0.0)
        policy.started(0.0)
    assert policy.died(59.0) == 8.0  # up less than the stable time: still the same fault
    policy.started(100.0)
    assert policy.died(160.0) == 0.5


def _settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path)


def _sleeper(name: str) -> supervisor.Child:
    return supervisor.Child(name, [sys.executable, "-c", "import time; time.sleep(600)"])


def _kill(settings: Settings, name: str) -> int:
    pid = procs.running_pid(settings, name)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert procs.wait_until(lambda: procs.running_pid(settings, name) is None, 10)
    return pid


def test_a_killed_process_is_started_again_after_its_wait(tmp_path: Path) -> None:
    settings, clock = _settings(tmp_path), [0.0]
    watched = supervisor.Supervisor(settings, [_sleeper("one")], clock=lambda: clock[0])
    assert watched.tick() == []  # not running: found dead, like any, and waited for
    clock[0] += supervisor.FIRST_WAIT_S
    assert watched.tick() == ["one"]
    first = procs.running_pid(settings, "one")
    assert first is not None
    clock[0] += 100.0
    assert watched.tick() == []  # up: nothing to do
    _kill(settings, "one")
    assert watched.tick() == []  # found dead: waits FIRST_WAIT_S first
    clock[0] += supervisor.FIRST_WAIT_S
    assert watched.tick() == ["one"]
    second = procs.running_pid(settings, "one")
    assert second is not None and second != first
    procs.stop(settings, "one")


def test_nothing_is_restarted_while_the_instance_is_stopped_on_purpose(tmp_path: Path) -> None:
    settings, clock = _settings(tmp_path), [0.0]
    watched = supervisor.Supervisor(settings, [_sleeper("one")], clock=lambda: clock[0])
    for _ in range(2):
        watched.tick()
        clock[0] += supervisor.FIRST_WAIT_S
    assert procs.running_pid(settings, "one") is not None
    supervisor.hold(settings)
    procs.stop(settings, "one")
    for _ in range(5):
        clock[0] += supervisor.MAX_WAIT_S
        assert watched.tick() == []
    assert procs.running_pid(settings, "one") is None
    supervisor.release(settings)
    clock[0] += supervisor.MAX_WAIT_S
    watched.tick()
    clock[0] += supervisor.MAX_WAIT_S
    watched.tick()
    assert procs.running_pid(settings, "one") is not None
    procs.stop(settings, "one")


def test_a_second_supervisor_steps_aside_and_stopping_it_holds_every_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = procs.spawn(settings, supervisor.PROCESS_NAME, _sleeper("x").argv)  # stands for a running one
    try:
        services.supervise(settings)  # returns at once: one runs already
        assert procs.running_pid(settings, supervisor.PROCESS_NAME) == first.pid
        services.stop_supervisor(settings)
    finally:
        procs.stop_pid(first.pid)
        first.wait()
    assert supervisor.held(settings)
    assert procs.running_pid(settings, supervisor.PROCESS_NAME) is None
