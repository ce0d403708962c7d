"""The non-conforming service procedure: records, decisions and DİFs on both databases, and every refusal."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from alo185.audit.models import AuditLog
from alo185.core import db
from alo185.org.models import Directorate, Institution, Role, User
from alo185.quality import corrective, nonconformity
from alo185.quality.corrective import StepPlan
from alo185.quality.models import (
    CorrectiveAction,
    CorrectiveActionEvidence,
    CorrectiveActionStatus,
    CorrectiveActionStep,
    Nonconformity,
    NonconformityDecision,
)
from alo185.quality.procedure import KEEP_YEARS, QualityError
from alo185.sms.models import SmsMessage
from alo185.tickets.models import Citizen, Redirect, Ticket, TicketHistory, TicketStatus
from tests.unit.test_tickets_workflow import NOW, World, _build_world, _ticket, _user

S = TicketStatus
D = CorrectiveActionStatus
REOPEN = NonconformityDecision.REOPEN
REDIRECT = NonconformityDecision.REDIRECT
LATER = NOW + timedelta(days=10)
PHOTO = b"\x89PNG\r\n\x1a\n fotograf"


@dataclass
class Org:
    """The workflow tests' world (directorate "fen") plus a second directorate and a citizen who takes texts."""

    world: World
    park_id: int
    citizen_id: int


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with db.session_factory(database_url)() as session:
        yield session


@pytest.fixture
def org(session: Session) -> Org:
    world = _build_world(session)
    fen = session.get(Directorate, world.directorate_id)
    assert fen is not None
    park = Directorate(code="park", name="Park ve Bahçeler Müdürlüğü", institution_id=fen.institution_id)
    session.add(park)
    _user(session, "park_mudur", Role.MANAGER, park)
    _user(session, "park_uzman", Role.EXPERT, park)
    _user(session, "eski", Role.EXPERT, fen).active = False
    citizen = Citizen(phone="+905321234567", full_name="Ayşe Yılmaz")
    session.add(citizen)
    session.commit()
    return Org(world, park.id, citizen.id)


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


# --- helpers ----------------------------------------------------------------------------------


def _recorded(session: Session, org: Org, status: S = S.RESOLVED, **fields: Any) -> Nonconformity:
    ticket = _ticket(session, org.world, status, citizen_id=org.citizen_id, **fields)
    return nonconformity.record_nonconformity(
        session, ticket, finding="Çukur kapatılmadan çözüldü denmiş.", actor="operator", now=NOW
    )


def _dif(session: Session, org: Org, evidence_dir: Path, until: D) -> CorrectiveAction:
    """A DİF of directorate "fen" taken through the procedure until it reaches ``until``."""
    nc = _recorded(session, org)
    ca = corrective.open_corrective_action(session, nc, problem="Saha kontrolü yapılmıyor.", actor="quality", now=NOW)
    stages: list[Callable[[], None]] = [
        lambda: corrective.plan(
            session,
            ca,
            plan="Saha denetimi ve ekip eğitimi",
            steps=[StepPlan("Sahayı kontrol et", "uzman", NOW + timedelta(days=7)), StepPlan("Ekibe eğitim ver")],
            actor="mudur",
            now=NOW,
        ),
        lambda: _work_done(session, ca, evidence_dir),
        lambda: corrective.approve(session, ca, actor="mudur", now=NOW),
        lambda: corrective.close(session, ca, actor="quality", note="Etkinlik doğrulandı.", now=NOW),
    ]
    for stage in stages:
        if ca.status == until:
            break
        stage()
    assert ca.status == until
    return ca


def _work_done(session: Session, ca: CorrectiveAction, evidence_dir: Path) -> None:
    for step in ca.steps:
        if step.done_at is None:
            corrective.complete_step(session, step, actor="uzman", now=NOW)
    corrective.add_evidence(
        session, ca, file_name="saha.png", data=PHOTO + str(ca.id).encode(), actor="uzman", evidence_dir=evidence_dir
    )
    corrective.submit(session, ca, actor="uzman", now=NOW)


COUNTED = (
    Nonconformity,
    CorrectiveAction,
    CorrectiveActionStep,
    CorrectiveActionEvidence,
    AuditLog,
    TicketHistory,
    Redirect,
    SmsMessage,
)


