"""Operators on SIP phones: extensions, queue skills, pause reasons and the phones' feature codes.

An operator user gets an extension (``users.extension``): the PJSIP endpoint rendered for them and
their queue-member interface ``PJSIP/<extension>``; their member name in every queue (and so in
``queue_log`` and the screen-pop channel) is their username. Skills (``operator_skills``) say which
queues they join at log-in, each with a penalty (0 is rung first). What an operator does with the
queues (log in/out, pause with a reason, unpause) goes through one path whether it comes from the
console or the phone: ``alo185.queue_commands``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from alo185 import db
from alo185.models import OperatorSkill, Role, User
from ivr.default import pbx_queues

if TYPE_CHECKING:
    from alo185.settings import Settings

FIRST_EXTENSION = 1001
EXTENSION = re.compile(r"^[1-9]\d{2,5}$")
RESERVED_EXTENSIONS = frozenset({"185"})  # dialled from the operators' phones (alo185-operators)
MAX_PENALTY = 100
INTERFACE = "PJSIP/{extension}"


class OperatorError(ValueError):
    pass


@dataclass(frozen=True)
class PauseReason:
    code: str  # what Asterisk keeps (QueuePause Reason, queue_log PAUSE) and the live state shows
    key: str  # the digit after *53 on the phone
    label: str  # Turkish, for people
    english: str


# The one list of pause reasons: the console API, the feature codes and the docs take them from here.
PAUSE_REASONS = (
    PauseReason("mola", "1", "Mola", "break"),
    PauseReason("egitim", "2", "Eğitim", "training"),
    PauseReason("cagri-sonrasi-is", "3", "Çağrı sonrası iş", "after-call work"),
    PauseReason("toplanti", "4", "Toplantı", "meeting"),
    PauseReason("yemek", "5", "Yemek", "lunch"),
    PauseReason("teknik-ariza", "6", "Teknik arıza", "technical problem"),
)
DEFAULT_PAUSE = PAUSE_REASONS[0]


def _folds(text: str) -> tuple[str, str]:
    """Turkish casing (I -> ı, İ -> i) and plain casing, spaces and underscores as hyphens."""
    text = text.strip().replace(" ", "-").replace("_", "-")
    return text.replace("İ", "i").replace("I", "ı").casefold(), text.casefold()


_REASON_NAMES = {
    folded: reason
    for reason in PAUSE_REASONS
    for name in (reason.code, reason.label, reason.english)
    for folded in _folds(name)
}


def pause_reason(value: object) -> PauseReason | None:
    """The reason named by its code, Turkish label or English name (any case), else None."""
    if not isinstance(value, str):
        return None
    return next((_REASON_NAMES[f] for f in _folds(value) if f in _REASON_NAMES), None)


@dataclass(frozen=True)
class FeatureCode:
    exten: str
    action: str  # login | logout | pause | unpause
    reason: str = ""  # the pause reason's code


def feature_codes() -> list[FeatureCode]:
    """What an operator dials on the phone: *51 log in, *52 log out, *53 / *53N pause, *54 unpause."""
    codes = [FeatureCode("*51", "login"), FeatureCode("*52", "logout"), FeatureCode("*53", "pause", DEFAULT_PAUSE.code)]
    codes += [FeatureCode(f"*53{r.key}", "pause", r.code) for r in PAUSE_REASONS]
    return [*codes, FeatureCode("*54", "unpause")]


# What the phone says after a feature code (Turkish; rendered with espeak-ng into sounds/operator/).
PROMPTS = {
    "login": "Giriş yapıldı. Çağrı alabilirsiniz.",
    "logout": "Çıkış yapıldı.",
    "pause": "Mola verildi.",
    "unpause": "Mola bitti. Çağrı alabilirsiniz.",
    "error": "İşlem yapılamadı.",
}


def render_prompts(sounds_dir: Path) -> None:
    from ivr import prompts

    for name, text in PROMPTS.items():
        prompts.ensure_prompt(sounds_dir / "operator", "tr", name, text)


def interface(extension: str) -> str:
    return INTERFACE.format(extension=extension)


def check_extension(extension: str) -> str:
    extension = extension.strip()
    if not EXTENSION.match(extension) or extension in RESERVED_EXTENSIONS:
        raise OperatorError(f"an extension is 3 to 6 digits, not starting with 0, and not 185: {extension!r}")
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
        raise OperatorError(f"only operators have a phone extension, not {user.role}")
    if extension is None:
        extension = next_free_extension(session)
    extension = check_extension(extension)
    owner = session.scalar(select(User).where(User.extension == extension))
    if owner is not None and owner.id != user.id:
        raise OperatorError(f"extension {extension} belongs to {owner.username}")
    user.extension = extension
    session.flush()
    return extension


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
    with db.session_factory(url)() as session:
        found = session.scalars(
            select(User.extension).where(User.extension.is_not(None), User.active.is_(True), User.role == Role.OPERATOR)
        )
        return sorted(found)


def reload_pbx(settings: Settings) -> bool:
    """Render the PBX configuration again and reload the SIP phones, if the PBX runs; True if it did."""
    from alo185.pbx import Pbx, ProvisionError

    try:
        pbx = Pbx.locate(settings)
    except ProvisionError:
        return False
    if not pbx.running():
        return False
    pbx.reload_phones()
    return True
