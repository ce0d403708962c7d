"""Screen-pop: when an operator's phone rings (AMI ``AgentCalled``), tell that operator who is calling.

Published on the Redis pub/sub channel ``alo185:screenpop:<member>`` (the queue member's name)
as one JSON object (schema in ``docs/events.md``): the caller's number and its masked form
(the console shows one or the other by role), the recognised citizen or platform caller, their
open and recent tickets, the IVR path and language (channel variables the dialplan set, sent
with the event), the wait so far and whether it is a callback. The database lookup runs in a
worker thread; the AMI loop never waits on it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alo185.models import Citizen, PlatformRole, Ticket
from alo185.phone import mask, normalize
from alo185.tickets import queries
from queue_manager.events import header

CHANNEL_PREFIX = "alo185:screenpop:"
RECENT = 5


def channel_for(member: str) -> str:
    return CHANNEL_PREFIX + member


def channel_variables(event: Mapping[str, Any]) -> dict[str, str]:
    """``ChanVariable: NAME=value`` headers of the calling channel (one header or a list)."""
    raw = event.get("ChanVariable") or []
    values: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else [raw]:
        name, _, value = str(item).partition("=")
        values[name.strip()] = value
    return values


def from_agent_called(event: Mapping[str, Any], joined_at: float | None, now: float) -> dict[str, Any]:
    """What AMI tells us: the call, the member rung, the IVR's variables, the wait so far."""
    variables = channel_variables(event)
    caller = normalize(header(event, "CallerIDNum")) or ""
    ts = float(header(event, "Timestamp") or now)
    return {
        "type": "screenpop",
        "uniqueid": header(event, "Uniqueid"),
        "queue": header(event, "Queue"),
        "member": header(event, "MemberName") or header(event, "Interface"),
        "interface": header(event, "Interface"),
        "caller": caller,
        "caller_masked": mask(caller) if caller else "",
        "ivr_path": variables.get("ALO185_IVR_PATH", ""),
        "lang": variables.get("ALO185_LANG", "") or "tr",
        "category": variables.get("ALO185_CATEGORY", ""),
        "wait_s": round(ts - joined_at, 3) if joined_at is not None else None,
        "callback": variables.get("ALO185_CALLBACK", "") == "1",
        "ami_ts": ts,
    }


def _ticket(t: Ticket) -> dict[str, Any]:
    return {
        "number": t.number,
        "status": queries.public_status(t),
        "category": t.category.name,
        "created_at": t.created_at.isoformat(),
    }


def caller_details(sessions: sessionmaker[Session], caller: str) -> dict[str, Any]:
    """The citizen behind the number, and their tickets (runs in a worker thread)."""
    empty: dict[str, Any] = {"citizen": None, "platform_role": None, "open_tickets": [], "recent_tickets": []}
    if not caller:
        return empty
    with sessions() as s:
        citizen = s.scalar(select(Citizen).where(Citizen.phone == caller))
        if citizen is None:
            return empty
        recent = s.scalars(
            select(Ticket).where(Ticket.citizen_id == citizen.id).order_by(Ticket.created_at.desc()).limit(RECENT)
        ).all()
        role = str(citizen.platform_role)
        return {
            "citizen": {"name": citizen.full_name or "", "mahalle": citizen.mahalle.name if citizen.mahalle else ""},
            "platform_role": None if role == PlatformRole.NONE else role,
            "open_tickets": [_ticket(t) for t in queries.open_tickets_for_phone(s, caller)],
            "recent_tickets": [_ticket(t) for t in recent],
        }


def stamp(pop: dict[str, Any]) -> dict[str, Any]:
    """The publication time, so a reader can tell how fast the pop came."""
    return {**pop, "published_ts": time.time()}
