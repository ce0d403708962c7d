"""Staff login, the role matrix on every staff page, directorate scoping, masking by role, view audits, CSRF.

The expected matrix is written out here on its own, not read from ``alo185.org.access``: a change to the
policy must change this table too.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from alo185.org.models import User
from alo185.tickets.models import Citizen, Ticket, TicketHistory, TicketStatus
from tests.staff import PASSWORD, PHONE_A, World, csrf_token

MASKED_A = "+90 532 *** ** 67"
ROLES = ("operator", "supervisor", "quality", "admin", "expert", "chief", "manager")
EVERYONE = frozenset(ROLES)
# page -> the roles that may open it; everyone else gets 403.
PAGES: dict[str, frozenset[str]] = {
    "/calls": frozenset({"operator", "supervisor", "quality", "admin"}),
    "/ivr/menu": frozenset({"admin"}),
    "/ivr/announcements": frozenset({"supervisor", "admin"}),
    "/voicemails": frozenset({"operator", "supervisor"}),
    "/reports/survey": frozenset({"supervisor", "quality", "admin"}),
    "/reports/calls": frozenset({"supervisor", "quality", "admin"}),
    "/reports/tickets": frozenset({"supervisor", "quality", "admin"}),
    "/reports/iso10002": frozenset({"supervisor", "quality", "admin"}),
    "/reports/monthly": frozenset({"supervisor", "quality", "admin"}),
    "/reports/monthly.pdf": frozenset({"supervisor", "quality", "admin"}),
    "/sms/": frozenset({"supervisor", "admin"}),
    "/sms/templates": frozenset({"admin"}),
    "/tickets": EVERYONE,
    "/tickets/overdue": EVERYONE,
    "/tickets/export.csv": frozenset({"supervisor", "quality", "admin", "manager"}),
    "/citizens/{citizen}": frozenset({"operator", "supervisor", "quality", "admin"}),
    "/quality/": frozenset({"supervisor", "quality", "admin", "expert", "chief", "manager"}),
    "/kvkk/audit": frozenset({"quality", "admin"}),
}
# Denied only (the allowed view needs a running Redis).
DENIED_ONLY = {
    "/api/queues/live": frozenset({"supervisor", "admin"}),
    "/api/console/me": frozenset({"operator", "supervisor"}),
}


def test_each_role_opens_exactly_its_pages(world: World) -> None:
    for role in ROLES:
        client = world.client(role)
        for page, allowed in PAGES.items():
            status = client.get(page.format(citizen=world.citizen_a)).status_code
            assert status == (200 if role in allowed else 403), (role, page, status)
        for page, allowed in DENIED_ONLY.items():
            if role not in allowed:
                assert client.get(page).status_code == 403, (role, page)


def test_without_login_every_staff_page_asks_for_it(world: World) -> None:
    client = world.app.test_client()
    for page in [*PAGES, *DENIED_ONLY, f"/tickets/{world.ticket_a}"]:
        response = client.get(page.format(citizen=world.citizen_a))
        assert response.status_code == 302 and "/login" in response.headers["Location"], page


def test_login_refuses_a_wrong_password_an_unknown_or_inactive_user_and_a_foreign_next(world: World) -> None:
    client = world.app.test_client()
    token = csrf_token(client)
    for username, password in (("operator", "yanlis-parola-1"), ("nobody", PASSWORD)):
        bad = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
        assert bad.status_code == 401 and "hatalı" in bad.get_data(as_text=True)
    with world.app.extensions["alo185.sessions"].begin() as s:
        s.scalar(select(User).where(User.username == "chief")).active = False
    inactive = client.post("/login", data={"username": "chief", "password": PASSWORD, "csrf_token": token})
    assert inactive.status_code == 401
    good = client.post(
        "/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"}
    )
    assert good.status_code == 302 and good.headers["Location"] == "/"
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/tickets").status_code == 302


def test_a_deactivated_user_is_logged_out_on_the_next_request(world: World) -> None:
    client = world.client("operator")
    assert client.get("/tickets").status_code == 200
    with world.app.extensions["alo185.sessions"].begin() as s:
        s.scalar(select(User).where(User.username == "operator")).active = False
    assert client.get("/tickets").status_code == 302


def test_directorate_staff_see_only_their_directorate(world: World) -> None:
    expert = world.client("expert")
    listed = expert.get("/tickets").get_data(as_text=True)
    assert world.ticket_a in listed and world.ticket_b not in listed
    assert expert.get(f"/tickets/{world.ticket_a}").status_code == 200
    assert expert.get(f"/tickets/{world.ticket_b}").status_code == 404  # not even its existence
    searched = expert.get(f"/tickets?q={world.ticket_b}").get_data(as_text=True)
    assert f'data-number="{world.ticket_b}"' not in searched and "Başvuru bulunamadı" in searched
    other = world.client("expert-b")
    assert other.get(f"/tickets/{world.ticket_a}").status_code == 404
    moved = other.post(f"/tickets/{world.ticket_a}/status", data={"target": "in_progress"})
    assert moved.status_code == 404 and world.ticket(world.ticket_a).status == TicketStatus.ROUTED
    operator = world.client("operator")
    everything = operator.get("/tickets").get_data(as_text=True)
    assert world.ticket_a in everything and world.ticket_b in everything


def test_the_manager_exports_only_the_own_directorate_with_masked_numbers(world: World) -> None:
    rows = list(csv.reader(io.StringIO(world.client("manager").get("/tickets/export.csv").get_data(as_text=True))))
    assert rows[0][0] == "\ufeffnumara" and [r[0] for r in rows[1:]] == [world.ticket_a]
    assert rows[1][9] == MASKED_A
    supervisor = list(csv.reader(io.StringIO(world.client("supervisor").get("/tickets/export.csv").get_data(True))))
    assert {r[0] for r in supervisor[1:]} == {world.ticket_a, world.ticket_b}
    assert PHONE_A in {r[9] for r in supervisor[1:]}
    [export] = world.audit("tickets.export")[-1:]
    assert export.actor == "supervisor"


def test_numbers_are_masked_by_role_in_lists_and_on_the_record(world: World) -> None:
    in_list = {role: world.client(role).get("/tickets").get_data(as_text=True) for role in ROLES}
    assert PHONE_A in in_list["operator"]
    for role in ("supervisor", "quality", "admin", "expert", "chief", "manager"):
        assert PHONE_A not in in_list[role] and MASKED_A in in_list[role], role
    for role, full in (("operator", True), ("supervisor", True), ("expert", True), ("quality", False)):
        page = world.client(role).get(f"/tickets/{world.ticket_a}").get_data(as_text=True)
        assert (PHONE_A in page) is full and (MASKED_A in page) is not full, role


def test_every_view_of_a_ticket_or_citizen_record_is_audited(world: World) -> None:
    world.client("expert").get(f"/tickets/{world.ticket_a}")
    world.client("quality").get(f"/citizens/{world.citizen_a}")
    world.client("expert-b").get(f"/tickets/{world.ticket_a}")  # refused: no view, nothing audited
    [view] = world.audit("ticket.view")
    assert (view.actor, view.entity, view.entity_id, view.ip) == ("expert", "ticket", world.ticket_a, "127.0.0.1")
    [citizen] = world.audit("citizen.view")
    assert (citizen.actor, citizen.entity_id) == ("quality", str(world.citizen_a))
    trail = world.client("admin").get(f"/kvkk/audit?entity=citizen&entity_id={world.citizen_a}")
    assert "citizen.view" in trail.get_data(as_text=True)


def test_a_refused_status_change_explains_and_changes_nothing(world: World) -> None:
    def history() -> int:
        with world.app.extensions["alo185.sessions"]() as s:
            return s.scalar(select(func.count()).select_from(TicketHistory)) or 0

    before = history()
    refused = world.client("operator").post(f"/tickets/{world.ticket_a}/status", data={"target": "in_progress"})
    assert refused.status_code == 400 and "bu kullanıcı tarafından alınamaz" in refused.get_data(as_text=True)
    no_reason = world.client("chief").post(f"/tickets/{world.ticket_a}/status", data={"target": "cannot_be_done"})
    assert no_reason.status_code == 400 and "açıklama zorunludur" in no_reason.get_data(as_text=True)
    assert world.ticket(world.ticket_a).status == TicketStatus.ROUTED and history() == before
    done = world.client("expert").post(f"/tickets/{world.ticket_a}/status", data={"target": "in_progress"})
    assert done.status_code == 303 and world.ticket(world.ticket_a).status == TicketStatus.IN_PROGRESS
    with world.app.extensions["alo185.sessions"]() as s:
        last = s.scalars(select(TicketHistory).order_by(TicketHistory.id.desc())).first()
        assert last is not None and (last.actor, last.channel.value) == ("expert", "admin")


def test_a_form_post_without_the_csrf_token_is_refused(world: World) -> None:
    client = world.client("expert")
    client.environ_base.pop("HTTP_X_CSRFTOKEN")
    response = client.post(f"/tickets/{world.ticket_a}/status", data={"target": "in_progress"})
    assert response.status_code == 400 and world.ticket(world.ticket_a).status == TicketStatus.ROUTED


def test_the_citizen_record_lists_their_tickets(world: World) -> None:
    page = world.client("operator").get(f"/citizens/{world.citizen_a}").get_data(as_text=True)
    assert world.ticket_a in page and PHONE_A in page and world.ticket_b not in page
    with world.app.extensions["alo185.sessions"]() as s:
        assert s.get(Citizen, world.citizen_a) is not None


def test_overdue_lists_per_directorate(world: World) -> None:
    with world.app.extensions["alo185.sessions"].begin() as s:
        late = s.scalar(select(Ticket).where(Ticket.number == world.ticket_a))
        assert late is not None
        late.due_at = datetime.now(UTC) - timedelta(hours=30)
    city = world.client("supervisor").get("/tickets/overdue").get_data(as_text=True)
    assert "Fen İşleri" in city and "Temizlik" not in city
    own = world.client("chief").get("/tickets/overdue").get_data(as_text=True)
    assert f'data-number="{world.ticket_a}"' in own
    assert world.ticket_a not in world.client("expert-b").get("/tickets/overdue").get_data(as_text=True)