def _snapshot(session: Session) -> tuple[object, ...]:
    """Row counts and the fields the procedure changes, read with SQL (pending changes are flushed first)."""
    counts = tuple(session.scalar(select(func.count()).select_from(model)) for model in COUNTED)
    rows = (
        select(Ticket.id, Ticket.status, Ticket.reopen_count),
        select(Nonconformity.id, Nonconformity.decision, Nonconformity.decided_by, Nonconformity.decision_note),
        select(
            CorrectiveAction.id, CorrectiveAction.status, CorrectiveAction.action_plan, CorrectiveAction.approved_by
        ),
        select(CorrectiveActionStep.id, CorrectiveActionStep.done_at, CorrectiveActionStep.description),
    )
    return counts, *(tuple(session.execute(query.order_by(query.selected_columns[0]))) for query in rows)


def _refused(session: Session, action: Callable[..., object], match: str) -> QualityError:
    """``action`` is refused with a Turkish message and leaves the database as it was.

    ``Callable[...]``: mypy cannot infer a lambda that binds a loop variable as a default against ``[]``."""
    before = _snapshot(session)
    with pytest.raises(QualityError, match=match) as raised:
        action()
    assert raised.value.message_tr
    assert _snapshot(session) == before
    return raised.value


def _files(directory: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()) if directory.exists() else []
    )


def _audit(session: Session) -> list[tuple[str, str, str, str | None]]:
    query = select(AuditLog.action, AuditLog.actor, AuditLog.entity, AuditLog.entity_id).order_by(AuditLog.id)
    return [(action, actor, entity, entity_id) for action, actor, entity, entity_id in session.execute(query)]


# --- the procedure end to end -----------------------------------------------------------------


def test_the_whole_procedure_from_finding_to_closure(session: Session, org: Org, evidence_dir: Path) -> None:
    ticket = _ticket(session, org.world, S.RESOLVED)
    nc = nonconformity.record_nonconformity(session, ticket, finding="  Çukur hâlâ açık.  ", actor="operator", now=NOW)
    assert (nc.finding, nc.recorded_by, nc.directorate_id, nc.created_at) == (
        "Çukur hâlâ açık.",
        "operator",
        org.world.directorate_id,
        NOW,
    )
    nonconformity.decide(session, nc, "reopen", actor="quality", note="Ekip yeniden gönderilecek.", now=LATER)
    assert (nc.decision, nc.decision_note, nc.decided_by, nc.decided_at) == (
        REOPEN,
        "Ekip yeniden gönderilecek.",
        "quality",
        LATER,
    )
    assert (ticket.status, ticket.reopen_count) == (S.REOPENED, 1)
    assert (ticket.history[-1].actor, ticket.history[-1].channel, ticket.history[-1].note) == (
        "quality",
        "admin",
        "Ekip yeniden gönderilecek.",
    )

    ca = corrective.open_corrective_action(session, nc, problem="Saha kontrolü yok.", actor="quality", now=LATER)
    assert (ca.status, ca.directorate_id, ca.opened_by) == (D.OPEN, org.world.directorate_id, "quality")
    due = LATER + timedelta(days=14)
    steps = [StepPlan("Sahayı denetle", "uzman", due - timedelta(days=7)), StepPlan("Eğitim ver", "sef", due)]
    corrective.plan(session, ca, plan="Denetim ve eğitim", steps=steps, actor="mudur", now=LATER)
    assert (ca.status, ca.action_plan, ca.planned_by, ca.due_at) == (D.PLANNED, "Denetim ve eğitim", "mudur", due)
    assert [(s.description, s.assignee.username if s.assignee else None) for s in ca.steps] == [
        ("Sahayı denetle", "uzman"),
        ("Eğitim ver", "sef"),
    ]
    first, second = ca.steps
    corrective.complete_step(session, first, actor="uzman", note=" Denetlendi ", now=LATER)
    corrective.complete_step(session, second, actor="sef", now=LATER)
    assert (first.done_by, first.done_at, first.note, second.note) == ("uzman", LATER, "Denetlendi", None)

    pdf = b"%PDF-1.4 tutanak"
    evidence = corrective.add_evidence(
        session, ca, file_name="tutanak.pdf", data=pdf, actor="uzman", evidence_dir=evidence_dir, step=first, now=LATER
    )
    digest = hashlib.sha256(pdf).hexdigest()
    stored = f"2026/04/{ca.id}-{digest[:12]}-tutanak.pdf"
    assert (evidence.stored_as, evidence.sha256, evidence.size, evidence.step_id) == (stored, digest, 16, first.id)
    assert (evidence_dir / stored).read_bytes() == pdf
    assert _files(evidence_dir) == [stored]  # no temporary file left behind

    corrective.submit(session, ca, actor="sef", now=LATER)
    assert ca.status == D.DONE
    assert corrective.open_items(session, None) == [ca]
    corrective.approve(session, ca, actor="mudur", now=LATER)
    assert (ca.status, ca.approved_by, ca.approved_at) == (D.APPROVED, "mudur", LATER)
    corrective.close(session, ca, actor="quality", note="Etkin bulundu.", now=LATER)
    session.commit()
    session.expire_all()

    assert (ca.status, ca.closed_by, ca.closed_at, ca.closure_note) == (D.CLOSED, "quality", LATER, "Etkin bulundu.")
    assert corrective.open_items(session, None) == []
    nc_id, ca_id = str(nc.id), str(ca.id)
    assert _audit(session) == [
        ("nc.record", "operator", "nonconformity", nc_id),
        ("nc.decide", "quality", "nonconformity", nc_id),
        ("dif.open", "quality", "corrective_action", ca_id),
        ("dif.plan", "mudur", "corrective_action", ca_id),
        ("dif.step_done", "uzman", "corrective_action", ca_id),
        ("dif.step_done", "sef", "corrective_action", ca_id),
        ("dif.evidence", "uzman", "corrective_action", ca_id),
        ("dif.submit", "sef", "corrective_action", ca_id),
        ("dif.approve", "mudur", "corrective_action", ca_id),
        ("dif.close", "quality", "corrective_action", ca_id),
    ]
    times = session.scalars(select(AuditLog.at).order_by(AuditLog.id)).all()
    assert times == [NOW, *[LATER] * 9]
    details = session.scalars(select(AuditLog.detail).order_by(AuditLog.id)).all()
    assert details[1] == f"reopen ticket {ticket.number}"
    assert details[6] == f"{stored} (16 bytes)"


