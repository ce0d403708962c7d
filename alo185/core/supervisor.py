"""Keeping an instance's background processes up where no init system does it (containers, CI, the demo).

A process that dies is started again, after a wait that doubles at each death in a row (so one that
dies at start does not spin) and starts over once it has stayed up a while. Nothing is restarted while
the instance is being stopped on purpose: ``hold`` marks that, before anything is stopped.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alo185.core import procs
from alo185.core.backoff import Backoff
from alo185.core.settings import Settings

log = logging.getLogger(__name__)

PROCESS_NAME = "supervisor"
FIRST_WAIT_S = 0.5
MAX_WAIT_S = 30.0
STABLE_S = 60.0  # up this long: its next death is a new fault, waited out from FIRST_WAIT_S again
POLL_S = 0.5


@dataclass(frozen=True)
class Child:
    """A supervised process: its name (pid file, log) and how to start it."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None


@dataclass
class RestartPolicy:
    """When a dead process may start again: exponential backoff, reset after a stable run."""

    first_s: float = FIRST_WAIT_S
    max_s: float = MAX_WAIT_S
    stable_s: float = STABLE_S
    started_at: float | None = None  # when it was last seen starting (or first seen up)
    not_before: float = 0.0  # it may start again from then
    _backoff: Backoff = field(init=False)

    def __post_init__(self) -> None:
        self._backoff = Backoff(self.first_s, self.max_s)

    def seen_up(self, now: float) -> None:
        if self.started_at is None:
            self.started_at = now

    def died(self, now: float) -> float:
        """It is found dead at ``now``: returns how long to wait before starting it again."""
        if self.started_at is not None and now - self.started_at >= self.stable_s:
            self._backoff.reset()
        self.started_at = None
        wait = self._backoff.next()
        self.not_before = now + wait
        return wait

    def due(self, now: float) -> bool:
        return now >= self.not_before

    def started(self, now: float) -> None:
        self.started_at = now


def hold_path(settings: Settings) -> Path:
    return settings.run_dir / "supervisor.hold"


def hold(settings: Settings) -> None:
    """The instance is being stopped on purpose: restart nothing (until ``release``)."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    hold_path(settings).touch()


def release(settings: Settings) -> None:
    hold_path(settings).unlink(missing_ok=True)


def held(settings: Settings) -> bool:
    return hold_path(settings).exists()


class Supervisor:
    """Watches ``children`` through their pid files and starts again those that died."""

    def __init__(
        self,
        settings: Settings,
        children: list[Child],
        policy: Callable[[], RestartPolicy] = RestartPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.children = children
        self.clock = clock
        self.policies = {child.name: policy() for child in children}
        self._dead: set[str] = set()  # found dead, waiting out its backoff
        self._spawned: dict[str, subprocess.Popen[bytes]] = {}  # ours, reaped so that none stays a zombie

    def tick(self) -> list[str]:
        """One look at every child; returns the names of those started again."""
        for proc in self._spawned.values():
            proc.poll()
        if held(self.settings):
            return []
        restarted = []
        for child in self.children:
            if self._check(child):
                restarted.append(child.name)
        return restarted

    def _check(self, child: Child) -> bool:
        now, policy = self.clock(), self.policies[child.name]
        if procs.running_pid(self.settings, child.name) is not None:
            policy.seen_up(now)
            self._dead.discard(child.name)
            return False
        if child.name not in self._dead:
            self._dead.add(child.name)
            wait = policy.died(now)
            log.error("%s is not running; starting it again in %.1f s", child.name, wait)
        if not policy.due(now):
            return False
        self._spawned[child.name] = procs.spawn(self.settings, child.name, child.argv, env=child.env)
        policy.started(now)
        self._dead.discard(child.name)
        log.warning("%s started again: pid %d", child.name, self._spawned[child.name].pid)
        return True

    def run(self, stopping: Callable[[], bool], interval: float = POLL_S) -> None:
        """Tick every ``interval`` seconds until ``stopping()``."""
        while not stopping():
            try:
                self.tick()
            except OSError:  # a full disk or a missing binary: the next look tries again
                log.exception("could not start a process again")
            time.sleep(interval)
