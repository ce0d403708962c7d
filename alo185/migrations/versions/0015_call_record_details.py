"""call records: time on hold, the call's recording, the operator's wrap-up code

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("hold_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("recording_ref", sa.String(255), nullable=True))
        batch.add_column(sa.Column("wrap_up_code", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("wrap_up_code")
        batch.drop_column("recording_ref")
        batch.drop_column("hold_s")
