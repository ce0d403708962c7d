"""What every blueprint takes from the running application: database sessions, Redis, the acting user."""

from __future__ import annotations

import redis
from flask import current_app, request
from flask_login import current_user
from sqlalchemy.orm import Session, sessionmaker

from alo185.audit import trail as audit_log
from alo185.audit.models import AuditLog
from alo185.core import bus


def sessions() -> sessionmaker[Session]:
    return current_app.extensions["alo185.sessions"]


def redis_client() -> redis.Redis:
    """One client per application (it pools its connections), made on first use."""
    client = current_app.extensions.get("alo185.redis")
    if client is None:
        settings = current_app.config["ALO185"]
        # An open event stream holds a connection (its subscription) for as long as it is open: room for
        # one in each of the server's threads, and the commands of the pages beside them.
        connections = 2 * settings.admin_threads
        client = current_app.extensions["alo185.redis"] = bus.connect(settings.redis_connection_url, connections)
    return client


def user() -> str:
    """The logged-in staff member's username: what history and audit rows name as the actor."""
    return str(current_user.username)


def audit(
    session: Session, *, action: str, entity: str, entity_id: str | int | None = None, detail: str | None = None
) -> AuditLog:
    """An audit row for what the logged-in user does in this request, from their address."""
    return audit_log.record(
        session, actor=user(), action=action, entity=entity, entity_id=entity_id, detail=detail, ip=request.remote_addr
    )
