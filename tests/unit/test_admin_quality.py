"""The non-conforming service procedure through the admin's pages, each step by the role that owns it."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from sqlalchemy import select

from alo185.quality.models import CorrectiveAction, CorrectiveActionStatus, Nonconformity
from alo185.tickets.models import Ticket, TicketStatus
from tests.staff import World


def _resolve(world: World, number: str) -> None:
    with world.app.extensions["alo185.sessions"].begin() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None
        ticket.status, ticket.resolved_at = TicketStatus.RESOLVED, datetime.now(UTC)


def _dif(world: World, ca_id: int) -> CorrectiveAction:
    with world.app.extensions["alo185.sessions"]() as s:
        ca = s.get(CorrectiveAction, ca_id)
        assert ca is not None
        return ca


def _id_from(location: str, prefix: str) -> int:
    found = re.search(rf"/quality/{prefix}/(\d+)$", location)
    assert found, location
    return int(found.group(1))


def test_finding_decision_and_dif_from_record_to_closure(world: World) -> None:
    number = world.ticket_a
    too_early = world.client("operator").post(f"/quality/tickets/{number}/nonconformity", data={"finding": "x"})
    assert too_early.status_code == 400  # not resolved yet
    _resolve(world, number)
    recorded = world.client("supervisor").post(
        f"/quality/tickets/{number}/nonconformity", data={"finding": "Çukur kapatılmadan çözüldü denmiş"}
    )
    assert recorded.status_code == 303
    nc = _id_from(recorded.headers["Location"], "nc")
    refused = world.client("supervisor").post(f"/quality/nc/{nc}/decision", data={"decision": "reopen", "note": "x"})
    assert refused.status_code == 400 and "yetkisi yok" in refused.get_data(as_text=True)
    decided = world.client("quality").post(
        f"/quality/nc/{nc}/decision", data={"decision": "reopen", "note": "Saha kontrolünde çukur açık"}
    )
    assert decided.status_code == 303 and world.ticket(number).status == TicketStatus.REOPENED
    opened = world.client("quality").post(f"/quality/nc/{nc}/dif", data={"problem": "Kapatma kontrolü yapılmıyor"})
    assert opened.status_code == 303
    ca = _id_from(opened.headers["Location"], "dif")
    assert world.client("expert-b").get(f"/quality/dif/{ca}").status_code == 404  # another directorate

    steps = "Kapanış öncesi fotoğraf zorunlu olsun | expert | 31.12.2026"
    assert world.client("expert").post(f"/quality/dif/{ca}/plan", data={"plan": "p", "steps": steps}).status_code == 400
    planned = world.client("manager").post(f"/quality/dif/{ca}/plan", data={"plan": "Ekip eğitimi", "steps": steps})
    assert planned.status_code == 303 and _dif(world, ca).status == CorrectiveActionStatus.PLANNED
    expert = world.client("expert")
    page = expert.get(f"/quality/dif/{ca}").get_data(as_text=True)
    found = re.search(rf"/quality/dif/{ca}/steps/(\d+)/done", page)
    assert found is not None
    step_id = int(found.group(1))
    assert expert.post(f"/quality/dif/{ca}/submit").status_code == 400  # the step is open, no evidence
    assert expert.post(f"/quality/dif/{ca}/steps/{step_id}/done").status_code == 303
    upload = {"file": (io.BytesIO(b"%PDF-1.4 egitim tutanagi"), "eğitim tutanağı.pdf")}
    assert (
        expert.post(f"/quality/dif/{ca}/evidence", data=upload, content_type="multipart/form-data").status_code == 303
    )
    bad = {"file": (io.BytesIO(b"MZ"), "virus.exe")}
    assert expert.post(f"/quality/dif/{ca}/evidence", data=bad, content_type="multipart/form-data").status_code == 400
    assert expert.post(f"/quality/dif/{ca}/submit").status_code == 303

    assert world.client("chief").post(f"/quality/dif/{ca}/approve").status_code == 400
    assert world.client("manager").post(f"/quality/dif/{ca}/approve").status_code == 303
    assert world.client("supervisor").post(f"/quality/dif/{ca}/close", data={"note": "x"}).status_code == 400
    closed = world.client("quality").post(f"/quality/dif/{ca}/close", data={"note": "Etkinliği doğrulandı"})
    assert closed.status_code == 303 and _dif(world, ca).status == CorrectiveActionStatus.CLOSED

    quality = world.client("quality")
    page = quality.get(f"/quality/dif/{ca}").get_data(as_text=True)
    evidence = re.search(rf"/quality/dif/{ca}/evidence/(\d+)", page)
    assert evidence and "eğitim tutanağı.pdf" in page
    download = quality.get(evidence.group(0))
    assert download.status_code == 200 and download.data == b"%PDF-1.4 egitim tutanagi"
    trail = world.client("admin").get(f"/kvkk/audit?entity=corrective_action&entity_id={ca}").get_data(as_text=True)
    for action in ("dif.open", "dif.plan", "dif.step_done", "dif.evidence", "dif.submit", "dif.approve", "dif.close"):
        assert action in trail


def test_a_redirect_decision_needs_an_institution(world: World) -> None:
    _resolve(world, world.ticket_b)
    recorded = world.client("operator").post(f"/quality/tickets/{world.ticket_b}/nonconformity", data={"finding": "f"})
    assert recorded.headers["Location"] == f"/tickets/{world.ticket_b}"  # operators do not see the quality pages
    with world.app.extensions["alo185.sessions"]() as s:
        nc = s.scalars(select(Nonconformity.id)).one()
    quality = world.client("quality")
    refused = quality.post(f"/quality/nc/{nc}/decision", data={"decision": "redirect", "note": "TEDAŞ'ın işi"})
    assert refused.status_code == 400 and world.ticket(world.ticket_b).status == TicketStatus.RESOLVED
    decided = quality.post(
        f"/quality/nc/{nc}/decision",
        data={"decision": "redirect", "note": "TEDAŞ'ın işi", "institution": "toroslar-edas"},
    )
    assert decided.status_code == 303 and world.ticket(world.ticket_b).status == TicketStatus.REDIRECTED
    assert "başka kuruma" in quality.get(f"/quality/nc/{nc}").get_data(as_text=True)
