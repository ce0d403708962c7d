"""The contract the phone IVR relies on: lookup by number and phone, caller area and role, public status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.core import db
from alo185.org.models import District, Mahalle
from alo185.tickets import numbers, queries, workflow
from alo185.tickets.citizens import mask_tc
from alo185.tickets.models import Citizen, PlatformRole, Redirect, Ticket, TicketStatus
from alo185.tickets.seed import seed

S = TicketStatus
CALLER = "+905321234567"


def seeded_ticket(session: Session) -> Ticket:
    """A routed water-fault ticket on freshly seeded data."""
    seed(session)
    return queries.create_ticket(
        session, phone="0532 123 45 67", category_code="su-arizasi", description="Boru patladı", channel="phone"
    )


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with db.session_factory(database_url)() as session:
        seed(session)
        session.commit()
        yield session


def test_create_ticket_records_routes_and_sets_the_deadline(session: Session) -> None:
    before = datetime.now(UTC)
    ticket = queries.create_ticket(
        session,
        phone="0 (532) 123 45 67",
        category_code="su-arizasi",
        description="  Boru patladı, su akıyor.  ",
        channel="phone",
        type="şikayet",
        district="YENİŞEHİR",
        mahalle="güvenevler",
        actor="operator-1",
    )
    session.commit()
    assert numbers.is_well_formed(ticket.number)
    assert (ticket.status, ticket.type, ticket.channel, ticket.priority) == (S.ROUTED, "sikayet", "phone", "high")
    assert ticket.citizen is not None and ticket.citizen.phone == CALLER
    assert ticket.directorate is not None and ticket.directorate.code == "meski-ariza"
    assert ticket.district is not None and ticket.mahalle is not None
    assert (ticket.district.name, ticket.mahalle.name) == ("Yenişehir", "Güvenevler")
    assert ticket.description == "Boru patladı, su akıyor."
    # su-arizasi: 12 hours, halved for its high priority.
    assert ticket.due_at is not None and before + timedelta(hours=6) <= ticket.due_at <= datetime.now(UTC) + timedelta(
        hours=6
    )
    assert [(h.from_status, h.to_status, h.actor, h.channel) for h in ticket.history] == [
        (None, S.RECORDED, "operator-1", "phone"),
        (S.RECORDED, S.ROUTED, "system", "system"),
    ]


def test_create_ticket_reuses_the_citizen(session: Session) -> None:
    first = queries.create_ticket(session, phone=CALLER, category_code="yol-cukur", description="a", channel="web")
    second = queries.create_ticket(
        session, phone="05321234567", category_code="park-bakim", description="b", channel="web"
    )
    assert first.citizen_id == second.citizen_id
    assert first.number != second.number
    assert len(session.scalars(select(Citizen)).all()) == 1


def test_create_ticket_redirects_what_is_not_ours(session: Session) -> None:
    ticket = queries.create_ticket(
        session, phone=CALLER, category_code="elektrik-arizasi", description="Elektrik yok", channel="whatsapp"
    )
    assert ticket.status == S.REDIRECTED
    assert ticket.due_at is None
    redirect = session.scalar(select(Redirect).where(Redirect.ticket_id == ticket.id))
    assert redirect is not None and redirect.institution.code == "toroslar-edas"
    assert queries.public_status(ticket) == "redirected"


def test_create_ticket_keeps_an_unroutable_one_for_the_operator(session: Session) -> None:
    ticket = queries.create_ticket(
        session, phone=CALLER, category_code="ilce-belediyesi", description="İlçe işi", channel="phone"
    )
    assert ticket.status == S.RECORDED
    assert queries.public_status(ticket) == "received"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "yok", "not a phone number"),
        ("category_code", "olmayan", "unknown or inactive category"),
        ("district", "Atlantis", "unknown district"),
    ],
)
def test_create_ticket_refuses_bad_input(session: Session, field: str, value: str, message: str) -> None:
    arguments = {"phone": CALLER, "category_code": "yol-cukur", "description": "x", "channel": "phone"} | {field: value}
    with pytest.raises(ValueError, match=message):
        queries.create_ticket(session, **arguments)


def test_find_by_number(session: Session) -> None:
    ticket = queries.create_ticket(session, phone=CALLER, category_code="yol-cukur", description="x", channel="phone")
    assert queries.find_by_number(session, ticket.number) is ticket
    assert queries.find_by_number(session, f"{ticket.number[:4]} {ticket.number[4:]}") is ticket
    wrong_check = ticket.number[:-1] + str((int(ticket.number[-1]) + 1) % 10)
    assert queries.find_by_number(session, wrong_check) is None
    unknown = "1234567" + numbers.check_digit("1234567")
    assert unknown == ticket.number or queries.find_by_number(session, unknown) is None


def test_open_tickets_for_phone_newest_first(session: Session) -> None:
    made = [
        queries.create_ticket(session, phone=CALLER, category_code="yol-cukur", description=str(i), channel="phone")
        for i in range(4)
    ]
    for offset, ticket in enumerate(made):
        ticket.created_at = datetime(2026, 4, 1, tzinfo=UTC) + timedelta(hours=offset)
    made[1].status = S.RESOLVED
    queries.create_ticket(session, phone="+905559876543", category_code="yol-cukur", description="x", channel="phone")
    session.commit()
    assert queries.open_tickets_for_phone(session, CALLER) == [made[3], made[2], made[0]]
    assert queries.open_tickets_for_phone(session, "0532 123 45 67") == [made[3], made[2], made[0]]
    assert queries.open_tickets_for_phone(session, "+905000000000") == []
    assert queries.open_tickets_for_phone(session, "not a number") == []


def test_last_known_area_prefers_the_address_then_the_latest_ticket(session: Session) -> None:
    assert queries.last_known_area(session, CALLER) == (None, None)
    queries.create_ticket(session, phone=CALLER, category_code="yol-cukur", description="x", channel="phone")
    assert queries.last_known_area(session, CALLER) == (None, None)
    older = queries.create_ticket(
        session, phone=CALLER, category_code="yol-cukur", description="x", channel="phone", district="Tarsus"
    )
    newer = queries.create_ticket(
        session,
        phone=CALLER,
        category_code="park-bakim",
        description="y",
        channel="phone",
        district="Mezitli",
        mahalle="Viranşehir",
    )
    older.created_at, newer.created_at = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    session.flush()
    assert queries.last_known_area(session, CALLER) == ("Mezitli", "Viranşehir")
    citizen = session.scalars(select(Citizen)).one()
    akdeniz = session.scalars(select(District).where(District.name == "Akdeniz")).one()
    citizen.district = akdeniz
    citizen.mahalle = session.scalars(
        select(Mahalle).where(Mahalle.district_id == akdeniz.id, Mahalle.name == "Kazanlı")
    ).one()
    session.flush()
    assert queries.last_known_area(session, "0532 123 45 67") == ("Akdeniz", "Kazanlı")


def test_platform_caller(session: Session) -> None:
    muhtar = Citizen(phone="+905301112233", full_name="Ayşe Yılmaz", platform_role=PlatformRole.MUHTAR)
    session.add_all([muhtar, Citizen(phone=CALLER)])
    session.flush()
    assert queries.platform_caller(session, "0530 111 22 33") is muhtar
    assert queries.platform_caller(session, CALLER) is None
    assert queries.platform_caller(session, "+905559999999") is None


@pytest.mark.parametrize(
    ("status", "public"),
    [
        (S.RECORDED, "received"),
        (S.ROUTED, "sent_to_directorate"),
        (S.REOPENED, "sent_to_directorate"),
        (S.IN_PROGRESS, "in_progress"),
        (S.AWAITING_CHIEF, "in_progress"),
        (S.AWAITING_MANAGER, "in_progress"),
        (S.CHECKED, "in_progress"),
        (S.RESOLVED, "resolved"),
        (S.CLOSED, "closed"),
        (S.REDIRECTED, "redirected"),
        (S.CANNOT_BE_DONE, "cannot_be_done"),
        (S.DUPLICATE, "closed"),
    ],
)
def test_public_status(status: S, public: str) -> None:
    assert queries.public_status(Ticket(status=status)) == public
    assert public in queries.PUBLIC_STATUS_TR


def test_a_duplicate_tells_the_status_of_its_original() -> None:
    original = Ticket(status=S.IN_PROGRESS)
    assert queries.public_status(Ticket(status=S.DUPLICATE, duplicate_of=original)) == "in_progress"


def test_can_reopen_within_thirty_days_of_resolution() -> None:
    resolved = datetime(2026, 4, 1, 12, tzinfo=UTC)
    ticket = Ticket(status=S.RESOLVED, resolved_at=resolved)
    assert queries.can_reopen(ticket, resolved + timedelta(days=30))
    assert not queries.can_reopen(ticket, resolved + timedelta(days=30, seconds=1))
    assert queries.can_reopen(Ticket(status=S.CLOSED, resolved_at=resolved), resolved + timedelta(days=1))
    assert not queries.can_reopen(Ticket(status=S.IN_PROGRESS, resolved_at=None), resolved)
    assert not queries.can_reopen(Ticket(status=S.CANNOT_BE_DONE, resolved_at=None), resolved)


def test_reopen_through_the_ivr_contract(session: Session) -> None:
    ticket = queries.create_ticket(session, phone=CALLER, category_code="yol-cukur", description="x", channel="phone")
    ticket.status, ticket.resolved_at = S.RESOLVED, datetime.now(UTC) - timedelta(days=2)
    session.flush()
    assert queries.can_reopen(ticket, datetime.now(UTC))
    workflow.reopen(session, ticket, actor=f"citizen:{CALLER}", channel="phone", reason="Memnun değilim")
    session.commit()
    assert (ticket.status, ticket.reopen_count) == (S.REOPENED, 1)
    assert queries.public_status(ticket) == "sent_to_directorate"
    assert ticket in queries.open_tickets_for_phone(session, CALLER)


def test_tc_kimlik_no_is_stored_masked_only(session: Session) -> None:
    assert mask_tc("12345678978") == "123******78"
    with pytest.raises(ValueError):
        mask_tc("0234567897")
    with pytest.raises(ValueError, match="masked"):
        Citizen(phone=CALLER, tc_masked="12345678978")
    citizen = Citizen(phone=CALLER, tc_masked=mask_tc("12345678978"), kvkk_notice_version="2026-01")
    session.add(citizen)
    session.commit()
    assert session.scalars(select(Citizen.tc_masked)).one() == "123******78"
