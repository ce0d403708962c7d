"""KVKK pages: anonymising a citizen on request, and the retention rules with their legal minimum."""

from __future__ import annotations

from sqlalchemy import select

from alo185.audit.models import AuditLog
from alo185.privacy.models import RetentionRule
from alo185.tickets.models import Citizen, Ticket
from tests.staff import PHONE_A, World


def test_only_the_administrator_anonymises_and_a_reason_is_required(world: World) -> None:
    page = f"/kvkk/citizens/{world.citizen_a}/anonymise"
    assert world.client("quality").post(page, data={"reason": "KVKK md. 11 başvurusu"}).status_code == 403
    admin = world.client("admin")
    assert admin.post(page, data={"reason": " "}).status_code == 400
    done = admin.post(page, data={"reason": "KVKK md. 11 başvurusu, dilekçe 2026/118"})
    assert done.status_code == 303
    with world.app.extensions["alo185.sessions"]() as s:
        citizen = s.get(Citizen, world.citizen_a)
        assert citizen is not None and citizen.anonymised_at is not None and citizen.phone != PHONE_A
        ticket = s.scalar(select(Ticket).where(Ticket.number == world.ticket_a))
        assert ticket is not None and ticket.category.code == "yol-cukur" and "Çukur" not in ticket.description
        assert s.scalar(select(AuditLog).where(AuditLog.action == "citizen.anonymise")) is not None
    record = world.client("operator").get(f"/citizens/{world.citizen_a}").get_data(as_text=True)
    assert "anonimleştirildi" in record and PHONE_A not in record
    assert admin.post(page, data={"reason": "ikinci kez"}).status_code == 400


def test_retention_rules_refuse_a_period_under_the_minimum(world: World) -> None:
    assert world.client("quality").get("/kvkk/retention").status_code == 403
    admin = world.client("admin")
    page = admin.get("/kvkk/retention").get_data(as_text=True)
    assert "corrective_actions" in page and "call_records" in page
    refused = admin.post("/kvkk/retention/corrective_actions", data={"keep_days": "365"})
    assert refused.status_code == 400 and "en az 7305 gün" in refused.get_data(as_text=True)
    assert admin.post("/kvkk/retention/call_records", data={"keep_days": "iki yıl"}).status_code == 400
    assert admin.post("/kvkk/retention/call_records", data={"keep_days": "1000"}).status_code == 303
    with world.app.extensions["alo185.sessions"]() as s:
        rules = {r.record_type: r for r in s.scalars(select(RetentionRule))}
        assert rules["call_records"].keep_days == 1000 and rules["call_records"].updated_by == "admin"
        assert rules["corrective_actions"].keep_days == 7305
