"""Finding tickets: by number, by phone, by name or words; and the ones a new ticket may repeat.

Text is matched on ``tickets.search_text``: the description and the citizen's name folded
the Turkish way and without Turkish letters (``queries.tr_ascii``), so "IŞIK", "ışık" and
"isik" find each other.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.core import phone as phones
from alo185.tickets import numbers
from alo185.tickets.models import Citizen, Ticket
from alo185.tickets.queries import FINISHED, find_by_number, tr_ascii

PHONE_LIKE = re.compile(r"\+?[\d\s()-]{10,}")
EARTH_RADIUS_M = 6_371_000


def search(session: Session, text: str, *, directorate_id: int | None = None, limit: int = 50) -> list[Ticket]:
    """Newest first. A ticket number or a phone number is looked up exactly; anything else by words."""
    q = text.strip()
    if not q:
        return []
    query = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
    if directorate_id is not None:
        query = query.where(Ticket.directorate_id == directorate_id)
    cleaned = numbers.clean(q)
    if len(cleaned) == numbers.NUMBER_DIGITS and cleaned == q.replace(" ", ""):
        found = find_by_number(session, q)
        return [found] if found is not None and directorate_id in (None, found.directorate_id) else []
    e164 = phones.normalize(q) if PHONE_LIKE.fullmatch(q) else None
    if e164 is not None:
        return list(session.scalars(query.join(Citizen, Ticket.citizen_id == Citizen.id).where(Citizen.phone == e164)))
    words = tr_ascii(q).split()
    for word in words:
        query = query.where(Ticket.search_text.like(f"%{_escape(word)}%", escape="\\"))
    return list(session.scalars(query))


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def duplicate_candidates(
    session: Session,
    *,
    category_id: int,
    now: datetime,
    mahalle_id: int | None = None,
    lat: float | None = None,
    lon: float | None = None,
    days: int = 7,
    radius_m: float = 250.0,
    exclude_id: int | None = None,
) -> list[Ticket]:
    """Open tickets of the same category from the last ``days`` days in the same mahalle or within ``radius_m``."""
    if mahalle_id is None and (lat is None or lon is None):
        return []
    query = select(Ticket).where(
        Ticket.category_id == category_id,
        Ticket.created_at >= now - timedelta(days=days),
        Ticket.status.not_in(FINISHED),
    )
    if exclude_id is not None:
        query = query.where(Ticket.id != exclude_id)
    found = []
    for ticket in session.scalars(query.order_by(Ticket.created_at.desc())):
        same_place = mahalle_id is not None and ticket.mahalle_id == mahalle_id
        near = (
            lat is not None
            and lon is not None
            and ticket.lat is not None
            and ticket.lon is not None
            and distance_m(lat, lon, ticket.lat, ticket.lon) <= radius_m
        )
        if same_place or near:
            found.append(ticket)
    return found


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
