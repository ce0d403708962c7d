"""The ticket state machine: the full status × target × actor matrix, history, reopen window, required fields."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alo185.core import db
from alo185.org.models import Directorate, Institution, InstitutionKind, Role, User
from alo185.tickets import workflow
from alo185.tickets.models import (
    Approval,
    ApprovalDecision,
    Category,
    Redirect,
    SlaUnit,
    Ticket,
    TicketHistory,
    TicketStatus,
)
from alo185.tickets.workflow import ActorKind, TransitionError
from tests.conftest import new_database

S = TicketStatus
NOW = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)

# The specification, written out independently of the implementation's table:
# "from > to: who may" ("+mgr" / "-mgr": only when the category does / does not need manager approval).
SPEC = """
recorded > routed: system operator supervisor admin
recorded > redirected: system operator supervisor
recorded > duplicate: operator supervisor
routed > in_progress: expert chief manager
routed > redirected: expert chief manager operator supervisor
routed > duplicate: expert chief manager operator supervisor
routed > cannot_be_done: chief manager
reopened > in_progress: expert chief manager
reopened > redirected: expert chief manager operator supervisor
reopened > duplicate: expert chief manager operator supervisor
reopened > cannot_be_done: chief manager
in_progress > awaiting_chief: expert chief
in_progress > redirected: expert chief manager
in_progress > duplicate: expert chief manager
in_progress > cannot_be_done: chief manager
awaiting_chief > awaiting_manager +mgr: chief
awaiting_chief > checked -mgr: chief
awaiting_chief > in_progress: chief
awaiting_chief > redirected: chief manager
awaiting_chief > cannot_be_done: chief manager
awaiting_manager > checked: manager
awaiting_manager > in_progress: manager
awaiting_manager > redirected: manager
awaiting_manager > cannot_be_done: manager
checked > resolved: operator supervisor
checked > in_progress: operator supervisor
resolved > closed: system supervisor quality admin
resolved > reopened: citizen operator supervisor quality
resolved > redirected: quality
closed > reopened: citizen operator supervisor quality
closed > redirected: quality
cannot_be_done > reopened: quality
"""


def _parse_spec() -> set[tuple[S, S, ActorKind, bool]]:
    allowed: set[tuple[S, S, ActorKind, bool]] = set()
    for line in SPEC.strip().splitlines():
        move, who = line.split(":")
        source, target = (part.strip() for part in move.split(">"))
        flags = [True, False]
        if target.endswith("+mgr"):
            flags = [True]
        elif target.endswith("-mgr"):
            flags = [False]
        target = target.split()[0]
        for kind, flag in itertools.product(who.split(), flags):
            allowed.add((S(source), S(target), ActorKind(kind), flag))
    return allowed


ALLOWED = _parse_spec()
MATRIX = list(itertools.product(S, S, ActorKind, [False, True]))


@pytest.mark.parametrize(("source", "target", "kind", "manager_flag"), MATRIX)
def test_transition_table_matches_the_spec(source: S, target: S, kind: ActorKind, manager_flag: bool) -> None:
    expected = (source, target, kind, manager_flag) in ALLOWED
    assert workflow.is_allowed(source, target, kind, requires_manager_approval=manager_flag) is expected


# --- against both databases -------------------------------------------------------------------


@dataclass
class World:
    """Organisation, two categories (with and without manager approval) and one user per staff role."""

    directorate_id: int
    plain_category_id: int
    manager_category_id: int
    institution_id: int


def _build_world(session: Session) -> World:
    municipality = Institution(code="bb", name="Büyükşehir Belediyesi", kind=InstitutionKind.METROPOLITAN)
    edas = Institution(code="edas", name="Toroslar EDAŞ", kind=InstitutionKind.EXTERNAL)
    directorate = Directorate(code="fen", name="Fen İşleri Müdürlüğü", institution=municipality)
    plain = Category(
        code="yol-cukur", name="Yolda çukur", directorate=directorate, sla_unit=SlaUnit.HOURS, sla_value=48
    )
    needs_manager = Category(
        code="asfalt",
        name="Asfalt talebi",
        directorate=directorate,
        sla_unit=SlaUnit.WORKING_DAYS,
        sla_value=15,
        requires_manager_approval=True,
    )
    session.add_all([municipality, edas, directorate, plain, needs_manager])
    manager = _user(session, "mudur", Role.MANAGER, directorate)
    chief = _user(session, "sef", Role.CHIEF, directorate, reports_to=manager)
    _user(session, "uzman", Role.EXPERT, directorate, reports_to=chief)
    for role in (Role.OPERATOR, Role.SUPERVISOR, Role.QUALITY, Role.ADMIN):
        _user(session, role.value, role, None)
    session.flush()
    return World(directorate.id, plain.id, needs_manager.id, edas.id)


def _user(
    session: Session, username: str, role: Role, directorate: Directorate | None, reports_to: User | None = None
) -> User:
    user = User(
        username=username, full_name=username.title(), role=role, directorate=directorate, reports_to=reports_to
    )
    session.add(user)
    return user


ACTOR_NAME = {
    ActorKind.EXPERT: "uzman",
    ActorKind.CHIEF: "sef",
    ActorKind.MANAGER: "mudur",
    ActorKind.OPERATOR: "operator",
    ActorKind.SUPERVISOR: "supervisor",
    ActorKind.QUALITY: "quality",
    ActorKind.ADMIN: "admin",
    ActorKind.SYSTEM: "system",
    ActorKind.CITIZEN: "citizen:+905321234567",
}


def _ticket(session: Session, world: World, status: S, *, manager_flag: bool = False, **fields: object) -> Ticket:
    values: dict[str, object] = {
        "number": uuid.uuid4().hex[:12],
        "type": "istek",
        "channel": "phone",
        "status": status,
        "category_id": world.manager_category_id if manager_flag else world.plain_category_id,
        "directorate_id": world.directorate_id,
        "description": "Sokağımızdaki çukur",
        "reopen_count": 0,
        "created_at": NOW - timedelta(days=3),
        "resolved_at": NOW - timedelta(days=1) if status in (S.RESOLVED, S.CLOSED) else None,
    }
    ticket = Ticket(**(values | fields))
    session.add(ticket)
    session.flush()
    return ticket


def _attempt(session: Session, world: World, ticket: Ticket, target: S, actor: str) -> TicketHistory:
    """Try the move with every field it could need filled in, so only the table decides."""
    original = _ticket(session, world, S.ROUTED) if target is S.DUPLICATE else None
    return workflow.transition(
        session,
        ticket,
        target,
        actor=actor,
        channel="admin",
        note="Gerekçe: ekip yönlendirildi.",
        now=NOW,
        institution=session.get(Institution, world.institution_id),
        duplicate_of=original,
    )


def _snapshot(session: Session, ticket: Ticket) -> tuple[Any, ...]:
    history = session.scalar(
        select(func.count()).select_from(TicketHistory).where(TicketHistory.ticket_id == ticket.id)
    )
    return (
        ticket.status,
        ticket.reopen_count,
        ticket.assignee_id,
        ticket.resolved_at,
        ticket.closed_at,
        ticket.public_answer,
        ticket.duplicate_of_id,
        ticket.directorate_id,
        history,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    """One migrated database per kind for the whole matrix, with the world committed once."""
    url = new_database(request, tmp_path_factory.mktemp("matrix"))
    with db.session_factory(url)() as session:
        world = _build_world(session)
        session.commit()
    yield url, world


@pytest.mark.parametrize("manager_flag", [False, True], ids=["chief-only", "needs-manager"])
@pytest.mark.parametrize("source", list(S), ids=str)
def test_every_move_from_a_status_in_the_database(world_db: tuple[str, World], source: S, manager_flag: bool) -> None:
    """Allowed moves change the status and write history; forbidden ones raise and change nothing."""
    url, world = world_db
    with db.session_factory(url)() as session:
        for target, kind in itertools.product(S, ActorKind):
            ticket = _ticket(session, world, source, manager_flag=manager_flag)
            before = _snapshot(session, ticket)
            if (source, target, kind, manager_flag) in ALLOWED:
                row = _attempt(session, world, ticket, target, ACTOR_NAME[kind])
                assert ticket.status == target
                assert (row.from_status, row.to_status, row.actor, row.created_at) == (
                    source,
                    target,
                    ACTOR_NAME[kind],
                    NOW,
                )
                assert _snapshot(session, ticket)[-1] == before[-1] + 1
            else:
                with pytest.raises(TransitionError) as raised:
                    _attempt(session, world, ticket, target, ACTOR_NAME[kind])
                assert raised.value.message_tr
                assert _snapshot(session, ticket) == before
                session.expire(ticket)
                assert _snapshot(session, ticket) == before
        session.rollback()


# --- single behaviours on a fresh database ----------------------------------------------------


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with db.session_factory(database_url)() as session:
        yield session


@pytest.fixture
def world(session: Session) -> World:
    world = _build_world(session)
    session.commit()
    return world


def test_the_long_way_with_manager_approval_writes_history_and_approvals(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.RECORDED, manager_flag=True, directorate_id=None)
    steps = [
        (S.ROUTED, "system"),
        (S.IN_PROGRESS, "uzman"),
        (S.AWAITING_CHIEF, "uzman"),
        (S.AWAITING_MANAGER, "sef"),
        (S.CHECKED, "mudur"),
        (S.RESOLVED, "operator"),
        (S.CLOSED, "system"),
    ]
    for minutes, (target, actor) in enumerate(steps):
        workflow.transition(session, ticket, target, actor=actor, channel="admin", now=NOW + timedelta(minutes=minutes))
    session.commit()
    session.expire_all()
    history = session.scalars(
        select(TicketHistory).where(TicketHistory.ticket_id == ticket.id).order_by(TicketHistory.id)
    )
    assert [(h.to_status, h.actor, h.created_at) for h in history] == [
        (target, actor, NOW + timedelta(minutes=i)) for i, (target, actor) in enumerate(steps)
    ]
    assert ticket.directorate_id == world.directorate_id
    assert ticket.assignee is not None and ticket.assignee.username == "uzman"
    assert ticket.resolved_at == NOW + timedelta(minutes=5)
    assert ticket.closed_at == NOW + timedelta(minutes=6)
    approvals = session.scalars(select(Approval).where(Approval.ticket_id == ticket.id).order_by(Approval.id)).all()
    assert [(a.level, a.decision, a.actor) for a in approvals] == [
        ("chief", ApprovalDecision.APPROVED, "sef"),
        ("manager", ApprovalDecision.APPROVED, "mudur"),
    ]


def test_approve_skips_the_manager_when_the_category_does_not_need_one(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.IN_PROGRESS)
    workflow.submit_answer(session, ticket, actor="uzman", channel="admin", answer="Çukur kapatıldı.", now=NOW)
    workflow.approve(session, ticket, actor="sef", channel="admin", now=NOW)
    assert ticket.status == S.CHECKED
    assert ticket.public_answer == "Çukur kapatıldı."


def test_sending_back_needs_a_reason_and_is_a_rejection(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.AWAITING_CHIEF)
    with pytest.raises(TransitionError, match="reason"):
        workflow.transition(session, ticket, S.IN_PROGRESS, actor="sef", channel="admin", now=NOW)
    assert ticket.status == S.AWAITING_CHIEF
    workflow.transition(session, ticket, S.IN_PROGRESS, actor="sef", channel="admin", note="Fotoğraf ekleyin", now=NOW)
    approval = session.scalar(select(Approval).where(Approval.ticket_id == ticket.id))
    assert approval is not None and approval.decision == ApprovalDecision.REJECTED


@pytest.mark.parametrize("days_after", [0, 29, 30])
def test_citizen_reopens_inside_the_window(session: Session, world: World, days_after: int) -> None:
    ticket = _ticket(session, world, S.RESOLVED, assignee_id=None)
    resolved = ticket.resolved_at
    assert resolved is not None
    workflow.reopen(
        session,
        ticket,
        "citizen:+905321234567",
        "tracking_link",
        "Çukur hâlâ orada",
        resolved + timedelta(days=days_after),
    )
    assert (ticket.status, ticket.reopen_count, ticket.resolved_at) == (S.REOPENED, 1, None)
    row = ticket.history[-1]
    assert (row.from_status, row.to_status, row.channel, row.note) == (
        S.RESOLVED,
        S.REOPENED,
        "tracking_link",
        "Çukur hâlâ orada",
    )


def test_reopen_outside_the_window_is_refused_and_changes_nothing(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.CLOSED)
    assert ticket.resolved_at is not None
    late = ticket.resolved_at + timedelta(days=30, seconds=1)
    before = _snapshot(session, ticket)
    for actor in ("citizen", "operator"):
        with pytest.raises(TransitionError) as raised:
            workflow.reopen(session, ticket, actor, "phone", now=late)
        assert "30 gün" in raised.value.message_tr
    assert _snapshot(session, ticket) == before


def test_quality_reopens_after_the_window_and_reopen_count_adds_up(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.RESOLVED)
    workflow.reopen(
        session, ticket, "quality", "admin", "Uygunsuzluk kararı: yeniden açılacak", NOW + timedelta(days=90)
    )
    for step, actor in (
        (S.IN_PROGRESS, "uzman"),
        (S.AWAITING_CHIEF, "uzman"),
        (S.CHECKED, "sef"),
        (S.RESOLVED, "operator"),
    ):
        workflow.transition(session, ticket, step, actor=actor, channel="admin", now=NOW + timedelta(days=91))
    workflow.reopen(session, ticket, "operator", "phone", now=NOW + timedelta(days=92))
    assert ticket.reopen_count == 2
    assert ticket.assignee is not None and ticket.assignee.username == "uzman"


def test_redirect_needs_institution_and_reason(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.ROUTED)
    edas = session.get(Institution, world.institution_id)
    for institution, reason in ((None, "Elektrik arızası"), (edas, None), (edas, "   ")):
        with pytest.raises(TransitionError, match="institution and the reason"):
            workflow.redirect(session, ticket, actor="uzman", channel="admin", institution=institution, reason=reason)
    assert ticket.status == S.ROUTED
    workflow.redirect(
        session, ticket, actor="uzman", channel="admin", institution=edas, reason="Elektrik arızası", now=NOW
    )
    redirect = session.scalar(select(Redirect).where(Redirect.ticket_id == ticket.id))
    assert redirect is not None
    assert (redirect.institution.code, redirect.reason, redirect.citizen_notified_at) == (
        "edas",
        "Elektrik arızası",
        None,
    )


def test_cannot_be_done_needs_an_explanation_that_becomes_the_answer(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.IN_PROGRESS)
    with pytest.raises(TransitionError) as raised:
        workflow.cannot_be_done(session, ticket, actor="sef", channel="admin", explanation="")
    assert "açıklama zorunludur" in raised.value.message_tr
    workflow.cannot_be_done(session, ticket, actor="sef", channel="admin", explanation="Alan özel mülk.", now=NOW)
    assert (ticket.status, ticket.public_answer) == (S.CANNOT_BE_DONE, "Alan özel mülk.")


def test_duplicate_needs_an_original_and_points_to_the_root(session: Session, world: World) -> None:
    original = _ticket(session, world, S.ROUTED)
    first_copy = _ticket(session, world, S.ROUTED)
    second_copy = _ticket(session, world, S.ROUTED)
    with pytest.raises(TransitionError, match="original"):
        workflow.mark_duplicate(session, first_copy, actor="operator", channel="admin", original=None)
    with pytest.raises(TransitionError, match="itself"):
        workflow.mark_duplicate(session, first_copy, actor="operator", channel="admin", original=first_copy)
    workflow.mark_duplicate(session, first_copy, actor="operator", channel="admin", original=original, now=NOW)
    workflow.mark_duplicate(session, second_copy, actor="operator", channel="admin", original=first_copy, now=NOW)
    assert first_copy.duplicate_of_id == original.id
    assert second_copy.duplicate_of_id == original.id


def test_history_rows_are_append_only(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.ROUTED)
    row = workflow.transition(session, ticket, S.IN_PROGRESS, actor="uzman", channel="admin", now=NOW)
    assert row.actor_user_id is not None
    row.note = "değiştirildi"
    with pytest.raises(ValueError, match="append-only"):
        session.flush()
    session.rollback()


def test_inactive_staff_cannot_act(session: Session, world: World) -> None:
    session.scalars(select(User).where(User.username == "uzman")).one().active = False
    ticket = _ticket(session, world, S.ROUTED)
    with pytest.raises(TransitionError, match="not active"):
        workflow.transition(session, ticket, S.IN_PROGRESS, actor="uzman", channel="admin", now=NOW)


def test_allowed_targets_offer_the_buttons_for_a_role(session: Session, world: World) -> None:
    ticket = _ticket(session, world, S.AWAITING_CHIEF, manager_flag=True)
    assert workflow.allowed_targets(ticket, ActorKind.CHIEF) == [
        S.IN_PROGRESS,
        S.AWAITING_MANAGER,
        S.REDIRECTED,
        S.CANNOT_BE_DONE,
    ]
    assert workflow.allowed_targets(ticket, ActorKind.CITIZEN) == []


def test_directorate_staff_act_only_on_their_directorate(session: Session, world: World) -> None:
    own = session.get(Directorate, world.directorate_id)
    assert own is not None
    other = Directorate(code="park", name="Park ve Bahçeler", institution=own.institution)
    _user(session, "park-uzman", Role.EXPERT, other)
    _user(session, "yersiz-uzman", Role.EXPERT, None)
    ticket = _ticket(session, world, S.ROUTED)
    for outsider in ("park-uzman", "yersiz-uzman"):
        with pytest.raises(TransitionError, match="directorate") as refused:
            workflow.transition(session, ticket, S.IN_PROGRESS, actor=outsider, channel="admin", now=NOW)
        assert "müdürlüğünüzde değil" in refused.value.message_tr
    assert ticket.status is S.ROUTED
    workflow.transition(session, ticket, S.IN_PROGRESS, actor="uzman", channel="admin", now=NOW)
    assert ticket.status is S.IN_PROGRESS
