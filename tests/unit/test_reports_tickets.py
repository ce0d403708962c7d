"""The month report's figures against tickets whose answers are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alo185 import services
from alo185.core import db
from alo185.core.settings import Settings
from alo185.tickets.figures import month_report
from alo185.tickets.models import Ticket, TicketStatus
from alo185.tickets.queries import create_ticket, open_for_directorate

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


def test_month_report(database_url: str) -> None:
    services.prepare_database(Settings(db_url=database_url))
    sessions = db.session_factory(database_url)
    with sessions.begin() as s:
        made = [
            create_ticket(s, phone=f"+90532100000{i}", category_code=code, description="x", channel=channel)
            for i, (code, channel) in enumerate(
                [("yol-cukur", "phone"), ("yol-cukur", "web"), ("cop-toplama", "phone"), ("cop-toplama", "whatsapp")]
            )
        ]
        for i, ticket in enumerate(made):
            ticket.created_at = START + timedelta(days=i + 1)
            ticket.due_at = ticket.created_at + timedelta(hours=48)
        made[0].status, made[0].resolved_at = TicketStatus.RESOLVED, made[0].created_at + timedelta(hours=10)
        made[1].status, made[1].resolved_at = TicketStatus.CLOSED, made[1].created_at + timedelta(hours=60)  # late
        made[1].reopen_count = 1
        made[2].status = TicketStatus.REDIRECTED
        outside = create_ticket(s, phone="+905321000009", category_code="yol-cukur", description="x", channel="web")
        outside.created_at = END + timedelta(days=1)
    with sessions() as s:
        report = month_report(s, START, END)
    assert report["tickets"] == 4 and report["resolved"] == 2
    assert report["by_channel"] == {"phone": 2, "web": 1, "whatsapp": 1}
    assert sum(report["by_category"].values()) == 4 and len(report["by_directorate"]) == 2
    assert (report["resolution_hours_median"], report["resolution_hours_mean"]) == (35.0, 35.0)
    assert report["within_sla_percent"] == 50.0
    assert (report["reopen_rate_percent"], report["redirect_rate_percent"]) == (25.0, 25.0)


def test_the_directorate_work_list_is_its_open_tickets_by_due_time(database_url: str) -> None:
    services.prepare_database(Settings(db_url=database_url))
    sessions = db.session_factory(database_url)
    with sessions.begin() as s:
        made = [create_ticket(s, phone="+905321000001", category_code="yol-cukur", description="x", channel="web")
                for _ in range(4)]  # fmt: skip
        assert made[1].due_at is not None  # every category has a deadline
        made[0].due_at = made[1].due_at - timedelta(hours=1)
        made[2].status = TicketStatus.RESOLVED
        made[3].status, made[3].due_at = TicketStatus.IN_PROGRESS, made[0].due_at - timedelta(hours=1)
        assert made[0].directorate_id is not None
        directorate, expected = made[0].directorate_id, [made[3].id, made[0].id, made[1].id]  # across statuses
    with sessions() as s:
        assert [t.id for t in open_for_directorate(s, directorate)] == expected
        assert s.scalars(select(Ticket.id)).all()