def test_decide_redirect_hands_the_ticket_on_and_texts_the_citizen(session: Session, org: Org) -> None:
    nc = _recorded(session, org, S.CLOSED)
    edas = session.get(Institution, org.world.institution_id)
    nonconformity.decide(
        session,
        nc,
        REDIRECT,
        actor="quality",
        note="Arıza elektrik dağıtım şirketine ait.",
        institution=edas,
        now=LATER,
    )
    session.commit()
    assert nc.ticket is not None and nc.ticket.status == S.REDIRECTED
    assert (nc.decision, nc.redirect_institution_id, nc.decided_at) == (REDIRECT, org.world.institution_id, LATER)
    redirect = session.scalars(select(Redirect).where(Redirect.ticket_id == nc.ticket_id)).one()
    assert (redirect.institution_id, redirect.reason, redirect.actor) == (
        org.world.institution_id,
        "Arıza elektrik dağıtım şirketine ait.",
        "quality",
    )
    sms = session.scalars(select(SmsMessage).where(SmsMessage.ticket_id == nc.ticket_id)).one()
    assert (sms.template, sms.phone, sms.params["institution"]) == ("redirected", "+905321234567", "Toroslar EDAŞ")
    assert _audit(session)[-1] == ("nc.decide", "quality", "nonconformity", str(nc.id))


