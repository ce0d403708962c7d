"""call records

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("caller", sa.String(32)),
        sa.Column("digit", sa.String(8)),
        sa.Column("queue", sa.String(64)),
        sa.Column("agi_status", sa.String(16)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("wait_s", sa.Float()),
        sa.Column("talk_s", sa.Float()),
        sa.Column("duration_s", sa.Float()),
        sa.Column("answered", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("answered_by", sa.String(128)),
        sa.Column("abandoned", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("outcome", sa.String(16)),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_call_records_started_at", "call_records", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_call_records_started_at", "call_records")
    op.drop_table("call_records")
