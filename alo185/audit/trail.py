"""The audit trail (KVKK, ISO 10002): one row per thing a person did or looked at."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from alo185.audit.models import AuditLog


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    detail: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> AuditLog:
    """Add the row to the caller's transaction: it commits with the change it records, or not at all."""
    row = AuditLog(
        at=now or datetime.now(UTC),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail,
        ip=ip,
    )
    session.add(row)
    return row
