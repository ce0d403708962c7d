"""The call and ISO 10002 report figures, and the tables and exports made of them, against hand-computed answers.

``october`` writes one known month (Europe/Istanbul, UTC+3): ten calls, eight tickets, survey answers,
non-conformities and DİFs, plus records just outside the month that must not count. Every expected
figure below is worked out by hand from it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alo185 import services
from alo185.calls.models import CallRecord
from alo185.core import db
from alo185.core.settings import Settings
from alo185.org.models import Directorate
from alo185.quality.models import CorrectiveAction, CorrectiveActionStatus, Nonconformity, NonconformityDecision
from alo185.queues import intervals
from alo185.reports import calls, export, iso10002, tables
from alo185.sms.models import SmsMessage
from alo185.surveys.models import SurveyAnswer
from alo185.tickets import figures
from alo185.tickets.models import Ticket, TicketStatus
from alo185.tickets.queries import create_ticket

TZ = ZoneInfo("Europe/Istanbul")
FIRST, LAST = date(2026, 10, 1), date(2026, 10, 31)
START, END = datetime(2026, 10, 1, tzinfo=TZ), datetime(2026, 11, 1, tzinfo=TZ)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

# uniqueid, local (day, hour, minute) in October, queue, wait, talk, answered by, tickets made from it
CALLS = [
    ("c1", (1, 0, 30), "su", 2, 60, "Ayşe", 1),  # 21:30 UTC on 30 September: October in Türkiye
    ("c2", (2, 10, 5), "su", 3, 120, "Ayşe", 2),  # two tickets from one call: counted once
    ("c3", (2, 10, 40), "su", 4, 90, "Ayşe", 1),
    ("c4", (2, 11, 15), "su", 5, 30, "Ayşe", 1),
    ("c5", (3, 14, 0), "cop", 8, 60, "Mehmet", 1),
    ("c6", (3, 14, 20), "cop", 15, 120, "Mehmet", 1),
    ("c7", (31, 23, 30), "su", 30, 150, "Mehmet", 0),
    ("c8", (2, 10, 50), "su", 3, None, None, 0),  # abandoned after 3 s: a short abandon
    ("c9", (3, 15, 10), "cop", 40, None, None, 1),  # abandoned, called back: its ticket is not "recorded"
    ("c10", (2, 9, 0), None, None, None, None, 0),  # ended in the IVR
]
OUTSIDE = [("x1", datetime(2026, 11, 1, 0, 30, tzinfo=TZ)), ("x2", datetime(2026, 9, 30, 23, 0, tzinfo=TZ))]
ACK_DELAYS_S = [30, 60, 90, 120, 600]  # the "created" SMS of the first five tickets; the other three have none


@dataclass
class October:
    directorate_id: int


def _call(uniqueid: str, at: datetime, queue: str | None, wait: int | None, talk: int | None, who: str | None):
    answered, abandoned = who is not None, who is None and queue is not None
    joined_end = at + timedelta(seconds=wait or 0)
    return CallRecord(
        uniqueid=uniqueid,
        queue=queue,
        started_at=at,
        answered=answered,
        abandoned=abandoned,
        answered_by=who,
        answered_at=joined_end if answered else None,
        ended_at=joined_end + timedelta(seconds=talk or 0),
        wait_s=wait,
        talk_s=talk,
        outcome="answered" if answered else "abandoned" if abandoned else "ivr",
    )


def _local(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def october(database_url: str) -> October:
    """Write the month (the database must be prepared: categories, SMS templates)."""
    sessions = db.session_factory(database_url)
    with sessions.begin() as s:
        _calls_and_tickets(s)
        _survey(s)
        directorate = s.scalars(select(Directorate.id).order_by(Directorate.id)).first()
        assert directorate is not None
        _quality(s, directorate)
    return October(directorate)


def _calls_and_tickets(s: Session) -> None:
    made: list[Ticket] = []
    for uniqueid, when, queue, wait, talk, who, ticket_count in CALLS:
        at = _local(*when)
        s.add(_call(uniqueid, at, queue, wait, talk, who))
        category = "cop-toplama" if queue == "cop" else "yol-cukur"
        for _ in range(ticket_count):
            phone = None if uniqueid == "c9" else f"+9053210000{len(made):02d}"
            ticket = create_ticket(s, phone=phone, category_code=category, description="x", channel="phone")
            ticket.call_uniqueid, ticket.created_at = uniqueid, at + timedelta(minutes=5)
            ticket.due_at = ticket.created_at + timedelta(hours=48)
            made.append(ticket)
    for uniqueid, at in OUTSIDE:
        s.add(_call(uniqueid, at.astimezone(UTC), "su", 2, 60, "Ayşe"))
    s.flush()
    for ticket, delay in zip(made, ACK_DELAYS_S, strict=False):
        sms = s.scalars(
            select(SmsMessage).where(SmsMessage.ticket_id == ticket.id, SmsMessage.template == "created")
        ).one()
        sms.status, sms.sent_at = "sent", ticket.created_at + timedelta(seconds=delay)
    made[0].status, made[0].resolved_at = TicketStatus.RESOLVED, made[0].created_at + timedelta(hours=10)
    made[3].status, made[3].resolved_at = TicketStatus.RESOLVED, made[3].created_at + timedelta(hours=60)  # late
    made[4].reopen_count = 1


def _survey(s: Session) -> None:
    at = _local(5, 12, 0)
    for i, answer in enumerate([1, 1, 2, 3, None]):
        s.add(SurveyAnswer(uniqueid=f"s{i}", answer=answer, queue="su", operator="Ayşe", offered_at=at))
    s.add(SurveyAnswer(uniqueid="s-nov", answer=3, offered_at=datetime(2026, 11, 2, tzinfo=UTC)))


def _quality(s: Session, directorate: int) -> None:
    at, before = _local(10, 9, 0), _local(1, 0, 0) - timedelta(days=3)
    decided = NonconformityDecision.REOPEN, NonconformityDecision.REDIRECT, None, NonconformityDecision.REOPEN
    for i, decision in enumerate(decided):
        s.add(
            Nonconformity(finding=f"b{i}", recorded_by="kalite", decision=decision, created_at=at if i < 3 else before)
        )
    for status, when in (("open", at), ("closed", at), ("planned", before)):
        s.add(
            CorrectiveAction(
                directorate_id=directorate, problem="p", status=CorrectiveActionStatus(status), created_at=when
            )
        )


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    services.prepare_database(Settings(db_url=database_url))
    october(database_url)
    return db.session_factory(database_url)


def test_call_figures(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        report = calls.report(s, START, END)
    total, f = report.total, report.total.figures
    assert (total.calls, f.offered, f.answered, f.abandoned, f.short_abandoned) == (10, 9, 7, 2, 1)
    assert f.service_level(5) == 4 / 8 and f.service_level(20) == 6 / 8  # short abandons left out
    assert f.asa_s == pytest.approx(67 / 7) and f.aht_s == 90 and f.answer_rate == 7 / 9
    assert (total.with_ticket, total.ticket_share) == (6, 6 / 7)  # 85.7 %
    assert len(report.days) == 31 and next(iter(report.days)) == FIRST
    assert {d.day: g.calls for d, g in report.days.items() if g.calls} == {1: 1, 2: 5, 3: 3, 31: 1}
    assert report.days[date(2026, 10, 2)].figures.answered == 3
    assert {h: g.calls for h, g in report.hours.items() if g.calls} == {0: 1, 9: 1, 10: 3, 11: 1, 14: 2, 15: 1, 23: 1}
    su, cop = report.queues["su"].figures, report.queues["cop"].figures
    assert (su.offered, su.answered, su.service_level(5)) == (6, 5, 4 / 5)
    assert (cop.offered, cop.answered, cop.service_level(5), cop.service_level(20)) == (3, 2, 0, 2 / 3)
    assert (report.queues[""].calls, report.queues[""].figures.offered) == (1, 0)  # ended in the IVR
    ayse, mehmet = report.operators["Ayşe"], report.operators["Mehmet"]
    assert (ayse.figures.answered, ayse.figures.aht_s, ayse.with_ticket, ayse.ticket_share) == (4, 75, 4, 1.0)
    assert (mehmet.figures.answered, mehmet.figures.aht_s, mehmet.ticket_share) == (3, 110, 2 / 3)


def test_each_queue_keeps_its_own_short_abandon_threshold(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        intervals.set_target(s, "cop", 5, 60, actor="test")
    with sessions() as s:
        report = calls.report(s, START, END)
    cop = report.queues["cop"].figures
    assert (cop.short_abandoned, cop.service_level(20)) == (1, 2 / 2)  # the 40 s abandon is now short
    assert report.total.figures.short_abandoned == 2


def test_iso10002_figures(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        report = iso10002.report(s, START, END, NOW)
    assert report["received"] == 8
    assert report["acknowledgement"] == {"sent": 5, "missing": 3, "median_s": 90, "p90_s": 600}
    assert (report["resolution_hours_median"], report["within_sla"], report["reopen_rate"]) == (35.0, 0.5, 0.125)
    assert (report["satisfied"], report["survey_answered"]) == (0.75, 4)
    assert report["nonconformities"] == {
        "total": 3,
        "decided": 2,
        "undecided": 1,
        "by_decision": {"reopen": 1, "redirect": 1, "": 1},
    }
    assert report["difs"] == {
        "by_status": {"open": 1, "planned": 0, "done": 0, "approved": 0, "closed": 1},
        "open_now": 2,
    }
    assert report["overdue_now"] == 6  # the eight, less the two resolved: all past their 48 h


def test_nearest_rank() -> None:
    assert iso10002.nearest_rank([], 0.9) is None
    assert iso10002.nearest_rank([5], 0.9) == 5
    assert iso10002.nearest_rank(list(range(1, 11)), 0.9) == 9
    assert iso10002.nearest_rank(list(range(1, 12)), 0.9) == 10


def test_turkish_formats() -> None:
    pct, count = tables.Column("x", "pct"), tables.Column("x", "int")
    assert tables.display(6 / 7, pct) == "%85,7" and tables.display(0.8587, pct) == "%85,9"
    assert tables.display(163000, count) == "163.000" and tables.display(None, pct) == "–"
    assert tables.display(date(2026, 11, 21), tables.Column("x", "date")) == "21.11.2026"
    assert tables.display(67 / 7, tables.Column("x", "sec")) == "9,6 sn"
    assert tables.display(tables.Cell(0.65, "pct", 0), pct) == "%65"
    assert [tables.duration_tr(s) for s in (45, 200, 7500, 90000)] == ["45 sn", "3 dk 20 sn", "2 sa 5 dk", "1 gün 1 sa"]
    assert tables.month_tr(date(2026, 10, 1)) == "Ekim 2026"


def _document(sessions: sessionmaker[Session]) -> tables.Document:
    with sessions() as s:
        parts = tables.call_tables(calls.report(s, START, END))
        parts += tables.ticket_tables(figures.month_report(s, START, END))
        parts += tables.iso_tables(iso10002.report(s, START, END, NOW))
    return tables.Document("Aylık rapor – Ekim 2026", FIRST, LAST, parts, "aylik-rapor", "Ekim 2026")


def csv_tables(text: str) -> dict[str, list[list[str]]]:
    """The CSV's tables by title: each is the rows after the title line (header first)."""
    assert text.startswith("\ufeff")
    found: dict[str, list[list[str]]] = {}
    rows = list(csv.reader(io.StringIO(text[1:])))
    for i, row in enumerate(rows):
        if row == [] and i + 1 < len(rows):
            title = rows[i + 1][0]
            found[title] = []
            for line in rows[i + 2 :]:
                if not line:
                    break
                found[title].append(line)
    return found