def test_rejected_work_goes_back_and_may_be_replanned(session: Session, org: Org, evidence_dir: Path) -> None:
    """Re-plan keeps steps done or evidenced and replaces the other open ones."""
    ca = _dif(session, org, evidence_dir, D.DONE)
    _refused(session, lambda: corrective.reject(session, ca, actor="mudur", note=" "), "reason for the rejection")
    corrective.reject(session, ca, actor="mudur", note="Fotoğraf yetersiz.", now=LATER)
    assert ca.status == D.PLANNED
    assert all(step.done_at is not None for step in ca.steps)  # steps stay as they were

    corrective.plan(
        session, ca, plan="Ek denetim", steps=[StepPlan("Yeni fotoğraf çek"), StepPlan("Rapor yaz")], actor="mudur"
    )
    evidenced, unused = ca.steps[2], ca.steps[3]
    corrective.add_evidence(
        session, ca, file_name="yeni.jpg", data=b"jpeg", actor="uzman", evidence_dir=evidence_dir, step=evidenced
    )
    corrective.plan(
        session,
        ca,
        plan="Ek denetim (revize)",
        steps=[StepPlan("Muhtarla görüş", "sef")],
        actor="mudur",
    )
    session.flush()
    assert [step.description for step in ca.steps] == [
        "Sahayı kontrol et",
        "Ekibe eğitim ver",
        "Yeni fotoğraf çek",
        "Muhtarla görüş",
    ]
    assert session.get(CorrectiveActionStep, unused.id) is None
    assert session.scalars(select(AuditLog.detail).order_by(AuditLog.id.desc()).limit(1)).one() == (
        "1 steps, re-plan replacing 1 open steps"
    )
    _refused(session, lambda: corrective.submit(session, ca, actor="uzman"), "not done")
    for step in ca.steps[2:]:
        corrective.complete_step(session, step, actor="sef", now=LATER)
    corrective.submit(session, ca, actor="uzman", now=LATER)
    corrective.approve(session, ca, actor="mudur", now=LATER)
    assert ca.status == D.APPROVED
    assert [action for action, *_ in _audit(session)].count("dif.reject") == 1


def test_open_items_are_unclosed_difs_oldest_first(session: Session, org: Org, evidence_dir: Path) -> None:
    closed = _dif(session, org, evidence_dir, D.CLOSED)
    older = _dif(session, org, evidence_dir, D.APPROVED)
    newer = _dif(session, org, evidence_dir, D.OPEN)
    older.created_at = NOW - timedelta(days=1)
    park_nc = _recorded(session, org, directorate_id=org.park_id)
    park = corrective.open_corrective_action(session, park_nc, problem="Budama yapılmamış.", actor="quality", now=NOW)
    session.flush()
    assert corrective.open_items(session, org.world.directorate_id) == [older, newer]
    assert corrective.open_items(session, org.park_id) == [park]
    assert corrective.open_items(session, None) == [older, newer, park]
    assert closed not in corrective.open_items(session, None)


def test_keep_years_is_the_procedures_archive_period() -> None:
    assert KEEP_YEARS == 20


# --- who may do what --------------------------------------------------------------------------


def test_only_the_contact_centre_and_quality_record(session: Session, org: Org) -> None:
    ticket = _ticket(session, org.world, S.RESOLVED)
    for actor in ("uzman", "sef", "mudur", "admin", "park_mudur", "eski", "yok", "citizen"):
        _refused(
            session,
            lambda actor=actor: nonconformity.record_nonconformity(session, ticket, finding="Bulgu", actor=actor),
            "staff member|permission",
        )
    for actor in ("operator", "supervisor", "quality"):
        recorded = nonconformity.record_nonconformity(
            session, _ticket(session, org.world, S.CLOSED), finding="Bulgu", actor=actor
        )
        assert recorded.recorded_by == actor


def test_only_quality_decides(session: Session, org: Org) -> None:
    nc = _recorded(session, org)
    for actor in ("operator", "supervisor", "mudur", "admin", "yok"):
        _refused(
            session,
            lambda actor=actor: nonconformity.decide(session, nc, REOPEN, actor=actor, note="Yeniden açılsın"),
            "staff member|permission",
        )


def test_only_quality_opens_a_dif(session: Session, org: Org) -> None:
    nc = _recorded(session, org)
    for actor in ("operator", "supervisor", "mudur", "uzman", "admin"):
        _refused(
            session,
            lambda actor=actor: corrective.open_corrective_action(session, nc, problem="Sorun", actor=actor),
            "permission",
        )


def test_only_the_directorates_own_manager_plans(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.OPEN)
    for actor, match in [
        ("uzman", "permission"),
        ("sef", "permission"),
        ("quality", "permission"),
        ("park_mudur", "not staff of directorate"),
    ]:
        _refused(
            session,
            lambda actor=actor: corrective.plan(session, ca, plan="Plan", steps=[StepPlan("Adım")], actor=actor),
            match,
        )


