"""call records: the hold in progress and how far holds are counted (time on hold folded idempotently)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("hold_started_at", UTC_TIME, nullable=True))
        batch.add_column(sa.Column("hold_counted_to", UTC_TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("hold_counted_to")
        batch.drop_column("hold_started_at")
