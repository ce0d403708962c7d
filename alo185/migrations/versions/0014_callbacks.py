"""callbacks: a caller keeps their place in the queue and is called back

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("requested_at", UTC_TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("placements", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", UTC_TIME),
        sa.Column("next_attempt_at", UTC_TIME),
        sa.Column("placed_at", UTC_TIME),
        sa.Column("placeholder", sa.String(64)),
        sa.Column("operator", sa.String(128)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("ended_at", UTC_TIME),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_callbacks_state", "callbacks", ["state"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_state", "callbacks")
    op.drop_table("callbacks")
