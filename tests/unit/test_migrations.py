"""Migrations create exactly the models' schema and apply idempotently."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from alo185 import schema
from alo185.core import db


def test_migrations_match_models_and_rerun(database_url: str) -> None:
    url = database_url
    db.migrate(url)  # a second start changes nothing
    with db.engine_for(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []
