"""Due times (hours, working days over weekends and Turkish holidays, petition-law days) and escalation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from alo185.core import db
from alo185.org.models import Directorate, Institution, InstitutionKind, Role, User
from alo185.tickets import sla
from alo185.tickets.models import Category, LegalDeadline, Priority, SlaUnit, Ticket, TicketStatus

TR = ZoneInfo("Europe/Istanbul")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TR)


def category(unit: SlaUnit, value: int, legal: LegalDeadline = LegalDeadline.NONE) -> Category:
    return Category(code="c", name="c", sla_unit=unit, sla_value=value, legal_deadline=legal)


@pytest.mark.parametrize(
    ("day", "credit"),
    [
        (date(2026, 3, 18), 1.0),  # Wednesday
        (date(2026, 3, 19), 0.5),  # Ramazan Bayramı arifesi
        (date(2026, 3, 20), 0.0),  # Ramazan Bayramı
        (date(2026, 3, 21), 0.0),
        (date(2026, 3, 22), 0.0),
        (date(2026, 3, 23), 1.0),
        (date(2026, 10, 28), 0.5),  # Cumhuriyet Bayramı arifesi
        (date(2026, 10, 29), 0.0),
        (date(2026, 4, 4), 0.0),  # Saturday
        (date(2026, 4, 5), 0.0),  # Sunday
        (date(2026, 4, 23), 0.0),  # Ulusal Egemenlik ve Çocuk Bayramı
    ],
)
def test_working_day_credit(day: date, credit: float) -> None:
    assert sla.working_day_credit(day) == credit


def test_hours_run_day_and_night() -> None:
    created = local(2026, 4, 3, 22, 0)  # Friday night
    assert sla.due_at(category(SlaUnit.HOURS, 12), Priority.NORMAL, created) == local(2026, 4, 4, 10, 0)
    assert sla.due_at(category(SlaUnit.HOURS, 12), Priority.URGENT, created) == local(2026, 4, 4, 1, 0)


def test_due_times_are_utc() -> None:
    due = sla.due_at(category(SlaUnit.WORKING_DAYS, 1), Priority.NORMAL, local(2026, 4, 6, 9, 0))
    assert due.tzinfo == UTC
    assert due == datetime(2026, 4, 7, 14, 30, tzinfo=UTC)


def test_working_days_skip_the_weekend() -> None:
    friday = local(2026, 4, 3, 11, 0)
    assert sla.due_at(category(SlaUnit.WORKING_DAYS, 1), Priority.NORMAL, friday) == local(2026, 4, 6, 17, 30)
    assert sla.due_at(category(SlaUnit.WORKING_DAYS, 3), Priority.NORMAL, friday) == local(2026, 4, 8, 17, 30)


def test_working_days_across_ramazan_bayrami_2026() -> None:
    # Wed 18 March + 1: the eve (19th, half) is not enough, 20-22 are holidays, due Monday 23rd.
    assert sla.add_working_days(local(2026, 3, 18, 10), 1) == local(2026, 3, 23, 17, 30)
    # Tue 17 March + 1.5: Wed 18th (1) and the eve (0.5) use it up at 13:00 on the eve.
    assert sla.add_working_days(local(2026, 3, 17, 10), 1.5) == local(2026, 3, 19, 13, 0)
    # Mon 16 March + 5: 17, 18 (2), 19 (2.5), 23, 24, 25 (5.5) -> Wednesday 25th.
    assert sla.add_working_days(local(2026, 3, 16, 10), 5) == local(2026, 3, 25, 17, 30)


def test_working_days_across_republic_day_2026() -> None:
    # Tue 27 Oct + 2: 28th eve (0.5), 29th holiday, Fri 30th (1.5), weekend, Mon 2 Nov (2.5).
    assert sla.add_working_days(local(2026, 10, 27, 9), 2) == local(2026, 11, 2, 17, 30)
    # Tue 27 Oct + 0.5 (an urgent 2-day SLA): the eve ends it at 13:00.
    urgent = sla.due_at(category(SlaUnit.WORKING_DAYS, 2), Priority.URGENT, local(2026, 10, 27, 9))
    assert urgent == local(2026, 10, 28, 13, 0)


def test_priority_halves_working_days_to_half_day_precision() -> None:
    monday = local(2026, 4, 6, 9)
    assert sla.due_at(category(SlaUnit.WORKING_DAYS, 3), Priority.HIGH, monday) == local(2026, 4, 8, 17, 30)
    assert sla.due_at(category(SlaUnit.WORKING_DAYS, 3), Priority.LOW, monday) == local(2026, 4, 9, 17, 30)


def test_petition_days_move_off_a_weekend() -> None:
    # 30 days after Sat 7 March 2026 is Mon 6 April; after Thu 5 March it is Sat 4 April -> Mon 6 April.
    assert sla.due_at(category(SlaUnit.CALENDAR_DAYS, 30), Priority.NORMAL, local(2026, 3, 5, 12)) == local(
        2026, 4, 6, 17, 30
    )


def test_legal_deadline_caps_a_longer_own_sla() -> None:
    info = category(SlaUnit.WORKING_DAYS, 20, LegalDeadline.INFORMATION)
    assert sla.due_at(info, Priority.NORMAL, local(2026, 4, 6, 9)) == sla.add_working_days(local(2026, 4, 6, 9), 15)
    petition = category(SlaUnit.CALENDAR_DAYS, 45, LegalDeadline.PETITION)
    assert sla.due_at(petition, Priority.NORMAL, local(2026, 4, 6, 9)) == sla.add_calendar_days(
        local(2026, 4, 6, 9), 30
    )


# --- escalation -------------------------------------------------------------------------------

NOW = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)


def _staff() -> tuple[Directorate, User, User, User]:
    directorate = Directorate(id=1, code="fen", name="Fen İşleri Müdürlüğü")
    manager = User(id=1, username="mudur", full_name="Müdür", role=Role.MANAGER, active=True, directorate=directorate)
    chief = User(id=2, username="sef", full_name="Şef", role=Role.CHIEF, active=True, reports_to=manager)
    expert = User(id=3, username="uzman", full_name="Uzman", role=Role.EXPERT, active=True, reports_to=chief)
    return directorate, manager, chief, expert


def _open(ticket_id: int, due_in: timedelta | None, **fields: object) -> Ticket:
    due = None if due_in is None else NOW + due_in
    values: dict[str, object] = {"id": ticket_id, "status": TicketStatus.IN_PROGRESS, "due_at": due}
    return Ticket(**(values | fields))


def test_escalation_warns_chiefs_before_and_managers_after_the_deadline() -> None:
    directorate, manager, chief, expert = _staff()
    soon = _open(1, timedelta(hours=2), assignee=expert, directorate=directorate)
    later = _open(2, timedelta(hours=10), assignee=expert, directorate=directorate)
    late = _open(3, -timedelta(minutes=1), assignee=expert, directorate=directorate)
    unassigned_late = _open(4, -timedelta(days=1), directorate=directorate)
    done = _open(5, -timedelta(days=1), assignee=expert, status=TicketStatus.RESOLVED)
    checked = _open(6, -timedelta(days=1), assignee=expert, status=TicketStatus.CHECKED)
    no_due = _open(7, None, assignee=expert)
    result = sla.escalations([soon, later, late, unassigned_late, done, checked, no_due], NOW)
    assert result.warn_chiefs == {chief.id: [soon]}
    assert result.notify_managers == {manager.id: [late, unassigned_late]}


def test_escalation_lead_is_configurable() -> None:
    directorate, _, chief, expert = _staff()
    later = _open(2, timedelta(hours=10), assignee=expert, directorate=directorate)
    assert sla.escalations([later], NOW, lead=timedelta(hours=12)).warn_chiefs == {chief.id: [later]}
    assert sla.escalations([later], NOW, lead=timedelta(hours=1)).warn_chiefs == {}


def test_escalation_skips_inactive_chiefs_and_tickets_without_anyone() -> None:
    directorate, manager, chief, expert = _staff()
    chief.active = False
    soon = _open(1, timedelta(hours=1), assignee=expert, directorate=directorate)
    orphan = _open(2, timedelta(hours=1))
    result = sla.escalations([soon, orphan], NOW)
    assert result.warn_chiefs == {}
    assert result.notify_managers == {}
    assert manager.id == 1


def test_overdue_for_a_directorate(database_url: str) -> None:
    with db.session_factory(database_url)() as session:
        ids = _overdue_world(session)
        session.commit()
        overdue = sla.overdue_for_directorate(session, ids["fen"], NOW)
        assert [t.description for t in overdue] == ["en geç", "geç"]
        candidates = sla.escalation_candidates(session, NOW)
        result = sla.escalations(candidates, NOW)
        assert {t.description for t in result.notify_managers[ids["mudur"]]} == {"en geç", "geç"}
        assert [t.description for t in result.warn_chiefs[ids["sef"]]] == ["yakında"]


def _overdue_world(session: Session) -> dict[str, int]:
    bb = Institution(code="bb", name="Büyükşehir", kind=InstitutionKind.METROPOLITAN)
    fen = Directorate(code="fen", name="Fen İşleri Müdürlüğü", institution=bb)
    park = Directorate(code="park", name="Park ve Bahçeler Müdürlüğü", institution=bb)
    cat = Category(code="yol-cukur", name="Yolda çukur", directorate=fen, sla_unit=SlaUnit.HOURS, sla_value=24)
    manager = User(username="mudur", full_name="Müdür", role=Role.MANAGER, directorate=fen)
    chief = User(username="sef", full_name="Şef", role=Role.CHIEF, directorate=fen, reports_to=manager)
    session.add_all([bb, fen, park, cat, manager, chief])
    rows = [
        ("geç", fen, TicketStatus.IN_PROGRESS, -timedelta(hours=1)),
        ("en geç", fen, TicketStatus.ROUTED, -timedelta(days=2)),
        ("yakında", fen, TicketStatus.AWAITING_CHIEF, timedelta(hours=1)),
        ("zamanında", fen, TicketStatus.IN_PROGRESS, timedelta(days=3)),
        ("çözüldü", fen, TicketStatus.RESOLVED, -timedelta(days=2)),
        ("başka müdürlük", park, TicketStatus.IN_PROGRESS, -timedelta(days=2)),
    ]
    for number, (text, directorate, status, due_in) in enumerate(rows, start=1):
        session.add(
            Ticket(
                number=str(number),
                type="istek",
                channel="phone",
                status=status,
                category=cat,
                directorate=directorate,
                description=text,
                reopen_count=0,
                due_at=NOW + due_in,
            )
        )
    session.flush()
    return {"fen": fen.id, "mudur": manager.id, "sef": chief.id}
