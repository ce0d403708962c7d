"""ticket work list: a directorate's open tickets by due time, without a sort

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_directorate_status_due", "tickets", ["directorate_id", "status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_directorate_status_due", "tickets")
