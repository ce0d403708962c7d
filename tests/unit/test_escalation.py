"""Deadline warnings: sent once per deadline to the right person, by SMS when they have a mobile; the scheduler."""

from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alo185 import services
from alo185.core import db, procs
from alo185.core.settings import Settings
from alo185.org.models import Directorate, Institution, InstitutionKind, Role, User
from alo185.privacy.models import DestructionLog
from alo185.sms.models import SmsMessage
from alo185.tickets import escalation
from alo185.tickets.models import Category, EscalationNotice, Priority, SlaUnit, Ticket, TicketStatus
from workers.scheduler import Scheduler

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # 12:00 in Istanbul
CHIEF_PHONE = "+905321110001"
MANAGER_PHONE = "+905321110002"


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    factory = db.session_factory(database_url)
    with factory.begin() as s:
        _org(s)
    return factory


def _org(s: Session) -> None:
    """Fen İşleri with a manager, a chief and an expert; Park ve Bahçeler with an expert alone."""
    bb = Institution(code="bb", name="Büyükşehir", kind=InstitutionKind.METROPOLITAN)
    fen = Directorate(code="fen", name="Fen İşleri Müdürlüğü", institution=bb)
    park = Directorate(code="park", name="Park ve Bahçeler Müdürlüğü", institution=bb)
    manager = User(username="mudur", full_name="Müdür", role=Role.MANAGER, directorate=fen, phone=MANAGER_PHONE)
    chief = User(
        username="sef", full_name="Şef", role=Role.CHIEF, directorate=fen, reports_to=manager, phone="0532 111 00 01"
    )
    expert = User(username="uzman", full_name="Uzman", role=Role.EXPERT, directorate=fen, reports_to=chief)
    gardener = User(username="bahce", full_name="Bahçıvan", role=Role.EXPERT, directorate=park)
    cat = Category(code="yol-cukur", name="Yolda çukur", directorate=fen, sla_unit=SlaUnit.HOURS, sla_value=24)
    s.add_all([bb, fen, park, manager, chief, expert, gardener, cat])


def _ticket(
    sessions: sessionmaker[Session],
    number: str,
    due_in: timedelta,
    status: TicketStatus = TicketStatus.IN_PROGRESS,
    directorate: str = "fen",
    assignee: str = "uzman",
) -> int:
    with sessions.begin() as s:
        ticket = Ticket(
            number=number,
            type="istek",
            channel="phone",
            status=status,
            category=s.scalar(select(Category)),
            directorate=s.scalar(select(Directorate).where(Directorate.code == directorate)),
            assignee=s.scalar(select(User).where(User.username == assignee)),
            description="çukur",
            reopen_count=0,
            due_at=NOW + due_in,
        )
        s.add(ticket)
        s.flush()
        return ticket.id


def _run(sessions: sessionmaker[Session], now: datetime = NOW) -> int:
    with sessions.begin() as s:
        return escalation.run_escalations(s, now)


def _notices(sessions: sessionmaker[Session]) -> list[tuple[str, str, datetime, str]]:
    with sessions() as s:
        rows = s.execute(
            select(Ticket.number, EscalationNotice.kind, EscalationNotice.due_at, User.username)
            .join(Ticket, Ticket.id == EscalationNotice.ticket_id)
            .join(User, User.id == EscalationNotice.user_id)
            .order_by(EscalationNotice.id)
        )
        return [(number, kind, due, who) for number, kind, due, who in rows]


def _texts(sessions: sessionmaker[Session]) -> list[tuple[str, str, dict, str]]:
    with sessions() as s:
        return [(m.template, m.phone, m.params, m.key) for m in s.scalars(select(SmsMessage).order_by(SmsMessage.id))]


def test_a_ticket_due_soon_warns_the_chief_once(sessions: sessionmaker[Session]) -> None:
    _ticket(sessions, "1001", timedelta(hours=2))
    assert _run(sessions) == 1
    assert _run(sessions) == 0  # a rerun (or a restart) sends nothing twice
    assert _run(sessions, NOW + timedelta(minutes=30)) == 0
    [(number, kind, due, who)] = _notices(sessions)
    assert (number, kind, due, who) == ("1001", "warn_chief", NOW + timedelta(hours=2), "sef")
    [(template, phone, params, key)] = _texts(sessions)
    assert (template, phone) == ("escalation_warn", CHIEF_PHONE)  # the chief's number, normalised
    assert params == {"number": "1001", "category": "Yolda çukur", "due": "21.11.2026 14:00"}  # Istanbul time
    with sessions() as s:
        assert key == f"escalation-{s.scalar(select(EscalationNotice.id))}"


def test_an_overdue_ticket_notifies_the_manager(sessions: sessionmaker[Session]) -> None:
    _ticket(sessions, "1002", timedelta(hours=2))
    _run(sessions)
    assert _run(sessions, NOW + timedelta(hours=3)) == 1  # the deadline has passed
    assert [(n[1], n[3]) for n in _notices(sessions)] == [("warn_chief", "sef"), ("overdue", "mudur")]
    assert [(t[0], t[1]) for t in _texts(sessions)] == [
        ("escalation_warn", CHIEF_PHONE),
        ("escalation_overdue", MANAGER_PHONE),
    ]


