"""Who does the work: institutions, directorates (müdürlük) and their units, staff, districts and mahalles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alo185.core.orm import Base, StrEnumType, UTCDateTime, utcnow


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
    __table_args__ = (UniqueConstraint("extension", name="uq_users_extension"),)

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
    password_hash: Mapped[str | None] = mapped_column(String(256))  # None: may not log in to the admin
    # An operator's SIP phone: the PJSIP endpoint (and queue member PJSIP/<extension>) rendered for them.
    extension: Mapped[str | None] = mapped_column(String(16))
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
