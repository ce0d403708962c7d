"""Links in messages to citizens: the ticket id signed with the instance's secret, one salt per use.

A token cannot be guessed or altered, and one made for a survey does not open the tracking page.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

PURPOSES = ("survey", "track")


def sign(secret: str, purpose: str, ticket_id: int) -> str:
    return _serializer(secret, purpose).dumps(ticket_id)


def unsign(secret: str, purpose: str, token: str) -> int | None:
    """The ticket id, or None for a forged, damaged or other-purpose token."""
    try:
        value = _serializer(secret, purpose).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def url(base: str, purpose: str, token: str) -> str:
    path = {"survey": "anket", "track": "takip"}[purpose]
    return f"{base.rstrip('/')}/{path}/{token}"


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return URLSafeSerializer(secret, salt=f"alo185-{purpose}")
