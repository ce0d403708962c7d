"""What the IVR and the admin ask about tickets and callers, and how a new ticket is recorded.

The names and signatures here are a contract with the phone IVR; keep them stable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from alo185.core import phone as phones
from alo185.org.models import District, Mahalle
from alo185.tickets import news, numbers, sla, workflow
from alo185.tickets.models import (
    Category,
    ChangeChannel,
    Channel,
    Citizen,
    PlatformRole,
    Ticket,
    TicketHistory,
    TicketStatus,
    TicketType,
)

S = TicketStatus
FINISHED = frozenset({S.RESOLVED, S.CLOSED, S.REDIRECTED, S.CANNOT_BE_DONE, S.DUPLICATE})
OPEN_STATUSES = tuple(s for s in TicketStatus if s not in FINISHED)
PUBLIC_STATUS: dict[TicketStatus, str] = {
    S.RECORDED: "received",
    S.ROUTED: "sent_to_directorate",
    S.REOPENED: "sent_to_directorate",
    S.IN_PROGRESS: "in_progress",
    S.AWAITING_CHIEF: "in_progress",
    S.AWAITING_MANAGER: "in_progress",
    S.CHECKED: "in_progress",
    S.RESOLVED: "resolved",
    S.CLOSED: "closed",
    S.REDIRECTED: "redirected",
    S.CANNOT_BE_DONE: "cannot_be_done",
}
PUBLIC_STATUS_TR: dict[str, str] = {
    "received": "Başvurunuz alındı.",
    "sent_to_directorate": "Başvurunuz ilgili müdürlüğe iletildi.",
    "in_progress": "Başvurunuz üzerinde çalışılıyor.",
    "resolved": "Başvurunuz çözüldü.",
    "redirected": "Başvurunuz yetkili kuruma yönlendirildi.",
    "cannot_be_done": "Başvurunuzla ilgili işlem yapılamıyor; açıklaması size iletildi.",
    "closed": "Başvurunuz kapatıldı.",
}
OUT_OF_JURISDICTION_REASON = "Talebiniz kurumumuzun görev alanı dışında olduğundan yetkili kuruma iletilmiştir."
TR_ASCII = str.maketrans("çğıöşüâîûÇĞİÖŞÜÂÎÛ", "cgiosuaiuCGIOSUAIU")


class FieldError(ValueError):
    """A value a new ticket cannot take (an unknown category or district, no phone number), by its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def find_by_number(session: Session, number: str) -> Ticket | None:
    """The ticket with this public number; None without a lookup when the check digit is wrong."""
    cleaned = numbers.clean(number)
    if not numbers.is_well_formed(cleaned):
        return None
    return session.scalar(select(Ticket).where(Ticket.number == cleaned))


def _citizen(session: Session, e164: str) -> Citizen | None:
    normalized = phones.normalize(e164)
    if normalized is None:
        return None
    return session.scalar(select(Citizen).where(Citizen.phone == normalized))


def open_tickets_for_phone(session: Session, e164: str) -> list[Ticket]:
    """The caller's tickets still being worked on, newest first (for the screen-pop and the IVR)."""
    citizen = _citizen(session, e164)
    if citizen is None:
        return []
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.citizen_id == citizen.id, Ticket.status.not_in(FINISHED))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        )
    )


def last_known_area(session: Session, e164: str) -> tuple[str | None, str | None]:
    """(district, mahalle) names: from the citizen's address, else from their latest ticket with a place."""
    citizen = _citizen(session, e164)
    if citizen is None:
        return None, None
    if citizen.district is not None:
        return citizen.district.name, citizen.mahalle.name if citizen.mahalle else None
    ticket = session.scalar(
        select(Ticket)
        .where(Ticket.citizen_id == citizen.id, Ticket.district_id.is_not(None))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    )
    if ticket is None or ticket.district is None:
        return None, None
    return ticket.district.name, ticket.mahalle.name if ticket.mahalle else None


def platform_caller(session: Session, e164: str) -> Citizen | None:
    """The muhtar, esnaf or council member calling from this number, if it is one."""
    citizen = _citizen(session, e164)
    if citizen is None or citizen.platform_role == PlatformRole.NONE:
        return None
    return citizen


def public_status(ticket: Ticket) -> str:
    """What the citizen is told; a duplicate reports the status of the ticket it duplicates."""
    if ticket.status == S.DUPLICATE:
        original = ticket.duplicate_of
        return public_status(original) if original is not None and original is not ticket else "closed"
    return PUBLIC_STATUS[TicketStatus(ticket.status)]


def can_reopen(ticket: Ticket, now: datetime, window: timedelta = workflow.REOPEN_WINDOW) -> bool:
    """Whether the citizen may still reopen: resolved (or closed) and within the window after resolution."""
    return ticket.status in (S.RESOLVED, S.CLOSED) and workflow.within_reopen_window(ticket, now, window)


def tr_fold(text: str) -> str:
    """Turkish-aware case folding for matching names typed or spoken in any case (İ/i, I/ı)."""
    return text.strip().replace("I", "ı").replace("İ", "i").lower()


def tr_ascii(text: str) -> str:
    """Folded and without Turkish letters, for matching what may be typed or heard either way."""
    return tr_fold(text).translate(TR_ASCII)


def search_text(description: str, name: str | None) -> str:
    """What ``tickets.search`` matches words against: the description and the citizen's name, folded."""
    return tr_ascii(f"{description} {name or ''}".strip())


def find_district(session: Session, name: str) -> District | None:
    wanted = tr_fold(name)
    return next((d for d in session.scalars(select(District)) if tr_fold(d.name) == wanted), None)


