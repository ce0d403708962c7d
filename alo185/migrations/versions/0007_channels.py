"""channels: ticket attachments and inbound messages (WhatsApp)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(300), nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("caption", sa.Text()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ticket_attachments_ticket_id", "ticket_attachments", ["ticket_id"])
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id")),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "external_id", name="uq_inbound_messages_channel_external_id"),
    )
    op.create_index("ix_inbound_messages_phone", "inbound_messages", ["phone"])
    op.create_index("ix_inbound_messages_ticket_id", "inbound_messages", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_ticket_id", "inbound_messages")
    op.drop_index("ix_inbound_messages_phone", "inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_index("ix_ticket_attachments_ticket_id", "ticket_attachments")
    op.drop_table("ticket_attachments")
