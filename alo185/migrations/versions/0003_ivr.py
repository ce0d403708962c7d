"""ivr: menu versions, prompt recordings, announcements; the IVR outcome on call records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CALL_COLUMNS = (
    ("lang", sa.String(2)),
    ("ivr_path", sa.String(500)),
    ("kvkk_version", sa.Integer()),
    ("category", sa.String(64)),
    ("caller_kind", sa.String(16)),
    ("ivr_action", sa.String(16)),
    ("ivr_reason", sa.String(32)),
    ("answered_at", sa.DateTime(timezone=True)),
    ("talk_source", sa.String(8)),
)


def upgrade() -> None:
    op.create_table(
        "ivr_menu_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_ivr_menu_versions_published_at", "ivr_menu_versions", ["published_at"])
    op.create_table(
        "ivr_prompt_recordings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prompt", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("prompt", "lang", name="uq_ivr_prompt_recordings_prompt_lang"),
    )
    op.create_table(
        "ivr_announcements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("text_tr", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("text_ar", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("districts", sa.JSON(), nullable=False),
        sa.Column("mahalles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_ivr_announcements_ends_at", "ivr_announcements", ["ends_at"])
    with op.batch_alter_table("call_records") as batch:
        for name, kind in CALL_COLUMNS:
            batch.add_column(sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        for name, _kind in CALL_COLUMNS:
            batch.drop_column(name)
    op.drop_index("ix_ivr_announcements_ends_at", "ivr_announcements")
    op.drop_table("ivr_announcements")
    op.drop_table("ivr_prompt_recordings")
    op.drop_index("ix_ivr_menu_versions_published_at", "ivr_menu_versions")
    op.drop_table("ivr_menu_versions")
