"""The ticket state machine: which status may follow which, and who may move a ticket there.

The whole policy is the ``TRANSITIONS`` table; ``transition`` is the only function that changes a
ticket's status. It checks everything first (permission, required fields, reopen window) and only
then changes the ticket and appends a history row, so a refused change leaves the database as it was.

Actors are strings: ``"system"`` for automatic steps, a staff username (the user's role decides),
anything else is the citizen (e.g. ``"citizen"`` or ``"citizen:+905321234567"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.org.models import Institution, Role, User
from alo185.tickets import news
from alo185.tickets.models import (
    Approval,
    ApprovalDecision,
    ApprovalLevel,
    ChangeChannel,
    Redirect,
    Ticket,
    TicketHistory,
    TicketStatus,
)

S = TicketStatus
REOPEN_WINDOW = timedelta(days=30)  # the default; the instance's is the setting reopen_window_days
SYSTEM_ACTOR = "system"


class ActorKind(StrEnum):
    """Who makes a change: a staff role, the system itself, or the citizen."""

    EXPERT = Role.EXPERT.value
    CHIEF = Role.CHIEF.value
    MANAGER = Role.MANAGER.value
    OPERATOR = Role.OPERATOR.value
    SUPERVISOR = Role.SUPERVISOR.value
    QUALITY = Role.QUALITY.value
    ADMIN = Role.ADMIN.value
    SYSTEM = "system"
    CITIZEN = "citizen"


A = ActorKind
DIRECTORATE_STAFF = frozenset({A.EXPERT, A.CHIEF, A.MANAGER})
CONTACT_CENTRE = frozenset({A.OPERATOR, A.SUPERVISOR})

# (from, to) -> who may make the move. Anything not listed is forbidden.
TRANSITIONS: dict[tuple[TicketStatus, TicketStatus], frozenset[ActorKind]] = {
    # Recording and routing (routing is automatic by category; the contact centre may do it by hand).
    (S.RECORDED, S.ROUTED): frozenset({A.SYSTEM, *CONTACT_CENTRE, A.ADMIN}),
    (S.RECORDED, S.REDIRECTED): frozenset({A.SYSTEM, *CONTACT_CENTRE}),
    (S.RECORDED, S.DUPLICATE): CONTACT_CENTRE,
    # The directorate takes the ticket (or gives it back when it is not ours or already known).
    (S.ROUTED, S.IN_PROGRESS): DIRECTORATE_STAFF,
    (S.ROUTED, S.REDIRECTED): DIRECTORATE_STAFF | CONTACT_CENTRE,
    (S.ROUTED, S.DUPLICATE): DIRECTORATE_STAFF | CONTACT_CENTRE,
    (S.ROUTED, S.CANNOT_BE_DONE): frozenset({A.CHIEF, A.MANAGER}),
    (S.REOPENED, S.IN_PROGRESS): DIRECTORATE_STAFF,
    (S.REOPENED, S.REDIRECTED): DIRECTORATE_STAFF | CONTACT_CENTRE,
    (S.REOPENED, S.DUPLICATE): DIRECTORATE_STAFF | CONTACT_CENTRE,
    (S.REOPENED, S.CANNOT_BE_DONE): frozenset({A.CHIEF, A.MANAGER}),
    # Work and hierarchical approval: expert -> chief -> (manager, if the category says so).
    (S.IN_PROGRESS, S.AWAITING_CHIEF): frozenset({A.EXPERT, A.CHIEF}),
    (S.IN_PROGRESS, S.REDIRECTED): DIRECTORATE_STAFF,
    (S.IN_PROGRESS, S.DUPLICATE): DIRECTORATE_STAFF,
    (S.IN_PROGRESS, S.CANNOT_BE_DONE): frozenset({A.CHIEF, A.MANAGER}),
    (S.AWAITING_CHIEF, S.AWAITING_MANAGER): frozenset({A.CHIEF}),
    (S.AWAITING_CHIEF, S.CHECKED): frozenset({A.CHIEF}),
    (S.AWAITING_CHIEF, S.IN_PROGRESS): frozenset({A.CHIEF}),
    (S.AWAITING_CHIEF, S.REDIRECTED): frozenset({A.CHIEF, A.MANAGER}),
    (S.AWAITING_CHIEF, S.CANNOT_BE_DONE): frozenset({A.CHIEF, A.MANAGER}),
    (S.AWAITING_MANAGER, S.CHECKED): frozenset({A.MANAGER}),
    (S.AWAITING_MANAGER, S.IN_PROGRESS): frozenset({A.MANAGER}),
    (S.AWAITING_MANAGER, S.REDIRECTED): frozenset({A.MANAGER}),
    (S.AWAITING_MANAGER, S.CANNOT_BE_DONE): frozenset({A.MANAGER}),
    # The contact centre checks the work, then tells the citizen (or sends it back to be put right).
    (S.CHECKED, S.RESOLVED): CONTACT_CENTRE,
    (S.CHECKED, S.IN_PROGRESS): CONTACT_CENTRE,
    # After resolution: closing, reopening (citizen within the window; quality on a non-conformity
    # decision at any time), or a quality decision to redirect.
    (S.RESOLVED, S.CLOSED): frozenset({A.SYSTEM, A.SUPERVISOR, A.QUALITY, A.ADMIN}),
    (S.RESOLVED, S.REOPENED): frozenset({A.CITIZEN, *CONTACT_CENTRE, A.QUALITY}),
    (S.RESOLVED, S.REDIRECTED): frozenset({A.QUALITY}),
    (S.CLOSED, S.REOPENED): frozenset({A.CITIZEN, *CONTACT_CENTRE, A.QUALITY}),
    (S.CLOSED, S.REDIRECTED): frozenset({A.QUALITY}),
    (S.CANNOT_BE_DONE, S.REOPENED): frozenset({A.QUALITY}),
}
# Manager approval is a step only for categories that ask for it; otherwise the chief's approval suffices.
NEEDS_MANAGER_APPROVAL = {(S.AWAITING_CHIEF, S.AWAITING_MANAGER): True, (S.AWAITING_CHIEF, S.CHECKED): False}
# Reopening within the window is the citizen's right; quality may reopen on a non-conformity decision at any time.
WINDOW_EXEMPT = frozenset({A.QUALITY})
SENT_BACK_FROM = frozenset({S.AWAITING_CHIEF, S.AWAITING_MANAGER, S.CHECKED})
APPROVAL_LEVEL = {S.AWAITING_CHIEF: ApprovalLevel.CHIEF, S.AWAITING_MANAGER: ApprovalLevel.MANAGER}
APPROVAL_OUTCOME = {
    S.AWAITING_MANAGER: ApprovalDecision.APPROVED,
    S.CHECKED: ApprovalDecision.APPROVED,
    S.IN_PROGRESS: ApprovalDecision.REJECTED,
}

STATUS_TR: dict[TicketStatus, str] = {
    S.RECORDED: "kaydedildi",
    S.ROUTED: "müdürlüğe iletildi",
    S.IN_PROGRESS: "işlemde",
    S.AWAITING_CHIEF: "şef onayında",
    S.AWAITING_MANAGER: "müdür onayında",
    S.CHECKED: "çağrı merkezi kontrolünde",
    S.RESOLVED: "çözüldü",
    S.CLOSED: "kapatıldı",
    S.REOPENED: "yeniden açıldı",
    S.REDIRECTED: "başka kuruma yönlendirildi",
    S.CANNOT_BE_DONE: "yapılamıyor",
    S.DUPLICATE: "mükerrer kayıt",
}


class TransitionError(Exception):
    """A refused change; ``str()`` is English for logs, ``message_tr`` is for Turkish screens and prompts."""

    def __init__(self, message: str, message_tr: str) -> None:
        super().__init__(message)
        self.message_tr = message_tr


@dataclass(frozen=True)
class Actor:
    name: str
    kind: ActorKind
    user: User | None = None


def resolve_actor(session: Session, name: str) -> Actor:
    """``system``, a staff member by username (their role), or otherwise the citizen."""
    if name == SYSTEM_ACTOR:
        return Actor(name, A.SYSTEM)
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        return Actor(name, A.CITIZEN)
    if not user.active:
        raise TransitionError(f"user {name!r} is not active", f"{name} kullanıcısı etkin değil.")
    return Actor(name, ActorKind(user.role.value), user)


def is_allowed(
    current: TicketStatus, target: TicketStatus, kind: ActorKind, *, requires_manager_approval: bool
) -> bool:
    """The table lookup alone (no reopen window, no required fields)."""
    roles = TRANSITIONS.get((current, target))
    if roles is None or kind not in roles:
        return False
    needed = NEEDS_MANAGER_APPROVAL.get((current, target))
    return needed is None or needed == requires_manager_approval


def allowed_targets(ticket: Ticket, kind: ActorKind) -> list[TicketStatus]:
    """Statuses ``kind`` may move the ticket to now, for building the buttons of a screen."""
    flag = bool(ticket.category.requires_manager_approval)
    return [t for t in TicketStatus if is_allowed(ticket.status, t, kind, requires_manager_approval=flag)]


def within_reopen_window(ticket: Ticket, now: datetime, window: timedelta = REOPEN_WINDOW) -> bool:
    return ticket.resolved_at is not None and now <= ticket.resolved_at + window


def transition(
    session: Session,
    ticket: Ticket,
    target: TicketStatus | str,
    *,
    actor: str,
    channel: ChangeChannel | str,
    note: str | None = None,
    now: datetime | None = None,
    institution: Institution | None = None,
    duplicate_of: Ticket | None = None,
    assignee: User | None = None,
    reopen_window: timedelta = REOPEN_WINDOW,
) -> TicketHistory:
    """Move ``ticket`` to ``target`` if the table, the fields and the window allow it; flush; return the history row.

    Required by target: REDIRECTED an ``institution`` and the reason in ``note``; CANNOT_BE_DONE the
    explanation in ``note``; DUPLICATE the original in ``duplicate_of``; sending back for rework a ``note``.
    """
    target = TicketStatus(target)
    channel = ChangeChannel(channel)
    now = aware(now)
    who = resolve_actor(session, actor)
    current = TicketStatus(ticket.status)
    _check_allowed(ticket, current, target, who)
    _check_fields(ticket, current, target, note=note, institution=institution, duplicate_of=duplicate_of)
    if target is S.REOPENED and who.kind not in WINDOW_EXEMPT and not within_reopen_window(ticket, now, reopen_window):
        raise TransitionError(
            f"ticket {ticket.number} can no longer be reopened (more than {reopen_window.days} days after resolution)",
            f"{ticket.number} numaralı başvuru çözümünden {reopen_window.days} gün geçtiği için yeniden açılamaz.",
        )
    _apply(session, ticket, current, target, who, note, now, institution, duplicate_of, assignee)
    ticket.status = target
    ticket.updated_at = now
    row = TicketHistory(
        ticket=ticket,
        from_status=current,
        to_status=target,
        actor=who.name,
        actor_user_id=who.user.id if who.user else None,
        channel=channel,
        note=note,
        created_at=now,
    )
    session.add(row)
    news.on_status(session, ticket, target, note, institution.name if institution is not None else "")
    session.flush()
    return row


def aware(now: datetime | None) -> datetime:
    """``now`` in UTC (the current time when None); naive times are a programming error."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _check_allowed(ticket: Ticket, current: TicketStatus, target: TicketStatus, who: Actor) -> None:
    if who.kind in DIRECTORATE_STAFF and (who.user is None or who.user.directorate_id != ticket.directorate_id):
        raise TransitionError(
            f"{who.name!r} is not staff of ticket {ticket.number}'s directorate",
            f"{ticket.number} numaralı başvuru sizin müdürlüğünüzde değil.",
        )
    if is_allowed(current, target, who.kind, requires_manager_approval=bool(ticket.category.requires_manager_approval)):
        return
    raise TransitionError(
        f"{who.kind} {who.name!r} may not move ticket {ticket.number} from {current} to {target}",
        f"{ticket.number} numaralı başvuru “{STATUS_TR[current]}” durumundan “{STATUS_TR[target]}” "
        f"durumuna bu kullanıcı tarafından alınamaz.",
    )


