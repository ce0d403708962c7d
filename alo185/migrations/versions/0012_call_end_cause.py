"""call records: why the call ended (a hang-up cause, or lost with Asterisk)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("end_cause", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("end_cause")
