"""ticket search: the folded text that words are matched on

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# The fold as it was when this migration was written (queries.tr_ascii), frozen here.
_ASCII = str.maketrans("çğıöşüâîûÇĞİÖŞÜÂÎÛ", "cgiosuaiuCGIOSUAIU")


def _fold(text: str) -> str:
    return text.strip().replace("I", "ı").replace("İ", "i").lower().translate(_ASCII)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT t.id, t.description, c.full_name FROM tickets t LEFT JOIN citizens c ON c.id = t.citizen_id")
    ).all()
    for ticket_id, description, name in rows:
        bind.execute(
            sa.text("UPDATE tickets SET search_text = :text WHERE id = :id"),
            {"text": _fold(f"{description} {name or ''}"), "id": ticket_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("search_text")
