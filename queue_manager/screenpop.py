"""Screen-pop: when an operator's phone rings (AMI ``AgentCalled``), tell that operator who is calling.

Published on the Redis pub/sub channel ``alo185:screenpop:<member>`` (the queue member's name)
as one JSON object (schema in ``docs/events.md``): the caller's number and its masked form
(the console shows one or the other by role), the recognised citizen or platform caller, their
open and recent tickets, the IVR path and language (channel variables the dialplan set, sent
with the event), the wait so far and whether it is a callback. Who the caller is (and the masked
number) comes from the caller card the IVR left in Redis (``alo185.tickets.caller_card``); only
a call that bypassed the IVR is looked up in the database, in a worker thread. The AMI loop
never waits on either.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from alo185.core import bus
from alo185.core.phone import normalize
from queue_manager.events import header


def channel_variables(event: Mapping[str, Any]) -> dict[str, str]:
    """``ChanVariable: NAME=value`` headers of the calling channel (one header or a list)."""
    raw = event.get("ChanVariable") or []
    values: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else [raw]:
        name, _, value = str(item).partition("=")
        values[name.strip()] = value
    return values


def from_agent_called(event: Mapping[str, Any], joined_at: float | None, now: float) -> dict[str, Any]:
    """What AMI tells us: the call, the member rung, the IVR's variables, the wait so far.

    Not the masked number: masking parses the number (phonenumbers), which the caller card has done.
    """
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
        "ivr_path": variables.get("ALO185_IVR_PATH", ""),
        "lang": variables.get("ALO185_LANG", "") or "tr",
        "category": variables.get("ALO185_CATEGORY", ""),
        "wait_s": round(ts - joined_at, 3) if joined_at is not None else None,
        "callback": variables.get("ALO185_CALLBACK", "") == "1",
        "ami_ts": ts,
    }


def stamp(pop: dict[str, Any]) -> dict[str, Any]:
    """The publication time, so a reader can tell how fast the pop came."""
    return {**pop, "published_ts": time.time()}


def payload(pop: dict[str, Any], card: dict[str, Any]) -> str:
    """What goes out: the call as AMI told it, the caller card (``caller_card.card``), the publication time."""
    return bus.encode(stamp({**pop, **card}))


def unfinished(pop: dict[str, Any]) -> tuple[str, str]:
    """The pop without its card, for Redis to finish (``bus.WRITE``) with the card the IVR stored, in the same
    round trip as the read: the pop's JSON object, and the text a stored card for this caller starts with.

    A stored card is ``caller_card.encode(caller, fields)``: ``{"caller": …, "card": {fields}}``. The
    fields' text goes in before the pop's closing brace, so the message is ``payload(pop, fields)``
    (keys in another order). A card in any other form is left to ``caller_card.decode`` here.
    """
    prefix = '{"caller": ' + bus.encode(pop["caller"]) + ', "card": {'
    return bus.encode(stamp(pop)), prefix
