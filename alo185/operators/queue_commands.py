"""Operators' queue commands: log in, log out, pause with a reason, unpause. One path for every source.

The console API and the phones' feature codes (a dialplan ``UserEvent`` the queue manager turns
into a command) both put a command on the Redis stream ``alo185:queue-commands``::

    {"id": "…", "action": "pause", "extension": "1001", "reason": "mola", "by": "ayse", "ts": 1795…}

The queue manager carries it out over its AMI connection (``queue_manager.commands``) and pushes
the result onto the list ``alo185:queue-command:<id>`` (kept a minute)::

    {"id": "…", "ok": true, "message": "…", "queues": {"su": 0, "genel": 1}}

where the sender waits for it (``BLPOP``). A command older than ``COMMAND_TTL_S`` when the queue
manager reads it (it was down) is answered as expired, not carried out: its sender has given up.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

from alo185.core import bus
from alo185.core.settings import Settings
from alo185.operators import codes, phones

# refresh: after a change of skills, log in again if logged in (the queues and penalties follow).
ACTIONS = ("login", "logout", "pause", "unpause", "refresh")
COMMAND_TTL_S = 30.0
RESULT_TTL_S = 60


class CommandError(ValueError):
    pass


def make(action: str, extension: str, *, reason: str = "", by: str = "", channel: str = "") -> dict[str, Any]:
    """A checked command; a pause's reason is normalised to its code (``alo185.operators.codes.PAUSE_REASONS``).

    ``channel``: the phone's channel that asked, to be told the outcome (feature codes).
    """
    if action not in ACTIONS:
        raise CommandError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if not extension:
        raise CommandError("a command needs the operator's extension")
    code = ""
    if action == "pause":
        found = codes.pause_reason(reason or codes.DEFAULT_PAUSE.code)
        if found is None:
            known = ", ".join(r.code for r in codes.PAUSE_REASONS)
            raise CommandError(f"unknown pause reason {reason!r} (one of {known})")
        code = found.code
    command = {"id": uuid.uuid4().hex, "action": action, "extension": extension, "reason": code, "by": by}
    return {**command, "channel": channel, "ts": time.time()}


def result_key(command_id: str) -> str:
    return bus.QUEUE_COMMAND_RESULT_PREFIX + command_id


def encode(command: dict[str, Any]) -> dict[str, str]:
    """The stream entry's fields."""
    return {"command": json.dumps(command, ensure_ascii=False)}


def decode(fields: dict[str, str]) -> dict[str, Any] | None:
    try:
        command = json.loads(fields["command"])
    except (KeyError, TypeError, json.JSONDecodeError):
        return None
    return command if isinstance(command, dict) else None


def send(client: redis.Redis, command: dict[str, Any]) -> str:
    # redis-py types ``fields`` as a dict of its own unions: invariant, so a dict[str, str] is refused
    client.xadd(bus.QUEUE_COMMANDS, encode(command), maxlen=100_000, approximate=True)  # type: ignore[arg-type]
    return str(command["id"])


def wait(client: redis.Redis, command_id: str, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """The command's result, or None if the queue manager has not answered within ``timeout_s``."""
    found = client.blpop([result_key(command_id)], timeout=timeout_s)
    return json.loads(found[1]) if found else None


def run(client: redis.Redis, command: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any] | None:
    """Send and wait for the result."""
    return wait(client, send(client, command), timeout_s)


# ContactStatus values of a phone that is not there to take calls.
NOT_REGISTERED = frozenset({"", "Removed", "Unreachable"})


def registration(client: redis.Redis, extension: str) -> dict[str, Any]:
    """The phone's registration as the queue manager last saw it (AMI ContactStatus / PJSIPShowContacts)."""
    raw = client.hget(bus.PHONES, extension)
    entry = json.loads(raw) if raw else {}
    status = str(entry.get("status", ""))
    return {
        "registered": status not in NOT_REGISTERED,
        "status": status or "Removed",
        "uri": entry.get("uri", ""),
        "user_agent": entry.get("user_agent", ""),
        "since": entry.get("at"),
    }


def memberships(live: dict[str, Any], extension: str) -> dict[str, dict[str, Any]]:
    """The queues the phone is a member of in the live snapshot (``alo185:live``), with its state in each."""
    interface = phones.interface(extension)
    return {name: q["operators"][interface] for name, q in live.items() if interface in q.get("operators", {})}


def live_snapshot(client: redis.Redis) -> dict[str, Any]:
    raw = client.get(bus.LIVE_QUEUES)
    return json.loads(raw) if raw else {}


def apply_skills_now(settings: Settings, extension: str | None) -> str:
    """After a change of skills: an operator who is logged in logs in again (the queues and penalties follow)."""
    if not extension:
        return "no phone extension yet: the skills apply once the operator logs in with one"
    client = bus.connect(settings.redis_connection_url)
    try:
        result = run(client, make("refresh", extension, by="skills change"))
    except redis.RedisError:
        return "the queues are not running: the skills apply at the next log-in"
    finally:
        client.close()
    if result is None:
        return "the queue manager did not answer: the skills apply at the next log-in"
    return f"applied now: {result['message']}" if result["ok"] else f"not applied now: {result['message']}"