def _check_fields(
    ticket: Ticket,
    current: TicketStatus,
    target: TicketStatus,
    *,
    note: str | None,
    institution: Institution | None,
    duplicate_of: Ticket | None,
) -> None:
    has_note = bool(note and note.strip())
    if target is S.ROUTED and ticket.category.directorate_id is None:
        raise TransitionError(
            f"category {ticket.category.code} has no directorate to route to",
            "Bu kategori için sorumlu müdürlük tanımlanmamış.",
        )
    if target is S.REDIRECTED and (institution is None or not has_note):
        raise TransitionError(
            "a redirect needs the target institution and the reason",
            "Yönlendirme için hedef kurum ve gerekçe zorunludur.",
        )
    if target is S.CANNOT_BE_DONE and not has_note:
        raise TransitionError(
            "'cannot be done' needs an explanation for the citizen",
            "“Yapılamıyor” kararı için vatandaşa iletilecek açıklama zorunludur.",
        )
    if target is S.IN_PROGRESS and current in SENT_BACK_FROM and not has_note:
        raise TransitionError(
            "sending a ticket back needs a reason", "Başvuruyu geri göndermek için gerekçe zorunludur."
        )
    if target is S.DUPLICATE:
        _check_original(ticket, duplicate_of)


def _check_original(ticket: Ticket, original: Ticket | None) -> None:
    if original is None:
        raise TransitionError(
            "a duplicate needs the original ticket", "Mükerrer kayıt için asıl başvuru numarası zorunludur."
        )
    if _root(original).id == ticket.id:
        raise TransitionError(
            f"ticket {ticket.number} cannot be a duplicate of itself",
            f"{ticket.number} numaralı başvuru kendisinin mükerreri olamaz.",
        )


