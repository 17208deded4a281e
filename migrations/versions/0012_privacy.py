"""account deletion and retention settings

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graduates") as batch:
        batch.add_column(
            sa.Column("deletion_requested_at", api.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("erase_after", api.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("erased_at", api.db.UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_graduates_erase_after", ["erase_after"])
    with op.batch_alter_table("programs") as batch:
        batch.add_column(
            sa.Column("deletion_grace_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch.add_column(
            sa.Column("inbox_retention_days", sa.Integer(), server_default="180", nullable=False)
        )
        batch.add_column(
            sa.Column("clinical_retention_years", sa.Integer(), server_default="7", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("clinical_retention_years")
        batch.drop_column("inbox_retention_days")
        batch.drop_column("deletion_grace_days")
    with op.batch_alter_table("graduates") as batch:
        batch.drop_index("ix_graduates_erase_after")
        batch.drop_column("erased_at")
        batch.drop_column("erase_after")
        batch.drop_column("deletion_requested_at")
