"""The caller card: who is calling, as the operator's screen-pop shows it (masked number, citizen, tickets).

The IVR builds it once a call is headed to a queue and leaves it in Redis under
``bus.caller_card_key(uniqueid)``, so the queue manager's screen-pop is a Redis read when the
phone rings: no database query and no phone-number parsing on its AMI loop. The queue manager
builds it itself only for a call that bypassed the IVR. One builder for both, so a stored card
and a fallback lookup are alike to the field.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alo185.core.phone import mask
from alo185.core.settings import Settings
from alo185.tickets import queries
from alo185.tickets.models import Citizen, PlatformRole, Ticket

RECENT = 5
# A card outlives the longest queue wait, which counts from the join, moments after the IVR.
TTL_MARGIN_S = 60


def ttl_s(settings: Settings) -> int:
    """How long a stored card lasts."""
    return settings.queue_timeout + TTL_MARGIN_S


def _ticket(t: Ticket) -> dict[str, Any]:
    return {
        "number": t.number,
        "status": queries.public_status(t),
        "category": t.category.name,
        "created_at": t.created_at.isoformat(),
    }


def _nobody() -> dict[str, Any]:
    return {"citizen": None, "platform_role": None, "open_tickets": [], "recent_tickets": []}


def caller_details(sessions: sessionmaker[Session], caller: str) -> dict[str, Any]:
    """The citizen behind the number (E.164), and their tickets. Blocking: run it in a worker thread."""
    if not caller:
        return _nobody()
    with sessions() as s:
        citizen = s.scalar(select(Citizen).where(Citizen.phone == caller))
        if citizen is None:
            return _nobody()
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


def card(sessions: sessionmaker[Session], caller: str) -> dict[str, Any]:
    """The screen-pop's fields about the caller: the masked number, then ``caller_details``. Blocking."""
    return {"caller_masked": mask(caller) if caller else "", **caller_details(sessions, caller)}


def encode(caller: str, fields: dict[str, Any]) -> str:
    """The card as stored: its fields with the number they are for."""
    return json.dumps({"caller": caller, "card": fields}, ensure_ascii=False)


def decode(raw: str | None, caller: str) -> dict[str, Any] | None:
    """The fields of a stored card; None when there is none, or it is for another number."""
    if not raw:
        return None
    stored = json.loads(raw)
    return stored["card"] if stored.get("caller") == caller else None


def build(sessions: sessionmaker[Session], caller: str) -> str:
    """The card for a number, ready to store. Blocking: run it in a worker thread."""
    return encode(caller, card(sessions, caller))


def build_unknown(caller: str) -> str:
    """The card of a number no citizen has, ready to store: no database needed, so no thread either."""
    return encode(caller, {"caller_masked": mask(caller) if caller else "", **_nobody()})
