"""Seed data: counts, consistency, idempotency; the tickets migration also goes down and up again."""

from __future__ import annotations

import re

from alembic import command
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alo185 import schema
from alo185.core import db
from alo185.org.models import Directorate, District, Institution, InstitutionKind, Mahalle, Unit
from alo185.tickets.models import Category
from alo185.tickets.seed import load_data, seed

DISTRICTS = {
    "Akdeniz", "Anamur", "Aydıncık", "Bozyazı", "Çamlıyayla", "Erdemli", "Gülnar",
    "Mezitli", "Mut", "Silifke", "Tarsus", "Toroslar", "Yenişehir",
}  # fmt: skip
COUNTED = (Institution, Directorate, Unit, District, Mahalle, Category)


def _counts(session: Session) -> dict[str, int]:
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in COUNTED}


def test_seed_counts_and_idempotency(database_url: str) -> None:
    factory = db.session_factory(database_url)
    with factory() as session:
        added = seed(session)
        session.commit()
    with factory() as session:
        counts = _counts(session)
        assert counts["districts"] == 13 == added["districts"]
        assert {d.name for d in session.scalars(select(District))} == DISTRICTS
        assert 35 <= counts["categories"] <= 50
        assert 12 <= counts["directorates"] <= 15
        assert counts["mahalles"] >= 13 * 4
        assert sum(added.values()) == sum(counts.values())
        assert sum(seed(session).values()) == 0
        session.commit()
    with factory() as session:
        assert _counts(session) == counts


def test_seed_keeps_administrators_edits(database_url: str) -> None:
    with db.session_factory(database_url)() as session:
        seed(session)
        category = session.scalars(select(Category).where(Category.code == "yol-cukur")).one()
        category.sla_value = 2
        session.commit()
        seed(session)
        session.commit()
        assert session.scalars(select(Category.sla_value).where(Category.code == "yol-cukur")).one() == 2


def test_seed_data_is_consistent() -> None:
    data = load_data()
    institutions = {i["code"] for i in data["institutions"]}
    directorates = {d["code"] for d in data["directorates"]}
    codes = [c["code"] for c in data["categories"]]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code) for code in codes)
    for wanted in ("su-arizasi", "kanal-tikanikligi", "cop-toplama", "yol-cukur", "park-bakim", "zabita-firin"):
        assert wanted in codes
    for wanted in ("zabita-pazar", "cenaze-hizmeti", "otobus-sefer"):
        assert wanted in codes
    for category in data["categories"]:
        ours = category.get("in_jurisdiction", True)
        assert (category.get("directorate") in directorates) if ours else category.get("directorate") is None
        assert category.get("redirect_to") is None or category["redirect_to"] in institutions
    assert {"meski", "toroslar-edas", "karayollari"} <= institutions
    kinds = {i["kind"] for i in data["institutions"]}
    assert kinds == {k.value for k in InstitutionKind}
    district_municipalities = [i for i in data["institutions"] if i["kind"] == "district_municipality"]
    assert len(district_municipalities) == 13
    for mahalles in data["districts"].values():
        assert len(mahalles) == len(set(mahalles)) >= 4


def test_tickets_migration_downgrades_and_upgrades(database_url: str) -> None:
    config = db.alembic_config(database_url)
    command.downgrade(config, "0001")
    engine = db.engine_for(database_url)
    with engine.connect() as conn:
        remaining = set(conn.dialect.get_table_names(conn))
    assert "call_records" in remaining
    assert not remaining & (set(schema.metadata.tables) - {"call_records"})
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert set(schema.metadata.tables) <= set(conn.dialect.get_table_names(conn))
