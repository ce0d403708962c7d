"""What an operator does with a call from the console: a ticket from the screen-pop, a note, a wrap-up code, a search.

Plain functions on a session, so the rules (which number a ticket gets, whose call a wrap-up code
belongs to, what a note leaves in the history) are kept apart from the views and tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.calls.models import CallRecord
from alo185.core import phone as phones
from alo185.org import access
from alo185.org.access import Perm
from alo185.org.models import Role, User
from alo185.tickets import queries, search, workflow
from alo185.tickets.models import Category, ChangeChannel, Channel, Citizen, PlatformRole, Ticket, TicketHistory

MAX_NOTE = 2000
MAX_DESCRIPTION = 4000
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class WrapUpCode:
    code: str  # what the call record keeps (``call_records.wrap_up_code``, at most 40 characters)
    label: str  # Turkish, for people


# The one list of wrap-up codes an operator chooses from after a call; reports count them by ``code``.
WRAP_UP_CODES = (
    WrapUpCode("bilgi-verildi", "Bilgi verildi"),
    WrapUpCode("basvuru-kaydedildi", "Başvuru kaydedildi"),
    WrapUpCode("basvuru-durumu", "Başvuru durumu soruldu"),
    WrapUpCode("kuruma-yonlendirildi", "Başka kuruma yönlendirildi"),
    WrapUpCode("yanlis-arama", "Yanlış veya asılsız arama"),
    WrapUpCode("hat-koptu", "Sessiz arama / hat koptu"),
)
_CODES = {c.code for c in WRAP_UP_CODES}


class Refused(Exception):
    """A request the console turns down: an HTTP status and the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.name)))


def _text(value: object, name: str, limit: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Refused(400, f"'{name}' is text")
    value = value.strip()
    if required and not value:
        raise Refused(400, f"'{name}' is required")
    if len(value) > limit:
        raise Refused(400, f"'{name}' is at most {limit} characters")
    return value


def _call(session: Session, uniqueid: str) -> CallRecord | None:
    return session.scalar(select(CallRecord).where(CallRecord.uniqueid == uniqueid))


def ticket_from_call(session: Session, body: dict[str, Any], actor: str) -> Ticket:
    """A phone ticket from the console's form (JSON): the caller's number and the call it came from.

    The number is the one typed, unless it is empty or masked (a role that sees numbers masked):
    then it is the call's own number from its record, never a number the browser made up.
    """
    uniqueid = _text(body.get("uniqueid"), "uniqueid", 64, required=False)
    typed = _text(body.get("phone"), "phone", 32, required=False)
    record = _call(session, uniqueid) if uniqueid else None
    if uniqueid and record is None:
        raise Refused(404, f"no call {uniqueid!r}")
    number = typed if typed and "*" not in typed else (record.caller if record is not None else None)
    if typed and "*" not in typed and phones.normalize(typed) is None:
        raise Refused(400, f"not a phone number: {typed!r}")
    try:
        ticket = queries.create_ticket(
            session,
            phone=number or None,
            category_code=_text(body.get("category"), "category", 64),
            description=_text(body.get("description"), "description", MAX_DESCRIPTION),
            channel=Channel.PHONE.value,
            type=_text(body.get("type"), "type", 16, required=False) or "istek",
            actor=actor,
        )
    except ValueError as exc:  # an unknown category or type
        raise Refused(400, str(exc)) from exc
    if record is not None:
        ticket.call_uniqueid = record.uniqueid  # the call's ticket, for the share of calls that became tickets
    session.flush()
    return ticket


def visible_ticket(session: Session, number: str, role: Role, directorate_id: int | None) -> Ticket:
    ticket = queries.find_by_number(session, number)
    if ticket is None or not access.sees_directorate(role, directorate_id, ticket.directorate_id):
        raise Refused(404, f"no ticket {number}")
    return ticket


def add_note(session: Session, ticket: Ticket, text: object, user: User) -> TicketHistory:
    """A note on the ticket's history, its status unchanged (history rows are never edited, so this is how)."""
    note = _text(text, "note", MAX_NOTE)
    row = TicketHistory(
        ticket=ticket,
        from_status=ticket.status,
        to_status=ticket.status,
        actor=user.username,
        actor_user_id=user.id,
        channel=ChangeChannel.ADMIN,
        note=note,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    ticket.updated_at = row.created_at
    session.flush()
    return row


def set_wrap_up(session: Session, uniqueid: object, code: object, username: str, any_call: bool) -> CallRecord:
    """The wrap-up code of a call the operator answered (a supervisor's may be any answered call)."""
    if not isinstance(code, str) or code not in _CODES:
        raise Refused(400, f"unknown wrap-up code {code!r} (one of {', '.join(sorted(_CODES))})")
    record = _call(session, _text(uniqueid, "uniqueid", 64))
    if record is None:
        raise Refused(404, f"no call {uniqueid!r}")
    if not record.answered:
        raise Refused(409, "the call was not answered")
    if not any_call and record.answered_by != username:
        raise Refused(403, "a wrap-up code is for the operator who answered the call")
    record.wrap_up_code = code
    session.flush()
    return record


def _ticket_json(t: Ticket, role: Role) -> dict[str, Any]:
    return {
        "number": t.number,
        "status": workflow.STATUS_TR[t.status],
        "category": t.category.name,
        "created_at": t.created_at.isoformat(),
        "citizen": (t.citizen.full_name or "") if t.citizen else "",
        "phone": access.phone_for(role, t.citizen.phone, "list") if t.citizen else "",
        "description": t.description[:160],
    }


def find(session: Session, text: str, role: Role, directorate_id: int | None) -> dict[str, Any]:
    """Tickets by number, phone or words (``tickets.search``) and the citizens behind them.

    A citizen is found by their number even without a ticket; by name through their tickets'
    search text (folded the Turkish way), so a name is matched the same way in both lists.
    """
    scope = access.directorate_scope(role, directorate_id)
    tickets = search.search(session, text, directorate_id=scope, limit=SEARCH_LIMIT)
    citizens: dict[int, Citizen] = {}
    if access.allowed(role, Perm.CITIZEN_VIEW):
        e164 = phones.normalize(text) if search.PHONE_LIKE.fullmatch(text.strip()) else None
        by_phone = session.scalar(select(Citizen).where(Citizen.phone == e164)) if e164 else None
        for citizen in [by_phone, *(t.citizen for t in tickets)]:
            if citizen is not None:
                citizens.setdefault(citizen.id, citizen)
    return {
        "tickets": [_ticket_json(t, role) for t in tickets],
        "citizens": [
            {
                "id": c.id,
                "name": c.full_name or "",
                "phone": access.phone_for(role, c.phone, "list"),
                "platform_role": None if c.platform_role == PlatformRole.NONE else str(c.platform_role),
            }
            for c in citizens.values()
        ],
    }
