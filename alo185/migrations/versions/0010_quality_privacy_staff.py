"""staff passwords, DİF steps and evidence, escalation notices, retention rules and the destruction log

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "retention_rules",
        sa.Column("record_type", sa.String(32), primary_key=True),
        sa.Column("keep_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "destruction_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_at", UTC_TIME, nullable=False),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("cutoff", UTC_TIME, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_destruction_log_run_at", "destruction_log", ["run_at"])
    op.create_table(
        "escalation_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("ticket_id", "kind", "due_at", name="uq_escalation_notices_ticket_id_kind_due_at"),
    )
    op.create_index("ix_escalation_notices_ticket_id", "escalation_notices", ["ticket_id"])
    op.create_index("ix_escalation_notices_user_id", "escalation_notices", ["user_id"])
    op.create_table(
        "corrective_action_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("corrective_action_id", sa.Integer(), sa.ForeignKey("corrective_actions.id"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("due_at", UTC_TIME, nullable=True),
        sa.Column("done_at", UTC_TIME, nullable=True),
        sa.Column("done_by", sa.String(128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_corrective_action_steps_corrective_action_id", "corrective_action_steps", ["corrective_action_id"]
    )
    op.create_table(
        "corrective_action_evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("corrective_action_id", sa.Integer(), sa.ForeignKey("corrective_actions.id"), nullable=False),
        sa.Column("step_id", sa.Integer(), sa.ForeignKey("corrective_action_steps.id"), nullable=True),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("stored_as", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(128), nullable=False),
        sa.Column("uploaded_at", UTC_TIME, nullable=False),
    )
    op.create_index(
        "ix_corrective_action_evidence_corrective_action_id", "corrective_action_evidence", ["corrective_action_id"]
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(256), nullable=True))
    with op.batch_alter_table("citizens") as batch:
        batch.add_column(sa.Column("anonymised_at", UTC_TIME, nullable=True))
    with op.batch_alter_table("corrective_actions") as batch:
        batch.add_column(sa.Column("opened_by", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("closure_note", sa.Text(), nullable=True))
    with op.batch_alter_table("nonconformities") as batch:
        batch.add_column(sa.Column("decision_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("redirect_institution_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_nonconformities_redirect_institution_id_institutions",
            "institutions",
            ["redirect_institution_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("nonconformities") as batch:
        batch.drop_constraint("fk_nonconformities_redirect_institution_id_institutions", type_="foreignkey")
        batch.drop_column("redirect_institution_id")
        batch.drop_column("decision_note")
    with op.batch_alter_table("corrective_actions") as batch:
        batch.drop_column("closure_note")
        batch.drop_column("opened_by")
    with op.batch_alter_table("citizens") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
    for table in ("corrective_action_evidence", "corrective_action_steps", "escalation_notices", "destruction_log"):
        op.drop_table(table)
    op.drop_table("retention_rules")
