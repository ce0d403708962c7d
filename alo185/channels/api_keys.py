"""API keys: made once (the key is shown then and never again), checked by their hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.channels.models import ApiKey


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(session: Session, name: str) -> str:
    if not name.strip():
        raise ValueError("an API key needs the name of who holds it")
    key = secrets.token_urlsafe(24)
    session.add(ApiKey(name=name.strip()[:100], key_hash=_hash(key), active=True))
    session.flush()
    return key


def holder(session: Session, key: str | None) -> str | None:
    """The name an active key was given, or None."""
    if not key:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key), ApiKey.active.is_(True)))
    return row.name if row is not None and hmac.compare_digest(row.key_hash, _hash(key)) else None
