"""persisted 15-minute queue figures and each queue's answer-time target

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queue_intervals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("interval_start", UTC_TIME, nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("answered_within_target", sa.Integer(), nullable=False),
        sa.Column("answered_within_20s", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("short_abandoned", sa.Integer(), nullable=False),
        sa.Column("wait_answered_sum_s", sa.Float(), nullable=False),
        sa.Column("talk_sum_s", sa.Float(), nullable=False),
        sa.Column("talk_count", sa.Integer(), nullable=False),
        sa.Column("target_s", sa.Integer(), nullable=False),
        sa.Column("short_abandon_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("queue", "interval_start", name="uq_queue_intervals_queue_interval_start"),
    )
    op.create_table(
        "queue_targets",
        sa.Column("queue", sa.String(64), primary_key=True),
        sa.Column("target_s", sa.Integer(), nullable=False),
        sa.Column("short_abandon_s", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("queue_targets")
    op.drop_table("queue_intervals")