def test_only_the_directorates_staff_carry_out_the_actions(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    step = ca.steps[0]
    for actor, match in (
        ("operator", "permission"),
        ("quality", "permission"),
        ("park_uzman", "not staff"),
        ("park_mudur", "not staff"),
        ("eski", "staff member"),
    ):
        _refused(session, lambda actor=actor: corrective.complete_step(session, step, actor=actor), match)
        _refused(
            session,
            lambda actor=actor: corrective.add_evidence(
                session, ca, file_name="a.pdf", data=b"x", actor=actor, evidence_dir=evidence_dir
            ),
            match,
        )
        _refused(session, lambda actor=actor: corrective.submit(session, ca, actor=actor), match)
    assert _files(evidence_dir) == []


def test_only_the_directorates_own_manager_approves_or_rejects(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.DONE)
    for actor, match in [
        ("sef", "permission"),
        ("uzman", "permission"),
        ("quality", "permission"),
        ("park_mudur", "not staff"),
    ]:
        _refused(session, lambda actor=actor: corrective.approve(session, ca, actor=actor), match)
        _refused(session, lambda actor=actor: corrective.reject(session, ca, actor=actor, note="Eksik"), match)


def test_only_quality_closes(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.APPROVED)
    for actor in ("supervisor", "mudur", "operator", "admin"):
        _refused(session, lambda actor=actor: corrective.close(session, ca, actor=actor, note="Tamam"), "permission")


# --- wrong state and missing text -------------------------------------------------------------


def test_only_resolved_or_closed_tickets_are_recorded(session: Session, org: Org) -> None:
    for status in (S.ROUTED, S.IN_PROGRESS, S.CHECKED, S.REOPENED, S.REDIRECTED, S.CANNOT_BE_DONE):
        ticket = _ticket(session, org.world, status)
        _refused(
            session,
            lambda ticket=ticket: nonconformity.record_nonconformity(
                session, ticket, finding="Bulgu", actor="operator"
            ),
            "not resolved or closed",
        )


def test_record_needs_a_finding_and_allows_one_undecided_record(session: Session, org: Org) -> None:
    ticket = _ticket(session, org.world, S.RESOLVED)
    for blank in ("", "   \n"):
        _refused(
            session,
            lambda blank=blank: nonconformity.record_nonconformity(session, ticket, finding=blank, actor="operator"),
            "finding",
        )
    nonconformity.record_nonconformity(session, ticket, finding="Bulgu", actor="operator")
    _refused(
        session,
        lambda: nonconformity.record_nonconformity(session, ticket, finding="Yine", actor="supervisor"),
        "undecided",
    )


def test_decide_refusals(session: Session, org: Org) -> None:
    nc = _recorded(session, org)
    edas = session.get(Institution, org.world.institution_id)
    _refused(session, lambda: nonconformity.decide(session, nc, REOPEN, actor="quality", note=" "), "decision note")
    _refused(
        session,
        lambda: nonconformity.decide(session, nc, REDIRECT, actor="quality", note="Başka kurum"),
        "target institution",
    )
    _refused(
        session,
        lambda: nonconformity.decide(session, nc, REOPEN, actor="quality", note="Aç", institution=edas),
        "only with a redirect",
    )
    nonconformity.decide(session, nc, REOPEN, actor="quality", note="Yeniden açılsın", now=NOW)
    error = _refused(
        session,
        lambda: nonconformity.decide(session, nc, REDIRECT, actor="quality", note="Yönlendir", institution=edas),
        "already decided",
    )
    assert "yeniden açma" in error.message_tr


def test_a_workflow_refusal_surfaces_and_changes_nothing(session: Session, org: Org) -> None:
    nc = _recorded(session, org)
    assert nc.ticket is not None
    nc.ticket.status = S.REDIRECTED  # moved on since the finding was recorded
    session.flush()
    error = _refused(
        session, lambda: nonconformity.decide(session, nc, REOPEN, actor="quality", note="Aç"), "may not move"
    )
    assert "yeniden açıldı" in error.message_tr
    assert nc.decision is None


def test_open_dif_refusals(session: Session, org: Org, evidence_dir: Path) -> None:
    nc = _recorded(session, org)
    _refused(session, lambda: corrective.open_corrective_action(session, nc, problem="", actor="quality"), "problem")
    corrective.open_corrective_action(session, nc, problem="Sorun", actor="quality")
    _refused(
        session,
        lambda: corrective.open_corrective_action(session, nc, problem="Sorun", actor="quality"),
        "unclosed DİF",
    )
    orphan = _recorded(session, org, directorate_id=None)
    _refused(
        session,
        lambda: corrective.open_corrective_action(session, orphan, problem="Sorun", actor="quality"),
        "no directorate",
    )
    # once the DİF is closed, a new one may follow
    done = _dif(session, org, evidence_dir, D.CLOSED).nonconformity
    assert done is not None
    corrective.open_corrective_action(session, done, problem="Tekrarladı", actor="quality")


def test_plan_refusals(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.OPEN)
    cases: list[tuple[str, list[StepPlan], str]] = [
        (" ", [StepPlan("Adım")], "action plan"),
        ("Plan", [], "at least one step"),
        ("Plan", [StepPlan("Adım"), StepPlan("  ")], "step description"),
        ("Plan", [StepPlan("Adım", "park_uzman")], "assignee refused: .*not staff"),
        ("Plan", [StepPlan("Adım", "eski")], "assignee refused: .*staff member"),
        ("Plan", [StepPlan("Adım", "operator")], "assignee refused: .*permission"),
        ("Plan", [StepPlan("Adım", "yok")], "assignee refused"),
    ]
    for text, steps, match in cases:
        _refused(
            session,
            lambda text=text, steps=steps: corrective.plan(session, ca, plan=text, steps=steps, actor="mudur"),
            match,
        )
    for status in (D.DONE, D.APPROVED):
        later = _dif(session, org, evidence_dir, status)
        _refused(
            session,
            lambda later=later: corrective.plan(session, later, plan="Plan", steps=[StepPlan("Adım")], actor="mudur"),
            "expected open or planned",
        )


def test_steps_are_done_once_and_only_while_planned(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    corrective.complete_step(session, ca.steps[0], actor="uzman")
    _refused(session, lambda: corrective.complete_step(session, ca.steps[0], actor="sef"), "already done")
    submitted = _dif(session, org, evidence_dir, D.DONE)
    submitted.steps[0].done_at = None  # even an open step cannot be worked on once submitted
    session.flush()
    _refused(session, lambda: corrective.complete_step(session, submitted.steps[0], actor="uzman"), "expected planned")


def test_submit_needs_every_step_done_and_evidence(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    corrective.complete_step(session, ca.steps[0], actor="uzman")
    _refused(session, lambda: corrective.submit(session, ca, actor="uzman"), "1 steps .* not done")
    corrective.complete_step(session, ca.steps[1], actor="uzman")
    _refused(session, lambda: corrective.submit(session, ca, actor="uzman"), "no evidence")
    opened = _dif(session, org, evidence_dir, D.OPEN)
    _refused(session, lambda: corrective.submit(session, opened, actor="uzman"), "expected planned")


def test_approve_and_close_come_in_order(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    _refused(session, lambda: corrective.approve(session, ca, actor="mudur"), "expected done")
    _refused(session, lambda: corrective.reject(session, ca, actor="mudur", note="Eksik"), "expected done")
    for status in (D.PLANNED, D.DONE):
        early = ca if status is D.PLANNED else _dif(session, org, evidence_dir, D.DONE)
        _refused(
            session,
            lambda early=early: corrective.close(session, early, actor="quality", note="Tamam"),
            "expected approved",
        )
    approved = _dif(session, org, evidence_dir, D.APPROVED)
    _refused(session, lambda: corrective.close(session, approved, actor="quality", note=" "), "closure note")
    _refused(session, lambda: corrective.approve(session, approved, actor="mudur"), "expected done")
    corrective.close(session, approved, actor="quality", note="Tamam")
    _refused(session, lambda: corrective.close(session, approved, actor="quality", note="Tekrar"), "expected approved")


# --- evidence files ---------------------------------------------------------------------------


def test_bad_evidence_is_refused_and_nothing_is_stored(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    bad = [
        ("bos.pdf", b"", "empty"),
        ("buyuk.pdf", b"x" * (20 * 1024 * 1024 + 1), "larger than"),
        ("program.exe", b"MZ", "type exe"),
        ("rapor.pdf.sh", b"#!", "type sh"),
        ("uzantisiz", b"x", "type \\(none\\)"),
        ("../..", b"x", "unusable file name"),
        ("klasor/", b"x", "unusable file name"),
        ("sekme\t.pdf", b"x", "unusable file name"),
        ("a" * 197 + ".pdf", b"x", "unusable file name"),
    ]
    for file_name, data, match in bad:
        _refused(
            session,
            lambda file_name=file_name, data=data: corrective.add_evidence(
                session, ca, file_name=file_name, data=data, actor="uzman", evidence_dir=evidence_dir
            ),
            match,
        )
    assert _files(evidence_dir) == []


def test_evidence_keeps_only_a_safe_base_name(session: Session, org: Org, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "store" / "evidence"
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    names = [  # as uploaded, as recorded, as stored
        ("../x.pdf", "x.pdf", "x.pdf"),
        ("../../etc/passwd.txt", "passwd.txt", "passwd.txt"),
        ("C:\\Belgeler\\Rapor.PDF", "Rapor.PDF", "Rapor.PDF"),
        ("Fotoğraf 1 (son).jpg", "Fotoğraf 1 (son).jpg", "Fotoğraf_1__son_.jpg"),
        (".gizli.png", ".gizli.png", "gizli.png"),
    ]
    expected = []
    for file_name, uploaded, safe in names:
        data = file_name.encode()
        row = corrective.add_evidence(
            session, ca, file_name=file_name, data=data, actor="uzman", evidence_dir=evidence_dir, now=NOW
        )
        stored = f"2026/04/{ca.id}-{hashlib.sha256(data).hexdigest()[:12]}-{safe}"
        assert (row.file_name, row.stored_as) == (uploaded, stored)
        assert (evidence_dir / stored).read_bytes() == data
        expected.append(f"evidence/{stored}")
    assert _files(tmp_path / "store") == sorted(expected)  # nothing outside the evidence directory


def test_evidence_refusals_about_the_dif(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    other = _dif(session, org, evidence_dir, D.PLANNED)
    corrective.add_evidence(session, ca, file_name="a.pdf", data=b"bir", actor="uzman", evidence_dir=evidence_dir)
    stored = _files(evidence_dir)
    _refused(
        session,
        lambda: corrective.add_evidence(
            session, ca, file_name="b.pdf", data=b"bir", actor="sef", evidence_dir=evidence_dir
        ),
        "already evidence",
    )
    _refused(
        session,
        lambda: corrective.add_evidence(
            session, ca, file_name="c.pdf", data=b"iki", actor="uzman", evidence_dir=evidence_dir, step=other.steps[0]
        ),
        "another DİF",
    )
    submitted = _dif(session, org, evidence_dir, D.DONE)
    stored = _files(evidence_dir)
    _refused(
        session,
        lambda: corrective.add_evidence(
            session, submitted, file_name="d.pdf", data=b"uc", actor="uzman", evidence_dir=evidence_dir
        ),
        "expected planned",
    )
    assert _files(evidence_dir) == stored


def test_a_failed_flush_removes_the_stored_file(session: Session, org: Org, evidence_dir: Path) -> None:
    ca = _dif(session, org, evidence_dir, D.PLANNED)
    session.commit()

    def fail_on_evidence(flushing: Session, *_: object) -> None:
        if any(isinstance(obj, CorrectiveActionEvidence) for obj in flushing.new):
            raise RuntimeError("disk full")

    event.listen(session, "before_flush", fail_on_evidence)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            corrective.add_evidence(
                session, ca, file_name="a.pdf", data=b"kanit", actor="uzman", evidence_dir=evidence_dir
            )
    finally:
        event.remove(session, "before_flush", fail_on_evidence)
    assert _files(evidence_dir) == []
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CorrectiveActionEvidence)) == 0


def test_times_must_be_aware(session: Session, org: Org) -> None:
    ticket = _ticket(session, org.world, S.RESOLVED)
    with pytest.raises(ValueError, match="timezone-aware"):
        nonconformity.record_nonconformity(
            session, ticket, finding="Bulgu", actor="operator", now=datetime(2026, 4, 6, 9)
        )


def test_an_inactive_or_unknown_user_is_refused_by_name(session: Session, org: Org) -> None:
    ticket = _ticket(session, org.world, S.RESOLVED)
    inactive = session.scalars(select(User).where(User.username == "operator")).one()
    inactive.active = False
    session.flush()
    error = _refused(
        session,
        lambda: nonconformity.record_nonconformity(session, ticket, finding="Bulgu", actor="operator"),
        "not an active staff member",
    )
    assert "etkin bir personel" in error.message_tr
