"""users.console_signed_out_at: console sessions issued before it are refused

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite has had DROP COLUMN since 3.35): a batch
# copy of `users` would trip the foreign keys of every table that points at it.
def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("console_signed_out_at", api.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("users", "console_signed_out_at")
