"""Operators' phones: the PJSIP interface of an operator's extension, their queue skills, who a phone is.

An operator user has an extension (``users.extension``, given by ``alo185.org.accounts``): the PJSIP
endpoint rendered for them and their queue-member interface ``PJSIP/<extension>``; their member name
in every queue (and so in ``queue_log`` and the screen-pop channel) is their username. Skills
(``operator_skills``) say which queues they join at log-in, each with a penalty (0 is rung first).
What an operator does with the queues (log in/out, pause with a reason, unpause) goes through one
path whether it comes from the console or the phone: ``alo185.operators.queue_commands``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import ScalarResult, inspect, select
from sqlalchemy.orm import Session

from alo185.core import db
from alo185.core.settings import Settings
from alo185.operators.models import OperatorSkill
from alo185.org.models import Role, User
from alo185.queues.names import pbx_queues

MAX_PENALTY = 100


INTERFACE = "PJSIP/{extension}"


class OperatorError(ValueError):
    pass


def interface(extension: str) -> str:
    return INTERFACE.format(extension=extension)


def parse_skills(items: list[str]) -> dict[str, int]:
    """``["su:0", "genel:1", "zabita"]`` -> queue -> penalty (0 when left out); queues must exist."""
    known = pbx_queues()
    skills: dict[str, int] = {}
    for item in items:
        queue, _, penalty = item.partition(":")
        queue = queue.strip()
        if queue not in known:
            raise OperatorError(f"unknown queue {queue!r} (one of {', '.join(sorted(known))})")
        try:
            value = int(penalty) if penalty.strip() else 0
        except ValueError:
            raise OperatorError(f"a penalty is a whole number: {item!r}") from None
        if not 0 <= value <= MAX_PENALTY:
            raise OperatorError(f"a penalty is from 0 to {MAX_PENALTY}: {item!r}")
        skills[queue] = value
    return skills


def set_skills(session: Session, user: User, skills: dict[str, int]) -> None:
    """Replace the operator's skills."""
    if Role(user.role) != Role.OPERATOR:
        raise OperatorError(f"only operators have queue skills, not {user.role}")
    current = {s.queue: s for s in session.scalars(select(OperatorSkill).where(OperatorSkill.user_id == user.id))}
    for queue, row in current.items():
        if queue not in skills:
            session.delete(row)
    for queue, penalty in skills.items():
        if queue in current:
            current[queue].penalty = penalty
        else:
            session.add(OperatorSkill(user_id=user.id, queue=queue, penalty=penalty))
    session.flush()


def skills_of(session: Session, user_id: int) -> dict[str, int]:
    rows = session.scalars(select(OperatorSkill).where(OperatorSkill.user_id == user_id).order_by(OperatorSkill.queue))
    return {row.queue: row.penalty for row in rows}


@dataclass(frozen=True)
class Phone:
    """An operator as the PBX and the queue manager need them."""

    extension: str
    username: str
    skills: dict[str, int]

    @property
    def interface(self) -> str:
        return interface(self.extension)


def by_extension(session: Session, extension: str) -> Phone | None:
    """The active operator whose phone this is, with their skills."""
    user = session.scalar(select(User).where(User.extension == extension, User.active.is_(True)))
    if user is None or Role(user.role) != Role.OPERATOR:
        return None
    return Phone(extension, user.username, skills_of(session, user.id))


def phone_extensions(settings: Settings) -> list[str]:
    """Extensions of the active operator users, for pjsip.conf; none while the database has no such column yet."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    found = inspect(db.engine_for(url))
    if not found.has_table("users") or "extension" not in {c["name"] for c in found.get_columns("users")}:
        return []
    query = select(User.extension).where(User.extension.is_not(None), User.active.is_(True), User.role == Role.OPERATOR)
    with db.session_factory(url)() as session:
        return sorted(cast(ScalarResult[str], session.scalars(query)))  # the query leaves out NULLs
