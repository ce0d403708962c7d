"""Staff accounts: creating them, checking a login, an operator's phone extension.

Passwords are kept only as a salted hash. An operator's extension (``users.extension``) names the
PJSIP endpoint rendered for their phone (``alo185.operators.phones``).
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from alo185.org.models import Directorate, Role, User

MIN_PASSWORD = 10
FIRST_EXTENSION = 1001
EXTENSION = re.compile(r"^[1-9]\d{2,5}$")
RESERVED_EXTENSIONS = frozenset({"185"})  # dialled from the operators' phones (alo185-operators)
# Checked against when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class StaffError(ValueError):
    pass


def create_user(
    session: Session,
    username: str,
    *,
    role: Role | str,
    password: str,
    full_name: str = "",
    directorate_code: str | None = None,
    phone: str | None = None,
    extension: str | None = None,
) -> User:
    """A new staff member who may log in; directorate staff must belong to a directorate.

    An operator gets a SIP extension for their phone: ``extension``, or the next free one from 1001.
    """
    role = Role(role)
    username = username.strip()
    if not username or len(username) > 64:
        raise StaffError("the username must be 1 to 64 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise StaffError(f"user {username!r} already exists")
    directorate = None
    if directorate_code:
        directorate = session.scalar(select(Directorate).where(Directorate.code == directorate_code))
        if directorate is None:
            raise StaffError(f"no directorate {directorate_code!r}")
    if role in (Role.EXPERT, Role.CHIEF, Role.MANAGER) and directorate is None:
        raise StaffError(f"{role} accounts belong to a directorate (--directorate)")
    if extension is not None and role != Role.OPERATOR:
        raise StaffError("only operators have a phone extension (--extension)")
    user = User(username=username, full_name=full_name or username, role=role, directorate=directorate, phone=phone)
    set_password(user, password)
    session.add(user)
    session.flush()
    if role == Role.OPERATOR:
        assign_extension(session, user, extension)
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"a password has at least {MIN_PASSWORD} characters")
    user.password_hash = generate_password_hash(password)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def check_login(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, else None (the same work whether or not the name exists)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    ok = check_password_hash(stored, password)
    if user is None or not user.active or not user.password_hash or not ok:
        return None
    return user


def check_extension(extension: str) -> str:
    extension = extension.strip()
    if not EXTENSION.match(extension) or extension in RESERVED_EXTENSIONS:
        raise StaffError(f"an extension is 3 to 6 digits, not starting with 0, and not 185: {extension!r}")
    return extension


def next_free_extension(session: Session) -> str:
    taken = {e for e in session.scalars(select(User.extension).where(User.extension.is_not(None)))}
    number = FIRST_EXTENSION
    while str(number) in taken or str(number) in RESERVED_EXTENSIONS:
        number += 1
    return str(number)


def assign_extension(session: Session, user: User, extension: str | None = None) -> str:
    """Give an operator their phone's extension: ``extension``, or the next free one from 1001."""
    if Role(user.role) != Role.OPERATOR:
        raise StaffError(f"only operators have a phone extension, not {user.role}")
    if extension is None:
        extension = next_free_extension(session)
    extension = check_extension(extension)
    owner = session.scalar(select(User).where(User.extension == extension))
    if owner is not None and owner.id != user.id:
        raise StaffError(f"extension {extension} belongs to {owner.username}")
    user.extension = extension
    session.flush()
    return extension