def find_mahalle(session: Session, district: District, name: str) -> Mahalle | None:
    wanted = tr_fold(name)
    found = session.scalars(select(Mahalle).where(Mahalle.district_id == district.id))
    return next((m for m in found if tr_fold(m.name) == wanted), None)


def _ticket_type(value: str) -> TicketType:
    """Accepts ``şikayet`` as well as ``sikayet``."""
    return TicketType(value.strip().lower().translate(TR_ASCII))


def _citizen_for(session: Session, phone: str) -> Citizen:
    e164 = phones.normalize(phone)
    if e164 is None:
        raise FieldError("phone", f"not a phone number: {phone!r}")
    citizen = session.scalar(select(Citizen).where(Citizen.phone == e164))
    if citizen is None:
        citizen = Citizen(phone=e164)
        session.add(citizen)
    else:
        citizen.updated_at = datetime.now(UTC)
    return citizen


def create_ticket(
    session: Session,
    *,
    phone: str | None,
    category_code: str,
    description: str,
    channel: str,
    type: str = "istek",
    district: str | None = None,
    mahalle: str | None = None,
    actor: str = "system",
) -> Ticket:
    """Record a request and route it by its category (or redirect it when it is not ours); flushes.

    The citizen is found or created by phone number (none for a withheld number); the ticket
    gets a fresh public number and, when routed, its due time.
    """
    category = session.scalar(select(Category).where(Category.code == category_code, Category.active.is_(True)))
    if category is None:
        raise FieldError("category", f"unknown or inactive category: {category_code!r}")
    intake = Channel(channel)
    ticket_type = _ticket_type(type)
    place = find_district(session, district) if district else None
    if district and place is None:
        raise FieldError("district", f"unknown district: {district!r}")
    area = find_mahalle(session, place, mahalle) if place is not None and mahalle else None
    now = datetime.now(UTC)
    ticket = Ticket(
        number=numbers.new_number(session),
        type=ticket_type,
        channel=intake,
        status=S.RECORDED,
        priority=category.default_priority,
        category=category,
        citizen=_citizen_for(session, phone) if phone else None,  # a withheld number: no citizen
        district=place,
        mahalle=area,
        description=description.strip(),
        reopen_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    recorder = workflow.resolve_actor(session, actor)
    session.add(
        TicketHistory(
            ticket=ticket,
            from_status=None,
            to_status=S.RECORDED,
            actor=recorder.name,
            actor_user_id=recorder.user.id if recorder.user else None,
            channel=intake.value,
            created_at=now,
        )
    )
    ticket.search_text = search_text(ticket.description, ticket.citizen.full_name if ticket.citizen else None)
    session.flush()
    news.ticket_news(session, ticket, "created")
    _dispatch(session, ticket, now)
    return ticket


def _dispatch(session: Session, ticket: Ticket, now: datetime) -> None:
    """Route to the category's directorate, or redirect to its default institution when it is not ours."""
    category = ticket.category
    if category.in_jurisdiction and category.directorate_id is not None:
        workflow.transition(
            session, ticket, S.ROUTED, actor=workflow.SYSTEM_ACTOR, channel=ChangeChannel.SYSTEM, now=now
        )
        ticket.due_at = sla.due_at(category, ticket.priority, now)
    elif not category.in_jurisdiction and category.default_redirect_institution is not None:
        workflow.redirect(
            session,
            ticket,
            actor=workflow.SYSTEM_ACTOR,
            channel=ChangeChannel.SYSTEM,
            institution=category.default_redirect_institution,
            reason=OUT_OF_JURISDICTION_REASON,
            now=now,
        )
    session.flush()


def recategorize(session: Session, ticket: Ticket, category_code: str, actor: str, channel: str = "admin") -> None:
    """Correct a ticket's category (a voicemail's guess, an operator's slip): its directorate and due time follow.

    Only while the ticket has not been worked on (recorded or routed); the change is kept in the history.
    """
    category = session.scalar(select(Category).where(Category.code == category_code, Category.active.is_(True)))
    if category is None:
        raise ValueError(f"unknown or inactive category: {category_code!r}")
    if ticket.status not in (S.RECORDED, S.ROUTED):
        raise ValueError(f"ticket {ticket.number} is {ticket.status}: its category can no longer change")
    if category.id == ticket.category_id:
        return
    previous = ticket.category.code
    ticket.category = category
    ticket.directorate_id = category.directorate_id
    ticket.due_at = sla.due_at(category, ticket.priority, ticket.created_at)
    session.add(
        TicketHistory(
            ticket=ticket,
            from_status=ticket.status,
            to_status=ticket.status,
            actor=actor,
            channel=ChangeChannel(channel).value,
            note=f"kategori: {previous} -> {category.code}",
            created_at=datetime.now(UTC),
        )
    )
    session.flush()


def open_for_directorate(session: Session, directorate_id: int, limit: int = 100) -> list[Ticket]:
    """A directorate's work list: its tickets still open, the most urgent (earliest due) first.

    One short ordered read of ``ix_tickets_directorate_status_due`` per open status, merged
    here: a single ``status NOT IN (…)`` query would sort every open ticket of the directorate.
    """
    candidates: list[Row[int, datetime | None]] = []
    for status in OPEN_STATUSES:
        candidates += session.execute(
            select(Ticket.id, Ticket.due_at)
            .where(Ticket.directorate_id == directorate_id, Ticket.status == status)
            .order_by(Ticket.due_at.asc().nulls_last(), Ticket.id)
            .limit(limit)
        ).all()
    chosen = sorted(candidates, key=lambda r: (r.due_at is None, r.due_at or datetime.min.replace(tzinfo=UTC), r.id))
    ids = [r.id for r in chosen[:limit]]
    found = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))} if ids else {}
    return [found[i] for i in ids]
