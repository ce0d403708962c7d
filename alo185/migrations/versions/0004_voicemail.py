"""voicemail and survey: messages with transcript and ticket; post-call survey answers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voicemails",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("ivr_path", sa.String(500), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("audio_file", sa.String(300), nullable=False),
        sa.Column("audio_s", sa.Float(), nullable=False),
        sa.Column("transcript", sa.Text()),
        sa.Column("words", sa.JSON()),
        sa.Column("confidence", sa.Float()),
        sa.Column("transcribe_error", sa.Text()),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("suggested_category", sa.String(64)),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_voicemails_ticket_id", "voicemails", ["ticket_id"])
    op.create_index("ix_tickets_call_uniqueid", "tickets", ["call_uniqueid"])  # a call's ticket, for reports
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("answer", sa.Integer()),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id")),
        sa.Column("has_comment", sa.Boolean(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("caller", "ticket_id", "offered_at"):
        op.create_index(f"ix_survey_answers_{column}", "survey_answers", [column])
    op.create_table(
        "survey_comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, unique=True),
        sa.Column("audio_file", sa.String(300), nullable=False),
        sa.Column("transcript", sa.Text()),
        sa.Column("words", sa.JSON()),
        sa.Column("transcribe_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "survey_opt_outs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone", sa.String(32), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("survey_opt_outs")
    op.drop_table("survey_comments")
    for column in ("caller", "ticket_id", "offered_at"):
        op.drop_index(f"ix_survey_answers_{column}", "survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("ix_tickets_call_uniqueid", "tickets")
    op.drop_index("ix_voicemails_ticket_id", "voicemails")
    op.drop_table("voicemails")
