"""operators on real phones: a SIP extension per operator, and their queue skills with penalties

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("extension", sa.String(16), nullable=True))
        batch.create_unique_constraint("uq_users_extension", ["extension"])
    op.create_table(
        "operator_skills",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("penalty", sa.Integer(), nullable=False),
        sa.UniqueConstraint("user_id", "queue", name="uq_operator_skills_user_id_queue"),
    )


def downgrade() -> None:
    op.drop_table("operator_skills")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_extension", type_="unique")
        batch.drop_column("extension")
