"""Starting data (institutions, directorates, districts and mahalles, categories) from ``seed_data.yaml``.

Seeding only inserts what is missing, matched by natural key (codes, names), and never overwrites:
routing and SLAs are edited by administrators afterwards, and a re-run must not undo their work.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.org.models import Directorate, District, Institution, InstitutionKind, Mahalle, Unit
from alo185.tickets.models import Category, LegalDeadline, Priority, SlaUnit

DATA_FILE = Path(__file__).with_name("seed_data.yaml")


@cache
def load_data(path: Path = DATA_FILE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def seed(session: Session, data: dict[str, Any] | None = None) -> Counter[str]:
    """Insert the missing rows and flush; returns how many of each kind were added (all zero on a re-run)."""
    data = data if data is not None else load_data()
    added: Counter[str] = Counter()
    institutions = _institutions(session, data["institutions"], added)
    directorates = _directorates(session, data["directorates"], institutions, added)
    _districts(session, data["districts"], added)
    _categories(session, data["categories"], institutions, directorates, added)
    session.flush()
    return added


def _institutions(session: Session, rows: list[dict[str, Any]], added: Counter[str]) -> dict[str, Institution]:
    existing = {i.code: i for i in session.scalars(select(Institution))}
    for row in rows:
        if row["code"] not in existing:
            existing[row["code"]] = Institution(
                code=row["code"], name=row["name"], kind=InstitutionKind(row["kind"]), phone=row.get("phone")
            )
            session.add(existing[row["code"]])
            added["institutions"] += 1
    return existing


def _directorates(
    session: Session, rows: list[dict[str, Any]], institutions: dict[str, Institution], added: Counter[str]
) -> dict[str, Directorate]:
    existing = {d.code: d for d in session.scalars(select(Directorate))}
    for row in rows:
        directorate = existing.get(row["code"])
        if directorate is None:
            directorate = Directorate(code=row["code"], name=row["name"], institution=institutions[row["institution"]])
            session.add(directorate)
            existing[row["code"]] = directorate
            added["directorates"] += 1
        have = {u.name for u in directorate.units}
        for name in row.get("units", []):
            if name not in have:
                directorate.units.append(Unit(name=name))
                added["units"] += 1
    return existing


def _districts(session: Session, rows: dict[str, list[str]], added: Counter[str]) -> None:
    existing = {d.name: d for d in session.scalars(select(District))}
    for name, mahalles in rows.items():
        district = existing.get(name)
        if district is None:
            district = District(name=name)
            session.add(district)
            added["districts"] += 1
        have = {m.name for m in district.mahalles}
        for mahalle in mahalles:
            if mahalle not in have:
                district.mahalles.append(Mahalle(name=mahalle))
                added["mahalles"] += 1


def _categories(
    session: Session,
    rows: list[dict[str, Any]],
    institutions: dict[str, Institution],
    directorates: dict[str, Directorate],
    added: Counter[str],
) -> None:
    existing = {c.code for c in session.scalars(select(Category))}
    for row in rows:
        if row["code"] in existing:
            continue
        unit, value = row["sla"]
        session.add(
            Category(
                code=row["code"],
                name=row["name"],
                directorate=directorates[row["directorate"]] if row.get("directorate") else None,
                sla_unit=SlaUnit(unit),
                sla_value=int(value),
                legal_deadline=LegalDeadline(row.get("legal", "none")),
                in_jurisdiction=row.get("in_jurisdiction", True),
                default_redirect_institution=institutions[row["redirect_to"]] if row.get("redirect_to") else None,
                requires_manager_approval=row.get("manager_approval", False),
                default_priority=Priority(row.get("priority", "normal")),
                active=True,
            )
        )
        added["categories"] += 1
