"""The survey for non-phone channels: a signed link to a one-question web page, one answer per ticket.

The link (``links.sign(secret, "survey", ticket_id)``) cannot be guessed or altered; the page
asks the same question as the keypad survey (``alo185.surveys.scale.LABELS``). The SMS outbox sends it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.surveys.models import SurveyAnswer
from alo185.surveys.scale import LABELS
from alo185.tickets.models import Ticket


class SurveyError(ValueError):
    pass


def _uniqueid(ticket: Ticket) -> str:
    return f"ticket-{ticket.id}"


def answered(session: Session, ticket: Ticket) -> bool:
    return session.scalar(select(SurveyAnswer.id).where(SurveyAnswer.uniqueid == _uniqueid(ticket))) is not None


def answer(session: Session, ticket: Ticket, value: int) -> SurveyAnswer:
    """Record the citizen's answer for ``ticket``; a second answer or an unknown one is refused."""
    if value not in LABELS:
        raise SurveyError(f"not an answer: {value!r}")
    if answered(session, ticket):
        raise SurveyError("this survey has already been answered")
    row = SurveyAnswer(
        uniqueid=_uniqueid(ticket),
        caller=ticket.citizen.phone if ticket.citizen is not None else "",
        channel=str(ticket.channel),
        answer=value,
        queue="",
        operator="",
        lang="tr",
        ticket_id=ticket.id,
        has_comment=False,
        offered_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row
