"""Links in messages to citizens: the ticket id signed with the instance's secret, one salt per use.

A token cannot be guessed or altered, and one made for a survey does not open the tracking page.
"""

from __future__ import annotations

import re

from itsdangerous import BadSignature, URLSafeSerializer

PURPOSES = ("survey", "track")
# The path of each purpose's page on the public site.
PATHS = {"survey": "anket", "track": "takip"}
# A link's token in any text (a log line, an error): whoever holds it opens the citizen's ticket.
# Also URL-encoded (%2F for "/"), as in another page's address carried in a query string.
_IN_TEXT = re.compile(rf"((?:/|%2[fF])(?:{'|'.join(PATHS.values())})(?:/|%2[fF]))[A-Za-z0-9_.\-]+")


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
    return f"{base.rstrip('/')}/{PATHS[purpose]}/{token}"


def redact(text: str) -> str:
    """``text`` with every link's token replaced by ``***``: what log lines may carry."""
    return _IN_TEXT.sub(r"\1***", text)


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return URLSafeSerializer(secret, salt=f"alo185-{purpose}")
