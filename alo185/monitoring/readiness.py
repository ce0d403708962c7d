"""Whether the instance can take calls and keep their records now: one named, timed check per dependency.

``/readyz`` renders them, ``alo185 status`` prints them; docs/operations.md lists them and their thresholds.
A check returns None when all is well, or one line saying what is wrong; it never says whose call or
ticket (``/readyz`` may be public): counts, ages and paths only.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import redis
from sqlalchemy import text

from alo185.core import bus, db
from alo185.core.settings import Settings
from alo185.pbx import health

# A readiness probe answers within a few seconds whatever is down: no dependency gets longer than this.
TIMEOUT_S = 2.0
RECORDER_GROUP = "recorder"  # ``workers.recorder.GROUP``: the consumer group that writes the call records
AMI_BANNER = "Asterisk Call Manager"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # "ok", or what is wrong
    ms: float  # how long the check took

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "ms": self.ms}


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_connection_url, decode_responses=True, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
    )


def database(settings: Settings, _client: redis.Redis) -> str | None:
    """The database answers and is migrated (reading the schema's version reads the file or the server)."""
    with db.engine_for(settings.database_url).connect() as conn:
        conn.execute(text("SELECT version_num FROM alembic_version")).all()
    return None


def redis_up(_settings: Settings, client: redis.Redis) -> str | None:
    client.ping()
    return None


def ami(settings: Settings, _client: redis.Redis) -> str | None:
    """Asterisk's manager interface greets a new connection (no login: the queue manager holds the session)."""
    with socket.create_connection((settings.ami_host, settings.ami_port), timeout=TIMEOUT_S) as conn:
        banner = conn.recv(128).decode("ascii", "replace")
    return None if banner.startswith(AMI_BANNER) else f"{settings.ami_host}:{settings.ami_port} is not AMI"


def queue_manager(settings: Settings, client: redis.Redis) -> str | None:
    """The queue manager's heartbeat (``bus.QUEUE_MANAGER_ALIVE``, set while it takes AMI events) is fresh."""
    value = client.get(bus.QUEUE_MANAGER_ALIVE)
    if value is None:
        return "no heartbeat: the queue manager is not taking AMI events"
    try:
        age = time.time() - float(cast(str, value))
    except ValueError:
        return None  # an older queue manager's mark: its TTL alone says it is fresh
    if age > settings.ready_heartbeat_max_s:
        return f"heartbeat {age:.0f} s old (ready_heartbeat_max_s {settings.ready_heartbeat_max_s:g})"
    return None


def stream_backlog(client: redis.Redis, stream: str, group: str) -> int:
    """Entries of ``stream`` the group has not finished: never delivered (its lag) and delivered, not acked."""
    if not client.exists(stream):
        return 0
    groups: list[dict[str, Any]] = client.xinfo_groups(stream)
    info = next((g for g in groups if g["name"] == group), None)
    if info is None:  # the consumer never started: every entry waits for it
        return int(client.xlen(stream))
    lag = info.get("lag")
    if lag is None:  # Redis cannot tell (entries deleted): count what follows the last delivered
        lag = len(cast(bus.Entries, client.xrange(stream, min=f"({info['last-delivered-id']}", max="+")))
    return int(lag) + int(info["pending"])


def recorder(settings: Settings, client: redis.Redis) -> str | None:
    """The call events the recorder has still to write are under ``ready_recorder_lag_max``."""
    behind = stream_backlog(client, bus.CALL_EVENTS, RECORDER_GROUP)
    if behind > settings.ready_recorder_lag_max:
        return f"{behind} call events not yet recorded (ready_recorder_lag_max {settings.ready_recorder_lag_max})"
    return None


def dead_letters(settings: Settings, client: redis.Redis) -> str | None:
    """The events and jobs set aside for a person (``bus.DEAD_LETTERS``) are under ``ready_dead_letters_max``."""
    count = int(client.xlen(bus.DEAD_LETTERS))
    if count > settings.ready_dead_letters_max:
        return f"{count} dead letters (ready_dead_letters_max {settings.ready_dead_letters_max})"
    return None


def disk(settings: Settings, _client: redis.Redis) -> str | None:
    """The directories recordings and voicemails are written to take a write and have room."""
    problems = health.disk_problems(settings)
    return "; ".join(problems) if problems else None


CHECKS: tuple[tuple[str, Callable[[Settings, redis.Redis], str | None]], ...] = (
    ("database", database),
    ("redis", redis_up),
    ("ami", ami),
    ("queue_manager", queue_manager),
    ("recorder", recorder),
    ("dead_letters", dead_letters),
    ("disk", disk),
)


def run_check(
    name: str, check: Callable[[Settings, redis.Redis], str | None], settings: Settings, client: redis.Redis
) -> Check:
    started = time.perf_counter()
    try:
        problem = check(settings, client)
    except Exception as exc:  # a dependency away: said in one line, without the data it holds
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        problem = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    ms = round((time.perf_counter() - started) * 1000, 1)
    return Check(name, problem is None, problem or "ok", ms)


def run(settings: Settings) -> list[Check]:
    """Every check, in order; each one's failure is its own (Redis away fails the checks that read it too)."""
    client = redis_client(settings)
    try:
        return [run_check(name, check, settings, client) for name, check in CHECKS]
    finally:
        client.close()


def report(checks: list[Check]) -> dict[str, Any]:
    """The JSON ``/readyz`` answers: ready or not, when, and each check."""
    return {
        "status": "ready" if all(c.ok for c in checks) else "not ready",
        "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checks": [c.as_dict() for c in checks],
    }
