"""Operators' queue skills: which queues an operator with a phone joins at log-in, and at what penalty."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alo185.core.orm import Base
from alo185.org.models import User


class OperatorSkill(Base):
    """One queue an operator serves; a lower penalty is rung first (Asterisk's member penalty)."""

    __tablename__ = "operator_skills"
    __table_args__ = (UniqueConstraint("user_id", "queue", name="uq_operator_skills_user_id_queue"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    queue: Mapped[str] = mapped_column(String(64))
    penalty: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship()
