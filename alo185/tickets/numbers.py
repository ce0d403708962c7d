"""Public ticket numbers: short, digits only, keyable on a phone keypad, with a check digit.

A number is 8 digits: a random 7-digit body that never starts with 0 (a leading zero is easily
dropped when read out), followed by a Luhn check digit. The Luhn check catches every single
mistyped digit and every swap of two neighbouring digits except 09/90, so the IVR and the web
page reject most typos before touching the database. The body is random rather than sequential so
that numbers do not reveal volumes; uniqueness is checked against the database and enforced by a
unique constraint.
"""

from __future__ import annotations

import secrets

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from alo185.tickets.models import Ticket

BODY_DIGITS = 7
NUMBER_DIGITS = BODY_DIGITS + 1
MAX_ATTEMPTS = 50


def check_digit(body: str) -> str:
    """The Luhn digit that makes ``body + digit`` valid."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:  # the rightmost body digit is doubled, as the check digit follows it
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def is_well_formed(number: str) -> bool:
    """Right length, digits only, no leading zero, and the check digit matches."""
    if len(number) != NUMBER_DIGITS or not number.isascii() or not number.isdigit() or number[0] == "0":
        return False
    return check_digit(number[:-1]) == number[-1]


def clean(raw: str) -> str:
    """Drop the spaces, dashes and dots people type or speak between digit groups."""
    return "".join(c for c in raw.strip() if c not in " -.")


def random_number() -> str:
    """A well-formed number, not yet checked for uniqueness."""
    body = str(10 ** (BODY_DIGITS - 1) + secrets.randbelow(9 * 10 ** (BODY_DIGITS - 1)))
    return body + check_digit(body)


def new_number(session: Session) -> str:
    """A well-formed number no ticket has yet (9 million possible bodies, so retries are rare)."""
    for _ in range(MAX_ATTEMPTS):
        number = random_number()
        if not session.scalar(select(exists().where(Ticket.number == number))):
            return number
    raise RuntimeError("no free ticket number found; the number space is nearly exhausted")