def test_finished_tickets_and_tickets_without_a_superior_are_skipped(sessions: sessionmaker[Session]) -> None:
    _ticket(sessions, "1003", -timedelta(hours=5), status=TicketStatus.RESOLVED)
    _ticket(sessions, "1004", -timedelta(hours=5), directorate="park", assignee="bahce")  # no chief, no manager
    _ticket(sessions, "1005", timedelta(hours=1), directorate="park", assignee="bahce")
    _ticket(sessions, "1006", timedelta(days=2))  # not yet within the lead
    assert _run(sessions) == 0
    assert _notices(sessions) == [] and _texts(sessions) == []


def test_a_raised_priority_warns_again_for_the_new_deadline(sessions: sessionmaker[Session]) -> None:
    ticket_id = _ticket(sessions, "1007", timedelta(hours=3))
    assert _run(sessions) == 1
    with sessions.begin() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.priority, ticket.due_at = Priority.URGENT, NOW + timedelta(hours=1)
    assert _run(sessions) == 1
    assert _run(sessions) == 0
    assert [n[2] for n in _notices(sessions)] == [NOW + timedelta(hours=3), NOW + timedelta(hours=1)]
    assert [t[2]["due"] for t in _texts(sessions)] == ["21.11.2026 15:00", "21.11.2026 13:00"]


def test_staff_without_a_mobile_get_the_notice_but_no_text(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.scalars(select(User).where(User.username == "mudur")).one().phone = "+903242345678"  # a desk line
    _ticket(sessions, "1008", -timedelta(hours=1))
    assert _run(sessions) == 1
    assert [(n[1], n[3]) for n in _notices(sessions)] == [("overdue", "mudur")]
    assert _texts(sessions) == []


def test_a_concurrent_scheduler_that_sent_first_wins(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs that both found nothing sent: the unique notice lets one through, the other sends nothing."""
    _ticket(sessions, "1009", timedelta(hours=2))
    _ticket(sessions, "1010", -timedelta(hours=2))
    assert _run(sessions) == 2
    monkeypatch.setattr(escalation, "_already_sent", lambda _s, _ids: set())  # as if it had looked first
    assert _run(sessions) == 0
    assert len(_notices(sessions)) == 2 and len(_texts(sessions)) == 2


# -- the scheduler ------------------------------------------------------------------------------------
def _settings(database_url: str, tmp_path: Path, **changes: Any) -> Settings:
    return Settings(var_dir=tmp_path, db_url=database_url, **changes)


def test_a_tick_runs_what_is_due_and_survives_a_failure(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    night = NOW - timedelta(hours=8)  # 04:00 in Istanbul: after the retention hour
    _ticket(sessions, "1011", night + timedelta(hours=2) - NOW)
    scheduler = Scheduler(_settings(database_url, tmp_path, escalation_interval_s=60))
    real = escalation.run_escalations
    monkeypatch.setattr("workers.scheduler.run_escalations", lambda *_a: 1 / 0)
    first = scheduler.tick(night)
    assert first.failed == ["escalations"] and first.notices is None
    assert first.destroyed is not None and {e.count for e in first.destroyed} == {0}
    monkeypatch.setattr("workers.scheduler.run_escalations", real)
    assert scheduler.tick(night + timedelta(seconds=30)).notices is None  # not yet: every 60 s
    later = scheduler.tick(night + timedelta(seconds=60))
    assert later.notices == 1 and later.destroyed is None and later.failed == []  # retention: once a day
    restarted = Scheduler(_settings(database_url, tmp_path))
    assert restarted.tick(night + timedelta(hours=2)).destroyed is None  # the destruction log says it ran
    assert restarted.tick(night + timedelta(days=1)).destroyed is not None  # the next day's run
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DestructionLog)) == 2 * len(
            {e.record_type for e in first.destroyed}
        )


def test_the_scheduler_process_warns_and_stops_on_sigterm(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    """The real ``alo185 scheduler``: a warning appears within its interval; SIGTERM ends it at once, cleanly."""
    with sessions.begin() as s:
        s.add(
            Ticket(
                number="1012",
                type="istek",
                channel="phone",
                status=TicketStatus.IN_PROGRESS,
                category=s.scalar(select(Category)),
                directorate=s.scalar(select(Directorate).where(Directorate.code == "fen")),
                assignee=s.scalar(select(User).where(User.username == "uzman")),
                description="çukur",
                reopen_count=0,
                due_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    settings = _settings(database_url, tmp_path, escalation_interval_s=1)
    argv = [sys.executable, "-m", "alo185", services.process("scheduler").command]
    proc = procs.spawn(settings, "scheduler", argv, env=services.settings_env(settings))
    try:
        assert procs.wait_until(lambda: len(_notices(sessions)) == 1, 60), procs.log_path(
            settings, "scheduler"
        ).read_text()
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        procs.pid_path(settings, "scheduler").unlink(missing_ok=True)
    log = procs.log_path(settings, "scheduler").read_text()
    assert "scheduler ready" in log and "scheduler stopped" in log and "Traceback" not in log
    assert _texts(sessions)[0][:2] == ("escalation_warn", CHIEF_PHONE)
