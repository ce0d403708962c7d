"""Who does the work: institutions, directorates (müdürlük) and their units, staff, districts and mahalles.

Also the column types the ticket domain shares: enums are stored as plain strings (identical on
SQLite and PostgreSQL, no native enum types to migrate) and times are always timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, Dialect, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from alo185.models.base import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite stores no offset and returns naive values; converting on the way in and out makes
    comparisons with an aware ``now`` behave the same on both databases.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumType(TypeDecorator[StrEnum]):
    """A ``StrEnum`` kept in a ``VARCHAR``: unknown values are refused on write, loaded values are members."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 24) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class InstitutionKind(StrEnum):
    METROPOLITAN = "metropolitan"
    UTILITY = "utility"
    DISTRICT_MUNICIPALITY = "district_municipality"
    EXTERNAL = "external"


class Role(StrEnum):
    """Staff roles; experts, chiefs and managers form a directorate's approval hierarchy."""

    EXPERT = "expert"
    CHIEF = "chief"
    MANAGER = "manager"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    QUALITY = "quality"
    ADMIN = "admin"


class Institution(Base):
    """The municipality, its utilities, and outside bodies a request can be redirected to."""

    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InstitutionKind] = mapped_column(StrEnumType(InstitutionKind))
    phone: Mapped[str | None] = mapped_column(String(32))

    directorates: Mapped[list[Directorate]] = relationship(back_populates="institution")


class Directorate(Base):
    """A müdürlük: tickets are routed to it by category and worked by its staff."""

    __tablename__ = "directorates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    institution: Mapped[Institution] = relationship(back_populates="directorates")
    units: Mapped[list[Unit]] = relationship(back_populates="directorate")
    staff: Mapped[list[User]] = relationship(back_populates="directorate")


class Unit(Base):
    """A unit (şeflik, ekip) inside a directorate."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("directorate_id", "name", name="uq_units_directorate_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"))
    name: Mapped[str] = mapped_column(String(200))

    directorate: Mapped[Directorate] = relationship(back_populates="units")


class User(Base):
    """A staff member; ``reports_to`` is the next step up the approval hierarchy."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    directorate_id: Mapped[int | None] = mapped_column(ForeignKey("directorates.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    reports_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    directorate: Mapped[Directorate | None] = relationship(back_populates="staff")
    unit: Mapped[Unit | None] = relationship()
    reports_to: Mapped[User | None] = relationship(remote_side=[id])


class District(Base):
    """An ilçe of the province."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)

    mahalles: Mapped[list[Mahalle]] = relationship(back_populates="district")


class Mahalle(Base):
    """A neighbourhood; names repeat across districts, so it is unique only within its district."""

    __tablename__ = "mahalles"
    __table_args__ = (UniqueConstraint("district_id", "name", name="uq_mahalles_district_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    name: Mapped[str] = mapped_column(String(100))

    district: Mapped[District] = relationship(back_populates="mahalles")
