"""Deadline warnings, sent once: a chief before a ticket is due, the manager once it is late.

``sla.escalations`` decides who hears about which ticket; this module records each warning as an
``EscalationNotice`` and queues its text in the SMS outbox, in one savepoint. The notice is unique
per (ticket, kind, due time), so a rerun, a restart or two schedulers at once send nothing twice,
and a ticket whose deadline moves (a raised priority) is warned again for the new one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alo185.core import phone
from alo185.org.models import User
from alo185.sms import outbox
from alo185.tickets.models import EscalationNotice, Ticket
from alo185.tickets.sla import DEFAULT_WARNING_LEAD, LOCAL, escalation_candidates, escalations

log = logging.getLogger(__name__)

WARN_CHIEF = "warn_chief"
OVERDUE = "overdue"
TEMPLATES = {WARN_CHIEF: "escalation_warn", OVERDUE: "escalation_overdue"}
DUE_FORMAT = "%d.%m.%Y %H:%M"  # 21.11.2026 17:30, as Turkish staff read it


def run_escalations(session: Session, now: datetime, lead: timedelta = DEFAULT_WARNING_LEAD) -> int:
    """Record and text every warning due at ``now`` that was not sent before; returns how many were new."""
    tickets = escalation_candidates(session, now, lead)
    result = escalations(tickets, now, lead)
    sent = _already_sent(session, [t.id for t in tickets])
    created = 0
    for kind, by_user in ((WARN_CHIEF, result.warn_chiefs), (OVERDUE, result.notify_managers)):
        for user_id, user_tickets in by_user.items():
            user = session.get(User, user_id)
            for ticket in user_tickets:
                if user is None or (ticket.id, kind, ticket.due_at) in sent:
                    continue
                created += _notify(session, ticket, kind, user, now)
    return created


def _already_sent(session: Session, ticket_ids: list[int]) -> set[tuple[int, str, datetime]]:
    """Notices on record for these tickets: most ticks find nothing new, without a failed insert each."""
    if not ticket_ids:
        return set()
    rows = session.execute(
        select(EscalationNotice.ticket_id, EscalationNotice.kind, EscalationNotice.due_at).where(
            EscalationNotice.ticket_id.in_(ticket_ids)
        )
    )
    return {(r.ticket_id, r.kind, r.due_at) for r in rows}


def _notify(session: Session, ticket: Ticket, kind: str, user: User, now: datetime) -> int:
    """The notice and its text in one savepoint; 0 when another run recorded the same notice first."""
    assert ticket.due_at is not None  # escalations() only reports tickets with a deadline
    try:
        with session.begin_nested():
            notice = EscalationNotice(
                ticket_id=ticket.id, kind=kind, due_at=ticket.due_at, user_id=user.id, created_at=now
            )
            session.add(notice)
            session.flush()
            _text(session, notice, ticket, user)
    except IntegrityError:
        return 0  # the unique (ticket, kind, due_at): already sent by a concurrent run
    log.info("ticket %s: %s notice %s to user %s", ticket.number, kind, notice.id, user.username)
    return 1


def _text(session: Session, notice: EscalationNotice, ticket: Ticket, user: User) -> None:
    """Queue the warning for the staff member's mobile; staff without one see the notice only."""
    mobile = phone.normalize(user.phone)
    if mobile is None:
        return
    params = {
        "number": ticket.number,
        "category": ticket.category.name,
        "due": notice.due_at.astimezone(LOCAL).strftime(DUE_FORMAT),
    }
    outbox.enqueue(session, f"escalation-{notice.id}", mobile, TEMPLATES[notice.kind], params, ticket.id)
    session.flush()
