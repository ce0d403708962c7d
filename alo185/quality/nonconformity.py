"""Non-conforming service records (uygun olmayan hizmet): the finding on a resolved ticket, then the decision.

The contact centre's check (operator, supervisor or quality) records a finding (bulgu) on a ticket
that was resolved or closed although the service did not conform. The quality unit then takes one
of the two decisions the procedure allows: reopen the ticket for its directorate, or redirect it to
another institution. The ticket itself is moved only by ``alo185.tickets.workflow``, which writes
the ticket's history and the citizen's SMS.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.org.access import Perm
from alo185.org.models import Institution
from alo185.quality.models import Nonconformity, NonconformityDecision
from alo185.quality.procedure import QualityError, audit, aware, required_text, staff
from alo185.tickets import workflow
from alo185.tickets.models import Ticket, TicketStatus
from alo185.tickets.workflow import TransitionError

# Only a ticket the citizen was told is done can turn out to be non-conforming.
RECORDABLE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
DECISION_TR = {NonconformityDecision.REOPEN: "yeniden açma", NonconformityDecision.REDIRECT: "başka kuruma yönlendirme"}


def record_nonconformity(
    session: Session, ticket: Ticket, *, finding: str, actor: str, now: datetime | None = None
) -> Nonconformity:
    """Record the finding on ``ticket``; one undecided record per ticket, so the same check is not filed twice."""
    now = aware(now)
    staff(session, actor, Perm.NONCONFORMITY_RECORD)
    if ticket.status not in RECORDABLE:
        raise QualityError(
            f"ticket {ticket.number} is {ticket.status}, not resolved or closed",
            f"{ticket.number} numaralı başvuru çözülmüş ya da kapatılmış değil; uygunsuzluk kaydı açılamaz.",
        )
    text = required_text(finding, "finding", "Bulgu")
    if _undecided(session, ticket) is not None:
        raise QualityError(
            f"ticket {ticket.number} already has an undecided non-conformity",
            f"{ticket.number} numaralı başvuru için karar bekleyen bir uygunsuzluk kaydı zaten var.",
        )
    nc = Nonconformity(
        ticket=ticket, directorate_id=ticket.directorate_id, finding=text, recorded_by=actor, created_at=now
    )
    session.add(nc)
    audit(session, nc, actor=actor, action="nc.record", detail=f"ticket {ticket.number}", now=now)
    return nc


def _undecided(session: Session, ticket: Ticket) -> Nonconformity | None:
    return session.scalar(
        select(Nonconformity).where(Nonconformity.ticket_id == ticket.id, Nonconformity.decision.is_(None)).limit(1)
    )


def decide(
    session: Session,
    nc: Nonconformity,
    decision: NonconformityDecision | str,
    *,
    actor: str,
    note: str,
    institution: Institution | None = None,
    now: datetime | None = None,
) -> None:
    """Take the quality unit's decision once and carry it out on the ticket through the workflow.

    The note is the reason in the ticket's history (and, for a redirect, what the citizen is told).
    """
    now = aware(now)
    decision = NonconformityDecision(decision)
    staff(session, actor, Perm.NONCONFORMITY_DECIDE)
    text = _check_decidable(nc, decision, note, institution)
    assert nc.ticket is not None  # _check_decidable refuses a record without a ticket
    try:
        if decision is NonconformityDecision.REOPEN:
            workflow.transition(
                session, nc.ticket, TicketStatus.REOPENED, actor=actor, channel="admin", note=text, now=now
            )
        else:
            workflow.redirect(
                session, nc.ticket, actor=actor, channel="admin", institution=institution, reason=text, now=now
            )
    except TransitionError as refused:  # the workflow checks before it changes anything
        raise QualityError(str(refused), refused.message_tr) from refused
    nc.decision, nc.decision_note, nc.redirect_institution = decision, text, institution
    nc.decided_by, nc.decided_at = actor, now
    detail = f"{decision} ticket {nc.ticket.number}" + (f" to {institution.code}" if institution is not None else "")
    audit(session, nc, actor=actor, action="nc.decide", detail=detail, now=now)


def _check_decidable(
    nc: Nonconformity, decision: NonconformityDecision, note: str, institution: Institution | None
) -> str:
    """Everything about the decision itself, before the ticket is touched; returns the stripped note."""
    if nc.decision is not None:
        raise QualityError(
            f"non-conformity {nc.id} was already decided ({nc.decision})",
            f"Bu uygunsuzluk kaydı için zaten karar verilmiş ({DECISION_TR[nc.decision]}).",
        )
    if nc.ticket is None:
        raise QualityError(
            f"non-conformity {nc.id} has no ticket to act on", "Bu uygunsuzluk kaydı bir başvuruya bağlı değil."
        )
    text = required_text(note, "decision note", "Karar gerekçesi")
    if decision is NonconformityDecision.REDIRECT and institution is None:
        raise QualityError("a redirect needs the target institution", "Yönlendirme kararı için hedef kurum zorunludur.")
    if decision is NonconformityDecision.REOPEN and institution is not None:
        raise QualityError(
            "an institution goes only with a redirect", "Hedef kurum yalnızca yönlendirme kararında seçilir."
        )
    return text