def _root(ticket: Ticket) -> Ticket:
    """The original a chain of duplicates points to."""
    seen = {ticket.id}
    while ticket.duplicate_of is not None and ticket.duplicate_of.id not in seen:
        ticket = ticket.duplicate_of
        seen.add(ticket.id)
    return ticket


def _apply(
    session: Session,
    ticket: Ticket,
    current: TicketStatus,
    target: TicketStatus,
    who: Actor,
    note: str | None,
    now: datetime,
    institution: Institution | None,
    duplicate_of: Ticket | None,
    assignee: User | None,
) -> None:
    """The side effects of an allowed move (fields, approval and redirect records)."""
    if target is S.ROUTED:
        ticket.directorate_id = ticket.category.directorate_id
    elif target is S.IN_PROGRESS:
        if assignee is not None:
            ticket.assignee = assignee
        elif ticket.assignee_id is None and who.kind is A.EXPERT:
            ticket.assignee = who.user
    elif target is S.RESOLVED:
        ticket.resolved_at = now
    elif target is S.CLOSED:
        ticket.closed_at = now
    elif target is S.REOPENED:
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
        ticket.resolved_at = None
        ticket.closed_at = None
    elif target is S.REDIRECTED:
        assert institution is not None and note is not None
        session.add(
            Redirect(ticket=ticket, institution=institution, reason=note.strip(), actor=who.name, created_at=now)
        )
    elif target is S.CANNOT_BE_DONE:
        ticket.public_answer = note
    elif target is S.DUPLICATE:
        assert duplicate_of is not None
        ticket.duplicate_of = _root(duplicate_of)
    if current in APPROVAL_LEVEL and target in APPROVAL_OUTCOME:
        session.add(
            Approval(
                ticket=ticket,
                level=APPROVAL_LEVEL[current],
                decision=APPROVAL_OUTCOME[target],
                actor=who.name,
                user_id=who.user.id if who.user else None,
                note=note,
                decided_at=now,
            )
        )


