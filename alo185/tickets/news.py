"""What a citizen is told by SMS about their ticket, queued in the caller's transaction (``alo185.sms.outbox``).

The news of a ticket (created, redirected, cannot be done, resolved, and for channels other
than the phone a survey link) is keyed per ticket, event and reopen cycle: the same news is
never queued twice, and a ticket resolved again after a reopen gets a new message.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from alo185.sms.models import SmsMessage
from alo185.sms.outbox import enqueue
from alo185.tickets.models import Ticket, TicketStatus

NEWS = {
    TicketStatus.REDIRECTED: "redirected",
    TicketStatus.CANNOT_BE_DONE: "cannot_be_done",
    TicketStatus.RESOLVED: "resolved",
}


def ticket_news(session: Session, ticket: Ticket, event: str, **params: Any) -> SmsMessage | None:
    if ticket.citizen is None:
        return None
    key = f"ticket-{ticket.id}:{event}:{ticket.reopen_count}"
    return enqueue(session, key, ticket.citizen.phone, event, {"number": ticket.number, **params}, ticket.id)


def on_status(session: Session, ticket: Ticket, status: TicketStatus, note: str | None, institution: str) -> None:
    """Called by the workflow after each change of status."""
    event = NEWS.get(status)
    if event is None:
        return
    params: dict[str, Any] = {"redirected": {"institution": institution}, "cannot_be_done": {"reason": note or ""}}.get(
        event, {}
    )
    ticket_news(session, ticket, event, **params)
    if status is TicketStatus.RESOLVED and str(ticket.channel) != "phone":
        ticket_news(session, ticket, "survey")  # phone callers had the keypad survey