def test_csv_and_xlsx_carry_the_figures(sessions: sessionmaker[Session]) -> None:
    document = _document(sessions)
    parsed = csv_tables(export.to_csv(document))
    summary = {row[0]: (row[1], row[2]) for row in parsed["Çağrılar – özet"][1:]}
    assert summary["Başvuruya dönüşme oranı"] == ("85.71", "%") and summary["Gelen çağrı"] == ("10", "")
    daily = parsed["Çağrılar – günlük"]
    assert daily[0][:3] == ["Gün", "Çağrı", "Kuyruğa giren"] and "SL 5 sn (%)" in daily[0]
    assert daily[2][:4] == ["2026-10-02", "5", "4", "3"] and daily[-1][:2] == ["Toplam", "10"]
    book = load_workbook(io.BytesIO(export.to_xlsx(document)))
    assert {"Rapor", "Çağrılar – operatör", "ISO 10002 – göstergeler", "Başvurular – kategori"} <= set(book.sheetnames)
    operators = {row[0]: row[1:] for row in book["Çağrılar – operatör"].iter_rows(min_row=2, values_only=True)}
    assert operators["Ayşe"][:3] == (4, 75.0, 4) and operators["Mehmet"][3] == pytest.approx(2 / 3)
    iso = {row[0]: row[1] for row in book["ISO 10002 – göstergeler"].iter_rows(min_row=2, values_only=True)}
    assert iso["Memnuniyet (ankete yanıt verenler)"] == 0.75 and iso["Süresi geçmiş açık başvuru (şu an)"] == 6
    assert book["Çağrılar – günlük"]["A2"].value.date() == FIRST


def test_the_pdf_has_turkish_text_and_refuses_without_its_font(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    pdf = export.to_pdf(_document(sessions))
    assert pdf.startswith(b"%PDF")
    title = pdf.split(b"/Title <", 1)[1].split(b">", 1)[0]
    assert "Ekim 2026" in bytes.fromhex(title.decode()).decode("utf-16")
    with pytest.raises(export.FontMissing, match="fonts-dejavu-core"):
        export.to_pdf(_document(sessions), font_dir=tmp_path)


def test_sheet_names_follow_excels_rules() -> None:
    taken: set[str] = set()
    long = "Memnuniyet anketi – çok uzun bir operatör adı"
    first, second = export.sheet_name(long, taken), export.sheet_name(long, taken)
    assert len(first) == 31 and len(second) == 31 and first != second
    assert export.sheet_name("a/b:c?", taken) == "a-b-c-"