def approve(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    channel: ChangeChannel | str,
    note: str | None = None,
    now: datetime | None = None,
) -> TicketHistory:
    """The next approval step: chief to manager (if the category needs it) or to the contact centre's check."""
    current = TicketStatus(ticket.status)
    if current is S.AWAITING_CHIEF and ticket.category.requires_manager_approval:
        target = S.AWAITING_MANAGER
    elif current in APPROVAL_LEVEL:
        target = S.CHECKED
    else:
        raise TransitionError(
            f"ticket {ticket.number} is not awaiting approval ({current})",
            f"{ticket.number} numaralı başvuru onay beklemiyor ({STATUS_TR[current]}).",
        )
    return transition(session, ticket, target, actor=actor, channel=channel, note=note, now=now)


def submit_answer(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    channel: ChangeChannel | str,
    answer: str,
    now: datetime | None = None,
) -> TicketHistory:
    """The expert's answer for the citizen goes up for the chief's approval."""
    if not answer.strip():
        raise TransitionError("the answer for the citizen is empty", "Vatandaşa verilecek cevap boş olamaz.")
    history = transition(session, ticket, S.AWAITING_CHIEF, actor=actor, channel=channel, now=now)
    ticket.public_answer = answer.strip()
    session.flush()
    return history


def redirect(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    channel: ChangeChannel | str,
    institution: Institution | None,
    reason: str | None,
    now: datetime | None = None,
) -> TicketHistory:
    """Hand the ticket to another institution; the reason is what the citizen will be told."""
    return transition(
        session, ticket, S.REDIRECTED, actor=actor, channel=channel, note=reason, institution=institution, now=now
    )


def cannot_be_done(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    channel: ChangeChannel | str,
    explanation: str | None,
    now: datetime | None = None,
) -> TicketHistory:
    return transition(session, ticket, S.CANNOT_BE_DONE, actor=actor, channel=channel, note=explanation, now=now)


def mark_duplicate(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    channel: ChangeChannel | str,
    original: Ticket | None,
    now: datetime | None = None,
) -> TicketHistory:
    return transition(session, ticket, S.DUPLICATE, actor=actor, channel=channel, duplicate_of=original, now=now)


def reopen(
    session: Session,
    ticket: Ticket,
    actor: str,
    channel: str,
    reason: str | None = None,
    now: datetime | None = None,
    window: timedelta = REOPEN_WINDOW,
) -> None:
    """The citizen (by phone, the tracking link or an operator) is not satisfied: back to the directorate.

    The ticket goes to ``reopened`` (the directorate's inbox, keeping its assignee) and ``reopen_count`` grows.
    """
    transition(session, ticket, S.REOPENED, actor=actor, channel=channel, note=reason, now=now, reopen_window=window)
